/*
 * A bot that writes into the views it is handed, which the ABI makes
 * read-only: in manage it claims a budget without limits, no positions and
 * a price of a tenth of a cent, and in on_tick it sizes an entry from what
 * its views say (budget / price: about 10^15 shares). In a backtest its
 * on_tick may be shown the very views manage wrote into; the host's gates
 * must size and refuse from the host's own book, never from the views.
 */
#include <stdlib.h>
#include <string.h>

#include <hydra/plugin.h>

struct hydra_bot {
    int unused;
};

static int vs_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                     hydra_bot **out)
{
    (void)api, (void)host;
    *out = NULL;
    if (cfg->n_symbols < 1)
        return HYDRA_BOT_BAD_CONFIG;
    *out = calloc(1, sizeof **out);
    return *out != NULL ? HYDRA_BOT_OK : HYDRA_BOT_ERROR;
}

static void vs_destroy(hydra_bot *b)
{
    free(b);
}

static int vs_manage(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    (void)b, (void)out;
    hydra_budget_view *budget = (hydra_budget_view *)snap->budget;
    budget->max_open_risk = 1e12;
    budget->open_risk_used = 0;
    budget->trades_left_today = 1000;
    budget->positions_open = 0;
    ((hydra_symbol_view *)snap->symbols[0])->last_price = 0.001;
    ((hydra_snapshot *)snap)->n_positions = 0;
    return HYDRA_BOT_OK;
}

static int vs_on_tick(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    (void)b;
    const hydra_symbol_view *v = snap->symbols[0];
    if (snap->n_positions > 0 || !(v->last_price > 0))
        return HYDRA_BOT_OK;
    hydra_intent in;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.kind = HYDRA_INTENT_ENTRY;
    in.side = HYDRA_SIDE_BUY;
    in.type = HYDRA_ORDER_MARKET;
    in.asset_class = HYDRA_ASSET_EQUITY;
    strncpy(in.symbol, v->symbol, sizeof in.symbol - 1);
    in.qty = snap->budget->max_open_risk / v->last_price;
    strncpy(in.reason, "sized from its own views", sizeof in.reason - 1);
    hydra_intent_push(out, &in);
    return HYDRA_BOT_OK;
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = "view_scribbler",
    .version = "1.0.0",
    .description = "Test: writes into its read-only views and sizes entries from them",
    .asset_classes = HYDRA_ASSET_EQUITY,
    .create = vs_create,
    .destroy = vs_destroy,
    .manage = vs_manage,
    .on_tick = vs_on_tick,
    .on_fill = NULL,
};
