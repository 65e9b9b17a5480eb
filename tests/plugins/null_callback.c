/* A plugin that forgot a required callback (on_tick). The host refuses it at load. */
#include <stdlib.h>

#include <hydra/plugin.h>

struct hydra_bot {
    int unused;
};

static int nc_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                     hydra_bot **out)
{
    (void)api, (void)host, (void)cfg;
    *out = calloc(1, sizeof **out);
    return *out != NULL ? 0 : HYDRA_BOT_ERROR;
}

static void nc_destroy(hydra_bot *bot)
{
    free(bot);
}

static int nc_manage(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    (void)bot, (void)snap, (void)out;
    return 0;
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = "null_callback",
    .version = "1.0.0",
    .description = "Test plugin without on_tick",
    .asset_classes = HYDRA_ASSET_EQUITY,
    .create = nc_create,
    .destroy = nc_destroy,
    .manage = nc_manage,
    .on_tick = NULL,
};
