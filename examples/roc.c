/*
 * Example bot: rate of change, long only, with the host's percent exits.
 *
 * signal.mode "roc"; params bars (default 20), entry_pct (0), qty (100).
 * For every symbol the bot trades, on the last completed bar: nothing held
 * and the rate of change over `bars` bars, (close / close `bars` bars
 * earlier - 1) x 100, rose above entry_pct (above now, at or below one bar
 * earlier): a market buy of qty. The bot never sells: the exits are the
 * host's, from bots.yaml (examples/config/bots.yaml: stop_loss_pct 5,
 * take_profit_pct 10), checked on every bar's close, so an exit fills at
 * the next bar's open.
 */
#include <stdlib.h>
#include <string.h>

#include <hydra/indicators.h>
#include <hydra/plugin.h>

/* The host shows a bot the last 120 bars of each symbol (sdk/README.md). */
#define MAX_WINDOW 118

struct hydra_bot {
    uint32_t bars;
    double entry_pct, qty;
};

/* Rate of change in percent, `back` bars before the last; 0 when there are too few bars. */
static int roc(const hydra_symbol_view *v, uint32_t n, uint32_t back, double *out)
{
    hydra_series closes = hydra_series_closes(v->bars, v->n_bars);
    return hydra_roc_pct(hydra_series_drop(closes, back), n, out) == 0;
}

static int roc_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                      hydra_bot **out)
{
    int64_t bars = 20, qty = 100;
    double entry = 0;
    *out = NULL;
    if (api->param_int(host, "bars", &bars) == HYDRA_PARAM_TYPE ||
        api->param_int(host, "qty", &qty) == HYDRA_PARAM_TYPE ||
        api->param_double(host, "entry_pct", &entry) == HYDRA_PARAM_TYPE || bars < 1 ||
        bars > MAX_WINDOW || qty < 1 || cfg->n_symbols < 1) {
        api->log(host, HYDRA_LOG_ERROR, "bot_config_error",
                 "roc: needs symbols, 1 <= bars <= 118, qty >= 1, a number entry_pct");
        return HYDRA_BOT_BAD_CONFIG;
    }
    hydra_bot *bot = calloc(1, sizeof *bot);
    if (bot == NULL)
        return HYDRA_BOT_ERROR;
    bot->bars = (uint32_t)bars;
    bot->entry_pct = entry;
    bot->qty = (double)qty;
    *out = bot;
    return HYDRA_BOT_OK;
}

static void roc_destroy(hydra_bot *bot)
{
    free(bot);
}

static int roc_manage(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    (void)bot;
    (void)snap;
    (void)out;
    return 0; /* exits are the host's */
}

static int held(const hydra_snapshot *snap, const char *symbol)
{
    for (uint32_t i = 0; i < snap->n_positions; i++)
        if (strcmp(snap->positions[i]->symbol, symbol) == 0 && snap->positions[i]->qty > 0)
            return 1;
    return 0;
}

static int roc_on_tick(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    for (uint32_t k = 0; k < snap->n_symbols; k++) {
        const hydra_symbol_view *v = snap->symbols[k];
        double now, before;
        if (held(snap, v->symbol) || !roc(v, bot->bars, 0, &now) || !roc(v, bot->bars, 1, &before) ||
            !(now > bot->entry_pct && before <= bot->entry_pct))
            continue;
        hydra_intent in;
        memset(&in, 0, sizeof in);
        in.struct_size = sizeof in;
        in.kind = HYDRA_INTENT_ENTRY;
        in.side = HYDRA_SIDE_BUY;
        in.type = HYDRA_ORDER_MARKET;
        in.asset_class = HYDRA_ASSET_EQUITY;
        strncpy(in.symbol, v->symbol, sizeof in.symbol - 1);
        in.qty = bot->qty;
        strncpy(in.reason, "rate of change rose above entry_pct", sizeof in.reason - 1);
        hydra_intent_push(out, &in);
    }
    return 0;
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = "roc",
    .version = "1.0.0",
    .description = "Example: rate of change entry, host stop loss and take profit",
    .asset_classes = HYDRA_ASSET_EQUITY,
    .create = roc_create,
    .destroy = roc_destroy,
    .manage = roc_manage,
    .on_tick = roc_on_tick,
    .on_fill = NULL,
};
