/*
 * The broker interface: the only way host code reaches an exchange.
 *
 * A broker is a table of functions plus an opaque context. Every call
 * returns 0 or a negative hydra_err; failures are classified
 * (HYDRA_ETRANSIENT, HYDRA_EREJECTED, HYDRA_EAUTH, HYDRA_EMALFORMED, or
 * HYDRA_ENOTFOUND where a lookup found nothing) and described in *err. No
 * call aborts the process. Implementations: sim.c (embedded exchange,
 * default) and alpaca.c.
 *
 * Units: prices in dollars, qty in shares / coins / contracts, times in UTC
 * ms. Output arrays are caller-owned with a capacity; an answer that does
 * not fit is HYDRA_EFULL (never truncated silently).
 */
#ifndef HYDRA_BROKER_H
#define HYDRA_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include <hydra/types.h>

/* A client_order_id: at most 128 characters (Alpaca's limit) + NUL. */
#define HYDRA_BROKER_CID_LEN 129

typedef struct hydra_broker_err {
    int code;          /* the returned hydra_err */
    int http_status;   /* 0 when not HTTP */
    char msg[256];     /* what failed and why; never contains a credential */
    /*
     * A rate limit (429) holds calls until retry_at_ms (wall-clock UTC ms).
     * held = 1: this call was not sent at all because an earlier 429's reset
     * has not come yet; it is not a new failure of the broker. The 429
     * answer itself has held = 0 and retry_at_ms set.
     */
    int held;
    int64_t retry_at_ms;
} hydra_broker_err;

/*
 * What a broker failure means for the tick, decided in one place
 * (hydra_broker_classify) for every phase:
 *   TRANSIENT  timeout, 5xx, 429, refused or cut connection: the answer may
 *              come next time. What needed it is skipped this tick; the
 *              failure counts once in the health window, which decides a halt.
 *   REFUSED    the broker answered and said no (a 4xx other than 401, or
 *              "not found"): for an order, a rejection; for a read the host
 *              cannot do without, permanent.
 *   PERMANENT  credentials refused (401, 403 "forbidden"), an answer that
 *              cannot be understood, or a local limit the answer overflowed:
 *              asking again will not help. Halts at once.
 */
typedef enum hydra_failure_class {
    HYDRA_FAILURE_NONE = 0,
    HYDRA_FAILURE_TRANSIENT = 1,
    HYDRA_FAILURE_REFUSED = 2,
    HYDRA_FAILURE_PERMANENT = 3
} hydra_failure_class;

typedef struct hydra_account {
    double cash;
    double equity;         /* cash + marked positions */
    double buying_power;
    double last_equity;    /* equity at the previous trading day's close */
    int active;            /* status ACTIVE */
    int trading_blocked;   /* trading_blocked || account_blocked || trade_suspended_by_user */
    char account_id[64];   /* the broker's account id ("" when the broker has none, e.g. sim) */
} hydra_account;

typedef struct hydra_broker_position {
    char symbol[48];       /* crypto as "BTC/USD" (normalised), options as OCC */
    unsigned asset_class;
    double qty;            /* negative for short */
    double avg_entry_price;
    double current_price;
    double market_value;
    double unrealized_pl;
} hydra_broker_position;

typedef enum hydra_broker_order_status {
    HYDRA_BOS_NEW = 1,          /* accepted, pending_new, new, held, ... (working) */
    HYDRA_BOS_PARTIALLY_FILLED = 2,
    HYDRA_BOS_FILLED = 3,
    HYDRA_BOS_CANCELED = 4,
    HYDRA_BOS_EXPIRED = 5,
    HYDRA_BOS_REJECTED = 6,
    HYDRA_BOS_REPLACED = 7
} hydra_broker_order_status;

typedef struct hydra_order_request {
    char client_order_id[HYDRA_BROKER_CID_LEN];
    char symbol[48];
    unsigned asset_class;
    int side, type, tif;
    double qty;            /* exactly one of qty and notional > 0 */
    double notional;
    double limit_price;    /* for limit orders */
} hydra_order_request;

typedef struct hydra_order {
    char id[64];           /* broker's order id */
    char client_order_id[HYDRA_BROKER_CID_LEN];
    char symbol[48];
    unsigned asset_class;
    int side, type, tif;
    double qty, notional, limit_price;
    int status;            /* hydra_broker_order_status */
    double filled_qty;
    double filled_avg_price;
    double fee;            /* fees charged so far (0 when the broker does not say) */
    int64_t submitted_ms, filled_ms;
    /*
     * The part of the fee taken in the asset received, in its units (a
     * crypto buy pays its fee in coin: the position grows by filled_qty -
     * fee_qty). 0 when the fee is in dollars or the broker does not say
     * (Alpaca's order carries no coin fee; see hydra_orders_check_positions).
     */
    double fee_qty;
    char replaced_by[64];  /* status replaced: the broker id of the order that took its place */
} hydra_order;

typedef struct hydra_quote {
    char symbol[48];
    double price;          /* last trade */
    int64_t t_ms;
} hydra_quote;

/* What the broker says of a symbol: may it be traded here at all. */
typedef struct hydra_asset {
    char symbol[48];
    unsigned asset_class;  /* HYDRA_ASSET_EQUITY or HYDRA_ASSET_CRYPTO */
    int active;            /* status "active" (not delisted) */
    int tradable;          /* the broker takes orders for it */
    int fractionable;      /* fractional quantities are allowed */
} hydra_asset;

typedef struct hydra_option_quote {
    char symbol[32];       /* OCC */
    char underlying[16];
    int is_call;
    double strike;
    int expiry_yyyymmdd;
    double bid, ask, last;
    double iv, delta, gamma, theta, vega;
    int multiplier;
} hydra_option_quote;

/* Which option contracts a caller wants: the options bot's chain_rules. */
typedef struct hydra_chain_filter {
    int min_dte, max_dte;         /* calendar days to expiry in the market zone, inclusive */
    double delta_min, delta_max;  /* |delta| band, inclusive; 0 and 1 admit everything */
} hydra_chain_filter;

typedef struct hydra_market_clock {
    int64_t now_ms;
    int is_open;           /* regular equity session */
    int64_t next_open_ms, next_close_ms;
} hydra_market_clock;

/* One trading day of the broker's calendar. */
typedef struct hydra_session {
    int date;              /* yyyymmdd, the exchange's date */
    int64_t open_ms;       /* regular session open, UTC ms */
    int64_t close_ms;      /* regular session close (early closes included), UTC ms */
} hydra_session;

typedef struct hydra_broker_ops {
    const char *name; /* "sim", "alpaca" */
    int (*account)(void *ctx, hydra_account *out, hydra_broker_err *err);
    int (*positions)(void *ctx, hydra_broker_position *out, size_t cap, size_t *n,
                     hydra_broker_err *err);
    int (*open_orders)(void *ctx, hydra_order *out, size_t cap, size_t *n, hydra_broker_err *err);
    /*
     * The broker's answer to a submission (usually not yet filled). A broker
     * that recovered from a failed exchange by finding the order under its
     * client_order_id returns 0 with that failure still described in *err
     * (err->code non-zero); otherwise err->code stays 0 on success.
     */
    int (*submit)(void *ctx, const hydra_order_request *req, hydra_order *out,
                  hydra_broker_err *err);
    /* HYDRA_ENOTFOUND when no order has that client_order_id. */
    int (*order_by_client_id)(void *ctx, const char *cid, hydra_order *out, hydra_broker_err *err);
    /*
     * Account-wide: every open order, every position, whoever placed them.
     * The host never calls these (a halt cancels Hydra's own orders by id
     * and sells only what Hydra holds); the local exchange serves Alpaca's
     * DELETE /v2/orders and DELETE /v2/positions with them, and a backtest,
     * which owns its whole simulated account, cancels what is left at the end.
     */
    int (*cancel_all)(void *ctx, hydra_broker_err *err);
    /* Cancels open orders, then submits orders closing every position. */
    int (*close_all)(void *ctx, hydra_broker_err *err);
    /*
     * Cancels one order by the broker's order id. 0 when the broker took the
     * cancel (it may complete later; the journal sync sees the final state),
     * HYDRA_ENOTFOUND when the broker does not know the id, HYDRA_EREJECTED
     * when the order can no longer be canceled (already filled, canceled or
     * expired). Closing a position is not a separate call: the host sends a
     * journaled market sell of the quantity it owns through submit (see
     * hydra_halt_flatten), so the order carries Hydra's client_order_id.
     */
    int (*cancel_order)(void *ctx, const char *order_id, hydra_broker_err *err);
    /*
     * Latest trade for each symbol, in one request where the API allows. out[i]
     * answers symbols[i]; a symbol the broker has no trade for is answered with
     * price 0 and t_ms 0 (the others are still priced).
     */
    int (*latest_prices)(void *ctx, const char *const *symbols, size_t n, hydra_quote *out,
                         hydra_broker_err *err);
    /* Up to `limit` most recent completed bars of `timeframe_s` seconds, oldest first. */
    int (*bars)(void *ctx, const char *symbol, int timeframe_s, size_t limit, hydra_bar *out,
                size_t *n, hydra_broker_err *err);
    /*
     * Contracts with quotes and greeks for an underlying that may pass `filter`
     * (NULL: every listed contract). A broker may return more than the filter
     * admits (the host applies it exactly) but never fewer.
     */
    int (*option_chain)(void *ctx, const char *underlying, const struct hydra_chain_filter *filter,
                        hydra_option_quote *out, size_t cap, size_t *n, hydra_broker_err *err);
    int (*clock)(void *ctx, hydra_market_clock *out, hydra_broker_err *err);
    void (*destroy)(void *ctx);
    /*
     * Trading days from..to (yyyymmdd, inclusive) in date order; a day with
     * no session (weekend, holiday) is absent. HYDRA_EFULL beyond cap. May be
     * NULL for a broker without a calendar: the market clock alone decides.
     */
    int (*calendar)(void *ctx, int from_yyyymmdd, int to_yyyymmdd, hydra_session *out, size_t cap,
                    size_t *n, hydra_broker_err *err);

    /*
     * The order with this broker id (to follow a replaced order to its
     * replacement). HYDRA_ENOTFOUND when there is none. May be NULL: then a
     * replaced order cannot be followed.
     */
    int (*order_by_id)(void *ctx, const char *id, hydra_order *out, hydra_broker_err *err);
    /*
     * The broker's record of a symbol (equity or crypto). HYDRA_ENOTFOUND
     * when the broker does not know it. May be NULL: then only prices say
     * whether a symbol exists (check-config --online).
     */
    int (*asset)(void *ctx, const char *symbol, hydra_asset *out, hydra_broker_err *err);
} hydra_broker_ops;

typedef struct hydra_broker {
    const hydra_broker_ops *ops;
    void *ctx;
} hydra_broker;

/* Fills *err (code and formatted message) and returns code. */
int hydra_broker_fail(hydra_broker_err *err, int code, int http_status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * The class of a failed broker call (err->code), the one rule every phase
 * of the tick applies: see hydra_failure_class. 0 is HYDRA_FAILURE_NONE.
 */
hydra_failure_class hydra_broker_classify(int code);
/* "transient", "refused", "permanent" or "none". */
const char *hydra_failure_class_name(hydra_failure_class c);

/*
 * The part of a buy's coin fee (o->fee_qty) that falls on part_qty of its
 * filled quantity: what did not arrive. 0 when the fee was in dollars.
 */
double hydra_fee_qty_part(const hydra_order *o, double part_qty);

/* Asset class of a symbol by its form: "BTC/USD" crypto, OCC option, else equity. */
unsigned hydra_symbol_asset_class(const char *symbol);

/* OCC symbol parts. Returns 0 or HYDRA_EINVAL. root >= 7 bytes. */
int hydra_occ_parse(const char *occ, char *root, size_t rootsz, int *expiry_yyyymmdd, int *is_call,
                    double *strike);
/* Formats an OCC symbol, e.g. ("SPY", 20260116, 1, 480.0) -> "SPY260116C00480000". */
int hydra_occ_format(const char *root, int expiry_yyyymmdd, int is_call, double strike, char *out,
                     size_t outsz);

#endif
