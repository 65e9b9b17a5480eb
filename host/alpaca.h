/*
 * The Alpaca broker (settings `broker: alpaca`): every broker-interface call
 * over Alpaca's REST API with libcurl, answers parsed by alpaca_json.c.
 *
 * Connections: one reused curl handle per base URL (trading and market
 * data), so keep-alive connections survive between calls. Connect and
 * total timeouts come from settings; TLS peer and host verification are
 * always on; redirects are not followed (they could carry the key headers
 * elsewhere); an answer larger than alpaca.max_response_bytes is refused.
 * Plain http:// is accepted only for a loopback host (the local exchange).
 *
 * Errors are decided on the HTTP status, never on Alpaca's `code` field
 * (40010001 arrives with 422; 403 means "refused" on orders and "not
 * authorised" on some paths):
 *
 *   transport failure, timeout, 5xx, 429, truncated answer  HYDRA_ETRANSIENT
 *   401, or 403 whose code is 40110000                       HYDRA_EAUTH
 *   400, 403, 422 and other 4xx                              HYDRA_EREJECTED
 *   404 on a lookup                                          HYDRA_ENOTFOUND
 *   2xx whose body cannot be understood                      HYDRA_EMALFORMED
 *
 * A 429 honours X-Ratelimit-Reset: a reset within a second or the total
 * timeout (whichever is shorter) is waited for and the request repeated
 * once (never an order submission); a later reset makes every call to that
 * host fail fast with HYDRA_ETRANSIENT until the reset time, without
 * sending anything.
 *
 * Order submission is never retried blindly (it goes out on a fresh
 * connection, which curl never silently repeats). After a transport failure, a
 * 5xx, a 429 or an unreadable 200, the order is looked up by its
 * client_order_id before anything else: found, it is adopted (submit returns
 * 0 and leaves the failure it recovered from in *err, code and message, so
 * the host can record it); not found, the
 * submission failed (HYDRA_ETRANSIENT) and the host's journal decides when
 * to send it again with the same id. A 422 "client_order_id must be unique"
 * is resolved the same way (the earlier attempt landed).
 *
 * Symbols: crypto positions come back as "BTCUSD" and are normalised to
 * "BTC/USD" (by the asset_class field). A limit order sized by notional is
 * sent as qty = notional / limit_price, because Alpaca accepts notional only
 * on market orders: up to 9 decimals for crypto, whole shares for equities
 * (refused when that is less than one share).
 *
 * Credentials go only into the two request headers. They never appear in a
 * URL, an error message or a log line; the handles are created without
 * verbose output, and the header strings are wiped when the broker closes.
 *
 * Threads: one broker is used by one thread at a time [host-thread].
 */
#ifndef HYDRA_ALPACA_H
#define HYDRA_ALPACA_H

#include <stddef.h>

#include <jansson.h>

#include "broker.h"
#include "config.h"

#define HYDRA_ALPACA_PAPER_URL "https://paper-api.alpaca.markets"
#define HYDRA_ALPACA_LIVE_URL "https://api.alpaca.markets"
#define HYDRA_ALPACA_DATA_URL "https://data.alpaca.markets"

/*
 * Opens the broker. On success *out holds the ops table and its context
 * (close it with out->ops->destroy(out->ctx)); on failure returns
 * HYDRA_ECONFIG or HYDRA_ENOMEM with a message in err that names the
 * setting or variable at fault (never a credential's value).
 */
int hydra_alpaca_open(const hydra_alpaca_cfg *cfg, const hydra_credentials *creds,
                      hydra_broker *out, char *err, size_t errsz);

/*
 * Decides paper or live before anything connects. Live trading needs all
 * three of: the --live flag (`live_flag`), ALPACA_PAPER=false
 * (creds->paper == 0) and safety.allow_live: true (`allow_live`). When
 * --live or ALPACA_PAPER=false asks for live and anything is missing, the
 * answer is HYDRA_ECONFIG with err naming every missing piece. Keys must be
 * set (err names ALPACA_KEY or ALPACA_SECRET, never a value). A trading URL
 * naming Alpaca's live host in paper mode is refused too.
 *
 * On success *cfg_out is cfg with the trading URL to use: in live mode the
 * paper default becomes Alpaca's live URL (any other URL, such as the local
 * exchange, is kept). *is_live is 1 in live mode.
 */
int hydra_alpaca_resolve_mode(const hydra_alpaca_cfg *cfg, const hydra_credentials *creds,
                              int live_flag, int allow_live, hydra_alpaca_cfg *cfg_out,
                              int *is_live, char *err, size_t errsz);

/* One page of historical bars (hydra-host data fetch). */
typedef struct hydra_bars_request {
    const char *symbol;      /* one symbol: "ORCL", "BTC/USD" */
    int crypto;              /* 1: /v1beta3/crypto/us/bars, else /v2/stocks/bars */
    const char *timeframe;   /* Alpaca's spelling: "1Min", "5Min", "1Hour", "1Day" */
    const char *start, *end; /* RFC 3339, inclusive */
    const char *feed;        /* stocks: "iex" or "sip"; NULL or "" = alpaca.stock_feed */
    const char *adjustment;  /* stocks: raw, split, dividend or all; NULL or "" = not sent */
    int limit;               /* bars per page, 1..10000 */
    const char *page_token;  /* the previous page's next_page_token; NULL or "" = first page */
} hydra_bars_request;

/*
 * Asks the market-data URL for one page of bars, ascending, over the
 * broker's connection and rules (timeouts, answer size, the 429 rule
 * above). b must come from hydra_alpaca_open. On success *answer is the
 * parsed JSON answer (caller json_decref()s); the caller reads "bars" and
 * "next_page_token" from it. Failures are classified as for every call; a
 * 429 whose reset is further away than the adapter waits comes back as
 * HYDRA_ETRANSIENT with http_status 429 and err->retry_at_ms set (or held
 * = 1 when the call was not sent because of an earlier 429).
 */
int hydra_alpaca_bars_page(const hydra_broker *b, const hydra_bars_request *q, json_t **answer,
                           hydra_broker_err *err);

#endif
