/*
 * The Rust example (examples/rust/sma_cross.rs), built by Debian's rustc
 * alone: its hand-written #[repr(C)] structs match the C header field for
 * field (sizes and offsets from a layout-probe build of the same source),
 * a panic in a callback comes back to C as HYDRA_BOT_ERROR,
 * the real loader loads it and it sees its own working orders on a 1.1
 * snapshot and behaves as a 1.0 bot on a 1.0-sized one, and in a backtest
 * on ORCL it makes exactly the C example's 98 trades; in a sandboxed
 * worker on the simulated exchange it trades.
 *
 * Without /usr/bin/rustc the example is not built: this test says so and
 * exits 77, which ctest reports as skipped (never as passed).
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#ifdef HYDRA_RUST_SMA_SO

#include "botfix.h"
#include "enginetest.h"
#include "loader.h"
#include "testutil.h"

/* Each ABI struct's size, then its fields' offsets, in the order hydra_rust_layout writes them. */
#define SZ(t) {#t, sizeof(t)}
#define OF(t, f) {#t "." #f, offsetof(t, f)}
static const struct {
    const char *what;
    uint64_t value;
} c_layout[] = {
    SZ(hydra_abi_version), OF(hydra_abi_version, major), OF(hydra_abi_version, minor),
    OF(hydra_abi_version, patch),
    SZ(hydra_bar), OF(hydra_bar, t_ms), OF(hydra_bar, open), OF(hydra_bar, high), OF(hydra_bar, low),
    OF(hydra_bar, close), OF(hydra_bar, volume),
    SZ(hydra_symbol_view), OF(hydra_symbol_view, struct_size), OF(hydra_symbol_view, asset_class),
    OF(hydra_symbol_view, symbol), OF(hydra_symbol_view, last_price),
    OF(hydra_symbol_view, last_time_ms), OF(hydra_symbol_view, bars), OF(hydra_symbol_view, n_bars),
    SZ(hydra_position_view), OF(hydra_position_view, struct_size),
    OF(hydra_position_view, asset_class), OF(hydra_position_view, symbol),
    OF(hydra_position_view, qty), OF(hydra_position_view, avg_entry_price),
    OF(hydra_position_view, current_price), OF(hydra_position_view, unrealized_pl),
    OF(hydra_position_view, opened_ms),
    SZ(hydra_option_view), OF(hydra_option_view, struct_size), OF(hydra_option_view, is_call),
    OF(hydra_option_view, symbol), OF(hydra_option_view, underlying), OF(hydra_option_view, strike),
    OF(hydra_option_view, expiry_yyyymmdd), OF(hydra_option_view, dte), OF(hydra_option_view, bid),
    OF(hydra_option_view, ask), OF(hydra_option_view, iv), OF(hydra_option_view, delta),
    OF(hydra_option_view, multiplier),
    SZ(hydra_budget_view), OF(hydra_budget_view, struct_size), OF(hydra_budget_view, max_daily_loss),
    OF(hydra_budget_view, max_open_risk), OF(hydra_budget_view, open_risk_used),
    OF(hydra_budget_view, realized_pnl_today), OF(hydra_budget_view, trades_left_today),
    OF(hydra_budget_view, positions_open), OF(hydra_budget_view, max_concurrent_positions),
    OF(hydra_budget_view, stop_loss_pct),
    SZ(hydra_order_view), OF(hydra_order_view, struct_size), OF(hydra_order_view, kind),
    OF(hydra_order_view, side), OF(hydra_order_view, type), OF(hydra_order_view, asset_class),
    OF(hydra_order_view, state), OF(hydra_order_view, client_order_id), OF(hydra_order_view, symbol),
    OF(hydra_order_view, qty), OF(hydra_order_view, filled_qty), OF(hydra_order_view, limit_price),
    OF(hydra_order_view, submitted_ms),
    SZ(hydra_snapshot), OF(hydra_snapshot, struct_size), OF(hydra_snapshot, _reserved),
    OF(hydra_snapshot, tick), OF(hydra_snapshot, now_ms), OF(hydra_snapshot, local_date),
    OF(hydra_snapshot, local_minute), OF(hydra_snapshot, symbols), OF(hydra_snapshot, n_symbols),
    OF(hydra_snapshot, positions), OF(hydra_snapshot, n_positions), OF(hydra_snapshot, options),
    OF(hydra_snapshot, n_options), OF(hydra_snapshot, budget), OF(hydra_snapshot, orders),
    OF(hydra_snapshot, n_orders),
    SZ(hydra_intent), OF(hydra_intent, struct_size), OF(hydra_intent, kind), OF(hydra_intent, side),
    OF(hydra_intent, type), OF(hydra_intent, tif), OF(hydra_intent, asset_class),
    OF(hydra_intent, symbol), OF(hydra_intent, qty), OF(hydra_intent, notional),
    OF(hydra_intent, limit_price), OF(hydra_intent, reason), OF(hydra_intent, client_order_id),
    SZ(hydra_intent_buf), OF(hydra_intent_buf, struct_size), OF(hydra_intent_buf, item_size),
    OF(hydra_intent_buf, capacity), OF(hydra_intent_buf, count), OF(hydra_intent_buf, items),
    SZ(hydra_fill), OF(hydra_fill, struct_size), OF(hydra_fill, side), OF(hydra_fill, symbol),
    OF(hydra_fill, client_order_id), OF(hydra_fill, qty), OF(hydra_fill, price), OF(hydra_fill, t_ms),
    SZ(hydra_host_api), OF(hydra_host_api, struct_size), OF(hydra_host_api, abi),
    OF(hydra_host_api, log), OF(hydra_host_api, state_get), OF(hydra_host_api, state_set),
    OF(hydra_host_api, param_double), OF(hydra_host_api, param_int), OF(hydra_host_api, param_bool),
    OF(hydra_host_api, param_string), OF(hydra_host_api, get_extension),
    SZ(hydra_bot_config), OF(hydra_bot_config, struct_size), OF(hydra_bot_config, asset_classes),
    OF(hydra_bot_config, bot_id), OF(hydra_bot_config, signal_mode), OF(hydra_bot_config, symbols),
    OF(hydra_bot_config, n_symbols), OF(hydra_bot_config, default_tif),
    OF(hydra_bot_config, default_order_type), OF(hydra_bot_config, use_notional),
    OF(hydra_bot_config, default_notional_usd),
    SZ(hydra_plugin), OF(hydra_plugin, abi), OF(hydra_plugin, struct_size), OF(hydra_plugin, name),
    OF(hydra_plugin, version), OF(hydra_plugin, description), OF(hydra_plugin, asset_classes),
    OF(hydra_plugin, create), OF(hydra_plugin, destroy), OF(hydra_plugin, manage),
    OF(hydra_plugin, on_tick), OF(hydra_plugin, on_fill),
};
#define N_LAYOUT (sizeof c_layout / sizeof c_layout[0])

static void test_rust_structs_match_the_header(void **state)
{
    (void)state;
    void *so = dlopen(HYDRA_RUST_LAYOUT_SO, RTLD_NOW | RTLD_LOCAL);
    if (so == NULL)
        fail_msg("%s", dlerror());
    uint32_t (*layout)(uint64_t *, uint32_t) =
        (uint32_t(*)(uint64_t *, uint32_t))dlsym(so, "hydra_rust_layout");
    assert_non_null(layout);
    uint64_t rust[N_LAYOUT + 8];
    uint32_t n = layout(rust, (uint32_t)(N_LAYOUT + 8));
    assert_int_equal(n, N_LAYOUT);
    int bad = 0;
    for (size_t i = 0; i < N_LAYOUT; i++)
        if (rust[i] != c_layout[i].value) {
            print_error("%s: C %llu, Rust %llu\n", c_layout[i].what,
                        (unsigned long long)c_layout[i].value, (unsigned long long)rust[i]);
            bad++;
        }
    dlclose(so);
    assert_int_equal(bad, 0);
}

/* A panic inside a callback's guard comes back as HYDRA_BOT_ERROR; the process goes on. */
static void test_a_panic_stops_at_the_boundary(void **state)
{
    (void)state;
    void *so = dlopen(HYDRA_RUST_LAYOUT_SO, RTLD_NOW | RTLD_LOCAL);
    if (so == NULL)
        fail_msg("%s", dlerror());
    int (*guarded_panic)(void) = (int (*)(void))dlsym(so, "hydra_rust_guarded_panic");
    assert_non_null(guarded_panic);
    assert_int_equal(guarded_panic(), HYDRA_BOT_ERROR);
    assert_int_equal(guarded_panic(), HYDRA_BOT_ERROR);
    dlclose(so);
}

/* 30 flat closes then a jump: the 10-bar SMA crosses above the 30-bar one on the last bar. */
static void crossing_snapshot(fx_snap *f)
{
    double closes[40];
    for (int i = 0; i < 40; i++)
        closes[i] = i < 39 ? 100.0 : 110.0;
    fx_snap_init(f);
    fx_symbol(f, "AAPL", HYDRA_ASSET_EQUITY, closes, 40);
}

/*
 * The host's loader runs it: an entry on a crossing; none while its entry
 * for the symbol is working (ABI 1.1); and on a 1.0-sized snapshot, where
 * it cannot see orders, the entry again, as the header says a bot must
 * degrade.
 */
static void test_loaded_by_the_host_and_sees_its_orders(void **state)
{
    (void)state;
    hydra_bot_cfg cfg;
    hydra_bot_instance inst;
    fx_log log;
    hydra_host_services svc = fx_services(&log);
    fx_snap f;
    hydra_intent in;
    char err[512], dir[512];
    memset(&log, 0, sizeof log);
    snprintf(dir, sizeof dir, "%s", HYDRA_RUST_SMA_SO);
    *strrchr(dir, '/') = '\0';

    fx_cfg(&cfg, "rust_AAPL", "rust_sma", "no_such_mode", HYDRA_ASSET_EQUITY);
    fx_cfg_symbol(&cfg, "AAPL");
    assert_int_not_equal(hydra_bot_load(&inst, dir, &cfg, &svc, err, sizeof err), 0);
    assert_string_equal(log.last_event, "bot_config_error");

    fx_cfg(&cfg, "rust_AAPL", "rust_sma", "sma_cross", HYDRA_ASSET_EQUITY);
    fx_cfg_symbol(&cfg, "AAPL");
    fx_cfg_int(&cfg, "qty", 7);
    if (hydra_bot_load(&inst, dir, &cfg, &svc, err, sizeof err) != 0)
        fail_msg("rust_sma did not load: %s", err);
    assert_string_equal(inst.plugin.entry->name, "rust_sma");

    crossing_snapshot(&f);
    assert_int_equal(inst.plugin.entry->on_tick(inst.bot, &f.snap, &f.buf), 0);
    assert_int_equal(f.buf.count, 1);
    assert_int_equal(hydra_intent_read(&f.buf, 0, &in), 0);
    assert_int_equal(in.struct_size, sizeof(hydra_intent));
    assert_int_equal(in.kind, HYDRA_INTENT_ENTRY);
    assert_int_equal(in.side, HYDRA_SIDE_BUY);
    assert_int_equal(in.type, HYDRA_ORDER_MARKET);
    assert_string_equal(in.symbol, "AAPL");
    assert_true(in.qty == 7.0);
    assert_string_equal(in.reason, "sma fast crossed above slow");

    hydra_order_view working;
    const hydra_order_view *orders[1] = {&working};
    memset(&working, 0, sizeof working);
    working.struct_size = sizeof working;
    working.kind = HYDRA_INTENT_ENTRY;
    working.side = HYDRA_SIDE_BUY;
    working.type = HYDRA_ORDER_MARKET;
    working.asset_class = HYDRA_ASSET_EQUITY;
    working.state = HYDRA_ORDER_VIEW_OPEN;
    working.client_order_id = "rust_AAPL-20260101-1";
    working.symbol = "AAPL";
    working.qty = 7;
    f.snap.orders = orders;
    f.snap.n_orders = 1;
    fx_reset_intents(&f);
    assert_int_equal(inst.plugin.entry->on_tick(inst.bot, &f.snap, &f.buf), 0);
    assert_int_equal(f.buf.count, 0);

    /* A 1.0 host's snapshot ends before orders: the bot must not read them. */
    f.snap.struct_size = (uint32_t)offsetof(hydra_snapshot, orders);
    fx_reset_intents(&f);
    assert_int_equal(inst.plugin.entry->on_tick(inst.bot, &f.snap, &f.buf), 0);
    assert_int_equal(f.buf.count, 1);

    /* Held and the fast average below the slow one: manage sells all. */
    double falling[40];
    for (int i = 0; i < 40; i++)
        falling[i] = i < 35 ? 100.0 : 90.0;
    fx_snap_init(&f);
    fx_symbol(&f, "AAPL", HYDRA_ASSET_EQUITY, falling, 40);
    fx_position(&f, "AAPL", HYDRA_ASSET_EQUITY, 7);
    assert_int_equal(inst.plugin.entry->manage(inst.bot, &f.snap, &f.buf), 0);
    assert_int_equal(f.buf.count, 1);
    assert_int_equal(hydra_intent_read(&f.buf, 0, &in), 0);
    assert_int_equal(in.kind, HYDRA_INTENT_EXIT);
    assert_int_equal(in.side, HYDRA_SIDE_SELL);
    assert_true(in.qty == 7.0);
    hydra_bot_unload(&inst);
}

/* The same rule in Rust and in C on ORCL 1995-2014: the same 98 trades, to the last bit. */
static void test_same_trades_as_the_c_example(void **state)
{
    (void)state;
    char dir[256];
    tu_mkdtemp(dir, sizeof dir);
    assert_int_equal(et_examples_config(dir), 0);
    hydra_backtest *c = et_examples_backtest(dir, "sma_orcl", "ORCL");
    hydra_backtest *rust = et_examples_backtest(dir, "rust_sma_orcl", "ORCL");
    const hydra_bt_result *rc = hydra_backtest_result(c), *rr = hydra_backtest_result(rust);
    assert_int_equal(rc->n_trades, 98);
    assert_int_equal(rr->n_trades, rc->n_trades);
    for (size_t i = 0; i < rc->n_trades; i++) {
        const hydra_bt_trade *a = &rc->trades[i], *b = &rr->trades[i];
        assert_string_equal(b->bot_id, "rust_sma_orcl");
        assert_string_equal(b->symbol, a->symbol);
        assert_true(b->entry_ms == a->entry_ms);
        assert_true(b->exit_ms == a->exit_ms);
        assert_true(b->entry_price == a->entry_price);
        assert_true(b->exit_price == a->exit_price);
        assert_true(b->qty == a->qty);
        assert_true(b->pnl == a->pnl);
        assert_string_equal(b->exit_reason, a->exit_reason);
    }
    assert_int_equal(rr->n_days, rc->n_days);
    assert_true(rr->equity[1][rr->n_days] == rc->equity[1][rc->n_days]);
    hydra_backtest_close(rust);
    hydra_backtest_close(c);
    tu_rmtree(dir);
}

/* In a sandboxed worker process on the simulated exchange: loaded, trading, never quarantined. */
static void test_trades_in_a_worker(void **state)
{
    (void)state;
    char plugins[512];
    snprintf(plugins, sizeof plugins, "%s", HYDRA_RUST_SMA_SO);
    *strrchr(plugins, '/') = '\0';
    et_assert_trades_in_worker(plugins, "rsma_FESX", "rust_sma", "sma_cross",
                               "{fast: 3, slow: 8, qty: 1}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trades_in_a_worker),
        cmocka_unit_test(test_rust_structs_match_the_header),
        cmocka_unit_test(test_a_panic_stops_at_the_boundary),
        cmocka_unit_test(test_loaded_by_the_host_and_sees_its_orders),
        cmocka_unit_test(test_same_trades_as_the_c_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

int main(void)
{
    fprintf(stderr, "SKIP: /usr/bin/rustc was not found when the project was configured, so the "
                    "Rust example was not built (scripts/install-deps.sh installs Debian's rustc)\n");
    return 77;
}

#endif
