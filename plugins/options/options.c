/*
 * OptionsBot: buys single calls or puts on its underlyings (the bot's
 * `tickers`) when the underlying's momentum fires.
 *
 * signal.mode momentum_option_v1 (the reference signal)
 *   Params under signal.params (defaults in brackets):
 *     roc_bars       [5]   integer 1..1000: ROC lookback in the underlying's bars
 *     entry_roc_pct  [1.0] number 0..100: threshold, percent
 *     contracts      [1]   integer 1..1000: contracts per entry
 *   For each underlying, in the configured order, with
 *     ROC = (close / close[roc_bars bars earlier] - 1) * 100
 *   on its completed bars:
 *   Entry (on_tick): ROC > +entry_roc_pct buys a call, ROC < -entry_roc_pct
 *   buys a put, unless the bot already holds a contract on that underlying,
 *   or has an entry on one still working (ABI 1.1 hosts show the bot its
 *   working orders; without them the bot cannot see a pending entry), or
 *   the budget has no trade left today or no free position slot (after
 *   the entries already proposed in this call). The contract comes from the
 *   chain the host has already filtered by chain_rules (DTE and delta),
 *   asked for through hydra.options-chain/1 only when the signal fires (or
 *   read from the snapshot on a host without that extension): of that
 *   underlying and type, with a positive ask, the
 *   one whose |delta| is closest to 0.40 (a common middle ground between
 *   leverage and the chance of finishing in the money); ties, within 1e-9,
 *   go to the nearer expiry, then the lower strike, then the smaller symbol,
 *   so the choice is always the same. The order is a day limit buy at the
 *   ask for `contracts`, reduced so the premium paid (ask * multiplier per
 *   contract, the most a long option can lose) fits the budget's remaining
 *   open risk; no entry when not even one contract fits. No contract in
 *   the chain means no entry.
 *   Exit (manage): a held call whose underlying's ROC falls below
 *   -entry_roc_pct, or a held put whose underlying's ROC rises above
 *   +entry_roc_pct, is sold at market (day). The host's take-profit, stop,
 *   time and flatten-before-close exits apply on top of this.
 *
 * Held contracts are matched to underlyings by their OCC symbol
 * (root + YYMMDD + C/P + 8-digit strike), so positions opened before a
 * restart are recognised from the snapshot alone.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hydra/plugin.h>

#include "../common/signals.h"

#define OPTIONS_MAX_UNDERLYINGS 16
#define OCC_SUFFIX_LEN 15 /* YYMMDD + C/P + 8-digit strike */
#define TARGET_DELTA 0.40
#define TIE_EPS 1e-9

#define OPTIONS_CHAIN_CAP 4096

struct hydra_bot {
    const hydra_host_api *api;
    hydra_host *host;
    const hydra_ext_options_chain *chain_ext; /* NULL: the chain comes in the snapshot */
    const hydra_option_view *chain[OPTIONS_CHAIN_CAP];
    char bot_id[64];
    char underlyings[OPTIONS_MAX_UNDERLYINGS][48];
    uint32_t n_underlyings;
    uint32_t roc_bars;
    double entry_roc_pct;
    double contracts;
};

/*
 * When `symbol` is an OCC option symbol on `underlying`, returns 'C' or 'P';
 * otherwise 0.
 */
static int occ_type_on(const char *symbol, const char *underlying)
{
    size_t n = strlen(symbol), root = strlen(underlying), i;
    const char *suffix;
    if (root == 0 || n != root + OCC_SUFFIX_LEN || strncmp(symbol, underlying, root) != 0)
        return 0;
    suffix = symbol + root;
    for (i = 0; i < OCC_SUFFIX_LEN; i++) {
        if (i == 6) {
            if (suffix[i] != 'C' && suffix[i] != 'P')
                return 0;
        } else if (!isdigit((unsigned char)suffix[i])) {
            return 0;
        }
    }
    return suffix[6];
}

/* True when the bot holds any contract on `underlying`. */
static int holds_underlying(const hydra_snapshot *snap, const char *underlying)
{
    uint32_t i;
    for (i = 0; i < snap->n_positions; i++) {
        const hydra_position_view *p = snap->positions[i];
        if (p != NULL && p->symbol != NULL && p->qty > 0.0 && occ_type_on(p->symbol, underlying))
            return 1;
    }
    return 0;
}

/*
 * True when one of the bot's working entries (ABI 1.1) is on a contract of
 * `underlying`: an unfilled limit buy must not be stacked with another.
 */
static int entry_working_on(const hydra_snapshot *snap, const char *underlying)
{
    uint32_t i;
    if (!HYDRA_COVERS(snap, n_orders))
        return 0; /* a 1.0 host: the budget's positions_open still counts working entries */
    for (i = 0; i < snap->n_orders; i++) {
        const hydra_order_view *o = snap->orders[i];
        if (o != NULL && o->symbol != NULL && o->kind == HYDRA_INTENT_ENTRY &&
            o->side == HYDRA_SIDE_BUY && occ_type_on(o->symbol, underlying))
            return 1;
    }
    return 0;
}

/* True when contract a should be preferred to b (b may be NULL). */
static int better_contract(const hydra_option_view *a, const hydra_option_view *b)
{
    double da, db;
    if (b == NULL)
        return 1;
    da = fabs(fabs(a->delta) - TARGET_DELTA);
    db = fabs(fabs(b->delta) - TARGET_DELTA);
    if (da < db - TIE_EPS)
        return 1;
    if (da > db + TIE_EPS)
        return 0;
    if (a->expiry_yyyymmdd != b->expiry_yyyymmdd)
        return a->expiry_yyyymmdd < b->expiry_yyyymmdd;
    if (a->strike != b->strike)
        return a->strike < b->strike;
    return strcmp(a->symbol, b->symbol) < 0;
}

static const hydra_option_view *choose_contract(const hydra_option_view *const *options, uint32_t n,
                                                const char *underlying, int want_call)
{
    const hydra_option_view *best = NULL;
    uint32_t i;
    for (i = 0; i < n; i++) {
        const hydra_option_view *o = options[i];
        if (o == NULL || o->symbol == NULL || o->underlying == NULL ||
            strcmp(o->underlying, underlying) != 0 || (o->is_call != 0) != (want_call != 0))
            continue;
        if (!sig_good_price(o->ask) || !isfinite(o->delta) || !isfinite(o->strike) ||
            strlen(o->symbol) == 0 || strlen(o->symbol) >= sizeof(((hydra_intent *)0)->symbol))
            continue;
        if (better_contract(o, best))
            best = o;
    }
    return best;
}

static void options_push(hydra_bot *bot, hydra_intent_buf *out, const hydra_intent *in)
{
    if (hydra_intent_push(out, in) != 0)
        sig_log(bot->api, bot->host, HYDRA_LOG_WARN, "intent_dropped",
                "bot %s: intent buffer full, %s %s not proposed", bot->bot_id,
                in->side == HYDRA_SIDE_BUY ? "buy" : "sell", in->symbol);
}

static int options_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                          hydra_bot **out)
{
    hydra_bot *bot = NULL;
    const char *id;
    int64_t roc_bars = 5, contracts = 1;
    double entry = 1.0;
    uint32_t i;

    if (out == NULL)
        return HYDRA_BOT_ERROR;
    *out = NULL;
    if (api == NULL || cfg == NULL || cfg->bot_id == NULL || cfg->signal_mode == NULL)
        return HYDRA_BOT_ERROR;
    id = cfg->bot_id;

    bot = calloc(1, sizeof *bot);
    if (bot == NULL)
        return HYDRA_BOT_ERROR;
    bot->api = api;
    bot->host = host;
    snprintf(bot->bot_id, sizeof bot->bot_id, "%s", id);

    if (cfg->n_symbols == 0 || cfg->n_symbols > OPTIONS_MAX_UNDERLYINGS || cfg->symbols == NULL) {
        sig_log(api, host, HYDRA_LOG_ERROR, "bot_config_error",
                "bot %s: the options plugin needs 1 to %d tickers (got %u)", id,
                OPTIONS_MAX_UNDERLYINGS, (unsigned)cfg->n_symbols);
        goto fail;
    }
    for (i = 0; i < cfg->n_symbols; i++) {
        const char *s = cfg->symbols[i];
        /* An OCC root is at most six characters. */
        if (s == NULL || s[0] == '\0' || strlen(s) > 6) {
            sig_log(api, host, HYDRA_LOG_ERROR, "bot_config_error",
                    "bot %s: ticker %u is empty or longer than an option root (6)", id, (unsigned)i);
            goto fail;
        }
        memcpy(bot->underlyings[i], s, strlen(s) + 1);
    }
    bot->n_underlyings = cfg->n_symbols;

    if (strcmp(cfg->signal_mode, "momentum_option_v1") != 0) {
        sig_log(api, host, HYDRA_LOG_ERROR, "bot_config_error",
                "bot %s: unknown signal.mode \"%s\" (known: momentum_option_v1)", id,
                cfg->signal_mode);
        goto fail;
    }
    if (sig_param_int(api, host, id, "roc_bars", 5, 1, 1000, &roc_bars) != 0 ||
        sig_param_double(api, host, id, "entry_roc_pct", 1.0, 0.0, 100.0, &entry) != 0 ||
        sig_param_int(api, host, id, "contracts", 1, 1, 1000, &contracts) != 0)
        goto fail;
    bot->roc_bars = (uint32_t)roc_bars;
    bot->entry_roc_pct = entry;
    bot->contracts = (double)contracts;
    /* Ask for contracts when the signal fires instead of receiving the chain every tick. */
    if (HYDRA_HAS(api, get_extension)) {
        const hydra_ext_options_chain *ext = api->get_extension(host, HYDRA_EXT_OPTIONS_CHAIN);
        if (ext != NULL && HYDRA_HAS(ext, chain))
            bot->chain_ext = ext;
    }
    *out = bot;
    return HYDRA_BOT_OK;

fail:
    free(bot);
    return HYDRA_BOT_BAD_CONFIG;
}

static void options_destroy(hydra_bot *bot)
{
    free(bot);
}

static int options_manage(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    uint32_t i, u;
    if (bot == NULL || snap == NULL)
        return 0;
    for (i = 0; i < snap->n_positions; i++) {
        const hydra_position_view *p = snap->positions[i];
        if (p == NULL || p->symbol == NULL || !(p->qty > 0.0))
            continue;
        for (u = 0; u < bot->n_underlyings; u++) {
            const char *und = bot->underlyings[u];
            int type = occ_type_on(p->symbol, und);
            double roc;
            hydra_intent in;

            if (type == 0 || sig_roc_pct(sig_find_symbol(snap, und), bot->roc_bars, &roc) != 0)
                continue;
            if (!((type == 'C' && roc < -bot->entry_roc_pct) ||
                  (type == 'P' && roc > bot->entry_roc_pct)))
                continue;
            in = sig_intent(HYDRA_INTENT_EXIT, HYDRA_SIDE_SELL, HYDRA_ASSET_OPTION);
            if (sig_set_symbol(&in, p->symbol) != 0)
                continue;
            in.type = HYDRA_ORDER_MARKET;
            in.tif = HYDRA_TIF_DAY;
            in.qty = p->qty;
            snprintf(in.reason, sizeof in.reason, "%s momentum reversed against the %s: roc%u %.2f%%",
                     und, type == 'C' ? "call" : "put", (unsigned)bot->roc_bars, roc);
            options_push(bot, out, &in);
        }
    }
    return 0;
}

static int options_on_tick(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    const hydra_budget_view *b;
    double room;
    uint32_t u, pending = 0;

    if (bot == NULL || snap == NULL)
        return 0;
    b = snap->budget;
    room = sig_risk_room(b);

    for (u = 0; u < bot->n_underlyings && sig_can_enter(b, pending); u++) {
        const char *und = bot->underlyings[u];
        const hydra_option_view *o;
        double roc, cost, qty;
        int want_call;
        hydra_intent in;

        if (holds_underlying(snap, und) || entry_working_on(snap, und) ||
            sig_roc_pct(sig_find_symbol(snap, und), bot->roc_bars, &roc) != 0)
            continue;
        if (roc > bot->entry_roc_pct)
            want_call = 1;
        else if (roc < -bot->entry_roc_pct)
            want_call = 0;
        else
            continue;
        if (bot->chain_ext != NULL) {
            /* Only now, with the signal fired, is the chain worth pricing. */
            int got = bot->chain_ext->chain(bot->host, und,
                                            want_call ? HYDRA_CHAIN_CALLS : HYDRA_CHAIN_PUTS,
                                            bot->chain, OPTIONS_CHAIN_CAP);
            if (got < 0)
                continue; /* no chain, no entry; the host has said why */
            o = choose_contract(bot->chain, got < OPTIONS_CHAIN_CAP ? (uint32_t)got : OPTIONS_CHAIN_CAP,
                                und, want_call);
        } else {
            o = choose_contract(snap->options, snap->n_options, und, want_call);
        }
        if (o == NULL)
            continue;

        /* Propose a size the budget can carry; the host still caps it. */
        cost = o->ask * (o->multiplier > 0 ? o->multiplier : 100);
        qty = floor(room / cost);
        if (qty > bot->contracts)
            qty = bot->contracts;
        if (!(qty >= 1.0))
            continue;

        in = sig_intent(HYDRA_INTENT_ENTRY, HYDRA_SIDE_BUY, HYDRA_ASSET_OPTION);
        sig_set_symbol(&in, o->symbol);
        in.type = HYDRA_ORDER_LIMIT;
        in.tif = HYDRA_TIF_DAY;
        in.qty = qty;
        in.limit_price = o->ask;
        snprintf(in.reason, sizeof in.reason, "%s roc%u %.2f%% %s%.2f%%: %s delta %.2f at ask %.2f",
                 und, (unsigned)bot->roc_bars, roc, want_call ? "> " : "< -", bot->entry_roc_pct,
                 want_call ? "call" : "put", o->delta, o->ask);
        options_push(bot, out, &in);
        pending++;
        room -= qty * cost;
    }
    return 0;
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = "options",
    .version = "1.0.0",
    .description = "Options on momentum: buy the call or put the chain rules select when the underlying moves",
    .asset_classes = HYDRA_ASSET_EQUITY | HYDRA_ASSET_OPTION,
    .create = options_create,
    .destroy = options_destroy,
    .manage = options_manage,
    .on_tick = options_on_tick,
    .on_fill = NULL,
};
