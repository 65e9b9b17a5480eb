/*
 * A replacement momentum.so for hot-swap tests: same name, version 2.0.0,
 * a different signal (buy two shares whenever flat). Its create reads the
 * bot's persisted "swap_probe" state and logs it, which shows that bot state
 * in SQLite survives the swap and reaches the new code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hydra/plugin.h>

struct hydra_bot {
    char symbol[48];
};

static int alt_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                      hydra_bot **out)
{
    char probe[128] = "", line[192];
    hydra_bot *b = calloc(1, sizeof *b);
    *out = NULL;
    if (b == NULL || cfg->n_symbols < 1) {
        free(b);
        return HYDRA_BOT_BAD_CONFIG;
    }
    snprintf(b->symbol, sizeof b->symbol, "%s", cfg->symbols[0]);
    if (api->state_get(host, "swap_probe", probe, sizeof probe) != 0)
        snprintf(probe, sizeof probe, "(unset)");
    snprintf(line, sizeof line, "swap_probe=%s", probe);
    api->log(host, HYDRA_LOG_INFO, "alt_created", line);
    *out = b;
    return HYDRA_BOT_OK;
}

static void alt_destroy(hydra_bot *b)
{
    free(b);
}

static int alt_manage(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    (void)b, (void)snap, (void)out;
    return HYDRA_BOT_OK;
}

static int alt_on_tick(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    hydra_intent in;
    if (snap->n_positions > 0 || snap->budget->positions_open > 0)
        return HYDRA_BOT_OK;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.kind = HYDRA_INTENT_ENTRY;
    in.side = HYDRA_SIDE_BUY;
    in.type = HYDRA_ORDER_MARKET;
    snprintf(in.symbol, sizeof in.symbol, "%s", b->symbol);
    in.qty = 2;
    snprintf(in.reason, sizeof in.reason, "alt signal");
    hydra_intent_push(out, &in);
    return HYDRA_BOT_OK;
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = "momentum",
    .version = "2.0.0",
    .description = "Test replacement for momentum.so with a different signal",
    .asset_classes = HYDRA_ASSET_EQUITY,
    .create = alt_create,
    .destroy = alt_destroy,
    .manage = alt_manage,
    .on_tick = alt_on_tick,
};
