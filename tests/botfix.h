/*
 * Hand-made bot fixtures for the plugin tests: a bot configuration, a
 * snapshot built from a few closes, positions, option contracts and a
 * budget, an intent buffer, and host services that record log lines and
 * keep state in memory. Header-only (static inline) so each test program
 * takes just what it uses.
 */
#ifndef HYDRA_TESTS_BOTFIX_H
#define HYDRA_TESTS_BOTFIX_H

#include <stdio.h>
#include <string.h>

#include <hydra/plugin.h>

#include "config.h"
#include "loader.h"

#define FX_MAX 8
#define FX_BARS 64
#define FX_INTENTS 8

/* ---- configuration ------------------------------------------------------- */

static inline void fx_cfg(hydra_bot_cfg *c, const char *bot_id, const char *plugin, const char *mode,
                          unsigned asset_class)
{
    memset(c, 0, sizeof *c);
    snprintf(c->bot_id, sizeof c->bot_id, "%s", bot_id);
    snprintf(c->plugin, sizeof c->plugin, "%s", plugin);
    snprintf(c->signal_mode, sizeof c->signal_mode, "%s", mode);
    c->kind = HYDRA_BOT_GENERIC;
    c->enabled = 1;
    c->asset_class = asset_class;
    c->order_type = HYDRA_ORDER_MARKET;
    c->tif = HYDRA_TIF_DAY;
    c->max_trades_per_day = 3;
    c->max_concurrent_positions = 1;
}

static inline void fx_cfg_symbol(hydra_bot_cfg *c, const char *symbol)
{
    snprintf(c->symbols[c->n_symbols], sizeof c->symbols[0], "%s", symbol);
    c->n_symbols++;
}

static inline hydra_param *fx_cfg_param(hydra_bot_cfg *c, const char *key, hydra_param_type type)
{
    hydra_param *p = &c->params[c->n_params++];
    memset(p, 0, sizeof *p);
    snprintf(p->key, sizeof p->key, "%s", key);
    p->type = type;
    return p;
}

static inline void fx_cfg_int(hydra_bot_cfg *c, const char *key, long long v)
{
    hydra_param *p = fx_cfg_param(c, key, HYDRA_PARAM_INT);
    p->i = v;
    p->d = (double)v;
    snprintf(p->s, sizeof p->s, "%lld", v);
}

static inline void fx_cfg_double(hydra_bot_cfg *c, const char *key, double v)
{
    hydra_param *p = fx_cfg_param(c, key, HYDRA_PARAM_DOUBLE);
    p->d = v;
    snprintf(p->s, sizeof p->s, "%g", v);
}

static inline void fx_cfg_bool(hydra_bot_cfg *c, const char *key, int v)
{
    hydra_param *p = fx_cfg_param(c, key, HYDRA_PARAM_BOOL);
    p->b = v;
    snprintf(p->s, sizeof p->s, "%s", v ? "true" : "false");
}

static inline void fx_cfg_string(hydra_bot_cfg *c, const char *key, const char *v)
{
    hydra_param *p = fx_cfg_param(c, key, HYDRA_PARAM_STRING);
    snprintf(p->s, sizeof p->s, "%s", v);
}

/* ---- host services that record ------------------------------------------- */

typedef struct fx_log {
    int n;
    int n_placeholder;
    char last_bot[64];
    char last_event[64];
    char last_message[512];
    char kv_key[8][128];
    char kv_value[8][256];
    int n_kv;
} fx_log;

static inline void fx_svc_log(void *ctx, const char *bot_id, int level, const char *event,
                              const char *message)
{
    fx_log *l = (fx_log *)ctx;
    (void)level;
    l->n++;
    if (strcmp(event, "placeholder") == 0)
        l->n_placeholder++;
    snprintf(l->last_bot, sizeof l->last_bot, "%s", bot_id);
    snprintf(l->last_event, sizeof l->last_event, "%s", event);
    snprintf(l->last_message, sizeof l->last_message, "%s", message);
}

static inline int fx_svc_get(void *ctx, const char *bot_id, const char *key, char *buf, size_t bufsz)
{
    fx_log *l = (fx_log *)ctx;
    int i;
    (void)bot_id;
    for (i = 0; i < l->n_kv; i++) {
        if (strcmp(l->kv_key[i], key) == 0) {
            if (strlen(l->kv_value[i]) >= bufsz)
                return HYDRA_PARAM_SPACE;
            strcpy(buf, l->kv_value[i]);
            return 0;
        }
    }
    return HYDRA_PARAM_MISSING;
}

static inline int fx_svc_set(void *ctx, const char *bot_id, const char *key, const char *value)
{
    fx_log *l = (fx_log *)ctx;
    (void)bot_id;
    if (l->n_kv >= 8)
        return -1;
    snprintf(l->kv_key[l->n_kv], sizeof l->kv_key[0], "%s", key);
    snprintf(l->kv_value[l->n_kv], sizeof l->kv_value[0], "%s", value);
    l->n_kv++;
    return 0;
}

static inline hydra_host_services fx_services(fx_log *l)
{
    hydra_host_services s;
    memset(&s, 0, sizeof s); /* services these fixtures do not offer stay NULL */
    memset(l, 0, sizeof *l);
    s.log = fx_svc_log;
    s.kv_get = fx_svc_get;
    s.kv_set = fx_svc_set;
    s.ctx = l;
    return s;
}

/* ---- snapshots ----------------------------------------------------------- */

typedef struct fx_snap {
    hydra_bar bars[FX_MAX][FX_BARS];
    char names[FX_MAX][48];
    hydra_symbol_view sym[FX_MAX];
    const hydra_symbol_view *symp[FX_MAX];
    char pos_names[FX_MAX][48];
    hydra_position_view pos[FX_MAX];
    const hydra_position_view *posp[FX_MAX];
    char opt_names[FX_MAX][48];
    char opt_und[FX_MAX][16];
    hydra_option_view opt[FX_MAX];
    const hydra_option_view *optp[FX_MAX];
    hydra_budget_view budget;
    hydra_snapshot snap;
    hydra_intent items[FX_INTENTS];
    hydra_intent_buf buf;
} fx_snap;

/* An empty snapshot with a generous budget: 3 trades left, 1 slot, $1000 of open risk, 0.5% stop. */
static inline void fx_snap_init(fx_snap *f)
{
    memset(f, 0, sizeof *f);
    f->budget.struct_size = sizeof f->budget;
    f->budget.max_daily_loss = 500;
    f->budget.max_open_risk = 1000;
    f->budget.trades_left_today = 3;
    f->budget.max_concurrent_positions = 1;
    f->budget.stop_loss_pct = 0.5;
    f->snap.struct_size = sizeof f->snap;
    f->snap.tick = 1;
    f->snap.now_ms = 1767276000000LL;
    f->snap.local_date = 20260101;
    f->snap.local_minute = 7 * 60;
    f->snap.symbols = f->symp;
    f->snap.positions = f->posp;
    f->snap.options = f->optp;
    f->snap.budget = &f->budget;
    f->buf.struct_size = sizeof f->buf;
    f->buf.item_size = sizeof(hydra_intent);
    f->buf.capacity = FX_INTENTS;
    f->buf.items = f->items;
}

/* Adds a symbol whose completed bars close at closes[0..n-1]; last_price is the last close. */
static inline void fx_symbol(fx_snap *f, const char *symbol, unsigned asset_class, const double *closes,
                             unsigned n)
{
    unsigned k = f->snap.n_symbols++, i;
    hydra_symbol_view *v = &f->sym[k];
    snprintf(f->names[k], sizeof f->names[k], "%s", symbol);
    for (i = 0; i < n; i++) {
        hydra_bar *b = &f->bars[k][i];
        b->t_ms = f->snap.now_ms - (int64_t)(n - i) * 60000;
        b->open = b->high = b->low = b->close = closes[i];
        b->volume = 1000;
    }
    v->struct_size = sizeof *v;
    v->asset_class = asset_class;
    v->symbol = f->names[k];
    v->last_price = n > 0 ? closes[n - 1] : 0;
    v->last_time_ms = f->snap.now_ms;
    v->bars = n > 0 ? f->bars[k] : NULL;
    v->n_bars = n;
    f->symp[k] = v;
}

static inline void fx_position(fx_snap *f, const char *symbol, unsigned asset_class, double qty)
{
    unsigned k = f->snap.n_positions++;
    hydra_position_view *p = &f->pos[k];
    snprintf(f->pos_names[k], sizeof f->pos_names[k], "%s", symbol);
    p->struct_size = sizeof *p;
    p->asset_class = asset_class;
    p->symbol = f->pos_names[k];
    p->qty = qty;
    p->avg_entry_price = 100;
    p->current_price = 100;
    p->opened_ms = f->snap.now_ms - 600000;
    f->posp[k] = p;
    f->budget.positions_open++;
}

static inline void fx_option(fx_snap *f, const char *symbol, const char *underlying, int is_call,
                             double strike, int expiry, double delta, double ask)
{
    unsigned k = f->snap.n_options++;
    hydra_option_view *o = &f->opt[k];
    snprintf(f->opt_names[k], sizeof f->opt_names[k], "%s", symbol);
    snprintf(f->opt_und[k], sizeof f->opt_und[k], "%s", underlying);
    o->struct_size = sizeof *o;
    o->is_call = (uint32_t)is_call;
    o->symbol = f->opt_names[k];
    o->underlying = f->opt_und[k];
    o->strike = strike;
    o->expiry_yyyymmdd = expiry;
    o->dte = 20;
    o->bid = ask - 0.10;
    o->ask = ask;
    o->iv = 0.2;
    o->delta = delta;
    o->multiplier = 100;
    f->optp[k] = o;
}

/* Clears the intent buffer between calls. */
static inline void fx_reset_intents(fx_snap *f)
{
    memset(f->items, 0, sizeof f->items);
    f->buf.count = 0;
}

#endif
