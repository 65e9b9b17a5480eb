/*
 * The shipped options bot on a host without hydra.options-chain/1: the same
 * source, created with a copy of the host API whose get_extension offers
 * nothing, so the bot reads its chain from every snapshot as a 1.0 bot
 * does. The tests run it beside the shipped build to show that asking for
 * the chain and receiving it give the same orders.
 */
#define hydra_plugin_entry options_shipped_entry
#include "../../plugins/options/options.c"
#undef hydra_plugin_entry

static hydra_host_api g_api_without_extensions;

static const void *no_extension(hydra_host *host, const char *id)
{
    (void)host;
    (void)id;
    return NULL;
}

static int create_without_extensions(const hydra_host_api *api, hydra_host *host,
                                     const hydra_bot_config *cfg, hydra_bot **out)
{
    if (api == NULL || api->struct_size < sizeof g_api_without_extensions)
        return HYDRA_BOT_ERROR;
    g_api_without_extensions = *api;
    g_api_without_extensions.get_extension = no_extension;
    return options_create(&g_api_without_extensions, host, cfg, out);
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = "options_snapshot",
    .version = "1.0.0",
    .description = "The shipped options bot, reading its chain from the snapshot",
    .asset_classes = HYDRA_ASSET_EQUITY | HYDRA_ASSET_OPTION,
    .create = create_without_extensions,
    .destroy = options_destroy,
    .manage = options_manage,
    .on_tick = options_on_tick,
    .on_fill = NULL,
};
