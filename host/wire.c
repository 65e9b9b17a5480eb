/*
 * The worker protocol's encoders and decoders (see wire.h for the format).
 *
 * Both ends are built from the same tree, but the decoders still treat every
 * body as hostile: the worker runs bot code, and a bot that scribbles over
 * its process may send anything. Every count is checked against the limit
 * of the array it fills before a single element is read.
 */
#define _GNU_SOURCE
#include "wire.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "error.h"

static void set_why(char *why, size_t whysz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t whysz, const char *fmt, ...)
{
    va_list ap;
    if (why == NULL || whysz == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, whysz, fmt, ap);
    va_end(ap);
}

/* ---- output ---------------------------------------------------------------- */

static void reserve(hydra_wire_out *o, size_t more)
{
    size_t need, cap;
    unsigned char *p;
    if (o->failed)
        return;
    need = o->len + more;
    if (need <= o->cap)
        return;
    cap = o->cap ? o->cap : 4096;
    while (cap < need)
        cap *= 2;
    p = realloc(o->p, cap);
    if (p == NULL) {
        o->failed = 1;
        return;
    }
    o->p = p;
    o->cap = cap;
}

void hydra_wire_put_bytes(hydra_wire_out *o, const void *p, size_t n)
{
    reserve(o, n);
    if (o->failed)
        return;
    if (n > 0)
        memcpy(o->p + o->len, p, n);
    o->len += n;
}

void hydra_wire_put_u32(hydra_wire_out *o, uint32_t v)
{
    hydra_wire_put_bytes(o, &v, sizeof v);
}

void hydra_wire_put_i32(hydra_wire_out *o, int32_t v)
{
    hydra_wire_put_bytes(o, &v, sizeof v);
}

void hydra_wire_put_u64(hydra_wire_out *o, uint64_t v)
{
    hydra_wire_put_bytes(o, &v, sizeof v);
}

void hydra_wire_put_i64(hydra_wire_out *o, int64_t v)
{
    hydra_wire_put_bytes(o, &v, sizeof v);
}

void hydra_wire_put_f64(hydra_wire_out *o, double v)
{
    hydra_wire_put_bytes(o, &v, sizeof v);
}

void hydra_wire_put_str(hydra_wire_out *o, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    hydra_wire_put_u32(o, (uint32_t)(n + 1));
    hydra_wire_put_bytes(o, s != NULL ? s : "", n);
    hydra_wire_put_bytes(o, "", 1);
}

void hydra_wire_begin(hydra_wire_out *o, uint16_t type)
{
    hydra_wire_header h = {HYDRA_WIRE_MAGIC, HYDRA_WIRE_VERSION, type, 0};
    o->len = 0;
    o->failed = 0;
    hydra_wire_put_u32(o, h.magic);
    hydra_wire_put_bytes(o, &h.version, sizeof h.version);
    hydra_wire_put_bytes(o, &h.type, sizeof h.type);
    hydra_wire_put_u32(o, h.length);
}

int hydra_wire_finish(hydra_wire_out *o)
{
    uint32_t body;
    if (o->failed)
        return HYDRA_ENOMEM;
    if (o->len < HYDRA_WIRE_HEADER_SIZE || o->len - HYDRA_WIRE_HEADER_SIZE > HYDRA_WIRE_MAX_BODY)
        return HYDRA_EINVAL;
    body = (uint32_t)(o->len - HYDRA_WIRE_HEADER_SIZE);
    memcpy(o->p + 8, &body, sizeof body);
    return 0;
}

void hydra_wire_out_free(hydra_wire_out *o)
{
    free(o->p);
    memset(o, 0, sizeof *o);
}

/* ---- input ----------------------------------------------------------------- */

void hydra_wire_in_init(hydra_wire_in *in, const void *body, size_t len)
{
    in->p = body;
    in->len = len;
    in->off = 0;
    in->bad = 0;
}

void hydra_wire_get_bytes(hydra_wire_in *in, void *out, size_t n)
{
    if (in->bad || n > in->len - in->off) {
        in->bad = 1;
        memset(out, 0, n);
        return;
    }
    memcpy(out, in->p + in->off, n);
    in->off += n;
}

uint32_t hydra_wire_get_u32(hydra_wire_in *in)
{
    uint32_t v;
    hydra_wire_get_bytes(in, &v, sizeof v);
    return v;
}

int32_t hydra_wire_get_i32(hydra_wire_in *in)
{
    int32_t v;
    hydra_wire_get_bytes(in, &v, sizeof v);
    return v;
}

uint64_t hydra_wire_get_u64(hydra_wire_in *in)
{
    uint64_t v;
    hydra_wire_get_bytes(in, &v, sizeof v);
    return v;
}

int64_t hydra_wire_get_i64(hydra_wire_in *in)
{
    int64_t v;
    hydra_wire_get_bytes(in, &v, sizeof v);
    return v;
}

double hydra_wire_get_f64(hydra_wire_in *in)
{
    double v;
    hydra_wire_get_bytes(in, &v, sizeof v);
    return v;
}

const char *hydra_wire_get_str(hydra_wire_in *in)
{
    uint32_t n = hydra_wire_get_u32(in);
    const char *s;
    /* The length counts the NUL, which must be the last byte and the only one. */
    if (in->bad || n == 0 || n > in->len - in->off) {
        in->bad = 1;
        return "";
    }
    s = (const char *)in->p + in->off;
    if (s[n - 1] != '\0' || memchr(s, '\0', n - 1) != NULL) {
        in->bad = 1;
        return "";
    }
    in->off += n;
    return s;
}

void hydra_wire_get_str_into(hydra_wire_in *in, char *out, size_t outsz)
{
    const char *s = hydra_wire_get_str(in);
    size_t n = strlen(s);
    if (n >= outsz) {
        in->bad = 1;
        out[0] = '\0';
        return;
    }
    memcpy(out, s, n + 1);
}

int hydra_wire_check_header(const hydra_wire_header *h, char *why, size_t whysz)
{
    if (h->magic != HYDRA_WIRE_MAGIC) {
        set_why(why, whysz, "bad magic 0x%08x", (unsigned)h->magic);
        return HYDRA_EPROTO;
    }
    if (h->version != HYDRA_WIRE_VERSION) {
        set_why(why, whysz,
                "peer speaks worker protocol version %u, this end speaks %u: hydra-host and "
                "hydra-worker must come from the same build (reinstall both)",
                (unsigned)h->version, (unsigned)HYDRA_WIRE_VERSION);
        return HYDRA_EPROTO;
    }
    if (h->length > HYDRA_WIRE_MAX_BODY) {
        set_why(why, whysz, "%s message of %u bytes exceeds the %u byte limit",
                hydra_wire_type_name(h->type), (unsigned)h->length, (unsigned)HYDRA_WIRE_MAX_BODY);
        return HYDRA_EPROTO;
    }
    return 0;
}

const char *hydra_wire_type_name(uint32_t type)
{
    switch (type) {
    case HYDRA_WIRE_LOAD: return "LOAD";
    case HYDRA_WIRE_LOADED: return "LOADED";
    case HYDRA_WIRE_CALL: return "CALL";
    case HYDRA_WIRE_FILL: return "FILL";
    case HYDRA_WIRE_RESULT: return "RESULT";
    case HYDRA_WIRE_LOG: return "LOG";
    case HYDRA_WIRE_KV_GET: return "KV_GET";
    case HYDRA_WIRE_KV_SET: return "KV_SET";
    case HYDRA_WIRE_KV_REPLY: return "KV_REPLY";
    case HYDRA_WIRE_CHAIN_GET: return "CHAIN_GET";
    case HYDRA_WIRE_CHAIN_REPLY: return "CHAIN_REPLY";
    default: return "unknown";
    }
}

/* Every decoder ends the same way: the body must have been read exactly. */
static int finish_get(hydra_wire_in *in, const char *what, char *why, size_t whysz)
{
    if (in->bad) {
        set_why(why, whysz, "%s body is malformed or truncated", what);
        return HYDRA_EPROTO;
    }
    if (in->off != in->len) {
        set_why(why, whysz, "%s body has %zu trailing bytes", what, in->len - in->off);
        return HYDRA_EPROTO;
    }
    return 0;
}

/* ---- LOAD ------------------------------------------------------------------ */

void hydra_wire_put_load(hydra_wire_out *o, const char *plugins_dir, const hydra_bot_cfg *cfg)
{
    int i;
    hydra_wire_put_str(o, plugins_dir);
    hydra_wire_put_str(o, cfg->bot_id);
    hydra_wire_put_str(o, cfg->plugin);
    hydra_wire_put_str(o, cfg->signal_mode);
    hydra_wire_put_u32(o, cfg->asset_class);
    hydra_wire_put_i32(o, cfg->tif);
    hydra_wire_put_i32(o, cfg->order_type);
    hydra_wire_put_i32(o, cfg->use_notional);
    hydra_wire_put_f64(o, cfg->default_notional_usd);
    hydra_wire_put_u32(o, (uint32_t)cfg->n_symbols);
    for (i = 0; i < cfg->n_symbols; i++)
        hydra_wire_put_str(o, cfg->symbols[i]);
    hydra_wire_put_u32(o, (uint32_t)cfg->n_params);
    for (i = 0; i < cfg->n_params; i++) {
        const hydra_param *p = &cfg->params[i];
        hydra_wire_put_str(o, p->key);
        hydra_wire_put_u32(o, (uint32_t)p->type);
        hydra_wire_put_i64(o, p->i);
        hydra_wire_put_f64(o, p->d);
        hydra_wire_put_i32(o, p->b);
        hydra_wire_put_str(o, p->s);
    }
}

int hydra_wire_get_load(hydra_wire_in *in, char *plugins_dir, size_t dirsz, hydra_bot_cfg *cfg,
                        char *why, size_t whysz)
{
    uint32_t n, i;
    memset(cfg, 0, sizeof *cfg);
    hydra_wire_get_str_into(in, plugins_dir, dirsz);
    hydra_wire_get_str_into(in, cfg->bot_id, sizeof cfg->bot_id);
    hydra_wire_get_str_into(in, cfg->plugin, sizeof cfg->plugin);
    hydra_wire_get_str_into(in, cfg->signal_mode, sizeof cfg->signal_mode);
    cfg->asset_class = hydra_wire_get_u32(in);
    cfg->tif = hydra_wire_get_i32(in);
    cfg->order_type = hydra_wire_get_i32(in);
    cfg->use_notional = hydra_wire_get_i32(in);
    cfg->default_notional_usd = hydra_wire_get_f64(in);
    n = hydra_wire_get_u32(in);
    if (n > HYDRA_MAX_BOT_SYMBOLS) {
        set_why(why, whysz, "LOAD declares %u symbols, the limit is %d", (unsigned)n,
                HYDRA_MAX_BOT_SYMBOLS);
        return HYDRA_EPROTO;
    }
    for (i = 0; i < n; i++)
        hydra_wire_get_str_into(in, cfg->symbols[i], sizeof cfg->symbols[i]);
    cfg->n_symbols = (int)n;
    n = hydra_wire_get_u32(in);
    if (n > HYDRA_MAX_PARAMS) {
        set_why(why, whysz, "LOAD declares %u params, the limit is %d", (unsigned)n,
                HYDRA_MAX_PARAMS);
        return HYDRA_EPROTO;
    }
    for (i = 0; i < n; i++) {
        hydra_param *p = &cfg->params[i];
        hydra_wire_get_str_into(in, p->key, sizeof p->key);
        p->type = (hydra_param_type)hydra_wire_get_u32(in);
        p->i = hydra_wire_get_i64(in);
        p->d = hydra_wire_get_f64(in);
        p->b = hydra_wire_get_i32(in);
        hydra_wire_get_str_into(in, p->s, sizeof p->s);
    }
    cfg->n_params = (int)n;
    cfg->enabled = 1;
    cfg->isolation_process = 1;
    return finish_get(in, "LOAD", why, whysz);
}

/* ---- snapshots --------------------------------------------------------------- */

/* One option view; the snapshot and CHAIN_REPLY carry the same fields. */
static void put_option(hydra_wire_out *o, const hydra_option_view *v)
{
    hydra_wire_put_u32(o, v->is_call);
    hydra_wire_put_str(o, v->symbol);
    hydra_wire_put_str(o, v->underlying);
    hydra_wire_put_f64(o, v->strike);
    hydra_wire_put_i32(o, v->expiry_yyyymmdd);
    hydra_wire_put_i32(o, v->dte);
    hydra_wire_put_f64(o, v->bid);
    hydra_wire_put_f64(o, v->ask);
    hydra_wire_put_f64(o, v->iv);
    hydra_wire_put_f64(o, v->delta);
    hydra_wire_put_u32(o, v->multiplier);
}

static void get_option(hydra_wire_in *in, hydra_option_view *v)
{
    memset(v, 0, sizeof *v);
    v->struct_size = sizeof *v;
    v->is_call = hydra_wire_get_u32(in);
    v->symbol = hydra_wire_get_str(in);
    v->underlying = hydra_wire_get_str(in);
    v->strike = hydra_wire_get_f64(in);
    v->expiry_yyyymmdd = hydra_wire_get_i32(in);
    v->dte = hydra_wire_get_i32(in);
    v->bid = hydra_wire_get_f64(in);
    v->ask = hydra_wire_get_f64(in);
    v->iv = hydra_wire_get_f64(in);
    v->delta = hydra_wire_get_f64(in);
    v->multiplier = hydra_wire_get_u32(in);
}

void hydra_wire_put_snapshot(hydra_wire_out *o, const hydra_snapshot *s)
{
    uint32_t i, k;
    const hydra_budget_view *b = s->budget;
    hydra_wire_put_u64(o, s->tick);
    hydra_wire_put_i64(o, s->now_ms);
    hydra_wire_put_i32(o, s->local_date);
    hydra_wire_put_i32(o, s->local_minute);

    hydra_wire_put_u32(o, s->n_symbols);
    for (i = 0; i < s->n_symbols; i++) {
        const hydra_symbol_view *v = s->symbols[i];
        hydra_wire_put_u32(o, v->asset_class);
        hydra_wire_put_str(o, v->symbol);
        hydra_wire_put_f64(o, v->last_price);
        hydra_wire_put_i64(o, v->last_time_ms);
        hydra_wire_put_u32(o, v->n_bars);
        for (k = 0; k < v->n_bars; k++) {
            hydra_wire_put_i64(o, v->bars[k].t_ms);
            hydra_wire_put_f64(o, v->bars[k].open);
            hydra_wire_put_f64(o, v->bars[k].high);
            hydra_wire_put_f64(o, v->bars[k].low);
            hydra_wire_put_f64(o, v->bars[k].close);
            hydra_wire_put_f64(o, v->bars[k].volume);
        }
    }

    hydra_wire_put_u32(o, s->n_positions);
    for (i = 0; i < s->n_positions; i++) {
        const hydra_position_view *v = s->positions[i];
        hydra_wire_put_u32(o, v->asset_class);
        hydra_wire_put_str(o, v->symbol);
        hydra_wire_put_f64(o, v->qty);
        hydra_wire_put_f64(o, v->avg_entry_price);
        hydra_wire_put_f64(o, v->current_price);
        hydra_wire_put_f64(o, v->unrealized_pl);
        hydra_wire_put_i64(o, v->opened_ms);
    }

    hydra_wire_put_u32(o, s->n_options);
    for (i = 0; i < s->n_options; i++) {
        put_option(o, s->options[i]);
    }

    hydra_wire_put_f64(o, b->max_daily_loss);
    hydra_wire_put_f64(o, b->max_open_risk);
    hydra_wire_put_f64(o, b->open_risk_used);
    hydra_wire_put_f64(o, b->realized_pnl_today);
    hydra_wire_put_u32(o, b->trades_left_today);
    hydra_wire_put_u32(o, b->positions_open);
    hydra_wire_put_u32(o, b->max_concurrent_positions);
    hydra_wire_put_f64(o, b->stop_loss_pct);

    /* Since version 3 (ABI 1.1): the bot's working orders; none from a 1.0-sized snapshot. */
    uint32_t no = HYDRA_COVERS(s, n_orders) ? s->n_orders : 0;
    hydra_wire_put_u32(o, no);
    for (i = 0; i < no; i++) {
        const hydra_order_view *v = s->orders[i];
        hydra_wire_put_u32(o, v->kind);
        hydra_wire_put_u32(o, v->side);
        hydra_wire_put_u32(o, v->type);
        hydra_wire_put_u32(o, v->asset_class);
        hydra_wire_put_u32(o, v->state);
        hydra_wire_put_str(o, v->client_order_id);
        hydra_wire_put_str(o, v->symbol);
        hydra_wire_put_f64(o, v->qty);
        hydra_wire_put_f64(o, v->filled_qty);
        hydra_wire_put_f64(o, v->limit_price);
        hydra_wire_put_i64(o, v->submitted_ms);
    }
}

hydra_wire_snapshot *hydra_wire_snapshot_new(void)
{
    return calloc(1, sizeof(hydra_wire_snapshot));
}

/* Reads a count and refuses one beyond the array it fills. */
static int get_count(hydra_wire_in *in, uint32_t limit, const char *what, uint32_t *out, char *why,
                     size_t whysz)
{
    uint32_t n = hydra_wire_get_u32(in);
    if (in->bad) {
        set_why(why, whysz, "snapshot truncated before the %s count", what);
        return HYDRA_EPROTO;
    }
    if (n > limit) {
        set_why(why, whysz, "snapshot has %u %s, the limit is %u", (unsigned)n, what,
                (unsigned)limit);
        return HYDRA_EPROTO;
    }
    *out = n;
    return 0;
}

int hydra_wire_get_snapshot(hydra_wire_in *in, hydra_wire_snapshot *out, char *why, size_t whysz)
{
    hydra_snapshot *s = &out->snap;
    hydra_budget_view *b = &out->budget;
    uint32_t i, k, n;
    int rc;

    memset(s, 0, sizeof *s);
    s->struct_size = sizeof *s;
    s->tick = hydra_wire_get_u64(in);
    s->now_ms = hydra_wire_get_i64(in);
    s->local_date = hydra_wire_get_i32(in);
    s->local_minute = hydra_wire_get_i32(in);

    if ((rc = get_count(in, HYDRA_WIRE_MAX_SYMBOLS, "symbols", &n, why, whysz)) != 0)
        return rc;
    for (i = 0; i < n; i++) {
        hydra_symbol_view *v = &out->sym[i];
        memset(v, 0, sizeof *v);
        v->struct_size = sizeof *v;
        v->asset_class = hydra_wire_get_u32(in);
        v->symbol = hydra_wire_get_str(in);
        v->last_price = hydra_wire_get_f64(in);
        v->last_time_ms = hydra_wire_get_i64(in);
        if ((rc = get_count(in, HYDRA_WIRE_MAX_BARS, "bars", &v->n_bars, why, whysz)) != 0)
            return rc;
        for (k = 0; k < v->n_bars; k++) {
            hydra_bar *bar = &out->bars[i][k];
            bar->t_ms = hydra_wire_get_i64(in);
            bar->open = hydra_wire_get_f64(in);
            bar->high = hydra_wire_get_f64(in);
            bar->low = hydra_wire_get_f64(in);
            bar->close = hydra_wire_get_f64(in);
            bar->volume = hydra_wire_get_f64(in);
        }
        v->bars = v->n_bars > 0 ? out->bars[i] : NULL;
        out->sym_p[i] = v;
    }
    s->symbols = out->sym_p;
    s->n_symbols = n;

    if ((rc = get_count(in, HYDRA_WIRE_MAX_POSITIONS, "positions", &n, why, whysz)) != 0)
        return rc;
    for (i = 0; i < n; i++) {
        hydra_position_view *v = &out->pos[i];
        memset(v, 0, sizeof *v);
        v->struct_size = sizeof *v;
        v->asset_class = hydra_wire_get_u32(in);
        v->symbol = hydra_wire_get_str(in);
        v->qty = hydra_wire_get_f64(in);
        v->avg_entry_price = hydra_wire_get_f64(in);
        v->current_price = hydra_wire_get_f64(in);
        v->unrealized_pl = hydra_wire_get_f64(in);
        v->opened_ms = hydra_wire_get_i64(in);
        out->pos_p[i] = v;
    }
    s->positions = out->pos_p;
    s->n_positions = n;

    if ((rc = get_count(in, HYDRA_WIRE_MAX_OPTIONS, "options", &n, why, whysz)) != 0)
        return rc;
    for (i = 0; i < n; i++) {
        get_option(in, &out->opt[i]);
        out->opt_p[i] = &out->opt[i];
    }
    s->options = out->opt_p;
    s->n_options = n;

    memset(b, 0, sizeof *b);
    b->struct_size = sizeof *b;
    b->max_daily_loss = hydra_wire_get_f64(in);
    b->max_open_risk = hydra_wire_get_f64(in);
    b->open_risk_used = hydra_wire_get_f64(in);
    b->realized_pnl_today = hydra_wire_get_f64(in);
    b->trades_left_today = hydra_wire_get_u32(in);
    b->positions_open = hydra_wire_get_u32(in);
    b->max_concurrent_positions = hydra_wire_get_u32(in);
    b->stop_loss_pct = hydra_wire_get_f64(in);
    s->budget = b;

    if ((rc = get_count(in, HYDRA_WIRE_MAX_ORDERS, "orders", &n, why, whysz)) != 0)
        return rc;
    for (i = 0; i < n; i++) {
        hydra_order_view *v = &out->ord[i];
        memset(v, 0, sizeof *v);
        v->struct_size = sizeof *v;
        v->kind = hydra_wire_get_u32(in);
        v->side = hydra_wire_get_u32(in);
        v->type = hydra_wire_get_u32(in);
        v->asset_class = hydra_wire_get_u32(in);
        v->state = hydra_wire_get_u32(in);
        v->client_order_id = hydra_wire_get_str(in);
        v->symbol = hydra_wire_get_str(in);
        v->qty = hydra_wire_get_f64(in);
        v->filled_qty = hydra_wire_get_f64(in);
        v->limit_price = hydra_wire_get_f64(in);
        v->submitted_ms = hydra_wire_get_i64(in);
        out->ord_p[i] = v;
    }
    s->orders = out->ord_p;
    s->n_orders = n;
    return finish_get(in, "CALL", why, whysz);
}

/* ---- RESULT ------------------------------------------------------------------ */

void hydra_wire_put_result(hydra_wire_out *o, int32_t status, uint32_t buffer_state,
                           const hydra_intent *items, uint32_t count)
{
    uint32_t i;
    hydra_wire_put_i32(o, status);
    hydra_wire_put_u32(o, buffer_state);
    hydra_wire_put_u32(o, count);
    for (i = 0; i < count; i++) {
        const hydra_intent *in = &items[i];
        hydra_wire_put_u32(o, in->struct_size);
        hydra_wire_put_u32(o, in->kind);
        hydra_wire_put_u32(o, in->side);
        hydra_wire_put_u32(o, in->type);
        hydra_wire_put_u32(o, in->tif);
        hydra_wire_put_u32(o, in->asset_class);
        hydra_wire_put_bytes(o, in->symbol, sizeof in->symbol);
        hydra_wire_put_f64(o, in->qty);
        hydra_wire_put_f64(o, in->notional);
        hydra_wire_put_f64(o, in->limit_price);
        hydra_wire_put_bytes(o, in->reason, sizeof in->reason);
        hydra_wire_put_bytes(o, in->client_order_id, sizeof in->client_order_id);
    }
}

int hydra_wire_get_result(hydra_wire_in *in, int32_t *status, uint32_t *buffer_state,
                          hydra_intent *items, uint32_t cap, uint32_t *count, char *why,
                          size_t whysz)
{
    uint32_t i, n;
    *status = hydra_wire_get_i32(in);
    *buffer_state = hydra_wire_get_u32(in);
    n = hydra_wire_get_u32(in);
    *count = 0;
    if (!in->bad && *buffer_state != HYDRA_WIRE_BUFFER_OK &&
        *buffer_state != HYDRA_WIRE_BUFFER_CORRUPTED) {
        set_why(why, whysz, "RESULT has unknown buffer state %u", (unsigned)*buffer_state);
        return HYDRA_EPROTO;
    }
    if (!in->bad && n > cap) {
        set_why(why, whysz, "RESULT carries %u intents, the buffer holds %u", (unsigned)n,
                (unsigned)cap);
        return HYDRA_EPROTO;
    }
    for (i = 0; i < n && !in->bad; i++) {
        hydra_intent *it = &items[i];
        memset(it, 0, sizeof *it);
        it->struct_size = hydra_wire_get_u32(in);
        it->kind = hydra_wire_get_u32(in);
        it->side = hydra_wire_get_u32(in);
        it->type = hydra_wire_get_u32(in);
        it->tif = hydra_wire_get_u32(in);
        it->asset_class = hydra_wire_get_u32(in);
        hydra_wire_get_bytes(in, it->symbol, sizeof it->symbol);
        it->qty = hydra_wire_get_f64(in);
        it->notional = hydra_wire_get_f64(in);
        it->limit_price = hydra_wire_get_f64(in);
        hydra_wire_get_bytes(in, it->reason, sizeof it->reason);
        hydra_wire_get_bytes(in, it->client_order_id, sizeof it->client_order_id);
    }
    if (finish_get(in, "RESULT", why, whysz) != 0)
        return HYDRA_EPROTO;
    *count = n;
    return 0;
}

/* ---- FILL -------------------------------------------------------------------- */

void hydra_wire_put_chain_reply(hydra_wire_out *o, int32_t total, const hydra_option_view *views,
                                uint32_t n)
{
    hydra_wire_put_i32(o, total);
    hydra_wire_put_u32(o, n);
    for (uint32_t i = 0; i < n; i++)
        put_option(o, &views[i]);
}

int hydra_wire_get_chain_reply(hydra_wire_in *in, int32_t *total, hydra_option_view *out,
                               uint32_t cap, uint32_t *n, char *why, size_t whysz)
{
    *total = hydra_wire_get_i32(in);
    *n = hydra_wire_get_u32(in);
    if (!in->bad && (*n > cap || (*total >= 0 && *n > (uint32_t)*total) || (*total < 0 && *n > 0))) {
        set_why(why, whysz, "CHAIN_REPLY carries %u contracts for a request of %u (%d admitted)",
                (unsigned)*n, (unsigned)cap, (int)*total);
        return HYDRA_EPROTO;
    }
    for (uint32_t i = 0; i < *n && !in->bad; i++)
        get_option(in, &out[i]);
    return finish_get(in, "CHAIN_REPLY", why, whysz);
}

void hydra_wire_put_fill(hydra_wire_out *o, const hydra_fill *f)
{
    hydra_wire_put_u32(o, f->side);
    hydra_wire_put_str(o, f->symbol);
    hydra_wire_put_str(o, f->client_order_id);
    hydra_wire_put_f64(o, f->qty);
    hydra_wire_put_f64(o, f->price);
    hydra_wire_put_i64(o, f->t_ms);
}

int hydra_wire_get_fill(hydra_wire_in *in, hydra_fill *f)
{
    memset(f, 0, sizeof *f);
    f->struct_size = sizeof *f;
    f->side = hydra_wire_get_u32(in);
    f->symbol = hydra_wire_get_str(in);
    f->client_order_id = hydra_wire_get_str(in);
    f->qty = hydra_wire_get_f64(in);
    f->price = hydra_wire_get_f64(in);
    f->t_ms = hydra_wire_get_i64(in);
    return finish_get(in, "FILL", NULL, 0);
}

/* ---- LOADED and the worker's requests ------------------------------------------ */

void hydra_wire_put_loaded(hydra_wire_out *o, const char *name, const char *version,
                           hydra_abi_version abi, uint32_t seccomp, const char *seccomp_note,
                           uint32_t asks_chain)
{
    hydra_wire_put_i32(o, 0);
    hydra_wire_put_str(o, name);
    hydra_wire_put_str(o, version);
    hydra_wire_put_u32(o, abi.major);
    hydra_wire_put_u32(o, abi.minor);
    hydra_wire_put_u32(o, abi.patch);
    hydra_wire_put_u32(o, seccomp);
    hydra_wire_put_str(o, seccomp_note);
    hydra_wire_put_u32(o, asks_chain);
}

void hydra_wire_put_load_refused(hydra_wire_out *o, int32_t status, const char *error)
{
    hydra_wire_put_i32(o, status);
    hydra_wire_put_str(o, error);
}

int hydra_wire_get_loaded(hydra_wire_in *in, hydra_wire_loaded *out, char *why, size_t whysz)
{
    memset(out, 0, sizeof *out);
    out->error = "";
    out->status = hydra_wire_get_i32(in);
    if (!in->bad && out->status != 0) {
        out->error = hydra_wire_get_str(in);
        return finish_get(in, "LOADED", why, whysz);
    }
    hydra_wire_get_str_into(in, out->name, sizeof out->name);
    hydra_wire_get_str_into(in, out->version, sizeof out->version);
    out->abi.major = hydra_wire_get_u32(in);
    out->abi.minor = hydra_wire_get_u32(in);
    out->abi.patch = hydra_wire_get_u32(in);
    out->seccomp = hydra_wire_get_u32(in);
    hydra_wire_get_str_into(in, out->seccomp_note, sizeof out->seccomp_note);
    out->asks_chain = hydra_wire_get_u32(in);
    return finish_get(in, "LOADED", why, whysz);
}

void hydra_wire_put_log(hydra_wire_out *o, int32_t level, const char *event, const char *message)
{
    hydra_wire_put_i32(o, level);
    hydra_wire_put_str(o, event);
    hydra_wire_put_str(o, message);
}

int hydra_wire_get_log(hydra_wire_in *in, int32_t *level, const char **event,
                       const char **message, char *why, size_t whysz)
{
    *level = hydra_wire_get_i32(in);
    *event = hydra_wire_get_str(in);
    *message = hydra_wire_get_str(in);
    return finish_get(in, "LOG", why, whysz);
}

void hydra_wire_put_kv_get(hydra_wire_out *o, const char *key, uint64_t bufsz)
{
    hydra_wire_put_str(o, key);
    hydra_wire_put_u64(o, bufsz);
}

int hydra_wire_get_kv_get(hydra_wire_in *in, const char **key, uint64_t *bufsz, char *why,
                          size_t whysz)
{
    *key = hydra_wire_get_str(in);
    *bufsz = hydra_wire_get_u64(in);
    return finish_get(in, "KV_GET", why, whysz);
}

void hydra_wire_put_kv_set(hydra_wire_out *o, const char *key, const char *value)
{
    hydra_wire_put_str(o, key);
    hydra_wire_put_str(o, value);
}

int hydra_wire_get_kv_set(hydra_wire_in *in, const char **key, const char **value, char *why,
                          size_t whysz)
{
    *key = hydra_wire_get_str(in);
    *value = hydra_wire_get_str(in);
    return finish_get(in, "KV_SET", why, whysz);
}

void hydra_wire_put_chain_get(hydra_wire_out *o, const char *underlying, uint32_t rights,
                              uint32_t cap)
{
    hydra_wire_put_str(o, underlying);
    hydra_wire_put_u32(o, rights);
    hydra_wire_put_u32(o, cap);
}

int hydra_wire_get_chain_get(hydra_wire_in *in, const char **underlying, uint32_t *rights,
                             uint32_t *cap, char *why, size_t whysz)
{
    *underlying = hydra_wire_get_str(in);
    *rights = hydra_wire_get_u32(in);
    *cap = hydra_wire_get_u32(in);
    return finish_get(in, "CHAIN_GET", why, whysz);
}

/* ---- moving messages ------------------------------------------------------ */

int64_t hydra_wire_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Waits until fd is ready for `events` or the deadline passes (-1: no deadline). */
static int wait_fd(int fd, short events, int64_t deadline_us)
{
    for (;;) {
        struct pollfd p = {fd, events, 0};
        int timeout = -1, n;
        if (deadline_us >= 0) {
            int64_t left = deadline_us - hydra_wire_now_us();
            if (left <= 0)
                return HYDRA_ETIMEDOUT;
            timeout = (int)((left + 999) / 1000);
        }
        n = poll(&p, 1, timeout);
        if (n > 0)
            return 0;
        if (n == 0)
            continue; /* the loop re-checks the deadline with microsecond precision */
        if (errno != EINTR)
            return HYDRA_EIO;
    }
}

int hydra_wire_send(int fd, const hydra_wire_out *o, int64_t deadline_us)
{
    size_t off = 0;
    while (off < o->len) {
        ssize_t n = send(fd, o->p + off, o->len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(fd, POLLOUT, deadline_us);
            if (rc != 0)
                return rc;
            continue;
        }
        return HYDRA_EWORKER; /* EPIPE, ECONNRESET: the peer is gone */
    }
    return 0;
}

/* Reads exactly n bytes. HYDRA_EEOF when the peer closed before the first byte of a message. */
static int recv_exact(int fd, unsigned char *p, size_t n, int64_t deadline_us, int at_start)
{
    size_t off = 0;
    while (off < n) {
        ssize_t got = recv(fd, p + off, n - off, MSG_DONTWAIT);
        if (got > 0) {
            off += (size_t)got;
            continue;
        }
        if (got == 0)
            return at_start && off == 0 ? HYDRA_EEOF : HYDRA_EWORKER;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_fd(fd, POLLIN, deadline_us);
            if (rc != 0)
                return rc;
            continue;
        }
        return errno == ECONNRESET ? HYDRA_EWORKER : HYDRA_EIO;
    }
    return 0;
}

int hydra_wire_recv(int fd, hydra_wire_out *buf, hydra_wire_header *h, int64_t deadline_us,
                    char *why, size_t whysz)
{
    unsigned char raw[HYDRA_WIRE_HEADER_SIZE];
    int rc = recv_exact(fd, raw, sizeof raw, deadline_us, 1);
    if (rc != 0)
        return rc;
    memcpy(&h->magic, raw, 4);
    memcpy(&h->version, raw + 4, 2);
    memcpy(&h->type, raw + 6, 2);
    memcpy(&h->length, raw + 8, 4);
    if ((rc = hydra_wire_check_header(h, why, whysz)) != 0)
        return rc;
    buf->len = 0;
    buf->failed = 0;
    reserve(buf, h->length + 1u);
    if (buf->failed)
        return HYDRA_ENOMEM;
    rc = recv_exact(fd, buf->p, h->length, deadline_us, 0);
    if (rc != 0)
        return rc;
    buf->len = h->length;
    return 0;
}
