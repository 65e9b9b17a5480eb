#include "orders.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "metrics.h"
#include "notify.h"
#include "gates.h"

/* The broker's status in journal terms. */
static int journal_state_of(int broker_status)
{
    switch (broker_status) {
    case HYDRA_BOS_FILLED: return HYDRA_ORD_FILLED;
    case HYDRA_BOS_CANCELED:
    case HYDRA_BOS_REPLACED: return HYDRA_ORD_CANCELED;
    case HYDRA_BOS_EXPIRED: return HYDRA_ORD_EXPIRED;
    case HYDRA_BOS_REJECTED: return HYDRA_ORD_REJECTED;
    default: return HYDRA_ORD_OPEN;
    }
}

static double multiplier_of(unsigned asset_class)
{
    return asset_class == HYDRA_ASSET_OPTION ? 100.0 : 1.0;
}

static hydra_bot_slot *slot_of(hydra_engine *e, const char *bot_id)
{
    for (int i = 0; i < e->n_slots; i++)
        if (strcmp(e->slots[i].cfg->bot_id, bot_id) == 0)
            return &e->slots[i];
    return NULL;
}

/* The working orders from the journal; on failure the list is empty and the caller is told. */
static int reload_open(hydra_engine *e)
{
    size_t n = 0;
    int rc = hydra_journal_list_open(e->state, e->open_orders, HYDRA_MAX_OPEN_ORDERS, &n);
    e->n_open_orders = rc == 0 ? n : 0;
    if (rc != 0)
        hydra_log_pack(e->log, HYDRA_LOG_ERROR, "journal_unreadable", NULL, "{s:s}", "error",
                       hydra_strerror(rc));
    return rc;
}

/*
 * Applies the part of the broker's fill figures the journal has not seen yet:
 * the position, the fills table, the bot's daily PnL, and the bot itself.
 */
static int apply_new_fill(hydra_engine *e, hydra_journal_order *row, const hydra_order *o)
{
    double new_qty = o->filled_qty - row->filled_qty;
    if (!(new_qty > 1e-12))
        return 0;
    if (!isfinite(o->filled_avg_price) || o->filled_avg_price <= 0 || !isfinite(o->filled_qty)) {
        return HYDRA_EMALFORMED;
    }
    /* The average price of just the new part, from the cumulative figures. */
    double price = (o->filled_qty * o->filled_avg_price - row->filled_qty * row->filled_avg_price) /
                   new_qty;
    if (!isfinite(price) || price <= 0)
        price = o->filled_avg_price;
    double fee_total = isfinite(o->fee) && o->fee > 0 ? o->fee : 0;
    double fee = fee_total * (new_qty / o->filled_qty);
    int64_t t = o->filled_ms > 0 ? o->filled_ms : hydra_clock_now_ms(&e->clock);
    double realized = 0;

    int rc = hydra_position_apply_fill(e->state, row->bot_id, row->symbol, (int)row->asset_class,
                                       multiplier_of((unsigned)row->asset_class), row->side, new_qty,
                                       price, fee, t, &realized);
    if (rc == 0)
        rc = hydra_fill_insert(e->state, row->client_order_id, row->bot_id, row->symbol, row->side,
                               new_qty, price, fee, t);
    if (rc == 0 && (realized != 0 || row->side == HYDRA_SIDE_SELL || fee > 0))
        rc = hydra_bot_day_add_pnl(e->state, row->bot_id, e->day,
                                   row->side == HYDRA_SIDE_SELL ? realized : -fee);
    if (rc != 0)
        return rc;

    hydra_metrics_fill(e->metrics);
    hydra_notify_event(e->notify, "fill", row->bot_id, "%s %g %s at %.4f (realised %+.2f)",
                       row->side == HYDRA_SIDE_BUY ? "bought" : "sold", new_qty, row->symbol, price,
                       realized);
    hydra_log_pack(e->log, HYDRA_LOG_INFO, "order_fill", row->bot_id,
                   "{s:s,s:s,s:s,s:f,s:f,s:f,s:f,s:s}", "client_order_id", row->client_order_id,
                   "symbol", row->symbol, "side", row->side == HYDRA_SIDE_BUY ? "buy" : "sell",
                   "qty", new_qty, "price", price, "fee", fee, "realized_pnl", realized, "reason",
                   row->reason);

    hydra_bot_slot *slot = slot_of(e, row->bot_id);
    if (slot != NULL && slot->loaded) {
        hydra_fill f = {sizeof f, (uint32_t)row->side, row->symbol, row->client_order_id, new_qty,
                        price, t};
        hydra_loop_on_fill(e, slot, &f);
    }
    row->filled_qty = o->filled_qty;
    row->filled_avg_price = o->filled_avg_price;
    return 0;
}

static int submit_row(hydra_engine *e, hydra_journal_order *row);

/*
 * A journal row the broker does not know. A pending row from today is sent
 * now with its original client_order_id (the crash or transport failure
 * happened before the broker saw it; a broker refuses a duplicate id, so
 * this can never make a second order), unless it is an entry and trading is
 * halted. Anything else is closed without sending.
 */
static int resolve_missing(hydra_engine *e, hydra_journal_order *row, int64_t now, int may_resend)
{
    hydra_halt halt = {0};
    int halted = hydra_halt_get(e->state, &halt) != 0 || halt.active;
    const char *why = NULL;
    if (row->state != HYDRA_ORD_PENDING_SUBMIT)
        why = "broker no longer knows this order";
    else if (strcmp(row->day, e->day) != 0)
        why = "never reached the broker and its trading day is over; not sent";
    else if (row->kind == HYDRA_INTENT_ENTRY && halted)
        why = "never reached the broker and trading is halted; not sent";
    if (why == NULL && !may_resend) {
        /* Just failed to send: leave it pending; the next sync sends it again. */
        hydra_log_pack(e->log, HYDRA_LOG_WARN, "order_outcome_unknown", row->bot_id, "{s:s,s:s}",
                       "client_order_id", row->client_order_id, "resolution",
                       "not at the broker; stays pending until the next sync");
        return 0;
    }
    if (why == NULL) {
        hydra_log_pack(e->log, HYDRA_LOG_WARN, "order_resubmit", row->bot_id, "{s:s,s:s}",
                       "client_order_id", row->client_order_id, "reason",
                       "journaled but never reached the broker; sending with the same id");
        return submit_row(e, row);
    }
    snprintf(row->error, sizeof row->error, "%s", why);
    row->state = HYDRA_ORD_CANCELED;
    row->updated_ms = now;
    hydra_log_pack(e->log, HYDRA_LOG_WARN, "order_not_at_broker", row->bot_id, "{s:s,s:s}",
                   "client_order_id", row->client_order_id, "resolution", why);
    return hydra_journal_update(e->state, row);
}

/* Brings one journal row up to date with the broker's view of the order. */
static int sync_row(hydra_engine *e, hydra_journal_order *row, int may_resend)
{
    hydra_order o;
    hydra_broker_err err = {0};
    int rc = e->broker.ops->order_by_client_id(e->broker.ctx, row->client_order_id, &o, &err);
    int64_t now = hydra_clock_now_ms(&e->clock);
    if (rc == HYDRA_ENOTFOUND)
        return resolve_missing(e, row, now, may_resend);
    if (rc != 0) {
        hydra_engine_broker_failure(e, "order_by_client_id", &err);
        return rc;
    }
    int was = row->state;
    rc = apply_new_fill(e, row, &o);
    if (rc == HYDRA_EMALFORMED) {
        hydra_broker_err bad = {0};
        hydra_broker_fail(&bad, HYDRA_EMALFORMED, 0, "order %s: fill price not usable",
                          row->client_order_id);
        hydra_engine_broker_failure(e, "order_by_client_id", &bad);
        return rc;
    }
    if (rc != 0)
        return rc;
    row->state = journal_state_of(o.status);
    snprintf(row->broker_id, sizeof row->broker_id, "%s", o.id);
    if (row->state != was || row->state == HYDRA_ORD_FILLED) {
        row->updated_ms = now;
        if (hydra_order_state_final(row->state) && row->state != HYDRA_ORD_FILLED)
            hydra_log_pack(e->log, HYDRA_LOG_INFO, "order_closed", row->bot_id, "{s:s,s:s,s:f}",
                           "client_order_id", row->client_order_id, "state",
                           hydra_order_state_name(row->state), "filled_qty", row->filled_qty);
    }
    return hydra_journal_update(e->state, row);
}

int hydra_orders_sync(hydra_engine *e)
{
    /* A journal that cannot be read is a state failure: the caller halts. */
    int first_rc = reload_open(e);
    if (first_rc != 0)
        return first_rc;
    for (size_t i = 0; i < e->n_open_orders; i++) {
        int rc = sync_row(e, &e->open_orders[i], 1);
        if (rc != 0 && first_rc == 0)
            first_rc = rc;
    }
    int rc = reload_open(e);
    return first_rc != 0 ? first_rc : rc;
}

/* The test hook that stops the host between the journal write and the submission. */
static void crash_point(const char *name)
{
    const char *hook = getenv("HYDRA_TEST_CRASH_AT");
    if (hook != NULL && strcmp(hook, name) == 0)
        raise(SIGKILL);
}

/* Sends a journaled row to the broker and records the answer. */
static int submit_row(hydra_engine *e, hydra_journal_order *row)
{
    int rc;
    hydra_order_request req;
    memset(&req, 0, sizeof req);
    snprintf(req.client_order_id, sizeof req.client_order_id, "%s", row->client_order_id);
    snprintf(req.symbol, sizeof req.symbol, "%s", row->symbol);
    req.asset_class = (unsigned)row->asset_class;
    req.side = row->side;
    req.type = row->type;
    req.tif = row->tif;
    req.qty = row->qty;
    req.notional = row->notional;
    req.limit_price = row->limit_price;

    hydra_order o;
    hydra_broker_err err = {0};
    rc = e->broker.ops->submit(e->broker.ctx, &req, &o, &err);
    e->orders_sent++;
    if (rc == 0 && err.code != 0) {
        /* Placed, but only found after a failed exchange: the failure still counts. */
        hydra_engine_broker_failure(e, "submit", &err);
    }
    hydra_metrics_order(e->metrics, rc == 0 ? HYDRA_METRIC_ORDER_SUBMITTED
                                    : rc == HYDRA_EREJECTED || rc == HYDRA_EAUTH
                                        ? HYDRA_METRIC_ORDER_REJECTED
                                        : HYDRA_METRIC_ORDER_UNKNOWN);
    if (rc == 0) {
        row->state = journal_state_of(o.status);
        snprintf(row->broker_id, sizeof row->broker_id, "%s", o.id);
        hydra_log_pack(e->log, HYDRA_LOG_INFO, "order_submitted", row->bot_id,
                       "{s:s,s:s,s:s,s:s,s:f,s:f,s:f,s:s}", "client_order_id",
                       row->client_order_id, "symbol", row->symbol, "side",
                       row->side == HYDRA_SIDE_BUY ? "buy" : "sell", "type",
                       row->type == HYDRA_ORDER_LIMIT ? "limit" : "market", "qty", row->qty,
                       "notional", row->notional, "limit_price", row->limit_price, "reason",
                       row->reason);
        rc = apply_new_fill(e, row, &o);
        if (rc == 0)
            rc = hydra_journal_update(e->state, row);
    } else if (rc == HYDRA_EREJECTED && strstr(err.msg, "client_order_id must be unique") != NULL) {
        /* The id is already at the broker: an earlier attempt landed. Adopt that order. */
        rc = sync_row(e, row, 0);
    } else if (rc == HYDRA_EREJECTED || rc == HYDRA_EAUTH) {
        row->state = HYDRA_ORD_REJECTED;
        snprintf(row->error, sizeof row->error, "%s", err.msg);
        hydra_log_pack(e->log, HYDRA_LOG_WARN, "order_rejected", row->bot_id, "{s:s,s:s,s:s}",
                       "client_order_id", row->client_order_id, "symbol", row->symbol, "error",
                       err.msg);
        if (rc == HYDRA_EAUTH)
            hydra_engine_broker_failure(e, "submit", &err);
        hydra_journal_update(e->state, row);
    } else {
        /* Outcome unknown: ask the broker by client_order_id before anything else. */
        hydra_engine_broker_failure(e, "submit", &err);
        row->updated_ms = hydra_clock_now_ms(&e->clock);
        rc = sync_row(e, row, 0);
    }
    return rc;
}

int hydra_orders_submit(hydra_engine *e, hydra_bot_slot *slot, const hydra_intent *in,
                        const char *reason, char *cid_out)
{
    const hydra_bot_cfg *bot = slot->cfg;
    hydra_journal_order row;
    memset(&row, 0, sizeof row);
    int seq = 0;
    int rc = hydra_journal_next_seq(e->state, bot->bot_id, e->day, &seq);
    if (rc != 0)
        return rc;
    /* "YYYY-MM-DD" -> "YYYYMMDD" keeps ids short: 32 + 1 + 8 + 1 + 6 <= 48. */
    char ymd[9] = {e->day[0], e->day[1], e->day[2], e->day[3], e->day[5], e->day[6],
                   e->day[8], e->day[9], 0};
    if (snprintf(row.client_order_id, sizeof row.client_order_id, "%s-%s-%d", bot->bot_id, ymd,
                 seq) >= (int)sizeof row.client_order_id)
        return HYDRA_EINVAL;
    snprintf(row.bot_id, sizeof row.bot_id, "%s", bot->bot_id);
    snprintf(row.day, sizeof row.day, "%s", e->day);
    row.seq = seq;
    row.kind = (int)in->kind;
    snprintf(row.symbol, sizeof row.symbol, "%s", in->symbol);
    row.asset_class = (int)in->asset_class;
    row.side = (int)in->side;
    row.type = (int)in->type;
    row.tif = in->tif != 0 ? (int)in->tif : bot->tif;
    if (row.asset_class == HYDRA_ASSET_OPTION)
        row.tif = HYDRA_TIF_DAY; /* options trade day orders only */
    row.qty = in->qty;
    row.notional = in->notional;
    row.limit_price = in->limit_price;
    snprintf(row.reason, sizeof row.reason, "%s", reason);
    row.state = HYDRA_ORD_PENDING_SUBMIT;
    row.created_ms = row.updated_ms = hydra_clock_now_ms(&e->clock);

    rc = hydra_journal_insert(e->state, &row); /* durable before the broker sees anything */
    if (rc != 0)
        return rc;
    crash_point("after_journal");

    if (cid_out != NULL)
        snprintf(cid_out, HYDRA_CID_LEN, "%s", row.client_order_id);
    rc = submit_row(e, &row);
    reload_open(e);
    return rc;
}

int hydra_orders_check_positions(hydra_engine *e, char *why, size_t whysz)
{
    hydra_broker_position bpos[256];
    size_t nb = 0;
    hydra_broker_err err = {0};
    int rc = e->broker.ops->positions(e->broker.ctx, bpos, 256, &nb, &err);
    if (rc != 0) {
        hydra_engine_broker_failure(e, "positions", &err);
        return rc;
    }
    hydra_bot_position jpos[512];
    size_t nj = 0;
    rc = hydra_position_list(e->state, NULL, jpos, 512, &nj);
    if (rc != 0)
        return rc;

    /* Every broker position must equal the sum of the bots' positions in that symbol... */
    for (size_t i = 0; i < nb; i++) {
        double attributed = 0;
        for (size_t j = 0; j < nj; j++)
            if (strcmp(jpos[j].symbol, bpos[i].symbol) == 0)
                attributed += jpos[j].qty;
        if (fabs(attributed - bpos[i].qty) > 1e-6 * fmax(1.0, fabs(bpos[i].qty))) {
            snprintf(why, whysz, "broker holds %.6g %s but the journal explains %.6g",
                     bpos[i].qty, bpos[i].symbol, attributed);
            return 1;
        }
    }
    /* ...and every bot position must exist at the broker. */
    for (size_t j = 0; j < nj; j++) {
        int found = 0;
        for (size_t i = 0; i < nb; i++)
            found |= strcmp(jpos[j].symbol, bpos[i].symbol) == 0;
        if (!found) {
            snprintf(why, whysz, "journal says %s holds %.6g %s but the broker holds none",
                     jpos[j].bot_id, jpos[j].qty, jpos[j].symbol);
            return 1;
        }
    }
    return 0;
}

double hydra_orders_working_qty(hydra_engine *e, const char *bot_id, const char *symbol, int side)
{
    double q = 0;
    for (size_t i = 0; i < e->n_open_orders; i++) {
        const hydra_journal_order *o = &e->open_orders[i];
        if (o->side == side && strcmp(o->bot_id, bot_id) == 0 && strcmp(o->symbol, symbol) == 0)
            q += o->qty > 0 ? o->qty - o->filled_qty : 0;
    }
    return q;
}

void hydra_orders_working_entries(hydra_engine *e, const hydra_bot_cfg *bot, int *count,
                                  double *risk)
{
    *count = 0;
    *risk = 0;
    for (size_t i = 0; i < e->n_open_orders; i++) {
        const hydra_journal_order *o = &e->open_orders[i];
        if (o->kind != HYDRA_INTENT_ENTRY || strcmp(o->bot_id, bot->bot_id) != 0)
            continue;
        (*count)++;
        double price = o->limit_price > 0 ? o->limit_price : hydra_market_price(&e->market, o->symbol);
        double notional = o->notional > 0 ? o->notional
                                          : o->qty * (isfinite(price) ? price : 0) *
                                                multiplier_of((unsigned)o->asset_class);
        *risk += hydra_gates_order_risk(bot, notional);
    }
}

int hydra_orders_count_since(hydra_engine *e, int64_t since_ms)
{
    int n = 0;
    /* A journal that cannot answer counts as "too many": the gate fails closed. */
    if (hydra_journal_count_since(e->state, since_ms, &n) != 0)
        return 1 << 30;
    return n;
}
