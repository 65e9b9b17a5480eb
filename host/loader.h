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
#include <stdint.h>

#include <hydra/plugin.h>

#include "config.h"

/*
 * An open plugin. `entry` is a host-owned copy of the plugin's exported
 * descriptor, zero-extended to this host's sizeof(hydra_plugin): a field the
 * plugin's struct_size does not cover (an older plugin) reads as 0/NULL, so
 * the host can call through it without checking sizes. Its string pointers
 * point into the plugin and stay valid until hydra_plugin_close().
 */
typedef struct hydra_plugin_handle {
    void *dl;                    /* dlopen handle */
    const hydra_plugin *entry;   /* host-owned copy of the plugin's entry (see above) */
    char path[HYDRA_PATH_LEN];
} hydra_plugin_handle;

/*
 * Opens and checks one plugin file. Returns 0, or a negative code with a
 * message naming the file and the reason in err; on failure *out holds
 * nothing that needs closing. [host-thread]
 */
int hydra_plugin_open(const char *path, hydra_plugin_handle *out, char *err, size_t errsz);
/* Releases everything hydra_plugin_open() took. Safe on a zeroed or closed handle. */
void hydra_plugin_close(hydra_plugin_handle *h);

/*
 * "<dir>/<name>.so" into out. Returns 0, or HYDRA_EINVAL when it does not fit
 * or name is not a plain id (empty, ".", "..", or containing '/').
 */
int hydra_plugin_path(const char *dir, const char *name, char *out, size_t outsz);

/*
 * What backs the host API for a bot: the engine wires these to its JSONL log
 * and SQLite state; a worker process wires them to its socket. Any member
 * may be NULL: log lines are then dropped and state calls fail.
 */
typedef struct hydra_host_services {
    void (*log)(void *ctx, const char *bot_id, int level, const char *event, const char *message);
    int (*kv_get)(void *ctx, const char *bot_id, const char *key, char *buf, size_t bufsz);
    int (*kv_set)(void *ctx, const char *bot_id, const char *key, const char *value);
    /*
     * Backs hydra.options-chain/1 (NULL: the extension is not offered): the
     * contracts on `underlying` of the kinds in `rights` that the bot's
     * chain_rules admit now. Fills up to cap views (their strings need to
     * stay valid only until the next service call: the loader copies them)
     * and returns how many are admitted, or negative when the chain cannot
     * be read.
     */
    int (*option_chain)(void *ctx, const char *bot_id, const char *underlying, uint32_t rights,
                        hydra_option_view *out, uint32_t cap);
    void *ctx;
} hydra_host_services;

/* Limits of one bot state entry (plugin.h documents them to bot authors). */
#define HYDRA_BOT_STATE_KEY_MAX 128
#define HYDRA_BOT_STATE_VALUE_MAX 4096

/* The most contracts one chain request returns to a bot. */
#define HYDRA_CHAIN_VIEW_MAX 4096u

/* The views of the last chain request, with their own copies of the strings. */
typedef struct hydra_chain_store {
    hydra_option_view views[HYDRA_CHAIN_VIEW_MAX];
    char symbols[HYDRA_CHAIN_VIEW_MAX][32];
    char underlying[16];
} hydra_chain_store;

/* The host side of one bot instance; plugins see it as the opaque hydra_host. */
struct hydra_host {
    const hydra_bot_cfg *cfg;          /* owned by the engine's configuration */
    const hydra_host_services *svc;    /* may be NULL */
    int asks_chain;                    /* took hydra.options-chain/1: no chain in its snapshots */
    hydra_chain_store *chain;          /* allocated when the extension is taken */
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
 * nothing is left open and err says which file and why. The plugin keeps
 * &inst->host until destroy, so inst must not move while loaded, and cfg
 * and svc must outlive it. [host-thread]
 */
int hydra_bot_load(hydra_bot_instance *inst, const char *plugins_dir, const hydra_bot_cfg *cfg,
                   const hydra_host_services *svc, char *err, size_t errsz);
void hydra_bot_unload(hydra_bot_instance *inst);

/*
 * Copies intent i of a buffer a plugin filled into *out, honouring the
 * item's struct_size: fields the plugin did not know read as 0/"" and the
 * strings are NUL-terminated. Returns 0, HYDRA_EINVAL for a bad index or
 * buffer, or HYDRA_EPLUGIN when the item's struct_size is too small to hold
 * an order's fields or larger than the buffer's item_size.
 */
int hydra_intent_read(const hydra_intent_buf *buf, uint32_t i, hydra_intent *out);

/* Fills a hydra_bot_config view of cfg (pointers into cfg and into `symbols`, which needs
 * HYDRA_MAX_BOT_SYMBOLS slots). */
void hydra_bot_config_view(const hydra_bot_cfg *cfg, const char **symbols, hydra_bot_config *out);

#endif
