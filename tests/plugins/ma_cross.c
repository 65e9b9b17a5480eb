/*
 * A moving-average crossover bot for the backtest tests: simple enough to
 * work out its trades by hand. Params: fast [2], slow [4], qty [10].
 * Entry (on_tick): no shares held and SMA(fast) crossed above SMA(slow) on
 * the last completed bar (above now, at or below one bar earlier): a market
 * buy of qty. Exit (manage): shares held and SMA(fast) < SMA(slow): a
 * market sell of everything held.
 * A param crash: 1 makes on_tick die of SIGSEGV, a bot that crashes for the
 * sweep tests (a sweep point must fail alone, with the signal named).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hydra/plugin.h>

struct hydra_bot {
    char symbol[48];
    uint32_t fast, slow;
    double qty;
    int crash;
};

/* SMA of n closes ending `back` bars before the last; -1 when there are too few bars. */
static int sma(const hydra_symbol_view *v, uint32_t n, uint32_t back, double *out)
{
    if (v == NULL || v->n_bars < n + back)
        return -1;
    double sum = 0;
    for (uint32_t i = v->n_bars - back - n; i < v->n_bars - back; i++)
        sum += v->bars[i].close;
    *out = sum / n;
    return 0;
}

static const hydra_symbol_view *view(const hydra_bot *bot, const hydra_snapshot *snap)
{
    for (uint32_t i = 0; i < snap->n_symbols; i++)
        if (strcmp(snap->symbols[i]->symbol, bot->symbol) == 0)
            return snap->symbols[i];
    return NULL;
}

static double held(const hydra_bot *bot, const hydra_snapshot *snap)
{
    for (uint32_t i = 0; i < snap->n_positions; i++)
        if (strcmp(snap->positions[i]->symbol, bot->symbol) == 0)
            return snap->positions[i]->qty;
    return 0;
}

static int ma_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                     hydra_bot **out)
{
    int64_t fast = 2, slow = 4, qty = 10, crash = 0;
    if (cfg->n_symbols != 1)
        return HYDRA_BOT_BAD_CONFIG;
    api->param_int(host, "fast", &fast);
    api->param_int(host, "slow", &slow);
    api->param_int(host, "qty", &qty);
    api->param_int(host, "crash", &crash);
    hydra_bot *bot = calloc(1, sizeof *bot);
    if (bot == NULL)
        return HYDRA_BOT_ERROR;
    snprintf(bot->symbol, sizeof bot->symbol, "%s", cfg->symbols[0]);
    bot->fast = (uint32_t)fast;
    bot->slow = (uint32_t)slow;
    bot->qty = (double)qty;
    bot->crash = crash == 1;
    *out = bot;
    return HYDRA_BOT_OK;
}

static void ma_destroy(hydra_bot *bot)
{
    free(bot);
}

static hydra_intent order(const hydra_bot *bot, uint32_t kind, uint32_t side, double qty)
{
    hydra_intent in;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.kind = kind;
    in.side = side;
    in.type = HYDRA_ORDER_MARKET;
    in.asset_class = HYDRA_ASSET_EQUITY;
    snprintf(in.symbol, sizeof in.symbol, "%s", bot->symbol);
    in.qty = qty;
    snprintf(in.reason, sizeof in.reason, "sma%u vs sma%u", bot->fast, bot->slow);
    return in;
}

static int ma_manage(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    double f, s, q = held(bot, snap);
    const hydra_symbol_view *v = view(bot, snap);
    if (q <= 0 || sma(v, bot->fast, 0, &f) != 0 || sma(v, bot->slow, 0, &s) != 0 || !(f < s))
        return 0;
    hydra_intent in = order(bot, HYDRA_INTENT_EXIT, HYDRA_SIDE_SELL, q);
    hydra_intent_push(out, &in);
    return 0;
}

static int ma_on_tick(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    double f, s, pf, ps;
    const hydra_symbol_view *v = view(bot, snap);
    if (bot->crash)
        raise(SIGSEGV);
    if (held(bot, snap) > 0 || sma(v, bot->fast, 0, &f) != 0 || sma(v, bot->slow, 0, &s) != 0 ||
        sma(v, bot->fast, 1, &pf) != 0 || sma(v, bot->slow, 1, &ps) != 0)
        return 0;
    if (!(f > s && pf <= ps))
        return 0;
    hydra_intent in = order(bot, HYDRA_INTENT_ENTRY, HYDRA_SIDE_BUY, bot->qty);
    hydra_intent_push(out, &in);
    return 0;
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = "ma_cross",
    .version = "1.0.0",
    .description = "Test bot: moving-average crossover, long only",
    .asset_classes = HYDRA_ASSET_EQUITY,
    .create = ma_create,
    .destroy = ma_destroy,
    .manage = ma_manage,
    .on_tick = ma_on_tick,
    .on_fill = NULL,
};
