/*
 * The example bots (examples/, in C and C++) as references: their trades on the real
 * ORCL daily file with the example configuration are pinned (count, first
 * and last trade, final equity), so a change to the fill rules, the gates or
 * the exits that moves a textbook result fails here. The example
 * configuration sends the bots' orders unresized, with no fees and no
 * slippage, filled at the next bar's open: the textbook setting.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backtest.h"
#include "clock.h"
#include "enginetest.h"
#include "testutil.h"

#define assert_near(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

static char g_dir[512];

static hydra_backtest *run_bot(const char *bot_id)
{
    return et_examples_backtest(g_dir, bot_id, "ORCL");
}

/* Local date and time of t in the market zone, "YYYY-MM-DD HH:MM". */
static void local(int64_t t, char *buf, size_t sz)
{
    hydra_local_time lt;
    hydra_local_from_utc(t, &lt);
    snprintf(buf, sz, "%04d-%02d-%02d %02d:%02d", lt.year, lt.month, lt.day, lt.hour, lt.minute);
}

static void assert_trade(const hydra_bt_trade *t, const char *entry, double entry_px,
                         const char *exit, double exit_px, const char *reason)
{
    char a[32], b[32];
    local(t->entry_ms, a, sizeof a);
    local(t->exit_ms, b, sizeof b);
    print_message("%s %s %.6f -> %s %.6f %s pnl %.4f\n", t->bot_id, a, t->entry_price, b,
                  t->exit_price, t->exit_reason, t->pnl);
    assert_string_equal(a, entry);
    assert_near(t->entry_price, entry_px, 5e-6);
    assert_string_equal(b, exit);
    assert_near(t->exit_price, exit_px, 5e-6);
    assert_string_equal(t->exit_reason, reason);
    assert_near(t->qty, 100, 1e-12);
}

static double final_equity(const hydra_bt_result *r)
{
    return r->equity[1][r->n_days];
}

/* SMA 10/30 crossover on ORCL 1995-2014: 98 round trips, none resized. */
static void test_sma_cross_on_orcl(void **state)
{
    (void)state;
    hydra_backtest *bt = run_bot("sma_orcl");
    const hydra_bt_result *r = hydra_backtest_result(bt);
    assert_int_equal(r->n_trades, 98);
    assert_int_equal(r->bot_stats[0].entries, 98);
    assert_int_equal(r->bot_stats[0].n_resized, 0);
    assert_int_equal(r->bot_stats[0].n_rejected, 0);
    assert_trade(&r->trades[0], "1995-05-12 13:00", 2.370370, "1995-09-25 13:00", 2.935185,
                 "signal");
    assert_trade(&r->trades[97], "2014-11-04 13:00", 38.93, "2014-12-31 13:00", 44.970001,
                 "end_of_data");
    assert_near(final_equity(r), 102646.07, 0.005);
    hydra_backtest_close(bt);
}

/*
 * The equity record over twenty years of days (it grows past its first
 * mappings): the start in front, dated like the first day a day before
 * its bar, then each trading day at its close bar (13:00 in the market
 * zone), the last one the bar the open trade was valued at; read in order
 * (across weekends, month and year ends) the times are the same.
 */
static void test_equity_record_over_twenty_years(void **state)
{
    (void)state;
    hydra_backtest *bt = run_bot("sma_orcl");
    const hydra_bt_result *r = hydra_backtest_result(bt);
    assert_true(r->n_days > 4096);
    assert_int_equal(r->dates[0], r->dates[1]);
    assert_true(r->equity[0][0] == r->initial_cash && r->equity[1][0] == r->initial_cash);
    assert_true(hydra_bt_point_ms(r, 0) == hydra_bt_point_ms(r, 1) - 86400000LL);
    int64_t t = hydra_bt_point_ms(r, 0);
    for (size_t i = 1; i <= r->n_days; i++) {
        t = hydra_bt_next_point_ms(r, i, t);
        assert_true(t == hydra_bt_point_ms(r, i));
        char want[32], got[32];
        snprintf(want, sizeof want, "%04d-%02d-%02d 13:00", r->dates[i] / 10000,
                 r->dates[i] / 100 % 100, r->dates[i] % 100);
        local(hydra_bt_point_ms(r, i), got, sizeof got);
        assert_string_equal(got, want);
        if (i > 1)
            assert_true(r->dates[i] > r->dates[i - 1]);
    }
    assert_true(hydra_bt_point_ms(r, r->n_days) == r->trades[r->n_trades - 1].exit_ms);
    hydra_backtest_close(bt);
}

/* ROC(20) above 0 with the host's 5% stop and 10% take profit on ORCL: 120 round trips. */
static void test_roc_on_orcl(void **state)
{
    (void)state;
    hydra_backtest *bt = run_bot("roc_orcl");
    const hydra_bt_result *r = hydra_backtest_result(bt);
    assert_int_equal(r->n_trades, 120);
    assert_int_equal(r->bot_stats[0].n_resized, 0);
    assert_trade(&r->trades[0], "1995-02-03 13:00", 2.135803, "1995-03-06 13:00", 2.416667,
                 "take_profit");
    assert_trade(&r->trades[119], "2014-10-29 13:00", 38.73, "2014-12-19 13:00", 45.099998,
                 "take_profit");
    assert_near(final_equity(r), 100963.42, 0.005);
    hydra_backtest_close(bt);
}

/*
 * The C++ example (examples/cpp/breakout.cpp), Donchian 20/10 on ORCL: 76
 * round trips, the trades tests/data/breakout_reference.py computes from the
 * data file alone.
 */
static void test_cpp_breakout_on_orcl(void **state)
{
    (void)state;
    hydra_backtest *bt = run_bot("breakout_orcl");
    const hydra_bt_result *r = hydra_backtest_result(bt);
    assert_int_equal(r->n_trades, 76);
    assert_int_equal(r->bot_stats[0].entries, 76);
    assert_int_equal(r->bot_stats[0].n_resized, 0);
    assert_int_equal(r->bot_stats[0].n_rejected, 0);
    assert_trade(&r->trades[0], "1995-02-16 13:00", 2.259259, "1995-03-24 13:00", 2.361111,
                 "signal");
    assert_trade(&r->trades[75], "2014-12-19 13:00", 45.099998, "2014-12-31 13:00", 44.970001,
                 "end_of_data");
    assert_near(final_equity(r), 100431.82, 0.005);
    hydra_backtest_close(bt);
}

/*
 * The C++ bot in a sandboxed worker process (the host's default isolation)
 * on the simulated exchange: loaded, trading, never quarantined.
 */
static void test_cpp_breakout_in_a_worker(void **state)
{
    (void)state;
    et_assert_trades_in_worker(HYDRA_EXAMPLES_DIR, "brk_FESX", "breakout", "breakout",
                               "{entry_bars: 5, exit_bars: 5, qty: 1}");
}

static int setup(void **state)
{
    (void)state;
    tu_mkdtemp(g_dir, sizeof g_dir);
    return et_examples_config(g_dir);
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sma_cross_on_orcl),
        cmocka_unit_test(test_equity_record_over_twenty_years),
        cmocka_unit_test(test_roc_on_orcl),
        cmocka_unit_test(test_cpp_breakout_on_orcl),
        cmocka_unit_test(test_cpp_breakout_in_a_worker),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
