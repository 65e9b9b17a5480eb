/*
 * Alpaca's JSON answers, parsed into broker-interface structs.
 *
 * Separate from the HTTP code (alpaca.c) so every parser can be tested over
 * recorded bodies. The parsers are tolerant where Alpaca varies and strict
 * where the host decides on a value:
 *
 *   - decimals may be JSON strings ("103820.56") or numbers (103820.56);
 *   - unknown keys are ignored;
 *   - times are RFC 3339 with 0 to 9 fractional digits and any offset;
 *   - a required field that is missing, null, of the wrong type or not a
 *     finite number makes the whole answer HYDRA_EMALFORMED, with the field
 *     named in `why`. A missing value is never read as zero.
 *
 * Optional numeric fields the host only displays are NaN when absent.
 * Every function returns 0, HYDRA_EMALFORMED (with `why` filled) or
 * HYDRA_EFULL when the answer does not fit the caller's array.
 */
#ifndef HYDRA_ALPACA_JSON_H
#define HYDRA_ALPACA_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "broker.h"

/* The error object of a failed request: {"code":..., "message":...} (code may be absent). */
typedef struct hydra_alpaca_error {
    long code;          /* 0 when absent */
    char message[200];  /* "" when absent */
} hydra_alpaca_error;

/* Parses text into a JSON value; HYDRA_EMALFORMED when it is not JSON. Caller json_decref()s. */
int hydra_alpaca_json_load(const char *body, size_t len, json_t **out, char *why, size_t whysz);

/*
 * A decimal field: a JSON number or a string holding a finite decimal.
 * Returns 0, HYDRA_ENOTFOUND when absent or null, or HYDRA_EMALFORMED.
 */
int hydra_alpaca_decimal(const json_t *obj, const char *key, double *out, char *why, size_t whysz);

/* "BTCUSD" with asset_class crypto -> "BTC/USD"; anything else is copied. */
void hydra_alpaca_normalise_symbol(const char *symbol, int is_crypto, char *out, size_t outsz);

int hydra_alpaca_parse_error(const char *body, size_t len, hydra_alpaca_error *out);
int hydra_alpaca_parse_account(const json_t *j, hydra_account *out, char *why, size_t whysz);
int hydra_alpaca_parse_position(const json_t *j, hydra_broker_position *out, char *why,
                                size_t whysz);
int hydra_alpaca_parse_positions(const json_t *j, hydra_broker_position *out, size_t cap,
                                 size_t *n, char *why, size_t whysz);
int hydra_alpaca_parse_order(const json_t *j, hydra_order *out, char *why, size_t whysz);
int hydra_alpaca_parse_orders(const json_t *j, hydra_order *out, size_t cap, size_t *n, char *why,
                              size_t whysz);

/* One element's outcome in a 207 multi-status answer (cancel all, close all). */
typedef struct hydra_alpaca_multi {
    size_t n;            /* elements */
    size_t n_ok;         /* element status 200 */
    size_t n_not_found;  /* element status 404 */
    size_t n_server;     /* element status >= 500 */
    size_t n_failed;     /* every other status */
    char first_failure[200]; /* "<symbol or id>: <status> <message>" of the first non-200 */
} hydra_alpaca_multi;
int hydra_alpaca_parse_multi_status(const json_t *j, hydra_alpaca_multi *out, char *why,
                                    size_t whysz);

/*
 * {"trades":{"AAPL":{"t":..,"p":..},...}}: out[i] answers symbols[i]. A
 * requested symbol missing from the answer is HYDRA_EMALFORMED naming it.
 */
int hydra_alpaca_parse_latest_trades(const json_t *j, const char *const *symbols, size_t n,
                                     hydra_quote *out, char *why, size_t whysz);

/*
 * {"bars":{"AAPL":[...]}} (multi-symbol) or {"bars":[...]} (single): the
 * bars of `symbol` in the order given. No bars for the symbol is n = 0.
 */
int hydra_alpaca_parse_bars(const json_t *j, const char *symbol, hydra_bar *out, size_t cap,
                            size_t *n, char *why, size_t whysz);

/* {"next_page_token": string or null}: "" when there is no next page. */
int hydra_alpaca_next_page_token(const json_t *j, char *out, size_t outsz, char *why, size_t whysz);

/*
 * {"option_contracts":[...]} appended to out[*n..cap): symbol, underlying,
 * strike, expiry, type and multiplier (contract size, 100 when absent);
 * quotes and greeks NaN until joined with snapshots.
 */
int hydra_alpaca_parse_option_contracts(const json_t *j, hydra_option_quote *out, size_t cap,
                                        size_t *n, char *why, size_t whysz);

/*
 * {"snapshots":{"<OCC>":{...}}}: for every entry of q[0..n) whose symbol is
 * in the answer, sets bid, ask (latestQuote), last (latestTrade), iv and
 * greeks; fields the snapshot lacks stay NaN. Entries in the answer that
 * are not in q are ignored. *matched counts the entries set.
 */
int hydra_alpaca_apply_option_snapshots(const json_t *j, hydra_option_quote *q, size_t n,
                                        size_t *matched, char *why, size_t whysz);

/* Initialises an option quote from its OCC symbol (prices and greeks NaN). */
int hydra_alpaca_option_from_occ(const char *occ, hydra_option_quote *out);

/*
 * Option prices for latest_prices: {"snapshots":{...}}, out[i] answers
 * symbols[i] with the latestQuote midpoint (the last trade when the quote
 * is one-sided) and the quote's time. A symbol missing or without any
 * price is HYDRA_EMALFORMED naming it.
 */
int hydra_alpaca_parse_option_prices(const json_t *j, const char *const *symbols, size_t n,
                                     hydra_quote *out, char *why, size_t whysz);

int hydra_alpaca_parse_clock(const json_t *j, hydra_market_clock *out, char *why, size_t whysz);

/*
 * /v2/assets/{symbol}: class, status, tradable and fractionable are
 * required; a class other than us_equity or crypto, or a status other than
 * active or inactive, is HYDRA_EMALFORMED.
 */
int hydra_alpaca_parse_asset(const json_t *j, hydra_asset *out, char *why, size_t whysz);

/*
 * /v2/calendar: an array of {"date": "YYYY-MM-DD", "open": "HH:MM", "close":
 * "HH:MM", ...} in Alpaca's market zone (America/New_York), in date order.
 * Unknown fields are ignored; a missing or ill-formed date, open or close,
 * an open not before its close, or days out of order is HYDRA_EMALFORMED;
 * more days than cap is HYDRA_EFULL.
 */
int hydra_alpaca_parse_calendar(const json_t *j, hydra_session *out, size_t cap, size_t *n,
                                char *why, size_t whysz);

#endif
