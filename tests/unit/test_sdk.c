/*
 * The SDK as a bot author meets it: the headers compile as strict C11 and
 * C++17, every shipped plugin exports exactly one symbol, and the drop-in
 * promise holds end to end (install the SDK to a fresh prefix, build the
 * template out of tree with pkg-config, load and run it with the loader).
 * Compilers, cmake and nm run as child processes with a timeout.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#include <cmocka.h>

#include "botfix.h"
#include "loader.h"
#include "enginetest.h"
#include "testutil.h"

#define SDK_INCLUDE "-I" HYDRA_SOURCE_DIR "/sdk/include"
#define WARNINGS "-Wall", "-Wextra", "-pedantic", "-Werror"

/* Uses every macro and inline function, so a warning anywhere in them shows up. */
static const char *const header_check_source =
    "#include <hydra/indicators.h>\n"
    "#include <hydra/plugin.h>\n"
    "#include <hydra/types.h>\n"
    "static int hydra_indicator_check(const hydra_bar *bar)\n"
    "{\n"
    "    double x = 0.0, v[2] = {1.0, 2.0};\n"
    "    hydra_bands bb;\n"
    "    hydra_window w;\n"
    "    hydra_ema e;\n"
    "    hydra_rsi r;\n"
    "    hydra_atr a;\n"
    "    hydra_series c = hydra_series_closes(bar, 1);\n"
    "    int rc = hydra_sma(c, 1, &x) + hydra_roc_pct(hydra_series_of(v, 2), 1, &x) +\n"
    "             hydra_rolling_max(hydra_series_highs(bar, 1), 1, &x) +\n"
    "             hydra_rolling_min(hydra_series_lows(bar, 1), 1, &x) +\n"
    "             hydra_bollinger(hydra_series_drop(c, 0), 1, 2.0, &bb) +\n"
    "             hydra_window_init(&w, 2) + hydra_window_push(&w, hydra_series_at(c, 0)) +\n"
    "             hydra_window_full(&w) + (int)hydra_window_series(&w).len +\n"
    "             hydra_ema_init(&e, 1) + hydra_ema_push(&e, 1.0) + hydra_ema_value(&e, &x) +\n"
    "             hydra_rsi_init(&r, 1) + hydra_rsi_push(&r, 1.0) + hydra_rsi_value(&r, &x) +\n"
    "             hydra_atr_init(&a, 1) + hydra_atr_push(&a, 1.0, 1.0, 1.0) +\n"
    "             hydra_atr_value(&a, &x) + hydra_ema_of(c, 1, &x) + hydra_rsi_of(c, 1, &x) +\n"
    "             hydra_atr_of(bar, 1, 1, &x);\n"
    "    return rc + (int)(x + (double)HYDRA_IND_CAPACITY);\n"
    "}\n"
    "int hydra_header_check(const hydra_host_api *api, const hydra_snapshot *snap,\n"
    "                       hydra_intent_buf *buf);\n"
    "int hydra_header_check(const hydra_host_api *api, const hydra_snapshot *snap,\n"
    "                       hydra_intent_buf *buf)\n"
    "{\n"
    "    hydra_abi_version v = HYDRA_ABI_VERSION_INIT;\n"
    "    hydra_intent in;\n"
    "    hydra_bar bar = {0, 1.0, 1.0, 1.0, 1.0, 0.0};\n"
    "    memset(&in, 0, sizeof in);\n"
    "    in.struct_size = sizeof in;\n"
    "    in.kind = HYDRA_INTENT_ENTRY;\n"
    "    in.side = HYDRA_SIDE_BUY;\n"
    "    in.type = HYDRA_ORDER_MARKET;\n"
    "    in.tif = HYDRA_TIF_DAY;\n"
    "    in.asset_class = HYDRA_ASSET_EQUITY;\n"
    "    in.qty = bar.close;\n"
    "    if (HYDRA_HAS(api, log))\n"
    "        api->log(NULL, HYDRA_LOG_INFO, \"check\", HYDRA_PLUGIN_ENTRY_SYMBOL);\n"
    "    return (int)HYDRA_COVERS(snap, budget) + hydra_intent_push(buf, &in) +\n"
    "           hydra_version_is_compatible(v, v) + HYDRA_BOT_OK + HYDRA_PARAM_OK +\n"
    "           hydra_indicator_check(&bar);\n"
    "}\n";

/* A C++ bot through hydra/plugin.hpp that throws from every callback it has. */
static const char *const cxx_thrower_source =
    "#include <cstring>\n"
    "#include <memory>\n"
    "#include <stdexcept>\n"
    "#include <hydra/plugin.hpp>\n"
    "struct thrower {\n"
    "    static int create(hydra::host &, const hydra_bot_config &cfg, std::unique_ptr<thrower> &out)\n"
    "    {\n"
    "        if (std::strcmp(cfg.signal_mode, \"throw_in_create\") == 0)\n"
    "            throw std::runtime_error(\"refused by throwing\");\n"
    "        out = std::make_unique<thrower>();\n"
    "        return HYDRA_BOT_OK;\n"
    "    }\n"
    "    int manage(const hydra_snapshot &, hydra::intents &) { throw 42; }\n"
    "    int on_tick(const hydra_snapshot &, hydra::intents &out)\n"
    "    {\n"
    "        hydra_intent in = hydra::intents::make(HYDRA_INTENT_ENTRY, HYDRA_SIDE_BUY,\n"
    "                                               HYDRA_ORDER_MARKET, HYDRA_ASSET_EQUITY);\n"
    "        in.qty = 1;\n"
    "        out.push(in, \"AAPL\", \"before the throw\");\n"
    "        throw std::out_of_range(\"tick out of range\");\n"
    "    }\n"
    "    void on_fill(const hydra_fill &) { throw std::logic_error(\"fill\"); }\n"
    "};\n"
    "HYDRA_CXX_PLUGIN(thrower, \"thrower\", \"1.0.0\", \"throws\", HYDRA_ASSET_EQUITY);\n";

static char tmp[256];

static int setup(void **state)
{
    (void)state;
    return tu_mkdtemp(tmp, sizeof tmp) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(tmp);
    return 0;
}

static void run_ok(const char *const *argv, int timeout_s)
{
    char *out = NULL;
    int rc = tu_run(argv, NULL, timeout_s, &out);
    if (rc != 0) {
        print_error("%s exited with %d:\n%s\n", argv[0], rc, out ? out : "");
        free(out);
        fail();
    }
    free(out);
}

static void test_headers_compile_as_c11(void **state)
{
    char src[512], obj[512];
    (void)state;
    snprintf(src, sizeof src, "%s/check.c", tmp);
    snprintf(obj, sizeof obj, "%s/check_c.o", tmp);
    assert_int_equal(tu_write_file(src, header_check_source), 0);
    const char *argv[] = {HYDRA_CC, "-std=c11", WARNINGS, SDK_INCLUDE, "-c", src, "-o", obj, NULL};
    run_ok(argv, 60);
}

static void test_headers_compile_as_cxx17(void **state)
{
    char src[512], obj[512];
    (void)state;
    snprintf(src, sizeof src, "%s/check.cpp", tmp);
    snprintf(obj, sizeof obj, "%s/check_cxx.o", tmp);
    assert_int_equal(tu_write_file(src, header_check_source), 0);
    const char *argv[] = {HYDRA_CXX, "-std=c++17", WARNINGS, SDK_INCLUDE, "-c", src, "-o", obj, NULL};
    run_ok(argv, 60);
}

/* Each header stands alone: it includes what it needs. */
static void test_each_header_self_contained(void **state)
{
    static const char *const headers[] = {"hydra/types.h", "hydra/plugin.h", "hydra/indicators.h"};
    char src[512], obj[512], text[128];
    size_t i;
    (void)state;
    for (i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        snprintf(src, sizeof src, "%s/alone%zu.c", tmp, i);
        snprintf(obj, sizeof obj, "%s/alone%zu.o", tmp, i);
        snprintf(text, sizeof text, "#include <%s>\ntypedef int hydra_not_empty;\n", headers[i]);
        assert_int_equal(tu_write_file(src, text), 0);
        const char *argv[] = {HYDRA_CC, "-std=c11", WARNINGS, SDK_INCLUDE, "-c", src, "-o", obj, NULL};
        run_ok(argv, 60);
    }
}

/*
 * The dynamic symbols a plugin defines, as `nm -D --defined-only` lists
 * them, must be exactly hydra_plugin_entry. Version definition entries
 * (type A, e.g. HYDRA_1 from the version script) are not symbols a host
 * can look up, so they do not count.
 */
static void assert_exports_only_entry(const char *so)
{
    const char *argv[] = {HYDRA_NM, "-D", "--defined-only", so, NULL};
    char *out = NULL, *line, *save = NULL;
    int found = 0;
    assert_int_equal(tu_run(argv, NULL, 60, &out), 0);
    assert_non_null(out);
    for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char addr[64], type[8], name[256];
        char *at;
        if (sscanf(line, "%63s %7s %255s", addr, type, name) != 3)
            continue;
        if (strcmp(type, "A") == 0)
            continue;
        at = strchr(name, '@');
        if (at != NULL)
            *at = '\0';
        if (strcmp(name, "hydra_plugin_entry") != 0) {
            print_error("%s exports %s\n", so, name);
            free(out);
            fail();
        }
        found++;
    }
    free(out);
    assert_int_equal(found, 1);
}

/*
 * hydra/plugin.hpp stops every exception at the C boundary: the host sees
 * HYDRA_BOT_ERROR (or, from on_fill and destroy, nothing) and a log line
 * naming the callback and the exception, and keeps running. Built by the
 * real compiler with the SDK's flags, loaded by the real loader.
 */
static void test_cxx_exceptions_stop_at_the_boundary(void **state)
{
    static const double up[] = {100, 101};
    char src[512], so[512], err[512];
    hydra_bot_cfg cfg;
    hydra_bot_instance inst;
    fx_log log;
    hydra_host_services svc = fx_services(&log);
    fx_snap f;
    hydra_fill fill;
    (void)state;

    snprintf(src, sizeof src, "%s/thrower.cpp", tmp);
    snprintf(so, sizeof so, "%s/thrower.so", tmp);
    assert_int_equal(tu_write_file(src, cxx_thrower_source), 0);
    const char *argv[] = {HYDRA_CXX, "-std=c++17", WARNINGS, SDK_INCLUDE, "-fPIC", "-shared",
                          "-fvisibility=hidden", "-fvisibility-inlines-hidden",
                          "-Wl,--version-script=" HYDRA_SOURCE_DIR "/sdk/hydra-plugin.map",
                          "-Wl,--no-undefined", src, "-o", so, NULL};
    run_ok(argv, 120);
    assert_exports_only_entry(so);

    memset(&log, 0, sizeof log);
    fx_cfg(&cfg, "thr_AAPL", "thrower", "throw_in_create", HYDRA_ASSET_EQUITY);
    fx_cfg_symbol(&cfg, "AAPL");
    assert_int_not_equal(hydra_bot_load(&inst, tmp, &cfg, &svc, err, sizeof err), 0);
    assert_non_null(strstr(err, "create failed"));
    assert_string_equal(log.last_event, "bot_exception");
    assert_string_equal(log.last_message, "create threw: refused by throwing");

    fx_cfg(&cfg, "thr_AAPL", "thrower", "plain", HYDRA_ASSET_EQUITY);
    fx_cfg_symbol(&cfg, "AAPL");
    if (hydra_bot_load(&inst, tmp, &cfg, &svc, err, sizeof err) != 0)
        fail_msg("thrower did not load: %s", err);
    fx_snap_init(&f);
    fx_symbol(&f, "AAPL", HYDRA_ASSET_EQUITY, up, 2);

    memset(&log, 0, sizeof log);
    assert_int_equal(inst.plugin.entry->manage(inst.bot, &f.snap, &f.buf), HYDRA_BOT_ERROR);
    assert_string_equal(log.last_event, "bot_exception");
    assert_string_equal(log.last_message, "manage threw something that is not a std::exception");

    memset(&log, 0, sizeof log);
    assert_int_equal(inst.plugin.entry->on_tick(inst.bot, &f.snap, &f.buf), HYDRA_BOT_ERROR);
    assert_string_equal(log.last_message, "on_tick threw: tick out of range");

    memset(&log, 0, sizeof log);
    memset(&fill, 0, sizeof fill);
    fill.struct_size = sizeof fill;
    fill.side = HYDRA_SIDE_BUY;
    fill.symbol = "AAPL";
    fill.client_order_id = "cid-1";
    fill.qty = 1;
    fill.price = 101;
    assert_non_null(inst.plugin.entry->on_fill);
    inst.plugin.entry->on_fill(inst.bot, &fill);
    assert_string_equal(log.last_message, "on_fill threw: fill");
    hydra_bot_unload(&inst);
}

static void test_shipped_plugins_export_only_entry(void **state)
{
    (void)state;
    assert_exports_only_entry(HYDRA_TEST_PLUGIN_DIR "/momentum.so");
    assert_exports_only_entry(HYDRA_TEST_PLUGIN_DIR "/crypto.so");
    assert_exports_only_entry(HYDRA_TEST_PLUGIN_DIR "/options.so");
    /* The examples too, the C++ one included: none of its runtime's symbols leak. */
    assert_exports_only_entry(HYDRA_EXAMPLES_DIR "/sma_cross.so");
    assert_exports_only_entry(HYDRA_EXAMPLES_DIR "/roc.so");
    assert_exports_only_entry(HYDRA_EXAMPLES_DIR "/breakout.so");
}

/* The drop-in promise: a bot built out of tree against an installed SDK loads without a host rebuild. */
static void test_template_drop_in(void **state)
{
    static const double up[] = {100, 101};
    char prefix[512], build[512], pcdir[600], so[600];
    hydra_bot_cfg cfg;
    hydra_bot_instance inst;
    fx_log log;
    hydra_host_services svc = fx_services(&log);
    fx_snap f;
    hydra_intent in;
    char err[512];
    (void)state;

    snprintf(prefix, sizeof prefix, "%s/prefix", tmp);
    snprintf(build, sizeof build, "%s/build", tmp);
    snprintf(pcdir, sizeof pcdir, "%s/lib/pkgconfig", prefix);
    snprintf(so, sizeof so, "%s/template_bot.so", build);

    const char *install[] = {HYDRA_CMAKE, "--install", HYDRA_BINARY_DIR, "--prefix", prefix, NULL};
    run_ok(install, 120);
    /* Every header ships, the indicators and the C++ layer included. */
    static const char *const installed[] = {"plugin.h", "types.h", "indicators.h", "plugin.hpp"};
    for (size_t i = 0; i < sizeof installed / sizeof installed[0]; i++) {
        char h[700];
        struct stat st;
        snprintf(h, sizeof h, "%s/include/hydra/%s", prefix, installed[i]);
        if (stat(h, &st) != 0)
            fail_msg("%s was not installed", h);
    }

    /* Only the installed SDK is visible to the bot's build. */
    assert_int_equal(setenv("PKG_CONFIG_PATH", pcdir, 1), 0);
    const char *configure[] = {HYDRA_CMAKE, "-S", HYDRA_SOURCE_DIR "/sdk/template", "-B", build,
                               "-DCMAKE_C_COMPILER=" HYDRA_CC, "-DCMAKE_BUILD_TYPE=Release", NULL};
    run_ok(configure, 180);
    const char *compile[] = {HYDRA_CMAKE, "--build", build, NULL};
    run_ok(compile, 180);
    unsetenv("PKG_CONFIG_PATH");
    assert_exports_only_entry(so);

    fx_cfg(&cfg, "tmpl_AAPL", "template_bot", "template_v1", HYDRA_ASSET_EQUITY);
    fx_cfg_symbol(&cfg, "AAPL");
    fx_cfg_int(&cfg, "qty", 2);
    if (hydra_bot_load(&inst, build, &cfg, &svc, err, sizeof err) != 0)
        fail_msg("template did not load: %s", err);
    assert_string_equal(inst.plugin.entry->name, "template");

    fx_snap_init(&f);
    fx_symbol(&f, "AAPL", HYDRA_ASSET_EQUITY, up, 2);
    assert_int_equal(inst.plugin.entry->manage(inst.bot, &f.snap, &f.buf), 0);
    assert_int_equal(f.buf.count, 0);
    assert_int_equal(inst.plugin.entry->on_tick(inst.bot, &f.snap, &f.buf), 0);
    assert_int_equal(f.buf.count, 1);
    assert_int_equal(hydra_intent_read(&f.buf, 0, &in), 0);
    assert_string_equal(in.symbol, "AAPL");
    assert_int_equal(in.side, HYDRA_SIDE_BUY);
    assert_int_equal(in.kind, HYDRA_INTENT_ENTRY);
    assert_true(in.qty == 2.0);
    hydra_bot_unload(&inst);

    /* The drop-in promise end to end: declared in bots.yaml, run by the unchanged host. */
    char dir[600];
    snprintf(dir, sizeof dir, "%s/host", tmp);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(
        et_make_config(dir, NULL,
                       "  - bot_id: mom_FESX\\n    enabled: true=>  - bot_id: mom_FESX\\n    enabled: false\n"
                       "optionsbot:\\n  enabled: true=>optionsbot:\\n  enabled: false\n"
                       "cryptobot:\\n  enabled: true=>cryptobot:\\n  enabled: false\n"
                       "bots: []=>bots:\\n  - bot_id: tmpl_FESX\\n    plugin: template_bot\\n"
                       "    bucket: momentum\\n    asset_class: equity\\n    symbols: [FESX]\\n"
                       "    exits:\\n      stop_loss_pct: 0.5\\n      time_stop_minutes: 5\\n"
                       "    signal:\\n      mode: template_v1\\n      params:\\n        qty: 2"),
        0);
    char cfgdir[700], logp[700];
    snprintf(cfgdir, sizeof cfgdir, "%s/config", dir);
    snprintf(logp, sizeof logp, "%s/app.jsonl", dir);
    const char *host[] = {HYDRA_HOST_BIN, "--config", cfgdir, "--plugins", build, "--ticks", "120",
                          "--interval-ms", "0", "--quiet", NULL};
    run_ok(host, 120);
    assert_int_equal(et_count_events(logp, "bot_loaded", "tmpl_FESX"), 1);
    assert_int_equal(et_count_events(logp, "bot_loaded", "crypto_core"), 0);
    assert_true(et_count_events(logp, "order_submitted", "tmpl_FESX") >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_headers_compile_as_c11, setup, teardown),
        cmocka_unit_test_setup_teardown(test_headers_compile_as_cxx17, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_header_self_contained, setup, teardown),
        cmocka_unit_test(test_shipped_plugins_export_only_entry),
        cmocka_unit_test_setup_teardown(test_cxx_exceptions_stop_at_the_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_template_drop_in, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
