/*
 * Example bot: the textbook simple-moving-average crossover, long only.
 *
 * signal.mode "sma_cross"; params fast (default 10), slow (30), qty (100).
 * For every symbol the bot trades, on the last completed bar:
 *   - entry (on_tick): nothing held and the fast SMA of the closes crossed
 *     above the slow one (fast > slow now, fast <= slow one bar earlier):
 *     a market buy of qty;
 *   - exit (manage): shares held and fast < slow: a market sell of all.
 * Orders fill at the next bar's open (the simulated exchange's rule), as in
 * the usual reference backtesters.
 *
 * Each SMA is the SDK's hydra_sma (hydra/indicators.h): the sum of its own
 * window, added up afresh on every bar, never a running sum that adds the
 * new close and subtracts the old one: the running sum drifts by an ulp on
 * real prices, and a crossover is a comparison of two averages that can be
 * equal (ORCL on 2004-06-29 has fast equal to slow), so the result is what
 * the formula says.
 *
 * Works on minute or daily bars; for daily bars declare
 * `bar_timeframe: day` in bots.yaml (examples/config/bots.yaml does).
 */
#include <stdlib.h>
#include <string.h>

#include <hydra/indicators.h>
#include <hydra/plugin.h>

/* The host shows a bot the last 120 bars of each symbol (sdk/README.md). */
#define MAX_WINDOW 119

struct hydra_bot {
    uint32_t fast, slow;
    double qty;
};

/* SMA of n closes ending `back` bars before the last; 0 when there are too few bars. */
static int sma(const hydra_symbol_view *v, uint32_t n, uint32_t back, double *out)
{
    hydra_series closes = hydra_series_closes(v->bars, v->n_bars);
    return hydra_sma(hydra_series_drop(closes, back), n, out) == 0;
}

static double held(const hydra_snapshot *snap, const char *symbol)
{
    for (uint32_t i = 0; i < snap->n_positions; i++)
        if (strcmp(snap->positions[i]->symbol, symbol) == 0)
            return snap->positions[i]->qty;
    return 0;
}

static int sma_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                      hydra_bot **out)
{
    int64_t fast = 10, slow = 30, qty = 100;
    *out = NULL;
    if (api->param_int(host, "fast", &fast) == HYDRA_PARAM_TYPE ||
        api->param_int(host, "slow", &slow) == HYDRA_PARAM_TYPE ||
        api->param_int(host, "qty", &qty) == HYDRA_PARAM_TYPE || fast < 1 || slow <= fast ||
        slow > MAX_WINDOW || qty < 1 || cfg->n_symbols < 1) {
        api->log(host, HYDRA_LOG_ERROR, "bot_config_error",
                 "sma_cross: needs symbols and integers 1 <= fast < slow < 120, qty >= 1");
        return HYDRA_BOT_BAD_CONFIG;
    }
    hydra_bot *bot = calloc(1, sizeof *bot);
    if (bot == NULL)
        return HYDRA_BOT_ERROR;
    bot->fast = (uint32_t)fast;
    bot->slow = (uint32_t)slow;
    bot->qty = (double)qty;
    *out = bot;
    return HYDRA_BOT_OK;
}

static void sma_destroy(hydra_bot *bot)
{
    free(bot);
}

static void push(hydra_intent_buf *out, const char *symbol, uint32_t kind, uint32_t side,
                 double qty, const char *why)
{
    hydra_intent in;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.kind = kind;
    in.side = side;
    in.type = HYDRA_ORDER_MARKET;
    in.asset_class = HYDRA_ASSET_EQUITY;
    strncpy(in.symbol, symbol, sizeof in.symbol - 1);
    in.qty = qty;
    strncpy(in.reason, why, sizeof in.reason - 1);
    hydra_intent_push(out, &in);
}

static int sma_manage(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    for (uint32_t k = 0; k < snap->n_symbols; k++) {
        const hydra_symbol_view *v = snap->symbols[k];
        double q = snap->n_positions > 0 ? held(snap, v->symbol) : 0, f, s;
        if (q > 0 && sma(v, bot->fast, 0, &f) && sma(v, bot->slow, 0, &s) && f < s)
            push(out, v->symbol, HYDRA_INTENT_EXIT, HYDRA_SIDE_SELL, q, "sma fast below slow");
    }
    return 0;
}

static int sma_on_tick(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    for (uint32_t k = 0; k < snap->n_symbols; k++) {
        const hydra_symbol_view *v = snap->symbols[k];
        double f, s, pf, ps;
        if (snap->n_positions > 0 && held(snap, v->symbol) > 0)
            continue;
        if (sma(v, bot->fast, 0, &f) && sma(v, bot->slow, 0, &s) && f > s &&
            sma(v, bot->fast, 1, &pf) && sma(v, bot->slow, 1, &ps) && pf <= ps)
            push(out, v->symbol, HYDRA_INTENT_ENTRY, HYDRA_SIDE_BUY, bot->qty,
                 "sma fast crossed above slow");
    }
    return 0;
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = "sma_cross",
    .version = "1.0.0",
    .description = "Example: SMA fast/slow crossover, long only, market orders",
    .asset_classes = HYDRA_ASSET_EQUITY,
    .create = sma_create,
    .destroy = sma_destroy,
    .manage = sma_manage,
    .on_tick = sma_on_tick,
    .on_fill = NULL,
};
