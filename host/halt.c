#include "halt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "metrics.h"
#include "notify.h"
#include "orders.h"

#define QTY_EPS 1e-9
#define MAX_POS 512

typedef struct flatten_counts {
    int canceled;       /* cancels the broker took */
    int cancel_failed;  /* cancels that failed for a reason worth another try */
    int sells;          /* market sells sent */
    int mismatches;     /* symbols where journal and broker disagree */
    int unreadable;     /* the broker's positions could not be read: nothing sold */
    int flat;           /* nothing open, nothing owned */
} flatten_counts;

/* Step 1: Hydra's own open orders, by id; market sells already closing stay. */
static void cancel_own_orders(hydra_engine *e, flatten_counts *c)
{
    int asked = 0;
    for (size_t i = 0; i < e->n_open_orders; i++) {
        const hydra_journal_order *o = &e->open_orders[i];
        if (o->side == HYDRA_SIDE_SELL && o->type == HYDRA_ORDER_MARKET)
            continue;
        /* Not at the broker yet: the journal sync never resends an entry while halted. */
        if (o->broker_id[0] == '\0')
            continue;
        hydra_broker_err err = {0};
        int rc = e->broker.ops->cancel_order(e->broker.ctx, o->broker_id, &err);
        asked++;
        if (rc == 0) {
            c->canceled++;
            hydra_log_pack(e->log, HYDRA_LOG_INFO, "halt_cancel", o->bot_id, "{s:s,s:s,s:s,s:s}",
                           "client_order_id", o->client_order_id, "order_id", o->broker_id,
                           "symbol", o->symbol, "kind",
                           o->kind == HYDRA_INTENT_ENTRY ? "entry" : "exit");
        } else if (rc != HYDRA_ENOTFOUND && rc != HYDRA_EREJECTED) {
            /* Gone or no longer cancelable is settled by the sync; anything else is tried again. */
            c->cancel_failed++;
            hydra_engine_broker_failure(e, "cancel_order", &err);
        }
    }
    if (asked > 0)
        hydra_orders_sync(e);
}

/* The quantity of working sells Hydra has in symbol, all bots together. */
static double working_sells(const hydra_engine *e, const char *symbol)
{
    double q = 0;
    for (size_t i = 0; i < e->n_open_orders; i++) {
        const hydra_journal_order *o = &e->open_orders[i];
        if (o->side == HYDRA_SIDE_SELL && strcmp(o->symbol, symbol) == 0 && o->qty > 0)
            q += o->qty - o->filled_qty;
    }
    return q;
}

static double broker_qty(const hydra_broker_position *b, size_t nb, const char *symbol)
{
    for (size_t i = 0; i < nb; i++)
        if (strcmp(b[i].symbol, symbol) == 0)
            return b[i].qty;
    return 0;
}

/* Step 3: per symbol, sell min(journal, broker) less what is already being sold. */
static void close_own_positions(hydra_engine *e, const char *reason, int first, flatten_counts *c)
{
    static hydra_bot_position jpos[MAX_POS];
    static hydra_broker_position bpos[MAX_POS];
    size_t nj = 0, nb = 0;
    int rc = hydra_position_list(e->state, NULL, jpos, MAX_POS, &nj);
    if (rc != 0) {
        c->unreadable = 1;
        hydra_log_pack(e->log, HYDRA_LOG_ERROR, "halt_flatten_failed", NULL, "{s:s,s:s}", "error",
                       hydra_strerror(rc), "effect", "nothing sold this tick; tried again next tick");
        return;
    }
    if (nj == 0)
        return;
    hydra_broker_err err = {0};
    rc = e->broker.ops->positions(e->broker.ctx, bpos, MAX_POS, &nb, &err);
    if (rc != 0) {
        /* Without the broker's figure Hydra cannot know what it owns: nothing is sold blind. */
        c->unreadable = 1;
        hydra_engine_broker_failure(e, "positions", &err);
        return;
    }
    if (e->day[0] == '\0') {
        /* No trading day yet (first start): the first tick sets it and sells then. */
        c->unreadable = 1;
        return;
    }
    char why[160];
    snprintf(why, sizeof why, "flatten: %.140s", reason);
    for (size_t i = 0; i < nj; i++) {
        const char *sym = jpos[i].symbol;
        int seen = 0;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(jpos[k].symbol, sym) == 0;
        if (seen)
            continue;
        double journal = 0;
        for (size_t k = i; k < nj; k++)
            if (strcmp(jpos[k].symbol, sym) == 0)
                journal += jpos[k].qty;
        double broker = broker_qty(bpos, nb, sym);
        double owned = fmin(journal, fmax(broker, 0.0));
        double left = owned - working_sells(e, sym);
        int differs = fabs(journal - broker) > 1e-6 * fmax(1.0, fabs(journal));
        if (differs) {
            c->mismatches++;
            if (first || left > QTY_EPS)
                hydra_log_pack(e->log, HYDRA_LOG_WARN, "halt_position_mismatch", NULL,
                               "{s:s,s:f,s:f,s:f,s:s}", "symbol", sym, "journal", journal, "broker",
                               broker, "closing", owned, "note",
                               broker > journal
                                   ? "the broker holds more than Hydra's journal: the rest is "
                                     "not Hydra's and is left alone"
                                   : "the journal holds more than the broker: only what the "
                                     "broker holds can be sold");
        }
        for (size_t k = i; k < nj && left > QTY_EPS; k++) {
            const hydra_bot_position *p = &jpos[k];
            if (strcmp(p->symbol, sym) != 0)
                continue;
            double mine = p->qty - hydra_orders_working_qty(e, p->bot_id, sym, HYDRA_SIDE_SELL);
            double take = fmin(mine, left);
            if (p->asset_class == HYDRA_ASSET_OPTION)
                take = floor(take + QTY_EPS);
            if (!(take > QTY_EPS))
                continue;
            hydra_intent in = {0};
            in.struct_size = sizeof in;
            in.kind = HYDRA_INTENT_EXIT;
            in.side = HYDRA_SIDE_SELL;
            in.type = HYDRA_ORDER_MARKET;
            in.asset_class = (uint32_t)p->asset_class;
            in.tif = p->asset_class == HYDRA_ASSET_CRYPTO ? HYDRA_TIF_GTC : HYDRA_TIF_DAY;
            snprintf(in.symbol, sizeof in.symbol, "%s", sym);
            in.qty = take;
            snprintf(in.reason, sizeof in.reason, "flatten: %.80s", reason);
            hydra_orders_submit_as(e, p->bot_id, HYDRA_TIF_DAY, &in, why, NULL);
            c->sells++;
            left -= take;
        }
    }
}

/* Whether Hydra holds anything the broker also holds, or has an order open. */
static int is_flat(hydra_engine *e)
{
    if (e->n_open_orders > 0)
        return 0;
    hydra_bot_position pos[1];
    size_t n = 0;
    int rc = hydra_position_list(e->state, NULL, pos, 1, &n);
    if (rc == 0 && n == 0)
        return 1;
    /* The journal may hold what the broker does not (logged as a mismatch): that cannot be sold. */
    static hydra_bot_position jpos[MAX_POS];
    static hydra_broker_position bpos[MAX_POS];
    size_t nj = 0, nb = 0;
    hydra_broker_err err = {0};
    if (hydra_position_list(e->state, NULL, jpos, MAX_POS, &nj) != 0 ||
        e->broker.ops->positions(e->broker.ctx, bpos, MAX_POS, &nb, &err) != 0)
        return 0;
    for (size_t i = 0; i < nj; i++)
        if (broker_qty(bpos, nb, jpos[i].symbol) > QTY_EPS)
            return 0;
    return 1;
}

/* One pass of the flatten; `first` for the pass the halt itself makes (it always logs). */
static void flatten_pass(hydra_engine *e, const char *reason, int first)
{
    flatten_counts c = {0};
    if (!first && e->n_open_orders == 0) {
        hydra_bot_position pos[1];
        size_t n = 0;
        if (hydra_position_list(e->state, NULL, pos, 1, &n) == 0 && n == 0) {
            c.flat = 1;
            goto done; /* the usual halted tick: nothing held, nothing to ask the broker */
        }
    }
    cancel_own_orders(e, &c);
    close_own_positions(e, reason, first, &c);
    c.flat = c.sells == 0 && !c.unreadable && is_flat(e);

done:
    if (first || c.canceled > 0 || c.cancel_failed > 0 || c.sells > 0)
        hydra_log_pack(e->log, HYDRA_LOG_WARN, "halt_flatten", NULL, "{s:s,s:i,s:i,s:i,s:i,s:b}",
                       "reason", reason, "canceled", c.canceled, "cancel_failed", c.cancel_failed,
                       "sells", c.sells, "open_orders", (int)e->n_open_orders, "flat", c.flat);
    if (c.flat && !e->halt_flat_logged) {
        e->halt_flat_logged = 1;
        hydra_log_pack(e->log, HYDRA_LOG_INFO, "halt_flat", NULL, "{s:s}", "reason", reason);
    }
}

void hydra_engine_flatten(hydra_engine *e, const char *reason)
{
    flatten_pass(e, reason, 1);
}

static void log_system_halt(hydra_engine *e, const hydra_halt *h, int persisted)
{
    char until_s[32] = "resume";
    if (h->until_ms > 0)
        hydra_format_utc(h->until_ms, until_s, sizeof until_s);
    hydra_log_pack(e->log, HYDRA_LOG_ERROR, "system_halt", NULL, "{s:s,s:s,s:s,s:s,s:b,s:i}",
                   "source", h->source, "reason", h->reason, "until", until_s, "requested_by",
                   h->requested_by, "persisted", persisted, "pid", (int)getpid());
}

void hydra_engine_halt(hydra_engine *e, const char *source, const char *reason, int cooloff_minutes)
{
    int64_t now = hydra_clock_now_ms(&e->clock);
    int64_t until = now + (int64_t)cooloff_minutes * 60 * 1000;
    int rc = hydra_halt_set(e->state, reason, source, now, until);
    hydra_halt h = {0};
    if (rc == 0 && hydra_halt_get(e->state, &h) == 0 && h.active)
        rc = hydra_halt_ack(e->state, h.id, now, (int64_t)getpid(), (int64_t)e->tick);
    e->halted = 1;
    e->halt_flat_logged = 0;
    h.active = 1;
    snprintf(h.source, sizeof h.source, "%s", source);
    snprintf(h.reason, sizeof h.reason, "%s", reason);
    h.until_ms = until;
    e->halt_raised = 1;
    hydra_metrics_halt(e->metrics, source);
    hydra_notify_event(e->notify, "halt", NULL, "HALT (%s): %s", source, reason);
    log_system_halt(e, &h, rc == 0);
    flatten_pass(e, reason, 1);
    if (rc != 0) {
        /*
         * A halt that is not on disk would be forgotten by a restart: the
         * host stops here (after flattening) and exits non-zero rather than
         * run on with a halt only its memory holds.
         */
        e->fatal = HYDRA_ESTATE;
        hydra_log_pack(e->log, HYDRA_LOG_ERROR, "halt_not_persisted", NULL, "{s:s,s:s,s:s}",
                       "reason", reason, "error", hydra_state_errmsg(e->state), "effect",
                       "the host stops trading and exits with status 1");
    }
}

int hydra_halt_keep_flat(hydra_engine *e, const hydra_halt *h)
{
    e->halted = 1;
    if (h->ack_pid == 0) {
        /* Written by another process (an operator) or before a restart: act on it now. */
        int64_t now = hydra_clock_now_ms(&e->clock);
        int rc = hydra_halt_ack(e->state, h->id, now, (int64_t)getpid(), (int64_t)e->tick);
        e->halt_flat_logged = 0;
        hydra_metrics_halt(e->metrics, h->source);
        hydra_notify_event(e->notify, "halt", NULL, "HALT (%s): %s", h->source, h->reason);
        log_system_halt(e, h, rc == 0);
        flatten_pass(e, h->reason, 1);
    } else {
        flatten_pass(e, h->reason, 0);
    }
    return e->halt_flat_logged;
}
