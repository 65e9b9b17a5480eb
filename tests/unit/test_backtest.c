/*
 * The backtest: trades worked out by hand from the fill rules, determinism
 * of every report, the report arithmetic on a known equity series, and
 * well-formed SVG and HTML.
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

#include <sys/stat.h>

#include "backtest.h"
#include "clock.h"
#include "enginetest.h"
#include "testutil.h"

/* Old cmocka releases have no assert_double_equal. */
#define assert_near(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

/*
 * Fourteen daily bars (stamped at the 16:00 close, New York). Closes:
 * 10 10 10 10 11 12 13 12 11 10 9 9 12 14; each open is the previous close
 * plus 0.50 (the first 10.00). With SMA(2) and SMA(4) of the closes:
 *   bar 4 (01-08): SMA2 10.5 > SMA4 10.25, and at bar 3 both were 10: the
 *     fast line crosses up, a market buy of 10 is sent; it fills at bar 5's
 *     open 11.50 plus 10 bps: 11.5115, fee 0.10.
 *   bar 8 (01-12): SMA2 11.5 < SMA4 12: sell 10, filled at bar 9's open
 *     10.50 less 10 bps: 10.4895, fee 0.10.
 *     PnL = (10.4895 - 11.5115) * 10 - 0.10 - 0.10 = -10.42.
 *   bar 12 (01-18): SMA2 10.5 > SMA4 10, at bar 11 9 <= 9.75: buy 10,
 *     filled at bar 13's open 12.50 * 1.001 = 12.5125, fee 0.10.
 *   bar 13 is the last: the position is valued at its close 14.00,
 *     PnL = (14 - 12.5125) * 10 - 0.10 = 14.775, reason end_of_data.
 */
static const char *BARS = ET_DAILY_BARS
    "2024-01-18,9.50,13.00,8.50,12.00,100\n"
    "2024-01-19,12.50,15.00,11.50,14.00,100\n";

static char g_dir[512];

/* bots.yaml with one ma_cross bot "ma_test" on TEST: `lines` added to its entry, `qty` shares. */
#define MA_BOT(lines, qty)                                                                         \
    "bots:\n"                                                                                      \
    "  - bot_id: ma_test\n    plugin: ma_cross\n    bucket: momentum\n"                            \
    "    asset_class: equity\n    symbols: [TEST]\n" lines                                         \
    "    risk: {max_trades_per_day: 5, max_concurrent_positions: 1}\n"                            \
    "    signal:\n      mode: ma_cross\n      params: {fast: 2, slow: 4, qty: " qty "}\n"

/* One daily-bar bot of a test plugin on TEST, named after the plugin. */
#define PLUGIN_BOT(plugin)                                                                         \
    "bots:\n"                                                                                      \
    "  - bot_id: " plugin "\n    plugin: " plugin "\n    bucket: momentum\n"                       \
    "    asset_class: equity\n    symbols: [TEST]\n    bar_timeframe: day\n"                       \
    "    risk: {max_trades_per_day: 5, max_concurrent_positions: 1}\n"                             \
    "    signal:\n      mode: " plugin "\n"

static const char *MA_BOTS = MA_BOT(
    "    session: {trade_start: \"00:00\", trade_end: \"23:59\", manage_until: \"23:59\"}\n", "10");

static void make_config_full(const char *dir, const char *bots, const char *settings_extra)
{
    char path[1024], text[4096];
    snprintf(path, sizeof path, "%s/bars.csv", dir);
    assert_int_equal(tu_write_file(path, BARS), 0);
    snprintf(text, sizeof text,
             "system:\n  timezone: America/New_York\n  state_db_path: %s/state.db\n"
             "  log_path: %s/app.jsonl\n  kill_switch_path: %s/KILL\n"
             "broker: sim\n"
             "sim:\n  db_path: %s/paper.db\n  initial_cash: 100000\n  slippage_bps: 10\n"
             "  fee_per_share: 0.01\n  session_open: \"09:30\"\n  session_close: \"16:00\"\n"
             "  series:\n    - symbol: TEST\n      file: %s/bars.csv\n%s",
             dir, dir, dir, dir, dir, settings_extra);
    snprintf(path, sizeof path, "%s/settings.yaml", dir);
    assert_int_equal(tu_write_file(path, text), 0);
    snprintf(path, sizeof path, "%s/bots.yaml", dir);
    assert_int_equal(tu_write_file(path, bots), 0);
}

static void make_config_bots(const char *dir, const char *bots)
{
    make_config_full(dir, bots, "");
}

static void make_config(const char *dir)
{
    make_config_bots(dir, MA_BOTS);
}

/* Opens and runs a backtest with `opt` (filters may be set); NULL with the error in err. */
static hydra_backtest *try_run(hydra_backtest_options *opt, const char *config_dir, char *err,
                               size_t errsz)
{
    snprintf(opt->config_dir, sizeof opt->config_dir, "%s", config_dir);
    snprintf(opt->plugins_dir, sizeof opt->plugins_dir, "%s", HYDRA_TEST_BROKEN_DIR);
    opt->cash = opt->fee_per_share = opt->slippage_bps = -1;
    int code = 0;
    hydra_backtest *bt = NULL;
    if (hydra_backtest_open(opt, &bt, err, errsz, &code) != 0)
        return NULL;
    if (hydra_backtest_run(bt, err, errsz) != 0)
        fail_msg("run: %s", err);
    return bt;
}

static hydra_backtest *run_in(const char *config_dir, const char *out_dir, int log_all)
{
    hydra_backtest_options opt;
    memset(&opt, 0, sizeof opt);
    snprintf(opt.config_dir, sizeof opt.config_dir, "%s", config_dir);
    snprintf(opt.plugins_dir, sizeof opt.plugins_dir, "%s", HYDRA_TEST_BROKEN_DIR);
    snprintf(opt.out_dir, sizeof opt.out_dir, "%s", out_dir != NULL ? out_dir : "");
    opt.cash = opt.fee_per_share = opt.slippage_bps = -1;
    opt.log_all = log_all;
    char err[2048] = "";
    int code = 0;
    hydra_backtest *bt = NULL;
    int rc = hydra_backtest_open(&opt, &bt, err, sizeof err, &code);
    if (rc != 0)
        fail_msg("open: %s", err);
    rc = hydra_backtest_run(bt, err, sizeof err);
    if (rc != 0)
        fail_msg("run: %s", err);
    if (out_dir != NULL && hydra_bt_write_reports(hydra_backtest_result(bt), out_dir, NULL, err,
                                                  sizeof err) != 0)
        fail_msg("reports: %s", err);
    return bt;
}

static hydra_backtest *run(const char *out_dir, int log_all)
{
    return run_in(g_dir, out_dir, log_all);
}

static int setup(void **state)
{
    (void)state;
    tu_mkdtemp(g_dir, sizeof g_dir);
    make_config(g_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_dir);
    return 0;
}

static void test_ma_cross_trades_by_hand(void **state)
{
    (void)state;
    hydra_backtest *bt = run(NULL, 0);
    const hydra_bt_result *r = hydra_backtest_result(bt);
    /* The exchange's clock starts at the first bar; every later bar is one tick. */
    assert_int_equal(r->bars, 13);
    assert_int_equal(r->n_trades, 2);
    const hydra_bt_trade *t = &r->trades[0];
    assert_string_equal(t->bot_id, "ma_test");
    assert_string_equal(t->symbol, "TEST");
    assert_near(t->entry_price, 11.5115, 1e-9);
    assert_near(t->exit_price, 10.4895, 1e-9);
    assert_near(t->qty, 10, 1e-12);
    assert_near(t->pnl, -10.42, 1e-9);
    assert_string_equal(t->exit_reason, "signal");
    t = &r->trades[1];
    assert_near(t->entry_price, 12.5125, 1e-9);
    assert_near(t->exit_price, 14.0, 1e-12);
    assert_near(t->pnl, 14.775, 1e-9);
    assert_string_equal(t->exit_reason, "end_of_data");
    /* The account agrees: cash after the fills plus the last position's mark. */
    double end = r->equity[0][r->n_days];
    assert_near(end, 100000 - 10.42 + 14.775, 1e-6);
    hydra_backtest_close(bt);
}

/*
 * A bot that declares daily bars trades with the default session (06:35 to
 * 09:30, manage_until 12:55), although its bars are stamped at the 16:00
 * close: the window is read in trading days. The same bot on the default
 * minute timeframe never trades and says why on every bar.
 */
static void test_daily_bot_trades_with_default_session(void **state)
{
    (void)state;
    static const char *BOTS = MA_BOT("%s", "10");
    char dir[700], bots[2048];
    snprintf(dir, sizeof dir, "%s/daily", g_dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(bots, sizeof bots, BOTS, "    bar_timeframe: day\n");
    make_config_bots(dir, bots);
    hydra_backtest *bt = run_in(dir, NULL, 0);
    const hydra_bt_result *r = hydra_backtest_result(bt);
    /* The hand-worked trades of test_ma_cross_trades_by_hand, none cut by manage_until. */
    assert_int_equal(r->n_trades, 2);
    assert_near(r->trades[0].entry_price, 11.5115, 1e-9);
    assert_string_equal(r->trades[0].exit_reason, "signal");
    assert_near(r->trades[1].pnl, 14.775, 1e-9);
    hydra_backtest_close(bt);

    snprintf(bots, sizeof bots, BOTS, "");
    make_config_bots(dir, bots);
    bt = run_in(dir, NULL, 0);
    assert_int_equal(hydra_backtest_result(bt)->n_trades, 0);
    hydra_backtest_close(bt);
}

/*
 * on_tick is shown the book as the same bot's manage left it: the sell
 * manage places is in on_tick's order views, and on_tick cancels it, every
 * tick the bot holds. Were on_tick handed the views manage was shown (the
 * backtest keeps them when nothing of the bot changed), the sell would be
 * missed, rest for good, and manage would place no other.
 */
static void test_on_tick_sees_what_manage_did(void **state)
{
    (void)state;
    static const char *BOTS = PLUGIN_BOT("manage_then_look");
    char dir[700];
    snprintf(dir, sizeof dir, "%s/look", g_dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    make_config_full(dir, BOTS, "risk:\n  max_limit_distance_pct: 100\n");
    hydra_backtest *bt = run_in(dir, NULL, 0);
    const hydra_bt_result *r = hydra_backtest_result(bt);
    const hydra_bt_bot_stats *st = &r->bot_stats[0];
    /* Bought on the first tick, filled at the second bar's open, held to the end. */
    assert_int_equal(st->entries, 1);
    assert_int_equal(r->n_trades, 1);
    assert_string_equal(r->trades[0].exit_reason, "end_of_data");
    /* A sell placed and cancelled on every tick it held: every tick but the first. */
    print_message("ticks %llu, exits placed %llu\n", (unsigned long long)st->ticks,
                  (unsigned long long)st->exits);
    assert_true(st->ticks >= 10);
    assert_int_equal(st->exits, st->ticks - 1);
    hydra_backtest_close(bt);
}

/*
 * A bot that writes into its read-only views (a budget without limits, no
 * positions, a price of a tenth of a cent) and sizes its entries from them:
 * the gates size and refuse from the host's own book. One entry is booked,
 * cut to the real open-risk budget (500 of 100,000, about 50 shares at 10),
 * never the 10^15 shares its views ask for, and every later entry is
 * refused while it holds its one allowed position.
 */
static void test_views_a_bot_writes_into_move_no_gate(void **state)
{
    (void)state;
    static const char *BOTS = PLUGIN_BOT("view_scribbler");
    char dir[700];
    snprintf(dir, sizeof dir, "%s/scribble", g_dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    make_config_full(dir, BOTS, "risk:\n  max_notional_per_order: 1000000\n");
    hydra_backtest *bt = run_in(dir, NULL, 0);
    const hydra_bt_result *r = hydra_backtest_result(bt);
    const hydra_bt_bot_stats *st = &r->bot_stats[0];
    uint64_t refused = 0;
    for (int i = 0; i < st->n_rejected; i++)
        refused += st->rejected[i].n;
    print_message("entries %llu, refused %llu of %llu ticks, qty %.6g at %.4g\n",
                  (unsigned long long)st->entries, (unsigned long long)refused,
                  (unsigned long long)st->ticks, r->n_trades ? r->trades[0].qty : 0.0,
                  r->n_trades ? r->trades[0].entry_price : 0.0);
    assert_int_equal(st->entries, 1);
    /* Asked for what its scribbled views said, and cut by the open-risk gate. */
    assert_int_equal(st->n_resized, 1);
    assert_string_equal(st->resized[0].name, "open_risk");
    assert_int_equal(r->n_trades, 1);
    assert_true(r->trades[0].qty > 0 && r->trades[0].qty <= 50.0 + 1e-6);
    assert_true(refused >= st->ticks - 2);
    hydra_backtest_close(bt);
}

/*
 * flatten_before_close reads the market clock, which the backtest asks for
 * only when such a bot holds something. Daily bars are stamped at the
 * session's close, inside any number of minutes before it: a position is
 * closed by the rule on the first tick it is held.
 */
static void test_flatten_before_close_reads_the_clock(void **state)
{
    (void)state;
    static const char *BOTS = MA_BOT(
        "    bar_timeframe: day\n    exits: {flatten_before_close_minutes: 15}\n", "10");
    char dir[700];
    snprintf(dir, sizeof dir, "%s/before_close", g_dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    make_config_bots(dir, BOTS);
    hydra_backtest *bt = run_in(dir, NULL, 0);
    const hydra_bt_result *r = hydra_backtest_result(bt);
    /* The hand-worked entries of test_ma_cross_trades_by_hand; the second fills on the last bar. */
    assert_int_equal(r->n_trades, 2);
    assert_string_equal(r->trades[0].exit_reason, "flatten_before_close");
    assert_int_equal(r->trades[0].exit_ms - r->trades[0].entry_ms, 86400000LL);
    assert_string_equal(r->trades[1].exit_reason, "end_of_data");
    hydra_backtest_close(bt);
}

/*
 * PortfolioBot's budgets follow the equity each day starts with, as live
 * (the backtest keeps a day's rows only while that equity is unchanged).
 * Entries far too large are cut by the open-risk gate to the budget, which
 * is proportional to the day's starting equity: 100,000 for the first
 * entry, 100,000 plus the first trade's result for the second (the bot is
 * flat in between, so the equity is its cash).
 */
static void test_budgets_follow_the_days_equity(void **state)
{
    (void)state;
    static const char *BOTS = MA_BOT("    bar_timeframe: day\n", "100000");
    char dir[700], out[800], path[900];
    snprintf(dir, sizeof dir, "%s/budgets", g_dir);
    snprintf(out, sizeof out, "%s/out", dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    make_config_full(dir, BOTS, "risk:\n  max_notional_per_order: 1000000\n");
    hydra_backtest *bt = run_in(dir, out, 1);
    const hydra_bt_result *r = hydra_backtest_result(bt);
    assert_true(r->n_trades >= 2);
    /* The open risk each entry was cut to: "... open_risk capped X to N shares (RISK)". */
    snprintf(path, sizeof path, "%s/decisions.jsonl", out);
    char *log = tu_read_file(path, NULL);
    assert_non_null(log);
    double risk[2];
    const char *p = log;
    for (int i = 0; i < 2; i++) {
        p = strstr(p, "open_risk capped ");
        assert_non_null(p);
        p = strstr(p, " shares (");
        assert_non_null(p);
        assert_int_equal(sscanf(p, " shares (%lf)", &risk[i]), 1);
    }
    free(log);
    /* A quarter of 1% (the momentum bucket), twice over, of 100,000; then of the new equity. */
    double equity2 = 100000 + r->trades[0].pnl;
    print_message("open risk allowed: %.2f, then %.2f (equity %.2f)\n", risk[0], risk[1], equity2);
    assert_near(risk[0], 500.0, 0.005);
    assert_true(fabs(equity2 - 100000) > 10); /* the first trade moved the equity */
    assert_near(risk[1], 500.0 * equity2 / 100000, 0.005);
    hydra_backtest_close(bt);
}

/* A bot that never trades, or whose entries the gates resize, says why at the top of the summary. */
static void test_summary_explains_skips_and_resizes(void **state)
{
    (void)state;
    static const char *BOTS = MA_BOT("%s", "10");
    char dir[700], out[800], path[900], bots[2048];
    snprintf(dir, sizeof dir, "%s/explain", g_dir);
    snprintf(out, sizeof out, "%s/out", dir);
    assert_int_equal(mkdir(dir, 0755), 0);

    /* Minute timeframe on daily bars: skipped on every tick, one log line for all of them. */
    snprintf(bots, sizeof bots, BOTS, "");
    make_config_bots(dir, bots);
    hydra_backtest *bt = run_in(dir, out, 1);
    const hydra_bt_result *r = hydra_backtest_result(bt);
    assert_int_equal(r->n_trades, 0);
    assert_int_equal(r->bot_stats[0].ticks, 13);
    assert_int_equal(r->bot_stats[0].n_skipped, 1);
    assert_string_equal(r->bot_stats[0].skipped[0].name, "outside trade window");
    assert_int_equal(r->bot_stats[0].skipped[0].n, 13);
    hydra_backtest_close(bt);
    snprintf(path, sizeof path, "%s/decisions.jsonl", out);
    assert_int_equal(et_count_events(path, "preflight_skip", "ma_test"), 1);
    snprintf(path, sizeof path, "%s/summary.txt", out);
    char *txt = tu_read_file(path, NULL);
    assert_non_null(txt);
    assert_true(strncmp(txt, "WARNINGS:\n  ma_test never traded: on_tick was skipped on 13 of 13 "
                             "ticks (outside trade window); see session.trade_start/trade_end "
                             "(06:35-09:30) with bar_timeframe: minute",
                        170) == 0);
    free(txt);
    snprintf(path, sizeof path, "%s/summary.json", out);
    char *json = tu_read_file(path, NULL);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"warnings\":[\"ma_test never traded"));
    assert_non_null(strstr(json, "\"skipped\":{\"outside trade window\":13}"));
    free(json);

    /* A notional cap below the order's size: both entries resized, the setting named. */
    snprintf(bots, sizeof bots, BOTS, "    bar_timeframe: day\n");
    make_config_full(dir, bots, "risk:\n  max_notional_per_order: 60\n");
    bt = run_in(dir, out, 1);
    r = hydra_backtest_result(bt);
    assert_int_equal(r->n_trades, 2);
    assert_true(r->trades[0].qty < 10); /* 60 / 11.50 shares, not 10 */
    assert_int_equal(r->bot_stats[0].entries, 2);
    assert_int_equal(r->bot_stats[0].n_resized, 1);
    assert_string_equal(r->bot_stats[0].resized[0].name, "notional_cap");
    assert_int_equal(r->bot_stats[0].resized[0].n, 2);
    hydra_backtest_close(bt);
    snprintf(path, sizeof path, "%s/decisions.jsonl", out);
    assert_int_equal(et_count_events(path, "gate_resized", "ma_test"), 2);
    snprintf(path, sizeof path, "%s/summary.json", out);
    json = tu_read_file(path, NULL);
    assert_non_null(json);
    assert_non_null(strstr(json, "ma_test: 2 of 2 entries were resized by the gates (2 by "
                                 "notional_cap); see risk.max_notional_per_order (60)"));
    assert_non_null(strstr(json, "\"resized\":{\"notional_cap\":2}"));
    free(json);
}

/* --bot runs only the named bots (a disabled one too); --symbol only the named series. */
static void test_bot_and_symbol_filters(void **state)
{
    (void)state;
    char dir[700], err[1024];
    snprintf(dir, sizeof dir, "%s/filters", g_dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    char extra[900];
    snprintf(extra, sizeof extra, "    - symbol: COPY\n      file: %s/bars.csv\n", dir);
    make_config_full(dir,
                     "bots:\n"
                     "  - bot_id: ma_a\n    plugin: ma_cross\n    bucket: momentum\n"
                     "    asset_class: equity\n    symbols: [TEST]\n    bar_timeframe: day\n"
                     "    signal:\n      mode: ma_cross\n      params: {fast: 2, slow: 4, qty: 10}\n"
                     "  - bot_id: ma_b\n    enabled: false\n    plugin: ma_cross\n"
                     "    bucket: momentum\n    asset_class: equity\n    symbols: [COPY]\n"
                     "    bar_timeframe: day\n"
                     "    signal:\n      mode: ma_cross\n      params: {fast: 2, slow: 4, qty: 3}\n",
                     extra);
    hydra_backtest_options opt;
    memset(&opt, 0, sizeof opt);
    hydra_backtest *bt = try_run(&opt, dir, err, sizeof err);
    assert_non_null(bt);
    assert_int_equal(hydra_backtest_result(bt)->n_bots, 1); /* ma_b is disabled */
    hydra_backtest_close(bt);

    memset(&opt, 0, sizeof opt);
    snprintf(opt.only_bots[opt.n_only_bots++], sizeof opt.only_bots[0], "ma_b");
    bt = try_run(&opt, dir, err, sizeof err);
    assert_non_null(bt);
    const hydra_bt_result *r = hydra_backtest_result(bt);
    assert_int_equal(r->n_bots, 1);
    assert_string_equal(r->bot_ids[0], "ma_b");
    assert_int_equal(r->n_trades, 2);
    assert_near(r->trades[0].qty, 3, 1e-12);
    assert_string_equal(r->trades[0].symbol, "COPY");
    hydra_backtest_close(bt);

    memset(&opt, 0, sizeof opt);
    snprintf(opt.only_symbols[opt.n_only_symbols++], sizeof opt.only_symbols[0], "TEST");
    bt = try_run(&opt, dir, err, sizeof err);
    assert_non_null(bt);
    r = hydra_backtest_result(bt);
    assert_int_equal(r->n_bots, 1);
    assert_string_equal(r->bot_ids[0], "ma_a");
    assert_non_null(strstr(r->series_note, "TEST = "));
    assert_null(strstr(r->series_note, "COPY"));
    hydra_backtest_close(bt);

    memset(&opt, 0, sizeof opt);
    snprintf(opt.only_bots[opt.n_only_bots++], sizeof opt.only_bots[0], "nope");
    assert_null(try_run(&opt, dir, err, sizeof err));
    assert_non_null(strstr(err, "--bot nope: no bot with that id"));
    memset(&opt, 0, sizeof opt);
    snprintf(opt.only_symbols[opt.n_only_symbols++], sizeof opt.only_symbols[0], "NOPE");
    assert_null(try_run(&opt, dir, err, sizeof err));
    assert_non_null(strstr(err, "--symbol NOPE: no series with that symbol"));
}

/*
 * A long run's chart is downsampled (the lowest and highest point of each
 * pixel bucket): 30,000 daily bars give at most 3,202 points, the curve
 * still reaches the top and the bottom of the plot, and the report pages
 * stay small.
 */
static void test_long_curves_are_downsampled(void **state)
{
    (void)state;
    char dir[700], out[800], path[900];
    snprintf(dir, sizeof dir, "%s/long", g_dir);
    snprintf(out, sizeof out, "%s/out", dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    make_config_bots(dir, MA_BOT("    bar_timeframe: day\n", "10"));
    /* One calendar day a bar from 1950, a slow sine with a fast wiggle: many crossings. */
    snprintf(path, sizeof path, "%s/bars.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "Date,Open,High,Low,Close,Volume\n");
    for (int i = 0; i < 30000; i++) {
        int64_t days = hydra_days_from_date(19500101) + i;
        int64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
        int d = (int)(doy - (153 * mp + 2) / 5 + 1), m = (int)(mp < 10 ? mp + 3 : mp - 9);
        int y = (int)(yoe + era * 400 + (m <= 2));
        double c = 50 + 20 * sin(i / 900.0) + 3 * sin(i / 3.0);
        fprintf(f, "%04d-%02d-%02d,%.2f,%.2f,%.2f,%.2f,100\n", y, m, d, c, c + 1, c - 1, c);
    }
    assert_int_equal(fclose(f), 0);
    hydra_backtest_close(run_in(dir, out, 0));
    snprintf(path, sizeof path, "%s/equity.svg", out);
    size_t len = 0;
    char *svg = tu_read_file(path, &len);
    assert_non_null(svg);
    assert_true(len < 200000);
    const char *pts = strstr(svg, "id=\"equity\"");
    assert_non_null(pts);
    pts = strstr(pts, "points=\"") + 8;
    const char *end = strchr(pts, '"');
    size_t n = 0;
    int top = 0, bottom = 0;
    for (const char *p = pts; p != NULL && p < end; p = strchr(p + 1, ' ')) {
        double x, yv;
        assert_int_equal(sscanf(p, "%lf,%lf", &x, &yv), 2);
        top |= yv == 30.0;
        bottom |= yv == 330.0;
        n++;
    }
    print_message("%zu points, %zu bytes of SVG\n", n, len);
    assert_true(n > 1000 && n <= 3202);
    assert_true(top && bottom); /* the highest and the lowest equity are drawn */
    free(svg);
    snprintf(path, sizeof path, "%s/report.html", out);
    char *html = tu_read_file(path, &len);
    assert_non_null(html);
    assert_true(len < 1000000);
    free(html);
}

static void test_trades_csv_has_hand_values(void **state)
{
    (void)state;
    char out[1024];
    snprintf(out, sizeof out, "%s/out", g_dir);
    hydra_backtest_close(run(out, 0));
    char path[1100];
    snprintf(path, sizeof path, "%s/trades.csv", out);
    char *csv = tu_read_file(path, NULL);
    assert_non_null(csv);
    assert_string_equal(csv,
                        "bot,symbol,entry_time,entry_price,exit_time,exit_price,qty,pnl,exit_reason\n"
                        "ma_test,TEST,2024-01-09 16:00:00,11.5115,2024-01-15 16:00:00,10.4895,"
                        "10,-10.42,signal\n"
                        "ma_test,TEST,2024-01-19 16:00:00,12.5125,2024-01-19 16:00:00,14,"
                        "10,14.775,end_of_data\n");
    free(csv);
}

static void test_two_runs_are_byte_identical(void **state)
{
    (void)state;
    static const char *files[] = {"trades.csv", "summary.json", "summary.txt", "equity.svg",
                                  "report.html", "decisions.jsonl"};
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/run_a", g_dir);
    snprintf(b, sizeof b, "%s/run_b", g_dir);
    hydra_backtest_close(run(a, 1));
    hydra_backtest_close(run(b, 1));
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char pa[1100], pb[1100];
        size_t la = 0, lb = 0;
        snprintf(pa, sizeof pa, "%s/%s", a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[i]);
        char *x = tu_read_file(pa, &la), *y = tu_read_file(pb, &lb);
        assert_non_null(x);
        assert_non_null(y);
        assert_true(la > 0);
        assert_int_equal(la, lb);
        assert_memory_equal(x, y, la);
        free(x);
        free(y);
    }
}

/* A backtest of the shipped configuration (January to March 2006) with the plugins in `plugins`. */
static void run_shipped(const char *dir, const char *plugins, const char *bots_edits)
{
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(et_make_config(dir, NULL, bots_edits), 0);
    hydra_backtest_options opt;
    memset(&opt, 0, sizeof opt);
    snprintf(opt.config_dir, sizeof opt.config_dir, "%s/config", dir);
    snprintf(opt.plugins_dir, sizeof opt.plugins_dir, "%s", plugins);
    snprintf(opt.out_dir, sizeof opt.out_dir, "%s/out", dir);
    snprintf(opt.from, sizeof opt.from, "2006-01-01");
    snprintf(opt.to, sizeof opt.to, "2006-03-31");
    opt.cash = opt.fee_per_share = opt.slippage_bps = -1;
    char err[2048] = "";
    int code = 0;
    hydra_backtest *bt = NULL;
    if (hydra_backtest_open(&opt, &bt, err, sizeof err, &code) != 0 ||
        hydra_backtest_run(bt, err, sizeof err) != 0 ||
        hydra_bt_write_reports(hydra_backtest_result(bt), opt.out_dir, NULL, err, sizeof err) != 0)
        fail_msg("%s: %s", dir, err);
    hydra_backtest_close(bt);
}

/*
 * The options bot asks for its chain only when its signal fires
 * (hydra.options-chain/1); built to read the chain from every snapshot
 * instead, it makes exactly the same trades.
 */
static void test_chain_on_request_trades_as_the_snapshot(void **state)
{
    (void)state;
    char plugins[600], a[600], b[600], from[700], to[700];
    snprintf(plugins, sizeof plugins, "%s/plugins", g_dir);
    assert_int_equal(mkdir(plugins, 0755), 0);
    static const char *names[] = {"momentum", "options", "crypto"};
    for (int i = 0; i < 3; i++) {
        snprintf(from, sizeof from, "%s/%s.so", HYDRA_TEST_PLUGIN_DIR, names[i]);
        snprintf(to, sizeof to, "%s/%s.so", plugins, names[i]);
        assert_int_equal(tu_copy_file(from, to), 0);
    }
    snprintf(to, sizeof to, "%s/options_snapshot.so", plugins);
    assert_int_equal(tu_copy_file(HYDRA_TEST_BROKEN_DIR "/options_snapshot.so", to), 0);

    snprintf(a, sizeof a, "%s/asks", g_dir);
    snprintf(b, sizeof b, "%s/snapshot", g_dir);
    run_shipped(a, plugins, NULL);
    run_shipped(b, plugins, "plugin: options=>plugin: options_snapshot");
    snprintf(from, sizeof from, "%s/out/trades.csv", a);
    snprintf(to, sizeof to, "%s/out/trades.csv", b);
    size_t la = 0, lb = 0;
    char *x = tu_read_file(from, &la), *y = tu_read_file(to, &lb);
    assert_non_null(x);
    assert_non_null(y);
    int options = 0;
    for (const char *p = x; (p = strstr(p, "\nopt_core,")) != NULL; p++)
        options++;
    print_message("%d option trades\n", options);
    assert_true(options >= 3);
    assert_int_equal(la, lb);
    assert_memory_equal(x, y, la);
    free(x);
    free(y);
}

/*
 * Equity 100, 110, 99, 108.9, 120 over five days (returns +10%, -10%, +10%,
 * +10.19...%): drawdown 10% from day 2's peak to day 3; Sharpe and Sortino
 * from the formulas in report.c, computed here independently.
 */
static void test_metrics_on_known_series(void **state)
{
    (void)state;
    int dates[] = {20240102, 20240103, 20240104, 20240105, 20240108};
    double eq[] = {100, 110, 99, 108.9, 120};
    hydra_bt_trade tr[3];
    memset(tr, 0, sizeof tr);
    strcpy(tr[0].bot_id, "a");
    tr[0].pnl = 30;
    strcpy(tr[1].bot_id, "a");
    tr[1].pnl = -10;
    strcpy(tr[2].bot_id, "b");
    tr[2].pnl = -5;
    hydra_bt_metrics m;
    hydra_bt_compute_metrics(dates, eq, 5, tr, 3, NULL, 25, 100, &m);
    assert_near(m.total_return, 0.20, 1e-12);
    assert_near(m.max_drawdown, 0.10, 1e-12);
    assert_int_equal(m.dd_peak_date, 20240103);
    assert_int_equal(m.dd_trough_date, 20240104);
    double r[4] = {0.1, -0.1, 0.1, 120 / 108.9 - 1};
    double mean = (r[0] + r[1] + r[2] + r[3]) / 4, ss = 0;
    for (int i = 0; i < 4; i++)
        ss += (r[i] - mean) * (r[i] - mean);
    assert_near(m.sharpe, mean / sqrt(ss / 3) * sqrt(252), 1e-9);
    assert_near(m.sortino, mean / sqrt(0.01 / 4) * sqrt(252), 1e-9);
    assert_near(m.cagr, pow(1.2, 365.25 / 6) - 1, 1e-9);
    assert_int_equal(m.trades, 3);
    assert_int_equal(m.wins, 1);
    assert_near(m.win_rate, 1.0 / 3, 1e-12);
    assert_near(m.profit_factor, 30.0 / 15, 1e-12);
    assert_near(m.exposure, 0.25, 1e-12);
    /* One bot's trades only; no losses gives an infinite profit factor. */
    hydra_bt_compute_metrics(dates, eq, 5, tr, 3, "b", 0, 100, &m);
    assert_int_equal(m.trades, 1);
    assert_near(m.profit_factor, 0, 1e-12);
    tr[2].pnl = 5;
    hydra_bt_compute_metrics(dates, eq, 5, tr, 3, "b", 0, 100, &m);
    assert_true(isinf(m.profit_factor));
}

/* Counts "<tag" openings and "</tag>" closings (or self-closing "/>") of one element name. */
static void assert_balanced(const char *text, const char *tag)
{
    char open[32], close[32];
    snprintf(open, sizeof open, "<%s", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    int opens = 0, closes = 0;
    for (const char *p = text; (p = strstr(p, open)) != NULL; p++) {
        char next = p[strlen(open)];
        if (next == ' ' || next == '>') {
            opens++;
            const char *end = strchr(p, '>');
            assert_non_null(end);
            if (end[-1] == '/')
                closes++;
        }
    }
    for (const char *p = text; (p = strstr(p, close)) != NULL; p++)
        closes++;
    assert_true(opens > 0);
    assert_int_equal(opens, closes);
}

static void test_svg_and_html_are_well_formed(void **state)
{
    (void)state;
    char out[1024], path[1100];
    snprintf(out, sizeof out, "%s/charts", g_dir);
    hydra_backtest *bt = run(out, 0);
    const hydra_bt_result *r = hydra_backtest_result(bt);
    snprintf(path, sizeof path, "%s/equity.svg", out);
    char *svg = tu_read_file(path, NULL);
    assert_non_null(svg);
    assert_true(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
    assert_non_null(strstr(svg, "</svg>\n"));
    assert_balanced(svg, "svg");
    assert_balanced(svg, "text");
    /* One equity point per day plus the start, each "x,y" inside the plot. */
    const char *pts = strstr(svg, "id=\"equity\"");
    assert_non_null(pts);
    pts = strstr(pts, "points=\"") + 8;
    size_t n = 0;
    for (const char *p = pts; *p != '"'; p++) {
        double x, y;
        assert_int_equal(sscanf(p, "%lf,%lf", &x, &y), 2);
        assert_true(x >= 80 && x <= 880 && y >= 30 && y <= 330);
        n++;
        p = strchr(p, ' ');
        if (p == NULL || p > strchr(pts, '"'))
            break;
    }
    assert_int_equal(n, r->n_days + 1);
    assert_non_null(strstr(svg, "id=\"drawdown\""));
    free(svg);

    snprintf(path, sizeof path, "%s/report.html", out);
    char *html = tu_read_file(path, NULL);
    assert_non_null(html);
    assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    assert_balanced(html, "html");
    assert_balanced(html, "table");
    assert_balanced(html, "tr");
    assert_balanced(html, "svg");
    assert_non_null(strstr(html, "<td>ma_test</td>"));
    assert_non_null(strstr(html, "end_of_data"));
    assert_non_null(strstr(html, "Sharpe"));
    /* Self-contained: nothing fetched from anywhere. */
    assert_null(strstr(html, "src="));
    assert_null(strstr(html, "href=\"http"));
    /* The summary cells hold summary.json's values: the bot's two trades and its return. */
    assert_non_null(strstr(html, "<td data-k=\"trades\" data-v=\"2\" data-f=\"n0\">2</td>"));
    /* TEST's chart marks both trades' entries and exits (the entries at 11.5115 and 12.5125). */
    assert_non_null(strstr(html, "data-symbol=\"TEST\" data-trades=\"2\""));
    assert_non_null(strstr(html, "class=\"entries\" data-n=\"2\""));
    assert_non_null(strstr(html, "class=\"exits\" data-n=\"2\""));
    /* January 2024 in the monthly table, and the equity chart of the bot. */
    assert_non_null(strstr(html, "<tr><th>2024</th>"));
    assert_non_null(strstr(html, "data-bot=\"ma_test\""));

    snprintf(path, sizeof path, "%s/summary.json", out);
    char *json = tu_read_file(path, NULL);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"name\":\"ma_test\""));
    assert_non_null(strstr(json, "\"trades\":2"));
    /* summary.json is embedded in the page as it is in the file. */
    const char *open_tag = "<script type=\"application/json\" id=\"summary-json\">";
    const char *emb = strstr(html, open_tag);
    assert_non_null(emb);
    emb += strlen(open_tag);
    assert_true(strncmp(emb, json, strlen(json)) == 0);
    assert_true(strncmp(emb + strlen(json), "</script>", 9) == 0);
    free(html);
    free(json);
    hydra_backtest_close(bt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ma_cross_trades_by_hand),
        cmocka_unit_test(test_daily_bot_trades_with_default_session),
        cmocka_unit_test(test_on_tick_sees_what_manage_did),
        cmocka_unit_test(test_views_a_bot_writes_into_move_no_gate),
        cmocka_unit_test(test_budgets_follow_the_days_equity),
        cmocka_unit_test(test_flatten_before_close_reads_the_clock),
        cmocka_unit_test(test_summary_explains_skips_and_resizes),
        cmocka_unit_test(test_bot_and_symbol_filters),
        cmocka_unit_test(test_long_curves_are_downsampled),
        cmocka_unit_test(test_trades_csv_has_hand_values),
        cmocka_unit_test(test_two_runs_are_byte_identical),
        cmocka_unit_test(test_chain_on_request_trades_as_the_snapshot),
        cmocka_unit_test(test_metrics_on_known_series),
        cmocka_unit_test(test_svg_and_html_are_well_formed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
