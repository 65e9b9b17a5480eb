/*
 * A bot whose on_tick acts on what its own manage did in the same tick. It
 * shows whether on_tick is handed the book as manage left it:
 *
 *   - on_tick, flat with no working order: a market buy of 1;
 *   - manage, holding with no working sell: a limit sell 90% above the
 *     market (it never fills);
 *   - on_tick, holding: a cancel of every working sell its snapshot shows.
 *
 * With a fresh snapshot every tick it holds places a sell in manage and
 * cancels it in on_tick, so its exits count equals the ticks it held; a
 * stale one (the views manage was shown) hides the sell from on_tick, and
 * the one sell rests for good.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hydra/plugin.h>

struct hydra_bot {
    int unused;
};

static int mtl_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                      hydra_bot **out)
{
    (void)api, (void)host;
    *out = NULL;
    if (cfg->n_symbols < 1)
        return HYDRA_BOT_BAD_CONFIG;
    *out = calloc(1, sizeof **out);
    return *out != NULL ? HYDRA_BOT_OK : HYDRA_BOT_ERROR;
}

static void mtl_destroy(hydra_bot *b)
{
    free(b);
}

static int working_sells(const hydra_snapshot *snap)
{
    int n = 0;
    for (uint32_t i = 0; i < snap->n_orders; i++)
        n += snap->orders[i]->side == HYDRA_SIDE_SELL;
    return n;
}

static void push(hydra_intent_buf *out, const hydra_symbol_view *v, uint32_t kind, uint32_t side,
                 uint32_t type, double limit)
{
    hydra_intent in;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.kind = kind;
    in.side = side;
    in.type = type;
    in.asset_class = HYDRA_ASSET_EQUITY;
    snprintf(in.symbol, sizeof in.symbol, "%s", v->symbol);
    in.qty = 1;
    in.limit_price = limit;
    snprintf(in.reason, sizeof in.reason, "manage_then_look");
    hydra_intent_push(out, &in);
}

static int mtl_manage(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    (void)b;
    const hydra_symbol_view *v = snap->symbols[0];
    if (snap->n_positions > 0 && working_sells(snap) == 0 && v->last_price > 0)
        push(out, v, HYDRA_INTENT_EXIT, HYDRA_SIDE_SELL, HYDRA_ORDER_LIMIT, v->last_price * 1.9);
    return HYDRA_BOT_OK;
}

static int mtl_on_tick(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    (void)b;
    if (snap->n_positions == 0) {
        if (snap->n_orders == 0)
            push(out, snap->symbols[0], HYDRA_INTENT_ENTRY, HYDRA_SIDE_BUY, HYDRA_ORDER_MARKET, 0);
        return HYDRA_BOT_OK;
    }
    for (uint32_t i = 0; i < snap->n_orders; i++) {
        if (snap->orders[i]->side != HYDRA_SIDE_SELL)
            continue;
        hydra_intent in;
        memset(&in, 0, sizeof in);
        in.struct_size = sizeof in;
        in.kind = HYDRA_INTENT_CANCEL;
        snprintf(in.client_order_id, sizeof in.client_order_id, "%s",
                 snap->orders[i]->client_order_id);
        hydra_intent_push(out, &in);
    }
    return HYDRA_BOT_OK;
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = "manage_then_look",
    .version = "1.0.0",
    .description = "Test: on_tick cancels the sell its manage placed in the same tick",
    .asset_classes = HYDRA_ASSET_EQUITY,
    .create = mtl_create,
    .destroy = mtl_destroy,
    .manage = mtl_manage,
    .on_tick = mtl_on_tick,
    .on_fill = NULL,
};
