/*
 * A minimal Hydra bot: the starting point for your own.
 *
 * Strategy (signal.mode "template_v1"), deliberately simple: when the last
 * completed bar of the bot's first symbol closed higher than the bar
 * before it, and the bot holds none of it and the budget allows an entry,
 * ask for a market buy of `qty` (signal.params.qty, default 1). Exits are
 * left to the host (stop loss, take profit, time stop from bots.yaml).
 *
 * The rules every bot follows:
 *   - Export exactly one symbol, hydra_plugin_entry (HYDRA_EXPORT); make
 *     everything else static.
 *   - Keep no global mutable state: the host may create many instances in
 *     one process. Put per-instance data in struct hydra_bot.
 *   - The snapshot is valid during the call only; copy what you keep.
 *   - Add intents with hydra_intent_push() only; it never writes past the
 *     host's buffer.
 *   - Never block, sleep or do I/O: the host gives each call a deadline.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <hydra/plugin.h>

struct hydra_bot {
    const hydra_host_api *api; /* valid until destroy */
    hydra_host *host;          /* valid until destroy */
    char symbol[48];
    uint32_t asset_class;
    double qty;
};

static int template_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                           hydra_bot **out)
{
    hydra_bot *bot;
    int64_t qty = 1;

    *out = NULL;
    if (strcmp(cfg->signal_mode, "template_v1") != 0 || cfg->n_symbols < 1 ||
        strlen(cfg->symbols[0]) >= sizeof bot->symbol) {
        api->log(host, HYDRA_LOG_ERROR, "bot_config_error",
                 "template bot: needs signal.mode template_v1 and one symbol");
        return HYDRA_BOT_BAD_CONFIG;
    }
    /* A missing param keeps its default; a wrong one is refused. */
    if (api->param_int(host, "qty", &qty) == HYDRA_PARAM_TYPE || qty < 1) {
        api->log(host, HYDRA_LOG_ERROR, "bot_config_error", "template bot: qty must be an integer >= 1");
        return HYDRA_BOT_BAD_CONFIG;
    }

    bot = calloc(1, sizeof *bot);
    if (bot == NULL)
        return HYDRA_BOT_ERROR;
    bot->api = api;
    bot->host = host;
    strcpy(bot->symbol, cfg->symbols[0]); /* length checked above */
    bot->asset_class = cfg->asset_classes == HYDRA_ASSET_CRYPTO ? HYDRA_ASSET_CRYPTO : HYDRA_ASSET_EQUITY;
    bot->qty = (double)qty;
    *out = bot;
    return HYDRA_BOT_OK;
}

static void template_destroy(hydra_bot *bot)
{
    free(bot);
}

/* Called every tick, even when entries are not allowed. This bot leaves exits to the host. */
static int template_manage(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    (void)bot;
    (void)snap;
    (void)out;
    return 0;
}

static int template_on_tick(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    const hydra_symbol_view *v = NULL;
    hydra_intent in;
    double last, prev;
    uint32_t i;

    for (i = 0; i < snap->n_symbols; i++)
        if (strcmp(snap->symbols[i]->symbol, bot->symbol) == 0)
            v = snap->symbols[i];
    if (v == NULL || v->n_bars < 2)
        return 0;
    for (i = 0; i < snap->n_positions; i++)
        if (strcmp(snap->positions[i]->symbol, bot->symbol) == 0)
            return 0; /* already in */
    /* ABI 1.1: an entry still working is on its way in; never stack another on it. */
    if (HYDRA_COVERS(snap, n_orders))
        for (i = 0; i < snap->n_orders; i++)
            if (snap->orders[i]->kind == HYDRA_INTENT_ENTRY &&
                strcmp(snap->orders[i]->symbol, bot->symbol) == 0)
                return 0;
    if (snap->budget->trades_left_today == 0 ||
        snap->budget->positions_open >= snap->budget->max_concurrent_positions)
        return 0;
    /* A feed can deliver NaN, infinite or non-positive prices: never trade on one. */
    last = v->bars[v->n_bars - 1].close;
    prev = v->bars[v->n_bars - 2].close;
    if (!(last > 0.0 && prev > 0.0 && isfinite(last) && isfinite(prev)) || !(last > prev))
        return 0;

    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.kind = HYDRA_INTENT_ENTRY;
    in.side = HYDRA_SIDE_BUY;
    in.type = HYDRA_ORDER_MARKET;
    in.tif = 0; /* the bot's configured default */
    in.asset_class = bot->asset_class;
    strcpy(in.symbol, bot->symbol);
    in.qty = bot->qty;
    strcpy(in.reason, "last close above the previous close");
    hydra_intent_push(out, &in); /* a full buffer means the host wants no more */
    return 0;
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = "template",
    .version = "1.0.0",
    .description = "Template bot: buys after an up bar",
    .asset_classes = HYDRA_ASSET_EQUITY | HYDRA_ASSET_CRYPTO,
    .create = template_create,
    .destroy = template_destroy,
    .manage = template_manage,
    .on_tick = template_on_tick,
    .on_fill = NULL, /* optional */
};
