/*
 * Plugin loading and in-process bot instances.
 *
 * hydra_plugin_open() is strict and precise: it rejects empty, overlong or
 * non-regular paths before dlopen, opens with RTLD_NOW | RTLD_LOCAL, finds
 * the one entry symbol, checks the ABI version before calling any plugin
 * code (a different major is refused naming both versions), checks
 * struct_size and that every required callback is present. Each failure
 * names the file and the reason and releases everything taken.
 *
 * A bot instance pairs a loaded plugin with the host-side context that backs
 * the host API (bot-scoped state, params, log) and the plugin's own handle.
 */
#ifndef HYDRA_LOADER_H
#define HYDRA_LOADER_H

#include <stddef.h>

#include <hydra/plugin.h>

#include "config.h"
#include "log.h"
#include "state.h"

typedef struct hydra_plugin_handle {
    void *dl;                    /* dlopen handle */
    const hydra_plugin *entry;   /* the plugin's exported entry */
    char path[HYDRA_PATH_LEN];
} hydra_plugin_handle;

int hydra_plugin_open(const char *path, hydra_plugin_handle *out, char *err, size_t errsz);
void hydra_plugin_close(hydra_plugin_handle *h);

/* "<dir>/<name>.so" into out. Returns 0 or HYDRA_EINVAL when it does not fit. */
int hydra_plugin_path(const char *dir, const char *name, char *out, size_t outsz);

/* The host side of one bot instance; plugins see it as the opaque hydra_host. */
struct hydra_host {
    const hydra_bot_cfg *cfg;   /* owned by the engine's configuration */
    hydra_state *state;         /* bot-scoped key-value; may be NULL (no persistence) */
    hydra_log *log;             /* may be NULL */
};

/* The host API table (static; lives for the process). */
const hydra_host_api *hydra_host_api_v1(void);

typedef struct hydra_bot_instance {
    hydra_plugin_handle plugin;
    struct hydra_host host;
    hydra_bot *bot;             /* the plugin's instance */
} hydra_bot_instance;

/*
 * Loads <plugins_dir>/<cfg->plugin>.so and creates the bot. On failure
 * nothing is left open and err says which file and why.
 */
int hydra_bot_load(hydra_bot_instance *inst, const char *plugins_dir, const hydra_bot_cfg *cfg,
                   hydra_state *state, hydra_log *log, char *err, size_t errsz);
void hydra_bot_unload(hydra_bot_instance *inst);

/* Fills a hydra_bot_config view of cfg (pointers into cfg and into `symbols`, which needs
 * HYDRA_MAX_BOT_SYMBOLS slots). */
void hydra_bot_config_view(const hydra_bot_cfg *cfg, const char **symbols, hydra_bot_config *out);

#endif
