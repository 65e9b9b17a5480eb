/*
 * Plugin loading, the host API table and in-process bot instances.
 *
 * The loader trusts nothing in a file until it has checked it: the path is
 * checked before dlopen, the ABI version is read before any plugin code
 * runs, and the descriptor is copied into host memory so that every field
 * the plugin's struct_size does not cover reads as 0/NULL.
 */
#define _GNU_SOURCE
#include "loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"

/*
 * Every hydra_plugin of ABI 1.x covers at least the required callbacks;
 * fields after on_tick (on_fill, later additions) are optional and default
 * to NULL when the plugin's struct_size does not reach them.
 */
#define PLUGIN_MIN_SIZE (offsetof(hydra_plugin, on_tick) + sizeof(((hydra_plugin *)0)->on_tick))

/* A struct_size above this is garbage, not a future minor version. */
#define PLUGIN_MAX_SIZE (64u * 1024u)

/* Every intent must carry the fields an order needs; reason is optional. */
#define INTENT_MIN_SIZE (offsetof(hydra_intent, limit_price) + sizeof(double))

/* Limits the host API documents for bot-scoped state. */
#define STATE_KEY_MAX HYDRA_BOT_STATE_KEY_MAX
#define STATE_VALUE_MAX HYDRA_BOT_STATE_VALUE_MAX

static void set_err(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errsz, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || errsz == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

/* ---- opening a plugin ---------------------------------------------------- */

/* Names the first required callback that is NULL, or returns NULL when all are set. */
static const char *missing_callback(const hydra_plugin *p)
{
    if (p->create == NULL)
        return "create";
    if (p->destroy == NULL)
        return "destroy";
    if (p->manage == NULL)
        return "manage";
    if (p->on_tick == NULL)
        return "on_tick";
    return NULL;
}

int hydra_plugin_open(const char *path, hydra_plugin_handle *out, char *err, size_t errsz)
{
    struct stat st;
    const hydra_abi_version host_abi = HYDRA_ABI_VERSION_INIT;
    hydra_abi_version abi;
    const unsigned char *raw;
    hydra_plugin *desc = NULL;
    const char *missing;
    uint32_t size;
    void *dl = NULL;
    size_t len;

    if (out == NULL) {
        set_err(err, errsz, "plugin handle is NULL");
        return HYDRA_EINVAL;
    }
    memset(out, 0, sizeof *out);

    /* Reject bad paths before dlopen, which would search LD_LIBRARY_PATH for a bare name. */
    if (path == NULL || path[0] == '\0') {
        set_err(err, errsz, "plugin path is empty");
        return HYDRA_EINVAL;
    }
    len = strlen(path);
    if (len >= sizeof out->path) {
        set_err(err, errsz, "%.64s...: plugin path is %zu bytes, longer than the limit of %zu", path,
                len, sizeof out->path - 1);
        return HYDRA_EINVAL;
    }
    if (strchr(path, '/') == NULL) {
        set_err(err, errsz, "%s: plugin path must contain a '/' (use ./%s for the current directory)",
                path, path);
        return HYDRA_EINVAL;
    }
    if (stat(path, &st) != 0) {
        set_err(err, errsz, "%s: cannot open plugin: %s", path, strerror(errno));
        return HYDRA_ENOTFOUND;
    }
    if (!S_ISREG(st.st_mode)) {
        set_err(err, errsz, "%s: not a regular file", path);
        return HYDRA_EPLUGIN;
    }

    dlerror();
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        const char *why = dlerror();
        set_err(err, errsz, "%s: not a loadable shared object: %s", path, why ? why : "dlopen failed");
        return HYDRA_EPLUGIN;
    }

    dlerror();
    raw = dlsym(dl, HYDRA_PLUGIN_ENTRY_SYMBOL);
    if (raw == NULL) {
        set_err(err, errsz, "%s: no %s symbol (not a Hydra plugin)", path, HYDRA_PLUGIN_ENTRY_SYMBOL);
        goto fail;
    }

    /* The version comes first and is read before anything else is trusted. */
    memcpy(&abi, raw, sizeof abi);
    if (!hydra_version_is_compatible(host_abi, abi)) {
        set_err(err, errsz,
                "%s: ABI version %u.%u.%u is not compatible with this host's %u.%u.%u (major versions differ)",
                path, (unsigned)abi.major, (unsigned)abi.minor, (unsigned)abi.patch,
                (unsigned)host_abi.major, (unsigned)host_abi.minor, (unsigned)host_abi.patch);
        goto fail;
    }

    memcpy(&size, raw + offsetof(hydra_plugin, struct_size), sizeof size);
    if (size < PLUGIN_MIN_SIZE || size > PLUGIN_MAX_SIZE) {
        set_err(err, errsz, "%s: hydra_plugin struct_size %u is invalid (ABI %u.x needs %zu to %u bytes)",
                path, (unsigned)size, (unsigned)host_abi.major, (size_t)PLUGIN_MIN_SIZE,
                (unsigned)PLUGIN_MAX_SIZE);
        goto fail;
    }

    /* Copy what the plugin declared; anything it did not declare stays NULL. */
    desc = calloc(1, sizeof *desc);
    if (desc == NULL) {
        set_err(err, errsz, "%s: out of memory", path);
        goto fail;
    }
    memcpy(desc, raw, size < sizeof *desc ? size : sizeof *desc);

    missing = missing_callback(desc);
    if (missing != NULL) {
        set_err(err, errsz, "%s: required callback %s is NULL", path, missing);
        goto fail;
    }
    if (desc->name == NULL || desc->name[0] == '\0') {
        set_err(err, errsz, "%s: plugin name is empty", path);
        goto fail;
    }

    out->dl = dl;
    out->entry = desc;
    memcpy(out->path, path, len + 1);
    return 0;

fail:
    free(desc);
    dlclose(dl);
    return HYDRA_EPLUGIN;
}

void hydra_plugin_close(hydra_plugin_handle *h)
{
    if (h == NULL)
        return;
    free((void *)h->entry);
    if (h->dl != NULL)
        dlclose(h->dl);
    memset(h, 0, sizeof *h);
}

int hydra_plugin_path(const char *dir, const char *name, char *out, size_t outsz)
{
    int n;
    if (dir == NULL || dir[0] == '\0' || name == NULL || name[0] == '\0' || out == NULL ||
        outsz == 0)
        return HYDRA_EINVAL;
    /* A plugin name is an id, never a path: it cannot climb out of the plugins directory. */
    if (strchr(name, '/') != NULL || strcmp(name, "..") == 0 || strcmp(name, ".") == 0)
        return HYDRA_EINVAL;
    size_t dl = strlen(dir);
    n = snprintf(out, outsz, "%s%s%s.so", dir, dir[dl - 1] == '/' ? "" : "/", name);
    if (n < 0 || (size_t)n >= outsz) {
        out[0] = '\0';
        return HYDRA_EINVAL;
    }
    return 0;
}

/* ---- the host API -------------------------------------------------------- */

/* Params are few (at most HYDRA_MAX_PARAMS); a linear walk is clear and fast enough. */
static const hydra_param *find_param(const hydra_host *host, const char *key)
{
    int i;
    if (host == NULL || host->cfg == NULL || key == NULL)
        return NULL;
    for (i = 0; i < host->cfg->n_params && i < HYDRA_MAX_PARAMS; i++) {
        if (strcmp(host->cfg->params[i].key, key) == 0)
            return &host->cfg->params[i];
    }
    return NULL;
}

static const char *bot_id_of(const hydra_host *host)
{
    return host != NULL && host->cfg != NULL ? host->cfg->bot_id : "";
}

static void api_log(hydra_host *host, int level, const char *event, const char *message)
{
    if (host == NULL || host->svc == NULL || host->svc->log == NULL)
        return;
    host->svc->log(host->svc->ctx, bot_id_of(host), level, event ? event : "bot",
                   message ? message : "");
}

static int api_state_get(hydra_host *host, const char *key, char *buf, size_t bufsz)
{
    if (key == NULL || buf == NULL || bufsz == 0 || strlen(key) > STATE_KEY_MAX)
        return HYDRA_PARAM_MISSING;
    if (host == NULL || host->svc == NULL || host->svc->kv_get == NULL)
        return HYDRA_PARAM_MISSING;
    return host->svc->kv_get(host->svc->ctx, bot_id_of(host), key, buf, bufsz);
}

static int api_state_set(hydra_host *host, const char *key, const char *value)
{
    if (key == NULL || value == NULL || key[0] == '\0')
        return HYDRA_BOT_ERROR;
    if (strlen(key) > STATE_KEY_MAX || strlen(value) > STATE_VALUE_MAX)
        return HYDRA_PARAM_SPACE;
    if (host == NULL || host->svc == NULL || host->svc->kv_set == NULL)
        return HYDRA_BOT_ERROR;
    return host->svc->kv_set(host->svc->ctx, bot_id_of(host), key, value);
}

static int api_param_double(hydra_host *host, const char *key, double *out)
{
    const hydra_param *p = find_param(host, key);
    if (p == NULL || out == NULL)
        return HYDRA_PARAM_MISSING;
    if (p->type == HYDRA_PARAM_DOUBLE)
        *out = p->d;
    else if (p->type == HYDRA_PARAM_INT)
        *out = (double)p->i;
    else
        return HYDRA_PARAM_TYPE;
    return HYDRA_PARAM_OK;
}

static int api_param_int(hydra_host *host, const char *key, int64_t *out)
{
    const hydra_param *p = find_param(host, key);
    if (p == NULL || out == NULL)
        return HYDRA_PARAM_MISSING;
    /* A double is not silently truncated: 2.5 bars is a configuration mistake. */
    if (p->type != HYDRA_PARAM_INT)
        return HYDRA_PARAM_TYPE;
    *out = (int64_t)p->i;
    return HYDRA_PARAM_OK;
}

static int api_param_bool(hydra_host *host, const char *key, int *out)
{
    const hydra_param *p = find_param(host, key);
    if (p == NULL || out == NULL)
        return HYDRA_PARAM_MISSING;
    if (p->type == HYDRA_PARAM_BOOL) {
        *out = p->b ? 1 : 0;
        return HYDRA_PARAM_OK;
    }
    /* A quoted "true" or "false" is still plainly a boolean. */
    if (strcmp(p->s, "true") == 0 || strcmp(p->s, "false") == 0) {
        *out = p->s[0] == 't';
        return HYDRA_PARAM_OK;
    }
    return HYDRA_PARAM_TYPE;
}

static int api_param_string(hydra_host *host, const char *key, char *buf, size_t bufsz)
{
    const hydra_param *p = find_param(host, key);
    size_t n;
    if (p == NULL || buf == NULL)
        return HYDRA_PARAM_MISSING;
    n = strnlen(p->s, sizeof p->s);
    if (n >= bufsz)
        return HYDRA_PARAM_SPACE;
    memcpy(buf, p->s, n);
    buf[n] = '\0';
    return HYDRA_PARAM_OK;
}

static int api_options_chain(hydra_host *host, const char *underlying, uint32_t rights,
                             const hydra_option_view **out, uint32_t cap)
{
    if (host == NULL || host->chain == NULL || host->svc == NULL ||
        host->svc->option_chain == NULL || underlying == NULL || (out == NULL && cap > 0) ||
        rights == 0 || (rights & ~(uint32_t)(HYDRA_CHAIN_CALLS | HYDRA_CHAIN_PUTS)) != 0)
        return HYDRA_BOT_ERROR;
    hydra_chain_store *st = host->chain;
    size_t len = strlen(underlying);
    if (len == 0 || len >= sizeof st->underlying)
        return HYDRA_BOT_ERROR;
    uint32_t want = cap < HYDRA_CHAIN_VIEW_MAX ? cap : HYDRA_CHAIN_VIEW_MAX;
    int total = host->svc->option_chain(host->svc->ctx, bot_id_of(host), underlying, rights,
                                        st->views, want);
    if (total < 0)
        return total;
    /* The service's strings last only until its next call: the bot gets copies. */
    memcpy(st->underlying, underlying, len + 1);
    uint32_t got = (uint32_t)total < want ? (uint32_t)total : want;
    for (uint32_t i = 0; i < got; i++) {
        hydra_option_view *v = &st->views[i];
        const char *sym = v->symbol != NULL ? v->symbol : "";
        size_t n = strnlen(sym, sizeof st->symbols[i] - 1);
        memcpy(st->symbols[i], sym, n);
        st->symbols[i][n] = '\0';
        v->symbol = st->symbols[i];
        v->underlying = st->underlying;
        out[i] = v;
    }
    return total;
}

static const hydra_ext_options_chain ext_options_chain = {
    .struct_size = sizeof(hydra_ext_options_chain),
    .chain = api_options_chain,
};

/*
 * hydra.options-chain/1 is offered when the host behind the bot can price
 * chains. Taking it is how a bot says it asks for contracts itself, so its
 * snapshots stop carrying the chain.
 */
static const void *api_get_extension(hydra_host *host, const char *id)
{
    if (host == NULL || id == NULL || strcmp(id, HYDRA_EXT_OPTIONS_CHAIN) != 0 ||
        host->svc == NULL || host->svc->option_chain == NULL)
        return NULL;
    if (host->chain == NULL && (host->chain = calloc(1, sizeof *host->chain)) == NULL)
        return NULL;
    host->asks_chain = 1;
    return &ext_options_chain;
}

static const hydra_host_api host_api_v1 = {
    .struct_size = sizeof(hydra_host_api),
    .abi = HYDRA_ABI_VERSION_INIT,
    .log = api_log,
    .state_get = api_state_get,
    .state_set = api_state_set,
    .param_double = api_param_double,
    .param_int = api_param_int,
    .param_bool = api_param_bool,
    .param_string = api_param_string,
    .get_extension = api_get_extension,
};

const hydra_host_api *hydra_host_api_v1(void)
{
    return &host_api_v1;
}

/* ---- bot instances ------------------------------------------------------- */

void hydra_bot_config_view(const hydra_bot_cfg *cfg, const char **symbols, hydra_bot_config *out)
{
    int i, n;
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    n = cfg->n_symbols < HYDRA_MAX_BOT_SYMBOLS ? cfg->n_symbols : HYDRA_MAX_BOT_SYMBOLS;
    for (i = 0; i < n; i++)
        symbols[i] = cfg->symbols[i];
    out->asset_classes = cfg->asset_class;
    out->bot_id = cfg->bot_id;
    out->signal_mode = cfg->signal_mode;
    out->symbols = symbols;
    out->n_symbols = n > 0 ? (uint32_t)n : 0;
    out->default_tif = cfg->tif > 0 ? (uint32_t)cfg->tif : 0;
    out->default_order_type = cfg->order_type > 0 ? (uint32_t)cfg->order_type : 0;
    out->use_notional = cfg->use_notional ? 1 : 0;
    out->default_notional_usd = cfg->default_notional_usd;
}

int hydra_bot_load(hydra_bot_instance *inst, const char *plugins_dir, const hydra_bot_cfg *cfg,
                   const hydra_host_services *svc, char *err, size_t errsz)
{
    char path[HYDRA_PATH_LEN];
    const char *symbols[HYDRA_MAX_BOT_SYMBOLS];
    hydra_bot_config view;
    hydra_bot *bot = NULL;
    int rc;

    if (inst == NULL || cfg == NULL) {
        set_err(err, errsz, "bot instance or configuration is NULL");
        return HYDRA_EINVAL;
    }
    memset(inst, 0, sizeof *inst);

    if (hydra_plugin_path(plugins_dir, cfg->plugin, path, sizeof path) != 0) {
        set_err(err, errsz, "bot %s: plugin name \"%s\" in directory \"%s\" is not a valid plugin path",
                cfg->bot_id, cfg->plugin, plugins_dir ? plugins_dir : "");
        return HYDRA_EINVAL;
    }
    rc = hydra_plugin_open(path, &inst->plugin, err, errsz);
    if (rc != 0)
        return rc;

    inst->host.cfg = cfg;
    inst->host.svc = svc;
    hydra_bot_config_view(cfg, symbols, &view);

    rc = inst->plugin.entry->create(hydra_host_api_v1(), &inst->host, &view, &bot);
    if (rc != 0 || bot == NULL) {
        /* The contract says a failed create leaves nothing behind, so destroy is not called. */
        set_err(err, errsz, "%s: create failed for bot %s (status %d%s)", path, cfg->bot_id, rc,
                rc == 0 ? ", no instance returned" : "");
        goto fail;
    }
    inst->bot = bot;
    return 0;

fail:
    hydra_plugin_close(&inst->plugin);
    free(inst->host.chain);
    memset(inst, 0, sizeof *inst);
    return HYDRA_EPLUGIN;
}

void hydra_bot_unload(hydra_bot_instance *inst)
{
    if (inst == NULL)
        return;
    if (inst->bot != NULL && inst->plugin.entry != NULL)
        inst->plugin.entry->destroy(inst->bot);
    hydra_plugin_close(&inst->plugin);
    free(inst->host.chain);
    memset(inst, 0, sizeof *inst);
}

int hydra_intent_read(const hydra_intent_buf *buf, uint32_t i, hydra_intent *out)
{
    const unsigned char *item;
    uint32_t size;

    if (buf == NULL || out == NULL || buf->items == NULL || i >= buf->count ||
        buf->count > buf->capacity || buf->item_size < sizeof(uint32_t))
        return HYDRA_EINVAL;
    item = (const unsigned char *)buf->items + (size_t)i * buf->item_size;
    memcpy(&size, item, sizeof size);
    if (size < INTENT_MIN_SIZE || size > buf->item_size)
        return HYDRA_EPLUGIN;

    memset(out, 0, sizeof *out);
    memcpy(out, item, size < sizeof *out ? size : sizeof *out);
    out->struct_size = sizeof *out;
    /* Strings from a plugin are terminated here so no reader runs off the end. */
    out->symbol[sizeof out->symbol - 1] = '\0';
    out->reason[sizeof out->reason - 1] = '\0';
    return 0;
}
