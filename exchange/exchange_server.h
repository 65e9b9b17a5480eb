/*
 * hydra-exchange: an Alpaca-compatible HTTP API over the simulated exchange.
 *
 * It serves the endpoints the Alpaca adapter uses, in Alpaca's JSON shapes
 * (decimals as strings where Alpaca sends strings, numbers in market data),
 * from the simulated exchange core driven through its hydra_broker
 * interface and hydra_sim_step(). It listens on 127.0.0.1 only.
 *
 *   GET    /v2/account, /v2/positions, /v2/orders?status=open, /v2/clock
 *   POST   /v2/orders            (422 "client_order_id must be unique" on a reused id)
 *   GET    /v2/orders:by_client_order_id?client_order_id=, /v2/orders/{id}
 *   DELETE /v2/orders            (207)
 *   DELETE /v2/positions         (207)
 *   GET    /v2/options/contracts (paged with page_token)
 *   GET    /v2/stocks/trades/latest, /v1beta3/crypto/us/latest/trades
 *   GET    /v2/stocks/bars, /v1beta3/crypto/us/bars
 *   GET    /v1beta1/options/snapshots?symbols=
 *
 * Every Alpaca request must carry APCA-API-KEY-ID and APCA-API-SECRET-KEY
 * matching the configured pair (401 otherwise). Requests are limited to
 * `rate_limit` per minute (fixed one-minute windows) with 429 and the
 * X-Ratelimit-Limit / -Remaining / -Reset headers on every answer.
 *
 * Control endpoints (no auth, no rate limit, no faults):
 *
 *   POST   /_hydra/step    {"steps": n}  advances the simulated clock n ticks
 *   POST   /_hydra/faults  {"rules": [rule, ...], "rate_limit": n}  replaces the rules
 *   DELETE /_hydra/faults  clears every rule
 *   GET    /_hydra/stats   requests served, orders accepted, duplicates refused, faults fired
 *   POST   /_hydra/replace {"client_order_id": id, "qty": q, "limit_price": p}  replaces
 *                          a working order as Alpaca's dashboard does (GET /v2/orders/{id}
 *                          then shows the replacement)
 *   POST   /_hydra/override {"client_order_id": id, "filled_qty": x}  from now on the
 *                          order is reported filled x (a contradiction, e.g. an over-fill)
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
 *   refuse       the connection is closed and the server stops listening
 *                (connection refused) until hydra_exchange_restart()
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
