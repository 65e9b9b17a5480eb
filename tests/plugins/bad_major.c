/*
 * Claims the next major ABI version. The host must refuse it from the
 * version alone: if any of its code ran, the process would abort.
 */
#include <stdlib.h>

#include <hydra/plugin.h>

static int bad_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                      hydra_bot **out)
{
    (void)api, (void)host, (void)cfg, (void)out;
    abort();
}

static void bad_destroy(hydra_bot *bot)
{
    (void)bot;
    abort();
}

static int bad_call(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    (void)bot, (void)snap, (void)out;
    abort();
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = {HYDRA_ABI_MAJOR + 1, 0, 0},
    .struct_size = sizeof(hydra_plugin),
    .name = "bad_major",
    .version = "1.0.0",
    .description = "Test plugin built for a future major ABI",
    .asset_classes = HYDRA_ASSET_EQUITY,
    .create = bad_create,
    .destroy = bad_destroy,
    .manage = bad_call,
    .on_tick = bad_call,
};
