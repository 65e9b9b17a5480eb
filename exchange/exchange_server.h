/*
 * hydra-exchange: an Alpaca-compatible HTTP API over the simulated exchange.
 *
 * It serves every call a trading client makes, in Alpaca's JSON shapes
 * (decimals as strings where Alpaca sends strings, numbers in market data,
 * UUID ids, the clock in US/Eastern with its offset), from the simulated
 * exchange core (host/sim.c). It listens on 127.0.0.1 only.
 *
 *   GET    /v2/account, /v2/account/configurations, /v2/clock
 *   GET    /v2/assets, /v2/assets/{symbol}
 *   GET    /v2/positions, /v2/positions/{symbol}      (BTCUSD or BTC/USD)
 *   DELETE /v2/positions (207), /v2/positions/{symbol}?qty=|percentage=
 *   POST   /v2/orders   market, limit, stop, stop_limit, trailing_stop;
 *                       day, gtc, ioc, fok, opg, cls (fill rules in sim.h)
 *   GET    /v2/orders?status=open|closed|all&limit&after&until&direction&nested&symbols&side
 *   GET    /v2/orders/{id}, /v2/orders:by_client_order_id?client_order_id=
 *   DELETE /v2/orders/{id} (204), /v2/orders (207)
 *   GET    /v2/options/contracts (paged), /v2/options/contracts/{symbol}
 *   GET    /v2/stocks/trades/latest, /v2/stocks/{symbol}/trades/latest,
 *          /v2/stocks/quotes/latest, /v2/stocks/{symbol}/quotes/latest,
 *          /v2/stocks/bars, /v2/stocks/{symbol}/bars   (next_page_token paging)
 *   GET    /v1beta3/crypto/us/latest/trades, .../latest/quotes, /v1beta3/crypto/us/bars
 *   GET    /v1beta1/options/snapshots?symbols=, /v1beta1/options/snapshots/{underlying}
 *   GET    /v2/calendar?start=&end=  (Alpaca's shape: date, open and close in New York time)
 *
 * Refusals as Alpaca answers them: 422 40010001 for malformed requests (a
 * client_order_id over 128 characters, a duplicate one, a non-UUID order id
 * in a path: "order_id is missing"); 422 42210000 for what Alpaca does not
 * allow (sub-penny prices: at most 2 decimals at or above $1, 4 below;
 * fractional or notional stock orders that are not day; extended hours
 * other than a day limit order; an order no longer cancelable); 403
 * 40310000 for buying power and quantity available; 404 40410000 for
 * unknown orders, positions, assets and contracts.
 *
 * Every Alpaca request must carry APCA-API-KEY-ID and APCA-API-SECRET-KEY
 * matching the configured pair (401 otherwise), except crypto market data
 * (/v1beta3/crypto/...), which Alpaca serves without keys. Requests are limited to
 * `rate_limit` per minute (fixed one-minute windows) with 429 and the
 * X-Ratelimit-Limit / -Remaining / -Reset headers on every answer.
 *
 * Control endpoints (no auth, no rate limit, no faults):
 *
 *   POST   /_hydra/step    {"steps": n}  advances the simulated clock n ticks
 *   POST   /_hydra/faults  {"rules": [rule, ...], "rate_limit": n}  replaces the rules
 *   DELETE /_hydra/faults  clears every rule
 *   GET    /_hydra/stats   requests served (bar_requests: those to a bars route), orders
 *                          accepted, duplicates refused, faults fired
 *   POST   /_hydra/market  {"closed": bool} or {"early_close": "HH:MM"} (market zone), optional
 *                          "date": "YYYY-MM-DD" (default today): a day without a session, or
 *                          one that closes early; the clock and the calendar both follow it
 *   DELETE /_hydra/market  back to the sim's sessions
 *   POST   /_hydra/replace {"client_order_id": id, "qty": q, "limit_price": p}  replaces
 *                          a working order as Alpaca's dashboard does (GET /v2/orders/{id}
 *                          then shows the replacement)
 *   POST   /_hydra/override {"client_order_id": id, "filled_qty": x}  from now on the
 *                          order is reported filled x (a contradiction, e.g. an over-fill)
 *   POST   /_hydra/asset   {"symbol": s, "status": "active"|"inactive", "tradable": bool}
 *                          GET /v2/assets/{s} answers so (a delisted or untradable asset;
 *                          a symbol without a series becomes a listed asset)
 *
 * A rule: {"method": "GET"|"POST"|"DELETE"|"*", "path": prefix, "fault": kind,
 * "skip": n (let n matching requests through first), "count": n (then fire
 * n times; 0 = every time), "delay_ms": n, "process": bool, "reset_in_s": n}. Kinds:
 *
 *   500, 503, 401, 403, 429  that status with an Alpaca-style error body (an injected
 *                429 says X-Ratelimit-Reset "reset_in_s" seconds ahead, default 2)
 *   timeout      no answer: the connection is held for delay_ms, then closed
 *   slow         the real answer after delay_ms
 *   malformed    a 200 whose body is not JSON
 *   truncated    the real answer cut off mid-body (Content-Length promises more)
 *   wrong_types  the real answer with every scalar of the wrong type (numbers as
 *                strings, strings as numbers, booleans as strings; [] as {})
 *   drop         the request is carried out, then the connection closed without an answer
 *   bad_bar      a bars answer with its bar "bar" (index in the first symbol's
 *                bars) made bad by "edit": nan (c is "NaN"), text (o is
 *                "12.5x"), negative (l negated), high_below_low (h and l
 *                swapped), duplicate (t of the bar before), out_of_order (t
 *                swapped with the bar before), drop (the bar left out)
 *   refuse       the connection is closed and the server stops listening
 *                (connection refused) until hydra_exchange_restart()
 *
 * Account events (done to the account before the request is answered as
 * usual; they act on the order the request names by id or client_order_id,
 * else on the newest working order, of "symbol" when given):
 *
 *   replaced        the order is replaced outside (status replaced, replaced_by
 *                   a new working order with "qty", default the same, and a new
 *                   client_order_id; the new one's replaces points back)
 *   expire, cancel  the exchange expires or cancels the order
 *   partial_cancel  "fraction" (default 0.5) of it fills at the last price, the
 *                   rest is canceled
 *   position        "qty" of "symbol" appears in the account at "price" (default
 *                   the last price), cash untouched: a position from outside
 *   coin_fee        "qty" coins of "symbol" are taken from the position: a fee
 *                   in coin posted after the fill
 *
 * "process" says whether the request is carried out before the fault
 * answers (default: true for slow, malformed, truncated, wrong_types and
 * drop; false otherwise). A timeout with process=true is an order accepted
 * whose answer never arrives.
 *
 * Threads: one thread per connection; the exchange core is behind a mutex.
 */
#ifndef HYDRA_EXCHANGE_SERVER_H
#define HYDRA_EXCHANGE_SERVER_H

#include <stddef.h>

#include "broker.h"
#include "clock.h"
#include "sim.h"

typedef struct hydra_exchange hydra_exchange;

typedef struct hydra_exchange_opts {
    const char *key;    /* the APCA-API-KEY-ID clients must send */
    const char *secret; /* the APCA-API-SECRET-KEY clients must send */
    int port;           /* 0: an ephemeral port (see hydra_exchange_port) */
    int rate_limit;     /* requests per minute; 0 = 200 (Alpaca's) */
} hydra_exchange_opts;

/*
 * Serves `sim` (whose simulated clock is `clock`) on 127.0.0.1. The sim and
 * clock stay owned by the caller and must outlive the exchange. Returns 0
 * or a negative hydra_err with err filled.
 */
int hydra_exchange_start(hydra_sim *sim, hydra_clock *clock, const hydra_exchange_opts *opts,
                         hydra_exchange **out, char *err, size_t errsz);

/* The port the server listens on. */
int hydra_exchange_port(const hydra_exchange *ex);

/* Advances the simulated clock `steps` ticks. Returns 0 or HYDRA_EEOF at the end of the data. */
int hydra_exchange_step(hydra_exchange *ex, int steps);

/* Listens again on the same port after a "refuse" fault (or hydra_exchange_pause). */
int hydra_exchange_restart(hydra_exchange *ex, char *err, size_t errsz);

/* Stops listening and closes every connection (connection refused until restart). */
void hydra_exchange_pause(hydra_exchange *ex);

/* Stops the server and frees it (not the sim). */
void hydra_exchange_stop(hydra_exchange *ex);

#endif
