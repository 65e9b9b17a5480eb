#include "orders.h"

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
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

/* ---- identity ---- */

/* FNV-1a, 64 bits: a stable short hash of the account id (not a secret, not a security measure). */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static int hex_id(const char *s, size_t len)
{
    if (strlen(s) != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int hydra_orders_identity_init(hydra_engine *e)
{
    char id[32] = "";
    int rc = hydra_kv_get_str(e->state, "install_id", id, sizeof id);
    if (rc == 0 && !hex_id(id, 8)) {
        hydra_log_pack(e->log, HYDRA_LOG_ERROR, "install_id_invalid", NULL, "{s:s}", "value", id);
        return HYDRA_ESTATE;
    }
    if (rc == HYDRA_ENOTFOUND) {
        uint32_t r = 0;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            return HYDRA_ESTATE;
        snprintf(id, sizeof id, "%08x", r);
        if (hydra_kv_set_str(e->state, "install_id", id) != 0)
            return HYDRA_ESTATE;
        hydra_log_pack(e->log, HYDRA_LOG_INFO, "install_id_created", NULL, "{s:s}", "install_id", id);
    } else if (rc != 0) {
        return HYDRA_ESTATE;
    }
    snprintf(e->install_id, sizeof e->install_id, "%.15s", id);
    char key[32] = "";
    rc = hydra_kv_get_str(e->state, "account_key", key, sizeof key);
    if (rc == 0 && !hex_id(key, 6))
        return HYDRA_ESTATE;
    if (rc != 0 && rc != HYDRA_ENOTFOUND)
        return HYDRA_ESTATE;
    snprintf(e->account_key, sizeof e->account_key, "%.15s", rc == 0 ? key : "");
    return 0;
}

int hydra_orders_learn_account(hydra_engine *e, const hydra_account *a, char *why, size_t whysz)
{
    /* A broker without account ids (the embedded sim) has the one account. */
    const char *id = a->account_id[0] != '\0' ? a->account_id : "embedded";
    char key[16];
    snprintf(key, sizeof key, "%06x", (unsigned)(fnv1a(id) & 0xffffff));
    if (e->account_key[0] == '\0') {
        if (hydra_kv_set_str(e->state, "account_key", key) != 0)
            return HYDRA_ESTATE;
        snprintf(e->account_key, sizeof e->account_key, "%s", key);
        hydra_log_pack(e->log, HYDRA_LOG_INFO, "account_identified", NULL, "{s:s,s:s}",
                       "account_key", key, "client_order_id_prefix", "hy-<install>-<account>-");
        return 0;
    }
    if (strcmp(key, e->account_key) != 0) {
        snprintf(why, whysz,
                 "the broker account changed: this state database belongs to account key %s, "
                 "the broker now reports account key %s; its journal cannot describe this "
                 "account (use a state database per account)",
                 e->account_key, key);
        return 1;
    }
    return 0;
}

int hydra_orders_client_id(const hydra_engine *e, const char *bot_id, const char *day, int seq,
                           char *out, size_t outsz)
{
    if (e->install_id[0] == '\0' || e->account_key[0] == '\0' || strlen(day) != 10)
        return HYDRA_EINVAL;
    /* "YYYY-MM-DD" -> "YYYYMMDD". */
    char ymd[9] = {day[0], day[1], day[2], day[3], day[5], day[6], day[8], day[9], 0};
    int n = snprintf(out, outsz, "hy-%s-%s-%s-%s-%d", e->install_id, e->account_key, bot_id, ymd,
                     seq);
    return n > 0 && (size_t)n < outsz && n <= 128 ? 0 : HYDRA_EINVAL;
}

int hydra_orders_is_own(const hydra_engine *e, const char *cid)
{
    char prefix[48];
    if (e->install_id[0] == '\0' || e->account_key[0] == '\0')
        return 0;
    int n = snprintf(prefix, sizeof prefix, "hy-%s-%s-", e->install_id, e->account_key);
    return strncmp(cid, prefix, (size_t)n) == 0;
}

/* "BTC/USD" and "BTCUSD" are one symbol: Alpaca writes crypto both ways. */
static int same_symbol(const char *a, const char *b)
{
    for (;;) {
        while (*a == '/')
            a++;
        while (*b == '/')
            b++;
        if (*a != *b)
            return 0;
        if (*a == '\0')
            return 1;
        a++;
        b++;
    }
}

static int near(double a, double b)
{
    return fabs(a - b) <= 1e-9 * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/*
 * Whether the broker's order is the one the journal row describes: symbol,
 * side, type and size. A notional limit order goes out as a quantity
 * (alpaca.c), so a quantity that the notional buys at the limit matches too.
 * 1 when they match; 0 with what differs in `why`.
 */
static int same_order(const hydra_journal_order *row, const hydra_order *o, char *why, size_t whysz)
{
    if (!same_symbol(row->symbol, o->symbol)) {
        snprintf(why, whysz, "symbol %s, journal %s", o->symbol, row->symbol);
        return 0;
    }
    if (row->side != o->side) {
        snprintf(why, whysz, "side %s, journal %s", o->side == HYDRA_SIDE_BUY ? "buy" : "sell",
                 row->side == HYDRA_SIDE_BUY ? "buy" : "sell");
        return 0;
    }
    if (row->type != o->type) {
        snprintf(why, whysz, "type %s, journal %s", o->type == HYDRA_ORDER_LIMIT ? "limit" : "market",
                 row->type == HYDRA_ORDER_LIMIT ? "limit" : "market");
        return 0;
    }
    int size_ok;
    if (o->status == HYDRA_BOS_REPLACED)
        size_ok = 1; /* its size is superseded: the row follows the replacement's */
    else if (row->qty > 0)
        size_ok = o->qty > 0 && near(o->qty, row->qty);
    else
        size_ok = (o->notional > 0 && fabs(o->notional - row->notional) <= 0.005) ||
                  (row->type == HYDRA_ORDER_LIMIT && o->notional <= 0 && o->qty > 0 &&
                   row->limit_price > 0 &&
                   o->qty * row->limit_price <= row->notional * (1 + 1e-9) + 1e-9 &&
                   (o->qty + (row->asset_class == HYDRA_ASSET_CRYPTO ? 1e-9 : 1.0)) *
                           row->limit_price > row->notional * (1 - 1e-9));
    if (!size_ok) {
        snprintf(why, whysz, "size qty %.9g notional %.2f, journal qty %.9g notional %.2f", o->qty,
                 o->notional, row->qty, row->notional);
        return 0;
    }
    return 1;
}

static json_t *order_side_json(const char *symbol, int side, int type, double qty, double notional)
{
    return json_pack("{s:s,s:s,s:s,s:f,s:f}", "symbol", symbol, "side",
                     side == HYDRA_SIDE_BUY ? "buy" : "sell", "type",
                     type == HYDRA_ORDER_LIMIT ? "limit" : "market", "qty", qty, "notional",
                     notional);
}

/*
 * The broker holds a different order under this row's client_order_id. It
 * is not ours: nothing is booked, the row is closed as rejected, and the
 * bot enters nothing more today.
 */
static int collision(hydra_engine *e, hydra_journal_order *row, const hydra_order *o,
                     const char *what)
{
    json_t *journal = order_side_json(row->symbol, row->side, row->type, row->qty, row->notional);
    json_t *broker = order_side_json(o->symbol, o->side, o->type, o->qty, o->notional);
    json_object_set_new(broker, "id", json_string(o->id));
    json_object_set_new(broker, "filled_qty", json_real(o->filled_qty));
    hydra_log_pack(e->log, HYDRA_LOG_ERROR, "order_id_collision", row->bot_id,
                   "{s:s,s:s,s:o,s:o,s:s,s:s}", "client_order_id", row->client_order_id,
                   "mismatch", what, "journal", journal, "broker", broker, "effect",
                   "the broker's order is not booked; the journal row is closed as rejected; "
                   "the bot's entries stop for the day",
                   "operator",
                   "look up this client_order_id in the account's order history: another "
                   "program or another Hydra installation placed an order under an id of this "
                   "installation. Check that no other process uses this state database's "
                   "install id (a copied state database) and that the broker order is someone "
                   "else's before resuming the bot tomorrow");
    snprintf(row->error, sizeof row->error,
             "client_order_id collision: the broker's order %.64s differs (%.120s); not booked",
             o->id, what);
    row->state = HYDRA_ORD_REJECTED;
    row->updated_ms = hydra_clock_now_ms(&e->clock);
    int rc = hydra_journal_update(e->state, row);
    char why[256];
    snprintf(why, sizeof why, "client_order_id collision on %.128s", row->client_order_id);
    hydra_engine_quarantine(e, row->bot_id, why);
    return rc;
}

/* A contradiction found during a sync halts once the sync is over (the halt itself syncs). */
static void note_halt(hydra_engine *e, const char *reason)
{
    if (e->pending_halt[0] == '\0')
        snprintf(e->pending_halt, sizeof e->pending_halt, "%s", reason);
}

static void flush_halt(hydra_engine *e)
{
    if (e->pending_halt[0] == '\0')
        return;
    char reason[sizeof e->pending_halt];
    snprintf(reason, sizeof reason, "%s", e->pending_halt);
    e->pending_halt[0] = '\0';
    hydra_halt h = {0};
    if (hydra_halt_get(e->state, &h) == 0 && h.active) {
        e->halted = 1;
        hydra_log_pack(e->log, HYDRA_LOG_ERROR, "broker_contradiction", NULL, "{s:s,s:s}",
                       "reason", reason, "halt", h.reason);
        return;
    }
    hydra_engine_halt(e, "reconcile", reason, e->cfg->settings.global_cooldown_minutes);
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
static int apply_new_fill(hydra_engine *e, hydra_journal_order *row, const hydra_order *o_in)
{
    hydra_order capped = *o_in;
    const hydra_order *o = &capped;
    if (!isfinite(o->filled_avg_price) || !isfinite(o->filled_qty))
        return o->filled_qty - row->filled_qty > 1e-12 ? HYDRA_EMALFORMED : 0;
    /*
     * A fill beyond the order's size (its qty; for a notional order, what the
     * notional buys at the fill price, with 1% for rounding) contradicts the
     * order: nothing beyond the size is booked and the host halts.
     */
    if (o->filled_qty > 1e-12 && o->filled_avg_price > 0) {
        double size = row->qty > 0 ? row->qty : row->notional / o->filled_avg_price;
        double slack = row->qty > 0 ? 1e-9 * fmax(1.0, row->qty) : size * 0.01;
        if (o->filled_qty > size + slack) {
            char reason[384];
            snprintf(reason, sizeof reason,
                     "over-fill: the broker reports order %.128s filled %.9g but its size is "
                     "%.9g; the excess is not booked",
                     row->client_order_id, o->filled_qty, size);
            hydra_log_pack(e->log, HYDRA_LOG_ERROR, "order_overfill", row->bot_id,
                           "{s:s,s:s,s:f,s:f,s:f}", "client_order_id", row->client_order_id,
                           "broker_id", o->id, "filled_qty", o->filled_qty, "size", size,
                           "booked_up_to", size);
            snprintf(row->error, sizeof row->error, "%.255s", reason);
            note_halt(e, reason);
            capped.filled_qty = size;
        }
    }
    double new_qty = o->filled_qty - row->filled_qty;
    if (!(new_qty > 1e-12))
        return 0;
    if (o->filled_avg_price <= 0)
        return HYDRA_EMALFORMED;
    /* The average price of just the new part, from the cumulative figures. */
    double price = (o->filled_qty * o->filled_avg_price - row->filled_qty * row->filled_avg_price) /
                   new_qty;
    if (!isfinite(price) || price <= 0)
        price = o->filled_avg_price;
    double fee_total = isfinite(o->fee) && o->fee > 0 ? o->fee : 0;
    double fee = fee_total * (new_qty / o->filled_qty);
    /*
     * A fee the broker took in the coin received (a crypto buy): the position
     * grows by what arrived; the fee's dollar value is in o->fee already.
     */
    double got = new_qty - hydra_fee_qty_part(o, new_qty);
    int64_t t = o->filled_ms > 0 ? o->filled_ms : hydra_clock_now_ms(&e->clock);
    double realized = 0;

    int rc = hydra_position_apply_fill(e->state, row->bot_id, row->symbol, (int)row->asset_class,
                                       multiplier_of((unsigned)row->asset_class), row->side, got,
                                       price, fee, t, &realized);
    if (rc == 0)
        rc = hydra_fill_insert(e->state, row->client_order_id, row->bot_id, row->symbol, row->side,
                               got, price, fee, t);
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
        hydra_fill f = {sizeof f, (uint32_t)row->side, row->symbol, row->client_order_id, got,
                        price, t};
        hydra_loop_on_fill(e, slot, &f);
    }
    row->filled_qty = o->filled_qty;
    row->filled_avg_price = o->filled_avg_price;
    return 0;
}

/* The broker's order under this row's id is another order: 1 after handling it, else 0. */
static int check_identity(hydra_engine *e, hydra_journal_order *row, const hydra_order *o, int *rc)
{
    char why[256];
    if (same_order(row, o, why, sizeof why))
        return 0;
    *rc = collision(e, row, o, why);
    return 1;
}

static int submit_row(hydra_engine *e, hydra_journal_order *row);

#define MAX_REPLACEMENTS 16

/*
 * The order was replaced (modified in Alpaca's dashboard, say): it is not
 * canceled, its replacement carries on. Follows replaced_by to the order
 * that works now and folds the chain into *o as one order: the fills of
 * every link (the replaced ones keep what they filled), the last link's
 * status and id, and as size what was filled before plus the last link's
 * size. A replacement for another symbol or side is not this order: a
 * collision. Returns 0 (o updated, or left as it is when the broker cannot
 * follow replacements), 1 after a collision, negative on a broker failure.
 */
static int follow_replacement(hydra_engine *e, hydra_journal_order *row, hydra_order *o, int *rc)
{
    hydra_order cur = *o;
    double filled = 0, value = 0, fee = 0;
    int hops = 0;
    while (cur.status == HYDRA_BOS_REPLACED) {
        if (cur.replaced_by[0] == '\0' || e->broker.ops->order_by_id == NULL ||
            hops >= MAX_REPLACEMENTS)
            return 0; /* cannot be followed: closed as canceled, as before */
        filled += cur.filled_qty;
        value += cur.filled_qty * (cur.filled_avg_price > 0 ? cur.filled_avg_price : 0);
        fee += isfinite(cur.fee) && cur.fee > 0 ? cur.fee : 0;
        hydra_order next;
        hydra_broker_err err = {0};
        *rc = e->broker.ops->order_by_id(e->broker.ctx, cur.replaced_by, &next, &err);
        if (*rc != 0) {
            hydra_engine_broker_failure(e, "order_by_id", &err);
            return *rc;
        }
        if (!same_symbol(next.symbol, row->symbol) || next.side != row->side) {
            *rc = collision(e, row, &next, "the replacement is for another symbol or side");
            return 1;
        }
        cur = next;
        hops++;
    }
    if (hops == 0)
        return 0;
    double old_qty = row->qty, old_limit = row->limit_price;
    o->status = cur.status;
    snprintf(o->id, sizeof o->id, "%s", cur.id);
    o->filled_qty = filled + cur.filled_qty;
    o->filled_avg_price = o->filled_qty > 0
                              ? (value + cur.filled_qty * cur.filled_avg_price) / o->filled_qty
                              : 0;
    o->fee = fee + (isfinite(cur.fee) && cur.fee > 0 ? cur.fee : 0);
    o->filled_ms = cur.filled_ms;
    /* The journal row now describes the order as it stands: its size and limit. */
    if (cur.qty > 0)
        row->qty = filled + cur.qty;
    if (cur.limit_price > 0)
        row->limit_price = cur.limit_price;
    if (strcmp(row->broker_id, cur.id) != 0)
        hydra_log_pack(e->log, HYDRA_LOG_WARN, "order_replaced", row->bot_id,
                       "{s:s,s:s,s:s,s:f,s:f,s:f,s:f,s:i}", "client_order_id",
                       row->client_order_id, "replaced_by", cur.id, "replacement_client_order_id",
                       cur.client_order_id, "qty_before", old_qty, "qty_after", row->qty,
                       "limit_before", old_limit, "limit_after", row->limit_price, "hops", hops);
    return 0;
}

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
    if (check_identity(e, row, &o, &rc))
        return rc;
    int followed = follow_replacement(e, row, &o, &rc);
    if (followed != 0)
        return followed < 0 ? followed : rc;
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
    flush_halt(e);
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
        /* Placed, but only found after a failed exchange: the failure counts, as a transient one
         * (the broker's own record answered it, so nothing is left unknown). */
        err.code = HYDRA_ETRANSIENT;
        hydra_engine_broker_failure(e, "submit", &err);
    }
    hydra_metrics_order(e->metrics, rc == 0 ? HYDRA_METRIC_ORDER_SUBMITTED
                                    : rc == HYDRA_EREJECTED || rc == HYDRA_EAUTH
                                        ? HYDRA_METRIC_ORDER_REJECTED
                                        : HYDRA_METRIC_ORDER_UNKNOWN);
    if (rc == 0 && check_identity(e, row, &o, &rc)) {
        /* Found under our id, but not our order (a lookup after a refusal or a lost answer). */
    } else if (rc == 0) {
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
        /* The broker's words may echo what a proxy saw, credentials included: stored redacted. */
        hydra_log_redact(e->log, err.msg, row->error, sizeof row->error);
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
    return hydra_orders_submit_as(e, slot->cfg->bot_id, slot->cfg->tif, in, reason, cid_out);
}

int hydra_orders_submit_as(hydra_engine *e, const char *bot_id, int default_tif,
                           const hydra_intent *in, const char *reason, char *cid_out)
{
    hydra_journal_order row;
    memset(&row, 0, sizeof row);
    int seq = 0;
    int rc = hydra_journal_next_seq(e->state, bot_id, e->day, &seq);
    if (rc != 0)
        return rc;
    if (e->account_key[0] == '\0') {
        /* Ids carry the account: nothing is sent before the account has been read once. */
        hydra_log_pack(e->log, HYDRA_LOG_WARN, "order_not_sent", bot_id, "{s:s,s:s}",
                       "symbol", in->symbol, "reason", "broker account not identified yet");
        return HYDRA_ESTATE;
    }
    if (hydra_orders_client_id(e, bot_id, e->day, seq, row.client_order_id,
                               sizeof row.client_order_id) != 0)
        return HYDRA_EINVAL;
    snprintf(row.bot_id, sizeof row.bot_id, "%s", bot_id);
    snprintf(row.day, sizeof row.day, "%s", e->day);
    row.seq = seq;
    row.kind = (int)in->kind;
    snprintf(row.symbol, sizeof row.symbol, "%s", in->symbol);
    row.asset_class = (int)in->asset_class;
    row.side = (int)in->side;
    row.type = (int)in->type;
    row.tif = in->tif != 0 ? (int)in->tif : default_tif;
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
    flush_halt(e);
    return rc;
}

static double foreign_qty(const hydra_engine *e, const char *symbol)
{
    for (size_t i = 0; i < e->n_foreign; i++)
        if (same_symbol(e->foreign[i].symbol, symbol))
            return e->foreign[i].qty;
    return 0;
}

int hydra_orders_load_foreign(hydra_engine *e)
{
    e->n_foreign = 0;
    char buf[8192];
    int rc = hydra_kv_get(e->state, "foreign_baseline", buf, sizeof buf);
    if (rc == HYDRA_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    json_error_t jerr;
    json_t *j = json_loads(buf, 0, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        return HYDRA_ESTATE;
    }
    const char *sym;
    json_t *v;
    json_object_foreach(j, sym, v)
    {
        if (e->n_foreign >= HYDRA_MAX_FOREIGN || !json_is_number(v))
            break;
        hydra_foreign_position *p = &e->foreign[e->n_foreign++];
        snprintf(p->symbol, sizeof p->symbol, "%s", sym);
        p->qty = json_number_value(v);
    }
    json_decref(j);
    return 0;
}

/* Appends to a description being built, keeping it terminated when it is full. */
static void appendf(char *buf, size_t bufsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t bufsz, const char *fmt, ...)
{
    size_t len = strlen(buf);
    if (len + 1 >= bufsz)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, bufsz - len, fmt, ap);
    va_end(ap);
}

int hydra_orders_strangers(hydra_engine *e, char *why, size_t whysz)
{
    int ignore = e->cfg->settings.alpaca.foreign_positions == HYDRA_FOREIGN_IGNORE;
    hydra_broker_position bpos[256];
    hydra_order *orders = calloc(HYDRA_MAX_OPEN_ORDERS, sizeof *orders);
    hydra_bot_position jpos[512];
    size_t nb = 0, no = 0, nj = 0, nforeign_orders = 0;
    hydra_broker_err err = {0};
    char found[1024] = "";
    json_t *baseline = json_object();
    int rc = orders == NULL || baseline == NULL ? HYDRA_ENOMEM : 0;
    if (rc == 0 && (rc = e->broker.ops->positions(e->broker.ctx, bpos, 256, &nb, &err)) != 0)
        hydra_engine_broker_failure(e, "positions", &err);
    if (rc == 0 && (rc = e->broker.ops->open_orders(e->broker.ctx, orders, HYDRA_MAX_OPEN_ORDERS,
                                                    &no, &err)) != 0)
        hydra_engine_broker_failure(e, "open_orders", &err);
    if (rc == 0)
        rc = hydra_position_list(e->state, NULL, jpos, 512, &nj);
    if (rc != 0)
        goto done;

    e->n_foreign = 0;
    for (size_t i = 0; i < nb; i++) {
        double journal = 0;
        for (size_t j = 0; j < nj; j++)
            if (same_symbol(jpos[j].symbol, bpos[i].symbol))
                journal += jpos[j].qty;
        double b = bpos[i].qty, tol = 1e-6 * fmax(1.0, fabs(b));
        /* What lies beyond the journal in the position's own direction is not Hydra's. */
        double foreign = b < 0 && journal <= tol ? b : b > journal + tol && journal >= 0 ? b - journal : 0;
        if (foreign == 0)
            continue;
        appendf(found, sizeof found, "%sposition %.9g %s (journal explains %.9g)",
                found[0] ? "; " : "", b, bpos[i].symbol, journal);
        hydra_log_pack(e->log, ignore ? HYDRA_LOG_INFO : HYDRA_LOG_ERROR, "foreign_position", NULL,
                       "{s:s,s:f,s:f,s:f,s:s}", "symbol", bpos[i].symbol, "broker_qty", b,
                       "journal_qty", journal, "foreign_qty", foreign, "effect",
                       ignore ? "left alone: recorded as the foreign baseline"
                              : "Hydra does not start (alpaca.foreign_positions: refuse)");
        if (e->n_foreign < HYDRA_MAX_FOREIGN) {
            hydra_foreign_position *p = &e->foreign[e->n_foreign++];
            snprintf(p->symbol, sizeof p->symbol, "%.47s", bpos[i].symbol);
            p->qty = foreign;
            json_object_set_new(baseline, bpos[i].symbol, json_real(foreign));
        } else {
            rc = HYDRA_EFULL;
            snprintf(why, whysz, "more than %d symbols with positions Hydra did not open",
                     HYDRA_MAX_FOREIGN);
            goto done;
        }
    }
    for (size_t i = 0; i < no; i++) {
        hydra_journal_order row;
        int replacement = 0; /* a replacement of ours carries an id nobody here chose */
        for (size_t k = 0; k < e->n_open_orders && !replacement; k++)
            replacement = strcmp(e->open_orders[k].broker_id, orders[i].id) == 0;
        if (replacement || hydra_orders_is_own(e, orders[i].client_order_id) ||
            hydra_journal_get(e->state, orders[i].client_order_id, &row) == 0)
            continue;
        nforeign_orders++;
        appendf(found, sizeof found, "%sopen order %.64s (%s %s)", found[0] ? "; " : "",
                orders[i].client_order_id[0] ? orders[i].client_order_id : orders[i].id,
                orders[i].side == HYDRA_SIDE_BUY ? "buy" : "sell", orders[i].symbol);
        hydra_log_pack(e->log, ignore ? HYDRA_LOG_INFO : HYDRA_LOG_ERROR, "foreign_order", NULL,
                       "{s:s,s:s,s:s,s:s}", "client_order_id", orders[i].client_order_id, "id",
                       orders[i].id, "symbol", orders[i].symbol, "effect",
                       ignore ? "left alone" : "Hydra does not start (alpaca.foreign_positions: refuse)");
    }
    if (!ignore && (e->n_foreign > 0 || nforeign_orders > 0)) {
        snprintf(why, whysz,
                 "the account holds what Hydra did not create: %s. Hydra never cancels or sells "
                 "these; close them yourself, or set alpaca.foreign_positions: ignore in "
                 "settings.yaml to trade beside them",
                 found);
        e->n_foreign = 0;
        rc = 1;
        goto done;
    }
    char *text = json_dumps(baseline, JSON_COMPACT);
    rc = text != NULL && hydra_kv_set(e->state, "foreign_baseline", text) == 0 ? 0 : HYDRA_ESTATE;
    free(text);
done:
    json_decref(baseline);
    free(orders);
    return rc;
}

double hydra_orders_coin_fee_gap(unsigned asset_class, double journal_qty, double broker_qty)
{
    if (asset_class != HYDRA_ASSET_CRYPTO || !(journal_qty > 0) || !isfinite(broker_qty) ||
        broker_qty < 0)
        return 0;
    double gap = journal_qty - broker_qty;
    /* Within the position check's own tolerance there is nothing to explain. */
    if (gap <= 1e-6 * fmax(1.0, journal_qty))
        return 0;
    /* Alpaca states quantities to 9 decimals: a fee at the maximum rate can read 1e-9 over it. */
    return gap <= journal_qty * HYDRA_CRYPTO_MAX_FEE_RATE * (1 + 1e-9) + 2e-9 ? gap : 0;
}

/*
 * Books `fee` coins of `bp->symbol` that the broker took as fees: each bot
 * holding the symbol gives up its share, as a realised loss at its average
 * price (the coin is gone, nothing was received), so exits and a flatten
 * sell only what the account holds.
 */
static int book_coin_fee(hydra_engine *e, const hydra_broker_position *bp,
                         const hydra_bot_position *jpos, size_t nj, double attributed, double fee)
{
    int64_t t = hydra_clock_now_ms(&e->clock);
    for (size_t j = 0; j < nj; j++) {
        const hydra_bot_position *p = &jpos[j];
        if (strcmp(p->symbol, bp->symbol) != 0 || !(p->qty > 0))
            continue;
        double share = fee * (p->qty / attributed);
        double realized = 0;
        int rc = hydra_position_apply_fill(e->state, p->bot_id, p->symbol, p->asset_class,
                                           p->multiplier > 0 ? p->multiplier : 1, HYDRA_SIDE_SELL,
                                           share, 0, 0, t, &realized);
        if (rc == 0)
            rc = hydra_bot_day_add_pnl(e->state, p->bot_id, e->day, realized);
        if (rc != 0)
            return rc;
        hydra_log_pack(e->log, HYDRA_LOG_INFO, "coin_fee_booked", p->bot_id,
                       "{s:s,s:f,s:f,s:f,s:s}", "symbol", p->symbol, "fee_qty", share,
                       "journal_qty", p->qty, "realized_pnl", realized, "reason",
                       "the broker holds less coin than filled: the fee was taken in coin");
    }
    return 0;
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

    /*
     * Every broker position must equal the sum of the bots' positions in that
     * symbol plus what the account held at start that Hydra did not open...
     */
    for (size_t i = 0; i < nb; i++) {
        double foreign = foreign_qty(e, bpos[i].symbol);
        double journal = 0;
        for (size_t j = 0; j < nj; j++)
            if (strcmp(jpos[j].symbol, bpos[i].symbol) == 0)
                journal += jpos[j].qty;
        double attributed = foreign + journal;
        /* A coin fee comes out of Hydra's share: the foreign baseline is fixed. */
        double fee =
            hydra_orders_coin_fee_gap(bpos[i].asset_class, journal, bpos[i].qty - foreign);
        if (fee > 0) {
            rc = book_coin_fee(e, &bpos[i], jpos, nj, journal, fee);
            if (rc != 0)
                return rc;
            attributed -= fee;
        }
        if (fabs(attributed - bpos[i].qty) > 1e-6 * fmax(1.0, fabs(bpos[i].qty))) {
            if (foreign != 0)
                snprintf(why, whysz,
                         "broker holds %.6g %s but the journal explains %.6g and %.6g were "
                         "foreign at start",
                         bpos[i].qty, bpos[i].symbol, attributed - foreign, foreign);
            else
                snprintf(why, whysz, "broker holds %.6g %s but the journal explains %.6g",
                         bpos[i].qty, bpos[i].symbol, attributed);
            return 1;
        }
    }
    /* ...a foreign position recorded at start is still there... */
    for (size_t k = 0; k < e->n_foreign; k++) {
        int found = 0;
        for (size_t i = 0; i < nb; i++)
            found |= same_symbol(e->foreign[k].symbol, bpos[i].symbol);
        if (!found) {
            snprintf(why, whysz,
                     "the %.6g %s held at start that Hydra did not open are gone: a change "
                     "Hydra cannot explain",
                     e->foreign[k].qty, e->foreign[k].symbol);
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
