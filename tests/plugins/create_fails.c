/* A plugin whose create always refuses its configuration, after saying why. */
#include <stdlib.h>

#include <hydra/plugin.h>

static int cf_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                     hydra_bot **out)
{
    (void)cfg;
    *out = NULL;
    api->log(host, HYDRA_LOG_ERROR, "bot_config_error", "create_fails: this bot never accepts a config");
    return HYDRA_BOT_BAD_CONFIG;
}

/* Never reached: the host must not destroy what create did not make. */
static void cf_destroy(hydra_bot *bot)
{
    (void)bot;
    abort();
}

static int cf_call(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    (void)bot, (void)snap, (void)out;
    abort();
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = "create_fails",
    .version = "1.0.0",
    .description = "Test plugin whose create fails",
    .asset_classes = HYDRA_ASSET_EQUITY,
    .create = cf_create,
    .destroy = cf_destroy,
    .manage = cf_call,
    .on_tick = cf_call,
};
