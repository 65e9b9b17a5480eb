/*
 * The plugin loader: each refusal with its exact message, the host API
 * table (params, log, state, extensions), and compatibility with plugins
 * and hosts of a different size (struct_size honoured both ways).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "botfix.h"
#include "error.h"
#include "loader.h"

#define BROKEN HYDRA_TEST_BROKEN_DIR
#define SHIPPED HYDRA_TEST_PLUGIN_DIR

static char err[1024];

static int open_err(const char *path)
{
    hydra_plugin_handle h;
    int rc;
    err[0] = '\0';
    rc = hydra_plugin_open(path, &h, err, sizeof err);
    /* A refused plugin leaves nothing open. */
    assert_null(h.dl);
    assert_null(h.entry);
    return rc;
}

static void test_refuses_empty_path(void **state)
{
    (void)state;
    assert_int_equal(open_err(""), HYDRA_EINVAL);
    assert_string_equal(err, "plugin path is empty");
    assert_int_equal(open_err(NULL), HYDRA_EINVAL);
    assert_string_equal(err, "plugin path is empty");
}

static void test_refuses_overlong_path(void **state)
{
    char path[700];
    char want[256];
    (void)state;
    memset(path, 'a', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    assert_int_equal(open_err(path), HYDRA_EINVAL);
    snprintf(want, sizeof want, "%.64s...: plugin path is 699 bytes, longer than the limit of 511", path);
    assert_string_equal(err, want);
}

static void test_refuses_bare_name(void **state)
{
    (void)state;
    assert_int_equal(open_err("momentum.so"), HYDRA_EINVAL);
    assert_string_equal(err, "momentum.so: plugin path must contain a '/' (use ./momentum.so for the "
                             "current directory)");
}

static void test_refuses_missing_file(void **state)
{
    (void)state;
    assert_int_equal(open_err(BROKEN "/missing.so"), HYDRA_ENOTFOUND);
    assert_string_equal(err, BROKEN "/missing.so: cannot open plugin: No such file or directory");
}

static void test_refuses_directory(void **state)
{
    (void)state;
    assert_int_equal(open_err(BROKEN), HYDRA_EPLUGIN);
    assert_string_equal(err, BROKEN ": not a regular file");
}

static void test_refuses_not_a_shared_object(void **state)
{
    const char *want = BROKEN "/not_a_so.so: not a loadable shared object: " BROKEN "/not_a_so.so: ";
    (void)state;
    assert_int_equal(open_err(BROKEN "/not_a_so.so"), HYDRA_EPLUGIN);
    assert_memory_equal(err, want, strlen(want));
    assert_non_null(strstr(err, "invalid ELF header"));
}

static void test_refuses_no_entry_symbol(void **state)
{
    (void)state;
    assert_int_equal(open_err(BROKEN "/no_entry.so"), HYDRA_EPLUGIN);
    assert_string_equal(err, BROKEN "/no_entry.so: no hydra_plugin_entry symbol (not a Hydra plugin)");
}

static void test_refuses_wrong_major(void **state)
{
    (void)state;
    /* bad_major.so aborts if any of its code runs: the check must come first. */
    assert_int_equal(open_err(BROKEN "/bad_major.so"), HYDRA_EPLUGIN);
    assert_string_equal(err, BROKEN "/bad_major.so: ABI version 2.0.0 is not compatible with this "
                                    "host's 1.1.0 (major versions differ)");
}

static void test_refuses_null_callback(void **state)
{
    (void)state;
    assert_int_equal(open_err(BROKEN "/null_callback.so"), HYDRA_EPLUGIN);
    assert_string_equal(err, BROKEN "/null_callback.so: required callback on_tick is NULL");
}

static void test_refuses_failed_create(void **state)
{
    hydra_bot_cfg cfg;
    hydra_bot_instance inst;
    fx_log log;
    hydra_host_services svc = fx_services(&log);
    (void)state;
    fx_cfg(&cfg, "mom_AAPL", "create_fails", "roc_trend_v1", HYDRA_ASSET_EQUITY);
    fx_cfg_symbol(&cfg, "AAPL");
    assert_int_equal(hydra_bot_load(&inst, BROKEN, &cfg, &svc, err, sizeof err), HYDRA_EPLUGIN);
    assert_string_equal(err, BROKEN "/create_fails.so: create failed for bot mom_AAPL (status -2)");
    /* The plugin's own reason reached the host's log, with the bot's id. */
    assert_int_equal(log.n, 1);
    assert_string_equal(log.last_bot, "mom_AAPL");
    assert_string_equal(log.last_message, "create_fails: this bot never accepts a config");
    /* Nothing is left open, and unloading the empty instance is harmless. */
    assert_null(inst.plugin.dl);
    assert_null(inst.bot);
    hydra_bot_unload(&inst);
}

static void test_refuses_missing_plugin_by_name(void **state)
{
    hydra_bot_cfg cfg;
    hydra_bot_instance inst;
    (void)state;
    fx_cfg(&cfg, "x1", "nosuchbot", "any", HYDRA_ASSET_EQUITY);
    assert_int_equal(hydra_bot_load(&inst, BROKEN, &cfg, NULL, err, sizeof err), HYDRA_ENOTFOUND);
    assert_string_equal(err, BROKEN "/nosuchbot.so: cannot open plugin: No such file or directory");

    fx_cfg(&cfg, "x2", "../momentum", "any", HYDRA_ASSET_EQUITY);
    assert_int_equal(hydra_bot_load(&inst, BROKEN, &cfg, NULL, err, sizeof err), HYDRA_EINVAL);
    assert_string_equal(err, "bot x2: plugin name \"../momentum\" in directory \"" BROKEN
                             "\" is not a valid plugin path");
}

static void test_plugin_path(void **state)
{
    char out[32];
    (void)state;
    assert_int_equal(hydra_plugin_path("plugins", "momentum", out, sizeof out), 0);
    assert_string_equal(out, "plugins/momentum.so");
    assert_int_equal(hydra_plugin_path("plugins", "a_very_long_plugin_name", out, sizeof out),
                     HYDRA_EINVAL);
    assert_int_equal(hydra_plugin_path("plugins", "", out, sizeof out), HYDRA_EINVAL);
    assert_int_equal(hydra_plugin_path("plugins", "..", out, sizeof out), HYDRA_EINVAL);
    assert_int_equal(hydra_plugin_path("plugins", "a/b", out, sizeof out), HYDRA_EINVAL);
    assert_int_equal(hydra_plugin_path("", "momentum", out, sizeof out), HYDRA_EINVAL);
}

static void test_opens_shipped_plugins(void **state)
{
    static const char *const names[] = {"momentum", "crypto", "options"};
    char path[HYDRA_PATH_LEN];
    size_t i;
    (void)state;
    for (i = 0; i < 3; i++) {
        hydra_plugin_handle h;
        assert_int_equal(hydra_plugin_path(SHIPPED, names[i], path, sizeof path), 0);
        assert_int_equal(hydra_plugin_open(path, &h, err, sizeof err), 0);
        assert_string_equal(h.entry->name, names[i]);
        assert_string_equal(h.entry->version, "1.0.0");
        assert_int_equal(h.entry->abi.major, HYDRA_ABI_MAJOR);
        assert_int_equal(h.entry->struct_size, sizeof(hydra_plugin));
        assert_string_equal(h.path, path);
        hydra_plugin_close(&h);
        assert_null(h.dl);
        hydra_plugin_close(&h); /* closing twice is harmless */
    }
}

static void test_load_unload_repeatedly(void **state)
{
    hydra_bot_cfg cfg;
    hydra_bot_instance inst;
    int i;
    (void)state;
    fx_cfg(&cfg, "mom_AAPL", "momentum", "roc_trend_v1", HYDRA_ASSET_EQUITY);
    fx_cfg_symbol(&cfg, "AAPL");
    for (i = 0; i < 20; i++) {
        assert_int_equal(hydra_bot_load(&inst, SHIPPED, &cfg, NULL, err, sizeof err), 0);
        assert_non_null(inst.bot);
        hydra_bot_unload(&inst);
        assert_null(inst.bot);
    }
}

/* ---- the host API -------------------------------------------------------- */

static void test_host_api_table(void **state)
{
    const hydra_host_api *api = hydra_host_api_v1();
    (void)state;
    assert_int_equal(api->struct_size, sizeof(hydra_host_api));
    assert_int_equal(api->abi.major, HYDRA_ABI_MAJOR);
    assert_int_equal(api->abi.minor, HYDRA_ABI_MINOR);
    assert_true(HYDRA_HAS(api, log));
    assert_true(HYDRA_HAS(api, state_get));
    assert_true(HYDRA_HAS(api, state_set));
    assert_true(HYDRA_HAS(api, param_double));
    assert_true(HYDRA_HAS(api, param_int));
    assert_true(HYDRA_HAS(api, param_bool));
    assert_true(HYDRA_HAS(api, param_string));
    assert_true(HYDRA_HAS(api, get_extension));
}

static void test_host_api_params(void **state)
{
    const hydra_host_api *api = hydra_host_api_v1();
    hydra_bot_cfg cfg;
    hydra_host host = {.cfg = &cfg};
    double d = 0;
    int64_t i = 0;
    int b = -1;
    char s[8];
    (void)state;
    fx_cfg(&cfg, "b1", "x", "m", HYDRA_ASSET_EQUITY);
    fx_cfg_int(&cfg, "bars", 10);
    fx_cfg_double(&cfg, "pct", 0.25);
    fx_cfg_bool(&cfg, "flag", 1);
    fx_cfg_string(&cfg, "quoted_bool", "false");
    fx_cfg_string(&cfg, "name", "abc");
    fx_cfg_string(&cfg, "long", "abcdefghij");

    assert_int_equal(api->param_double(&host, "pct", &d), HYDRA_PARAM_OK);
    assert_true(d == 0.25);
    assert_int_equal(api->param_double(&host, "bars", &d), HYDRA_PARAM_OK); /* int -> double */
    assert_true(d == 10.0);
    assert_int_equal(api->param_double(&host, "name", &d), HYDRA_PARAM_TYPE);
    assert_int_equal(api->param_double(&host, "nope", &d), HYDRA_PARAM_MISSING);

    assert_int_equal(api->param_int(&host, "bars", &i), HYDRA_PARAM_OK);
    assert_int_equal(i, 10);
    assert_int_equal(api->param_int(&host, "pct", &i), HYDRA_PARAM_TYPE); /* never truncated */
    assert_int_equal(api->param_int(&host, "nope", &i), HYDRA_PARAM_MISSING);

    assert_int_equal(api->param_bool(&host, "flag", &b), HYDRA_PARAM_OK);
    assert_int_equal(b, 1);
    assert_int_equal(api->param_bool(&host, "quoted_bool", &b), HYDRA_PARAM_OK);
    assert_int_equal(b, 0);
    assert_int_equal(api->param_bool(&host, "bars", &b), HYDRA_PARAM_TYPE);
    assert_int_equal(api->param_bool(&host, "name", &b), HYDRA_PARAM_TYPE);
    assert_int_equal(api->param_bool(&host, "nope", &b), HYDRA_PARAM_MISSING);

    assert_int_equal(api->param_string(&host, "name", s, sizeof s), HYDRA_PARAM_OK);
    assert_string_equal(s, "abc");
    assert_int_equal(api->param_string(&host, "bars", s, sizeof s), HYDRA_PARAM_OK);
    assert_string_equal(s, "10");
    assert_int_equal(api->param_string(&host, "long", s, sizeof s), HYDRA_PARAM_SPACE);
    assert_int_equal(api->param_string(&host, "name", s, 3), HYDRA_PARAM_SPACE);
    assert_int_equal(api->param_string(&host, "name", s, 4), HYDRA_PARAM_OK);
    assert_int_equal(api->param_string(&host, "nope", s, sizeof s), HYDRA_PARAM_MISSING);

    /* NULL arguments are refused, never dereferenced. */
    assert_int_equal(api->param_double(NULL, "pct", &d), HYDRA_PARAM_MISSING);
    assert_int_equal(api->param_int(&host, NULL, &i), HYDRA_PARAM_MISSING);
    assert_int_equal(api->param_bool(&host, "flag", NULL), HYDRA_PARAM_MISSING);
}

static void test_host_api_log_state_extension(void **state)
{
    const hydra_host_api *api = hydra_host_api_v1();
    hydra_bot_cfg cfg;
    fx_log log;
    hydra_host_services svc = fx_services(&log);
    hydra_host host = {.cfg = &cfg, .svc = &svc};
    hydra_host bare = {.cfg = &cfg};
    char buf[16], big[5000];
    (void)state;
    fx_cfg(&cfg, "b7", "x", "m", HYDRA_ASSET_EQUITY);

    api->log(&host, HYDRA_LOG_INFO, "hello", "a line");
    assert_int_equal(log.n, 1);
    assert_string_equal(log.last_bot, "b7");
    assert_string_equal(log.last_event, "hello");
    assert_string_equal(log.last_message, "a line");
    api->log(&bare, HYDRA_LOG_INFO, "dropped", "no services: dropped silently");
    assert_int_equal(log.n, 1);

    assert_int_equal(api->state_get(&host, "k", buf, sizeof buf), HYDRA_PARAM_MISSING);
    assert_int_equal(api->state_set(&host, "k", "v1"), 0);
    assert_int_equal(api->state_get(&host, "k", buf, sizeof buf), 0);
    assert_string_equal(buf, "v1");
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(api->state_set(&host, "k", big), HYDRA_PARAM_SPACE);
    assert_true(api->state_set(&bare, "k", "v") < 0);
    assert_true(api->state_get(&bare, "k", buf, sizeof buf) < 0);

    /* These services price no chains, so the extension is not offered. */
    assert_null(api->get_extension(&host, "hydra.options-chain/1"));
    assert_false(host.asks_chain);
}

/* A chain service with three admitted contracts whose strings change after every call. */
static char g_chain_sym[3][32];
static char g_chain_under[16];
static int g_chain_calls;
static uint32_t g_chain_rights;

static int fx_option_chain(void *ctx, const char *bot_id, const char *underlying, uint32_t rights,
                           hydra_option_view *out, uint32_t cap)
{
    (void)ctx;
    (void)bot_id;
    g_chain_calls++;
    g_chain_rights = rights;
    if (strcmp(underlying, "SPY") != 0)
        return HYDRA_EINVAL;
    snprintf(g_chain_under, sizeof g_chain_under, "%s", underlying);
    for (uint32_t i = 0; i < 3 && i < cap; i++) {
        snprintf(g_chain_sym[i], sizeof g_chain_sym[i], "SPY260116C0048%d000", (int)i);
        memset(&out[i], 0, sizeof out[i]);
        out[i].struct_size = sizeof out[i];
        out[i].symbol = g_chain_sym[i];
        out[i].underlying = g_chain_under;
        out[i].delta = 0.3 + 0.1 * i;
    }
    return 3;
}

static void test_options_chain_extension(void **state)
{
    const hydra_host_api *api = hydra_host_api_v1();
    hydra_bot_cfg cfg;
    fx_log log;
    hydra_host_services svc = fx_services(&log);
    svc.option_chain = fx_option_chain;
    hydra_host host = {.cfg = &cfg, .svc = &svc};
    const hydra_option_view *got[8];
    (void)state;
    fx_cfg(&cfg, "opt", "x", "m", HYDRA_ASSET_OPTION);

    assert_null(api->get_extension(&host, "hydra.options-chain/2"));
    assert_false(host.asks_chain);
    const hydra_ext_options_chain *ext = api->get_extension(&host, HYDRA_EXT_OPTIONS_CHAIN);
    assert_non_null(ext);
    assert_true(HYDRA_HAS(ext, chain));
    /* Taking the extension is what stops the chain in the snapshots. */
    assert_true(host.asks_chain);

    assert_int_equal(ext->chain(&host, "SPY", HYDRA_CHAIN_CALLS, got, 8), 3);
    assert_int_equal(g_chain_rights, HYDRA_CHAIN_CALLS);
    /* The bot holds copies: the service's own strings may change after it returns. */
    memset(g_chain_sym, 'Z', sizeof g_chain_sym);
    memset(g_chain_under, 'Z', sizeof g_chain_under);
    assert_string_equal(got[0]->symbol, "SPY260116C00480000");
    assert_string_equal(got[2]->symbol, "SPY260116C00482000");
    assert_string_equal(got[1]->underlying, "SPY");
    assert_true(got[2]->delta == 0.5);

    /* A cap below the admitted count: the first cap views, and the full count. */
    got[1] = NULL;
    assert_int_equal(ext->chain(&host, "SPY", HYDRA_CHAIN_CALLS | HYDRA_CHAIN_PUTS, got, 1), 3);
    assert_string_equal(got[0]->symbol, "SPY260116C00480000");
    assert_null(got[1]);

    /* Refused before the service is asked: no rights, unknown rights, no underlying. */
    int calls = g_chain_calls;
    assert_true(ext->chain(&host, "SPY", 0, got, 8) < 0);
    assert_true(ext->chain(&host, "SPY", 4, got, 8) < 0);
    assert_true(ext->chain(&host, NULL, HYDRA_CHAIN_CALLS, got, 8) < 0);
    assert_true(ext->chain(&host, "", HYDRA_CHAIN_CALLS, got, 8) < 0);
    assert_true(ext->chain(&host, "SPY", HYDRA_CHAIN_CALLS, NULL, 8) < 0);
    assert_int_equal(g_chain_calls, calls);
    /* The service's refusal reaches the bot. */
    assert_true(ext->chain(&host, "QQQ", HYDRA_CHAIN_PUTS, got, 8) < 0);
    free(host.chain);
}

/* ---- compatibility ------------------------------------------------------- */

/* A snapshot, host API and intent from a future 1.x host: the same fields plus more at the end. */
struct future_snapshot {
    hydra_snapshot base;
    double added_later[4];
};

struct future_api {
    hydra_host_api base;
    void (*added_later)(hydra_host *);
};

struct future_intent {
    hydra_intent base;
    double added_later[3];
};

static void test_old_plugin_descriptor_is_zero_extended(void **state)
{
    hydra_bot_cfg cfg;
    hydra_bot_instance inst;
    (void)state;
    fx_cfg(&cfg, "old1", "old_struct", "any", HYDRA_ASSET_EQUITY);
    fx_cfg_symbol(&cfg, "AAPL");
    assert_int_equal(hydra_bot_load(&inst, BROKEN, &cfg, NULL, err, sizeof err), 0);
    assert_int_equal(inst.plugin.entry->struct_size, offsetof(hydra_plugin, on_fill));
    assert_string_equal(inst.plugin.entry->name, "old_struct");
    /* The plugin placed an aborting function where on_fill would be; the host must not see it. */
    assert_null(inst.plugin.entry->on_fill);
    hydra_bot_unload(&inst);
}

static void test_old_plugin_under_future_host(void **state)
{
    static const double closes[] = {100, 101};
    hydra_bot_cfg cfg;
    hydra_bot_instance inst;
    fx_snap f;
    struct future_snapshot fs;
    struct future_intent items[2];
    hydra_intent_buf buf = {sizeof buf, sizeof(struct future_intent), 2, 0, items};
    hydra_intent in;
    uint32_t size;
    (void)state;
    fx_cfg(&cfg, "old1", "old_struct", "any", HYDRA_ASSET_EQUITY);
    fx_cfg_symbol(&cfg, "AAPL");
    assert_int_equal(hydra_bot_load(&inst, BROKEN, &cfg, NULL, err, sizeof err), 0);

    fx_snap_init(&f);
    fx_symbol(&f, "AAPL", HYDRA_ASSET_EQUITY, closes, 2);
    memset(&fs, 0x7f, sizeof fs);
    fs.base = f.snap;
    fs.base.struct_size = sizeof fs;
    memset(items, 0xee, sizeof items);

    assert_int_equal(inst.plugin.entry->on_tick(inst.bot, &fs.base, &buf), 0);
    assert_int_equal(buf.count, 1);
    /* The item says how much the plugin wrote: an intent without reason. */
    memcpy(&size, &items[0], sizeof size);
    assert_int_equal(size, offsetof(hydra_intent, reason));
    assert_int_equal(hydra_intent_read(&buf, 0, &in), 0);
    assert_int_equal(in.struct_size, sizeof(hydra_intent));
    assert_string_equal(in.symbol, "AAPL");
    assert_true(in.qty == 1.0);
    assert_int_equal(in.kind, HYDRA_INTENT_ENTRY);
    assert_string_equal(in.reason, "");
    hydra_bot_unload(&inst);
}

/* The shipped momentum bot gives the same intents whatever sizes a compatible host uses. */
static void test_current_plugin_under_future_host(void **state)
{
    static const double closes[] = {100, 100, 100, 100, 101, 103};
    hydra_bot_cfg cfg;
    hydra_bot_instance inst;
    fx_snap f;
    struct future_snapshot fs;
    struct future_api fapi;
    struct future_intent items[2];
    hydra_intent_buf buf = {sizeof buf, sizeof(struct future_intent), 2, 0, items};
    hydra_intent now, later;
    hydra_bot *bot = NULL;
    hydra_bot_config view;
    const char *symbols[HYDRA_MAX_BOT_SYMBOLS];
    (void)state;
    fx_cfg(&cfg, "mom_AAPL", "momentum", "roc_trend_v1", HYDRA_ASSET_EQUITY);
    fx_cfg_symbol(&cfg, "AAPL");
    fx_cfg_int(&cfg, "roc_bars", 3);
    fx_cfg_int(&cfg, "trend_bars", 5);
    fx_cfg_double(&cfg, "entry_roc_pct", 1.0);
    fx_cfg_int(&cfg, "qty", 10);
    assert_int_equal(hydra_bot_load(&inst, SHIPPED, &cfg, NULL, err, sizeof err), 0);

    fx_snap_init(&f);
    fx_symbol(&f, "AAPL", HYDRA_ASSET_EQUITY, closes, 6);
    assert_int_equal(inst.plugin.entry->on_tick(inst.bot, &f.snap, &f.buf), 0);
    assert_int_equal(f.buf.count, 1);
    assert_int_equal(hydra_intent_read(&f.buf, 0, &now), 0);

    /* A second instance created through a larger host API table. */
    memset(&fapi, 0, sizeof fapi);
    fapi.base = *hydra_host_api_v1();
    fapi.base.struct_size = sizeof fapi;
    hydra_bot_config_view(&cfg, symbols, &view);
    assert_int_equal(inst.plugin.entry->create(&fapi.base, &inst.host, &view, &bot), 0);

    memset(&fs, 0, sizeof fs);
    fs.base = f.snap;
    fs.base.struct_size = sizeof fs;
    memset(items, 0xee, sizeof items);
    assert_int_equal(inst.plugin.entry->on_tick(bot, &fs.base, &buf), 0);
    assert_int_equal(buf.count, 1);
    assert_int_equal(hydra_intent_read(&buf, 0, &later), 0);
    assert_memory_equal(&now, &later, sizeof now);
    /* The bytes past the plugin's intent were zeroed by hydra_intent_push, not left as 0xee. */
    assert_true(items[0].added_later[2] == 0.0);
    inst.plugin.entry->destroy(bot);
    hydra_bot_unload(&inst);
}

static void test_intent_read_checks_sizes(void **state)
{
    hydra_intent items[2];
    hydra_intent_buf buf = {sizeof buf, sizeof(hydra_intent), 2, 0, items};
    hydra_intent in, out;
    (void)state;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.kind = HYDRA_INTENT_ENTRY;
    memset(in.symbol, 'A', sizeof in.symbol); /* not terminated by the plugin */
    assert_int_equal(hydra_intent_push(&buf, &in), 0);
    assert_int_equal(hydra_intent_read(&buf, 0, &out), 0);
    assert_int_equal(strlen(out.symbol), sizeof out.symbol - 1);
    assert_int_equal(hydra_intent_read(&buf, 1, &out), HYDRA_EINVAL);

    items[0].struct_size = 8; /* too small to be an order */
    assert_int_equal(hydra_intent_read(&buf, 0, &out), HYDRA_EPLUGIN);
    items[0].struct_size = sizeof(hydra_intent) + 1; /* claims more than the slot */
    assert_int_equal(hydra_intent_read(&buf, 0, &out), HYDRA_EPLUGIN);
}

static void test_intent_push_respects_capacity(void **state)
{
    hydra_intent items[3];
    hydra_intent_buf buf = {sizeof buf, sizeof(hydra_intent), 2, 0, items};
    hydra_intent in;
    (void)state;
    memset(items, 0x5a, sizeof items);
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    assert_int_equal(hydra_intent_push(&buf, &in), 0);
    assert_int_equal(hydra_intent_push(&buf, &in), 0);
    assert_int_equal(hydra_intent_push(&buf, &in), -1);
    assert_int_equal(buf.count, 2);
    assert_int_equal(((unsigned char *)&items[2])[0], 0x5a); /* the slot past capacity is untouched */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses_empty_path),
        cmocka_unit_test(test_refuses_overlong_path),
        cmocka_unit_test(test_refuses_bare_name),
        cmocka_unit_test(test_refuses_missing_file),
        cmocka_unit_test(test_refuses_directory),
        cmocka_unit_test(test_refuses_not_a_shared_object),
        cmocka_unit_test(test_refuses_no_entry_symbol),
        cmocka_unit_test(test_refuses_wrong_major),
        cmocka_unit_test(test_refuses_null_callback),
        cmocka_unit_test(test_refuses_failed_create),
        cmocka_unit_test(test_refuses_missing_plugin_by_name),
        cmocka_unit_test(test_plugin_path),
        cmocka_unit_test(test_opens_shipped_plugins),
        cmocka_unit_test(test_load_unload_repeatedly),
        cmocka_unit_test(test_host_api_table),
        cmocka_unit_test(test_host_api_params),
        cmocka_unit_test(test_host_api_log_state_extension),
        cmocka_unit_test(test_options_chain_extension),
        cmocka_unit_test(test_old_plugin_descriptor_is_zero_extended),
        cmocka_unit_test(test_old_plugin_under_future_host),
        cmocka_unit_test(test_current_plugin_under_future_host),
        cmocka_unit_test(test_intent_read_checks_sizes),
        cmocka_unit_test(test_intent_push_respects_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
