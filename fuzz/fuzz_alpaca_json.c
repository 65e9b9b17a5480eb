/*
 * Fuzz target: the parsers of Alpaca's JSON answers (host/alpaca_json.c).
 *
 * An input is one response body. It goes through hydra_alpaca_json_load
 * and hydra_alpaca_parse_error exactly as the adapter receives it, then
 * every parser reads the same document, since a hostile or broken server
 * may send any answer to any request. Symbols asked for are the fixtures'
 * ones plus every key the answer itself carries under "trades", "bars" and
 * "snapshots", so the fuzzer reaches the paths where a symbol is found as
 * well as where it is missing. Every parser must return 0 or a documented
 * error and leave a reason when it refuses.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alpaca_json.h"
#include "error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SYMBOLS 16
#define CAP 64

/* A refusal names what was wrong; anything but 0 and the documented codes is a bug. */
static void check(int rc, const char *why)
{
    if (rc == 0 || rc == HYDRA_EFULL)
        return;
    if (rc != HYDRA_EMALFORMED || why[0] == '\0')
        abort();
}

static size_t add_keys(const json_t *j, const char *member, const char **symbols, size_t n)
{
    const json_t *obj = json_is_object(j) ? json_object_get(j, member) : NULL;
    const char *key;
    json_t *v;
    if (!json_is_object(obj))
        return n;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (n == MAX_SYMBOLS)
            break;
        symbols[n++] = key;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hydra_broker_position positions[CAP];
    static hydra_order orders[CAP];
    static hydra_bar bars[CAP];
    static hydra_option_quote options[CAP];
    static hydra_quote quotes[MAX_SYMBOLS];
    const char *body = (const char *)data;
    char why[256];
    json_t *j = NULL;
    size_t n;

    hydra_alpaca_error e;
    (void)hydra_alpaca_parse_error(body, size, &e);
    if (strlen(e.message) >= sizeof e.message)
        abort();

    why[0] = '\0';
    if (hydra_alpaca_json_load(body, size, &j, why, sizeof why) != 0) {
        if (j != NULL || why[0] == '\0')
            abort();
        return 0;
    }

    hydra_account account;
    why[0] = '\0';
    check(hydra_alpaca_parse_account(j, &account, why, sizeof why), why);
    hydra_broker_position position;
    why[0] = '\0';
    check(hydra_alpaca_parse_position(j, &position, why, sizeof why), why);
    why[0] = '\0';
    check(hydra_alpaca_parse_positions(j, positions, CAP, &n, why, sizeof why), why);
    hydra_order order;
    why[0] = '\0';
    check(hydra_alpaca_parse_order(j, &order, why, sizeof why), why);
    why[0] = '\0';
    check(hydra_alpaca_parse_orders(j, orders, CAP, &n, why, sizeof why), why);
    hydra_alpaca_multi multi;
    why[0] = '\0';
    check(hydra_alpaca_parse_multi_status(j, &multi, why, sizeof why), why);
    hydra_market_clock clock;
    why[0] = '\0';
    check(hydra_alpaca_parse_clock(j, &clock, why, sizeof why), why);
    char token[128];
    why[0] = '\0';
    check(hydra_alpaca_next_page_token(j, token, sizeof token, why, sizeof why), why);

    const char *symbols[MAX_SYMBOLS] = {"AAPL", "BTC/USD", "AAPL250117C00150000"};
    size_t ns = 3;
    ns = add_keys(j, "trades", symbols, ns);
    ns = add_keys(j, "bars", symbols, ns);
    ns = add_keys(j, "snapshots", symbols, ns);
    why[0] = '\0';
    check(hydra_alpaca_parse_latest_trades(j, symbols, ns, quotes, why, sizeof why), why);
    why[0] = '\0';
    check(hydra_alpaca_parse_option_prices(j, symbols, ns, quotes, why, sizeof why), why);
    for (size_t i = 0; i < ns; i++) {
        why[0] = '\0';
        check(hydra_alpaca_parse_bars(j, symbols[i], bars, CAP, &n, why, sizeof why), why);
    }

    /* Contracts from the answer (as the chain's first request), then from the snapshot keys. */
    size_t nq = 0;
    why[0] = '\0';
    check(hydra_alpaca_parse_option_contracts(j, options, CAP, &nq, why, sizeof why), why);
    if (nq > CAP)
        abort();
    for (size_t i = 0; i < ns && nq < CAP; i++)
        if (hydra_alpaca_option_from_occ(symbols[i], &options[nq]) == 0)
            nq++;
    size_t matched;
    why[0] = '\0';
    check(hydra_alpaca_apply_option_snapshots(j, options, nq, &matched, why, sizeof why), why);
    if (matched > nq)
        abort();

    for (size_t i = 0; i < ns; i++) {
        char norm[64];
        hydra_alpaca_normalise_symbol(symbols[i], 1, norm, sizeof norm);
    }
    json_decref(j);
    return 0;
}
