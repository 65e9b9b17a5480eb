/*
 * The market snapshot of one tick (DESIGN.md step 4): last prices, recent
 * bars and option chains for every symbol an enabled bot needs or a bot
 * position holds, fetched in as few broker calls as the interface allows:
 * one latest_prices call for all symbols (held option contracts included),
 * bars only when a new bar can exist (at most once per bar interval per
 * symbol), one chain per underlying of an options bot, narrowed by the
 * bots' chain_rules.
 */
#ifndef HYDRA_MARKETDATA_H
#define HYDRA_MARKETDATA_H

#include <stddef.h>
#include <stdint.h>

#include <hydra/plugin.h>

#include "broker.h"
#include "config.h"
#include "state.h"

#define HYDRA_SNAPSHOT_BARS 120
#define HYDRA_MARKET_MAX_SYMBOLS 256
#define HYDRA_MARKET_MAX_CHAINS 16
#define HYDRA_MARKET_MAX_CONTRACTS 4096

typedef struct hydra_market_symbol {
    char symbol[48];
    unsigned asset_class;
    double price;            /* NaN when unknown */
    int64_t t_ms;
    hydra_bar bars[HYDRA_SNAPSHOT_BARS];
    size_t n_bars;
    int64_t bars_fetched_ms; /* engine time of the last bars call; 0 = never */
    int64_t priced_ms;       /* engine time of the last snapshot that had a trade for it; 0 = never */
} hydra_market_symbol;

typedef struct hydra_market_chain {
    char underlying[16];
    hydra_option_quote *quotes; /* malloc'd, HYDRA_MARKET_MAX_CONTRACTS */
    size_t n;
    int fetched;                /* fetched for the current tick (else n is 0) */
    hydra_chain_filter filter;  /* what that fetch asked for */
} hydra_market_chain;

typedef struct hydra_market {
    hydra_market_symbol symbols[HYDRA_MARKET_MAX_SYMBOLS];
    size_t n_symbols;
    hydra_market_chain chains[HYDRA_MARKET_MAX_CHAINS];
    size_t n_chains;
    hydra_market_clock mclock;
    int have_mclock;
    int64_t fetched_ms;      /* engine time of the last complete refresh */
} hydra_market;

void hydra_market_init(hydra_market *m);
void hydra_market_free(hydra_market *m);

/* One option chain to fetch: an underlying and the contracts wanted from it. */
typedef struct hydra_chain_request {
    const char *underlying;
    hydra_chain_filter filter;
} hydra_chain_request;

/*
 * Refreshes prices for `symbols` (stocks, crypto pairs and held option
 * contracts, in one latest_prices call), bars for the non-option symbols
 * whose bars may have moved on (bar_seconds), the requested chains, and the
 * market clock. Symbols keep their slots between ticks. Returns 0 or the
 * first broker failure (with *err filled); on failure the prices of this
 * tick are marked unknown.
 */
int hydra_market_refresh(hydra_market *m, hydra_broker *b, const char *const *symbols, size_t n,
                         const hydra_chain_request *chains, size_t n_chains, int bar_seconds,
                         int64_t now_ms, hydra_broker_err *err);

/* The chain_rules of an options bot as a filter for the broker. */
hydra_chain_filter hydra_chain_filter_of(const hydra_bot_cfg *b);

/* Forgets every chain: the next requests fetch afresh (a new tick). */
void hydra_market_forget_chains(hydra_market *m);

/*
 * The chain of `underlying` for the current tick: fetched from the broker
 * on first use (or again, widened, when `filter` reaches outside what was
 * fetched), then reused until hydra_market_forget_chains or the next
 * refresh. Returns 0 with *out, or the broker's failure with err filled.
 */
int hydra_market_chain_get(hydra_market *m, hydra_broker *b, const char *underlying,
                           const hydra_chain_filter *filter, const hydra_market_chain **out,
                           hydra_broker_err *err);

/*
 * Views of the contracts in chain c that bot b's chain_rules admit on
 * `today`, calls and/or puts (enum hydra_chain_rights flags): writes up to
 * cap and returns how many are admitted. The views point into c.
 */
uint32_t hydra_chain_views(const hydra_bot_cfg *b, const hydra_market_chain *c, int today,
                           uint32_t rights, hydra_option_view *out, uint32_t cap);

/* 1 when bot b declares `symbol` (its ticker, tickers, pairs or symbols). */
int hydra_bot_declares(const hydra_bot_cfg *b, const char *symbol);

/*
 * An option bot b may buy: in this tick's chain of one of its underlyings
 * and inside its chain_rules on `today`.
 */
int hydra_market_offers(const hydra_market *m, const hydra_bot_cfg *b, const char *occ, int today);

/*
 * hydra.options-chain/1 for bot b (the caller has checked that b declares
 * `underlying`): the underlying's chain for this tick (hydra_market_chain_get
 * with b's rules), then its views as hydra_chain_views. Returns the admitted
 * count, or the broker's failure with err filled.
 */
int hydra_market_bot_chain(hydra_market *m, hydra_broker *broker, const hydra_bot_cfg *b,
                           const char *underlying, uint32_t rights, int today,
                           hydra_option_view *out, uint32_t cap, hydra_broker_err *err);

/*
 * The snapshot's chain for options bot b: the views of every underlying's
 * chain its rules admit on `today` (chains fetched on demand, as
 * hydra_market_chain_get), written into views and pointed to by ptrs, at
 * most HYDRA_MARKET_MAX_CONTRACTS. Returns the count; an underlying whose
 * chain cannot be fetched adds nothing.
 */
uint32_t hydra_market_snapshot_chain(hydra_market *m, hydra_broker *broker, const hydra_bot_cfg *b,
                                     int today, hydra_option_view *views,
                                     const hydra_option_view **ptrs);

/* Adds a chain request, widening an existing one for the same underlying. */
int hydra_chain_request_add(hydra_chain_request *reqs, size_t cap, size_t *n, const char *underlying,
                            const hydra_chain_filter *filter);

const hydra_market_symbol *hydra_market_find(const hydra_market *m, const char *symbol);
/*
 * 1 when symbol's price is older than max_ms: the broker's latest-trades
 * answer has left it out since then (or never had it). A symbol the
 * snapshot does not hold (an option contract priced from its chain) is not
 * judged here: 0.
 */
int hydra_market_symbol_stale(const hydra_market *m, const char *symbol, int64_t now_ms,
                              int64_t max_ms);
const hydra_market_chain *hydra_market_find_chain(const hydra_market *m, const char *underlying);
const hydra_option_quote *hydra_market_option(const hydra_market *m, const char *occ);
/* Last price of a stock or crypto pair, or the mid of an option's quote; NaN when unknown. */
double hydra_market_price(const hydra_market *m, const char *symbol);

/* ---- what a bot sees: views over the snapshot (live and backtest alike) ---- */

/* 1 when the contract passes the bot's chain_rules (days to expiry, |delta|; inclusive) on `today`. */
int hydra_chain_rules_admit(const hydra_bot_cfg *b, const hydra_option_quote *q, int today);

/* A bot's position marked at `price` (NaN when unknown). v->symbol points into p. */
void hydra_position_view_of(const hydra_bot_position *p, double price, hydra_position_view *v);

/* An offered contract. v's strings point into q and `underlying`. */
void hydra_option_view_of(const hydra_option_quote *q, const char *underlying, int dte,
                          hydra_option_view *v);

#endif
