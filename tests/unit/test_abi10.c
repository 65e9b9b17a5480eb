/*
 * ABI compatibility, proven on binaries. tests/abi10/bot10.c is built
 * against the frozen 1.0 headers (abi10_bot.so) and against today's SDK
 * (abi11_bot.so). On today's host, the 1.0 binary loads in process and in a
 * worker, trades, is given structs whose 1.0 part is exactly what it knows
 * (the newer fields lie past its sizes), and places exactly the orders the
 * 1.1 build places over the same run. And the reverse: a 1.1 bot handed a
 * snapshot of 1.0's size behaves as the header says, as a 1.0 bot.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "botfix.h"
#include "enginetest.h"
#include "error.h"
#include "loader.h"
#include "state.h"
#include "testutil.h"

#define ABI10_SO HYDRA_TEST_BROKEN_DIR "/abi10_bot.so"
#define ABI11_SO HYDRA_TEST_BROKEN_DIR "/abi11_bot.so"
#define TICKS 300

/* The 1.0 layouts' ends, as today's header places them (1.1 only appended). */
#define SNAPSHOT_10_SIZE offsetof(hydra_snapshot, orders)
#define INTENT_10_SIZE offsetof(hydra_intent, client_order_id)

/* The version a plugin file declares, read the way the loader reads it. */
static hydra_abi_version declared_abi(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(h);
    const hydra_plugin *p = dlsym(h, HYDRA_PLUGIN_ENTRY_SYMBOL);
    assert_non_null(p);
    hydra_abi_version v = p->abi;
    dlclose(h);
    return v;
}

static void test_binaries_declare_their_abi(void **state)
{
    (void)state;
    hydra_abi_version v10 = declared_abi(ABI10_SO), v11 = declared_abi(ABI11_SO);
    assert_int_equal(v10.major, 1);
    assert_int_equal(v10.minor, 0);
    assert_int_equal(v11.major, 1);
    assert_int_equal(v11.minor, 1);
}

/* One run's evidence: the bot's orders as text, and the sizes it recorded. */
typedef struct run_result {
    char *orders; /* one line per journal row of bot b10, client order ids from the bot id on */
    int n_orders;
    int n_filled;
    char sizes[96];
} run_result;

static char *journal_text(const char *db, int *n, int *filled)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *s = NULL;
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(1, cap);
    *n = *filled = 0;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h,
                                        "SELECT client_order_id, kind, symbol, side, type, tif, "
                                        "qty, notional, limit_price, reason, state, filled_qty, "
                                        "filled_avg_price, created_ms FROM orders "
                                        "WHERE bot_id = 'b10' ORDER BY id",
                                        -1, &s, NULL),
                     SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        char line[1024];
        int w = snprintf(line, sizeof line, "%s k%d %s s%d t%d f%d q%.9g n%.9g l%.9g '%s' st%d %.9g@%.9g %lld\n",
                         et_cid_from_bot((const char *)sqlite3_column_text(s, 0)),
                         sqlite3_column_int(s, 1), (const char *)sqlite3_column_text(s, 2),
                         sqlite3_column_int(s, 3), sqlite3_column_int(s, 4),
                         sqlite3_column_int(s, 5), sqlite3_column_double(s, 6),
                         sqlite3_column_double(s, 7), sqlite3_column_double(s, 8),
                         (const char *)sqlite3_column_text(s, 9), sqlite3_column_int(s, 10),
                         sqlite3_column_double(s, 11), sqlite3_column_double(s, 12),
                         (long long)sqlite3_column_int64(s, 13));
        assert_true(w > 0 && (size_t)w < sizeof line);
        if (len + (size_t)w + 1 > cap) {
            cap *= 2;
            out = realloc(out, cap);
        }
        memcpy(out + len, line, (size_t)w + 1);
        len += (size_t)w;
        (*n)++;
        if (sqlite3_column_int(s, 10) == HYDRA_ORD_FILLED)
            (*filled)++;
    }
    sqlite3_finalize(s);
    sqlite3_close(h);
    return out;
}

/* Runs the shipped bots and bot10 (built from `so`) for TICKS ticks in a new directory. */
static run_result run_bot(const char *so, int inprocess)
{
    char dir[256], plugins[512], to[768], db[512];
    assert_non_null(tu_mkdtemp(dir, sizeof dir));
    snprintf(plugins, sizeof plugins, "%s/plugins", dir);
    assert_int_equal(mkdir(plugins, 0755), 0);
    const char *shipped[][2] = {{HYDRA_MOMENTUM_SO, "momentum"},
                                {HYDRA_OPTIONS_SO, "options"},
                                {HYDRA_CRYPTO_SO, "crypto"},
                                {so, "bot10"}};
    for (size_t i = 0; i < sizeof shipped / sizeof shipped[0]; i++) {
        snprintf(to, sizeof to, "%s/%s.so", plugins, shipped[i][1]);
        assert_int_equal(tu_copy_file(shipped[i][0], to), 0);
    }
    /* One line: the edit list is split on newlines. */
    assert_int_equal(
        et_make_config(dir, NULL,
                       "bots: []=>bots: [{bot_id: b10, plugin: bot10, bucket: momentum, "
                       "asset_class: equity, symbols: [FESX], "
                       "session: {trade_start: \"06:00\", trade_end: \"12:00\", "
                       "manage_until: \"12:55\"}, "
                       "risk: {max_trades_per_day: 20, max_concurrent_positions: 1}, "
                       "signal: {mode: bot10_v1, params: {roc_bars: 5, hold_bars: 10, qty: 1}}}]"),
        0);
    hydra_engine_options opt;
    et_options(&opt, dir);
    snprintf(opt.plugins_dir, sizeof opt.plugins_dir, "%s", plugins);
    opt.force_inprocess = inprocess;
    hydra_engine e;
    char err[4096] = "";
    int code = -1;
    if (hydra_engine_open(&e, &opt, err, sizeof err, &code) != 0)
        fail_msg("engine open failed (exit %d): %s", code, err);
    for (int i = 0; i < TICKS; i++)
        assert_int_equal(hydra_engine_tick(&e), 0);
    run_result r;
    memset(&r, 0, sizeof r);
    for (int i = 0; i < e.n_slots; i++)
        if (strcmp(e.slots[i].cfg->bot_id, "b10") == 0)
            assert_int_equal(e.slots[i].run->process, !inprocess);
    hydra_bot_day day = {0};
    assert_int_equal(hydra_bot_day_get(e.state, "b10", e.day, &day), 0);
    assert_false(day.quarantined);
    assert_int_equal(hydra_bot_kv_get(e.state, "b10", "sizes", r.sizes, sizeof r.sizes), 0);
    snprintf(db, sizeof db, "%s", e.cfg->settings.state_db_path);
    hydra_engine_close(&e);
    r.orders = journal_text(db, &r.n_orders, &r.n_filled);
    tu_rmtree(dir);
    return r;
}

/* The sizes a bot built with `snap_size`/`intent_size` recorded: the host's are today's. */
static void assert_sizes(const run_result *r, size_t snap_size, size_t intent_size)
{
    char want[96];
    snprintf(want, sizeof want, "%zu %zu %zu %zu", snap_size, sizeof(hydra_snapshot), intent_size,
             sizeof(hydra_intent));
    assert_string_equal(r->sizes, want);
}

static void test_abi10_binary_trades_as_the_abi11_build(void **state)
{
    (void)state;
    run_result r10_in = run_bot(ABI10_SO, 1);
    run_result r10_worker = run_bot(ABI10_SO, 0);
    run_result r11_in = run_bot(ABI11_SO, 1);
    run_result r11_worker = run_bot(ABI11_SO, 0);
    print_message("1.0 build: %d orders (%d filled); sizes %s; 1.1 build: sizes %s\n",
                  r10_in.n_orders, r10_in.n_filled, r10_in.sizes, r11_in.sizes);

    /* It trades: entries and exits, filled. */
    assert_true(r10_in.n_orders >= 4);
    assert_true(r10_in.n_filled >= 4);
    /* The 1.0 binary knows the 1.0 structs; the host's are larger and begin with them. */
    assert_sizes(&r10_in, SNAPSHOT_10_SIZE, INTENT_10_SIZE);
    assert_sizes(&r10_worker, SNAPSHOT_10_SIZE, INTENT_10_SIZE);
    assert_sizes(&r11_in, sizeof(hydra_snapshot), sizeof(hydra_intent));
    /* Exactly the same orders, whichever headers and whichever isolation. */
    assert_string_equal(r10_in.orders, r11_in.orders);
    assert_string_equal(r10_worker.orders, r11_in.orders);
    assert_string_equal(r11_worker.orders, r11_in.orders);
    free(r10_in.orders);
    free(r10_worker.orders);
    free(r11_in.orders);
    free(r11_worker.orders);
}

/*
 * A 1.1 bot (the shipped momentum bot, which cancels limit entries left
 * unfilled past entry_timeout_min) given a snapshot of 1.0's size: the
 * orders beyond struct_size are not its to read, so it cancels nothing and
 * answers as it does when it has no working orders at all.
 */
static void test_abi11_bot_on_a_10_sized_snapshot(void **state)
{
    (void)state;
    hydra_bot_cfg cfg;
    fx_log log;
    hydra_host_services svc = fx_services(&log);
    hydra_bot_instance inst;
    memset(&inst, 0, sizeof inst);
    fx_cfg(&cfg, "mom_AAPL", "momentum", "roc_trend_v1", HYDRA_ASSET_EQUITY);
    fx_cfg_symbol(&cfg, "AAPL");
    fx_cfg_int(&cfg, "roc_bars", 3);
    fx_cfg_int(&cfg, "trend_bars", 5);
    fx_cfg_double(&cfg, "entry_roc_pct", 1.0);
    fx_cfg_int(&cfg, "qty", 10);
    fx_cfg_int(&cfg, "entry_timeout_min", 5);
    cfg.order_type = HYDRA_ORDER_LIMIT;
    char err[512] = "";
    if (hydra_bot_load(&inst, HYDRA_TEST_PLUGIN_DIR, &cfg, &svc, err, sizeof err) != 0)
        fail_msg("load failed: %s", err);
    const hydra_plugin *p = inst.plugin.entry;

    static fx_snap f;
    static const double rising[] = {100, 100, 100, 100, 101, 103};
    fx_snap_init(&f);
    fx_symbol(&f, "AAPL", HYDRA_ASSET_EQUITY, rising, 6);
    /* A limit entry of its own, unfilled for 10 minutes: past its 5-minute timeout. */
    hydra_order_view o = {.struct_size = sizeof o,
                          .kind = HYDRA_INTENT_ENTRY,
                          .side = HYDRA_SIDE_BUY,
                          .type = HYDRA_ORDER_LIMIT,
                          .asset_class = HYDRA_ASSET_EQUITY,
                          .state = HYDRA_ORDER_VIEW_OPEN,
                          .client_order_id = "hy-1-1-mom_AAPL-20260101-1",
                          .symbol = "AAPL",
                          .qty = 10,
                          .limit_price = 99,
                          .submitted_ms = f.snap.now_ms - 10 * 60000};
    const hydra_order_view *op[1] = {&o};
    f.snap.orders = op;
    f.snap.n_orders = 1;
    f.budget.positions_open = 1; /* the working entry holds the bot's one slot, as the host counts */

    /* 1.1-sized: the stale entry is cancelled, and no second entry is stacked. */
    fx_reset_intents(&f);
    assert_int_equal(p->manage(inst.bot, &f.snap, &f.buf), 0);
    assert_int_equal(f.buf.count, 1);
    hydra_intent in;
    assert_int_equal(hydra_intent_read(&f.buf, 0, &in), 0);
    assert_int_equal(in.kind, HYDRA_INTENT_CANCEL);
    assert_string_equal(in.client_order_id, o.client_order_id);

    /* 1.0-sized, the same order lying past struct_size: manage and on_tick as with no orders. */
    uint32_t answers_10[2], answers_none[2];
    f.snap.struct_size = (uint32_t)SNAPSHOT_10_SIZE;
    fx_reset_intents(&f);
    assert_int_equal(p->manage(inst.bot, &f.snap, &f.buf), 0);
    answers_10[0] = f.buf.count;
    fx_reset_intents(&f);
    assert_int_equal(p->on_tick(inst.bot, &f.snap, &f.buf), 0);
    answers_10[1] = f.buf.count;
    hydra_intent tick_10[FX_INTENTS];
    memcpy(tick_10, f.items, sizeof tick_10);

    f.snap.struct_size = sizeof f.snap;
    f.snap.n_orders = 0;
    f.snap.orders = NULL;
    fx_reset_intents(&f);
    assert_int_equal(p->manage(inst.bot, &f.snap, &f.buf), 0);
    answers_none[0] = f.buf.count;
    fx_reset_intents(&f);
    assert_int_equal(p->on_tick(inst.bot, &f.snap, &f.buf), 0);
    answers_none[1] = f.buf.count;

    assert_int_equal(answers_10[0], 0); /* nothing cancelled on a 1.0 host */
    assert_int_equal(answers_10[0], answers_none[0]);
    assert_int_equal(answers_10[1], answers_none[1]);
    assert_memory_equal(tick_10, f.items, sizeof tick_10);
    hydra_bot_unload(&inst);
}

/*
 * A hydra-worker of protocol version 2 (tests/abi10/worker_v2.c: what one
 * does with a newer host's first message) started by this host: the bot
 * host refuses to start, and the reason says which protocol it speaks and
 * what to do about it, rather than only an exit status.
 */
static void test_protocol2_worker_is_refused_clearly(void **state)
{
    (void)state;
    char dir[256], plugins[512], to[768], log[512];
    assert_non_null(tu_mkdtemp(dir, sizeof dir));
    snprintf(plugins, sizeof plugins, "%s/plugins", dir);
    snprintf(log, sizeof log, "%s/app.jsonl", dir);
    assert_int_equal(mkdir(plugins, 0755), 0);
    snprintf(to, sizeof to, "%s/bot10.so", plugins);
    assert_int_equal(tu_copy_file(ABI10_SO, to), 0);
    assert_int_equal(
        et_make_config(dir, NULL,
                       "enabled: true=>enabled: false\n" /* b10 alone */
                       "bots: []=>bots: [{bot_id: b10, plugin: bot10, bucket: momentum, "
                       "asset_class: equity, symbols: [FESX], "
                       "signal: {mode: bot10_v1, params: {}}}]"),
        0);
    hydra_engine_options opt;
    et_options(&opt, dir);
    snprintf(opt.plugins_dir, sizeof opt.plugins_dir, "%s", plugins);
    setenv("HYDRA_WORKER", HYDRA_TEST_BROKEN_DIR "/worker_v2", 1);
    hydra_engine e;
    char err[4096] = "";
    int code = -1;
    int rc = hydra_engine_open(&e, &opt, err, sizeof err, &code);
    print_message("%s\n", err);
    setenv("HYDRA_WORKER", HYDRA_WORKER_BIN, 1);
    if (rc == 0) {
        hydra_engine_close(&e);
        fail_msg("the host started with a worker that cannot read its messages");
    }
    assert_int_equal(code, 2);
    assert_non_null(strstr(err, "bot b10: worker exited with status 3 in create"));
    assert_non_null(strstr(err, "hydra-host speaks worker protocol 3"));
    assert_non_null(strstr(err, "install hydra-host and hydra-worker from the same build"));
    assert_int_equal(et_count_events(log, "host_start_failed", NULL), 1);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binaries_declare_their_abi),
        cmocka_unit_test(test_abi10_binary_trades_as_the_abi11_build),
        cmocka_unit_test(test_abi11_bot_on_a_10_sized_snapshot),
        cmocka_unit_test(test_protocol2_worker_is_refused_clearly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
