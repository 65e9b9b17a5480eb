/*
 * Configuration and credentials.
 *
 * The broken configurations under tests/configs/ hold one error class each;
 * every test names the exact messages it expects, so a change of wording or
 * of line/column is a visible, deliberate change. The tests run from the
 * source directory so messages carry the short relative paths an operator
 * would see.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hydra/types.h>

#include "config.h"
#include "error.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------- */

static hydra_config *new_config(void)
{
    hydra_config *cfg = calloc(1, sizeof *cfg);
    assert_non_null(cfg);
    return cfg;
}

/* Compares the collected messages with `expected` line by line, showing both on a mismatch. */
static void assert_diag(const hydra_diag *d, const char *const *expected, size_t n)
{
    int same = d->n == n;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(d->lines[i], expected[i]) == 0;
    if (!same) {
        fprintf(stderr, "expected %zu message(s):\n", n);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "  %s\n", expected[i]);
        fprintf(stderr, "got %zu:\n", d->n);
        for (size_t i = 0; i < d->n; i++)
            fprintf(stderr, "  %s\n", d->lines[i]);
    }
    assert_true(same);
}

/* Loads tests/configs/<name>, expects HYDRA_ECONFIG and exactly these messages. */
static void expect_errors(const char *name, const char *const *expected, size_t n)
{
    char dir[256];
    snprintf(dir, sizeof dir, "tests/configs/%s", name);
    hydra_config *cfg = new_config();
    hydra_diag d;
    hydra_diag_init(&d);
    int rc = hydra_config_load(dir, cfg, &d);
    assert_diag(&d, expected, n);
    assert_int_equal(rc, HYDRA_ECONFIG);
    hydra_diag_free(&d);
    free(cfg);
}

#define EXPECT_ERRORS(name, ...)                                                                   \
    do {                                                                                           \
        static const char *const lines_[] = {__VA_ARGS__};                                         \
        expect_errors(name, lines_, sizeof lines_ / sizeof lines_[0]);                             \
    } while (0)

/* Loads a directory that must be valid. */
/*
 * The shipped configuration as committed, copied into tests/ so the suite
 * never reads config/, which a user edits (adding a bot there must not
 * turn a test red).
 */
#define SHIPPED "tests/configs/shipped"

static hydra_config *load_ok(const char *dir)
{
    hydra_config *cfg = new_config();
    hydra_diag d;
    hydra_diag_init(&d);
    int rc = hydra_config_load(dir, cfg, &d);
    assert_diag(&d, NULL, 0);
    assert_int_equal(rc, 0);
    hydra_diag_free(&d);
    return cfg;
}

/* Writes settings.yaml and bots.yaml into a fresh temporary directory. */
static const char *write_config(char *dir, size_t size, const char *settings, const char *bots)
{
    char path[512];
    assert_non_null(tu_mkdtemp(dir, size));
    snprintf(path, sizeof path, "%s/settings.yaml", dir);
    assert_int_equal(tu_write_file(path, settings), 0);
    snprintf(path, sizeof path, "%s/bots.yaml", dir);
    assert_int_equal(tu_write_file(path, bots), 0);
    return dir;
}

static const hydra_bot_cfg *bot(const hydra_config *cfg, const char *id)
{
    const hydra_bot_cfg *b = hydra_config_find_bot(cfg, id);
    assert_non_null(b);
    return b;
}

static const hydra_param *param(const hydra_bot_cfg *b, const char *key, hydra_param_type type)
{
    const hydra_param *p = hydra_bot_param(b, key);
    assert_non_null(p);
    assert_int_equal(p->type, type);
    return p;
}

/* ---- the shipped configuration ------------------------------------------ */

static void test_shipped_config_loads(void **state)
{
    (void)state;
    hydra_config *cfg = load_ok(SHIPPED);
    const hydra_settings *s = &cfg->settings;

    assert_string_equal(cfg->dir, SHIPPED);
    assert_string_equal(s->timezone, "America/Los_Angeles");
    assert_string_equal(s->broker, "sim");
    assert_int_equal(s->loop_interval_seconds, 5);
    assert_true(s->fail_closed);
    assert_int_equal(s->global_cooldown_minutes, 390);
    assert_true(s->global_max_daily_loss_pct == 1.0);
    assert_true(s->max_notional_per_order == 5000);
    assert_int_equal(s->alpaca.max_response_bytes, 8388608L);
    assert_string_equal(s->sim.start, "2006-01-02 06:00");
    assert_true(s->sim.fee_per_share == 0.005);

    assert_int_equal(s->sim.n_series, 6);
    assert_string_equal(s->sim.series[0].symbol, "FESX");
    /* Relative to the configuration directory, wherever the host runs from. */
    char cwd[512], want[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(want, sizeof want, "%s/" SHIPPED "/../data/2006-01-02-volume-min-001.txt", cwd);
    assert_string_equal(s->sim.series[0].file, want);
    snprintf(want, sizeof want, "%s/" SHIPPED "/../state/trading_state.db", cwd);
    assert_string_equal(s->state_db_path, want);
    assert_string_equal(s->sim.series[0].timezone, "Europe/Berlin");
    assert_false(s->sim.series[0].generated);
    assert_string_equal(s->sim.series[4].symbol, "BTC/USD");
    assert_true(s->sim.series[4].generated);
    assert_int_equal(s->sim.series[4].seed, 20060102ULL);
    assert_true(s->sim.series[4].start_price == 40000);
    assert_true(s->sim.series[4].vol_pct_per_day == 3.0);
    assert_string_equal(s->sim.series[4].file, "");

    assert_true(cfg->exitbot.enabled);
    assert_int_equal(cfg->exitbot.cooloff_minutes, 390);
    assert_true(cfg->exitbot.anomaly_halt);
    assert_true(cfg->portfolio.cash_reserve_pct == 30);
    assert_true(cfg->portfolio.bucket_pct[HYDRA_BUCKET_OPTIONS] == 50);
    assert_true(cfg->portfolio.per_bot_min_pct == 5);
    assert_true(cfg->portfolio.per_bot_max_pct == 25);

    assert_int_equal(cfg->n_bots, 4);
    assert_string_equal(cfg->bots[0].bot_id, "mom_FESX");
    assert_string_equal(cfg->bots[1].bot_id, "mom_YHOO");
    assert_string_equal(cfg->bots[2].bot_id, "opt_core");
    assert_string_equal(cfg->bots[3].bot_id, "crypto_core");

    const hydra_bot_cfg *m = bot(cfg, "mom_FESX");
    assert_int_equal(m->kind, HYDRA_BOT_MOMENTUM);
    assert_int_equal(m->bucket, HYDRA_BUCKET_MOMENTUM);
    assert_int_equal(m->asset_class, HYDRA_ASSET_EQUITY);
    assert_string_equal(m->plugin, "momentum");
    assert_true(m->enabled);
    assert_int_equal(m->rank, 20);
    assert_int_equal(m->isolation_process, 1); /* bots run in worker processes by default */
    assert_int_equal(m->n_symbols, 1);
    assert_string_equal(m->symbols[0], "FESX");
    assert_int_equal(m->trade_start_min, 6 * 60 + 35);
    assert_int_equal(m->trade_end_min, 9 * 60 + 30);
    assert_int_equal(m->manage_until_min, 12 * 60 + 55);
    assert_int_equal(m->max_trades_per_day, 3);
    assert_true(m->stop_loss_pct == 0.50);
    assert_int_equal(m->time_stop_minutes, 25);
    assert_int_equal(m->order_type, HYDRA_ORDER_MARKET);
    assert_int_equal(m->tif, HYDRA_TIF_DAY);
    assert_false(m->use_notional);
    assert_string_equal(m->signal_mode, "roc_trend_v1");
    assert_int_equal(m->n_params, 4);
    assert_int_equal(param(m, "roc_bars", HYDRA_PARAM_INT)->i, 10);
    assert_true(param(m, "entry_roc_pct", HYDRA_PARAM_DOUBLE)->d == 0.05);
    assert_int_equal(m->line, 26);

    const hydra_bot_cfg *t = bot(cfg, "mom_YHOO");
    assert_false(t->enabled);
    assert_string_equal(t->symbols[0], "YHOO");
    assert_int_equal(t->n_params, 0);
    assert_int_equal(t->line, 49);
    assert_int_equal(t->bar_timeframe, HYDRA_BARS_DAY);
    assert_int_equal(m->bar_timeframe, HYDRA_BARS_MINUTE); /* the default */

    const hydra_bot_cfg *o = bot(cfg, "opt_core");
    assert_int_equal(o->kind, HYDRA_BOT_OPTIONS);
    assert_int_equal(o->bucket, HYDRA_BUCKET_OPTIONS);
    assert_int_equal(o->asset_class, HYDRA_ASSET_OPTION);
    assert_int_equal(o->rank, 30);
    assert_int_equal(o->n_symbols, 2);
    assert_string_equal(o->symbols[0], "ORCL");
    assert_string_equal(o->symbols[1], "NVDA");
    assert_int_equal(o->dte_min, 7);
    assert_int_equal(o->dte_max, 45);
    assert_true(o->delta_min == 0.25);
    assert_true(o->delta_max == 0.60);
    assert_int_equal(o->flatten_before_close_minutes, 10);
    assert_int_equal(o->order_type, HYDRA_ORDER_MARKET);
    assert_int_equal(o->tif, HYDRA_TIF_DAY);
    assert_int_equal(param(o, "contracts", HYDRA_PARAM_INT)->i, 1);
    assert_int_equal(o->line, 70);

    const hydra_bot_cfg *c = bot(cfg, "crypto_core");
    assert_int_equal(c->kind, HYDRA_BOT_CRYPTO);
    assert_int_equal(c->bucket, HYDRA_BUCKET_CRYPTO);
    assert_int_equal(c->asset_class, HYDRA_ASSET_CRYPTO);
    assert_int_equal(c->rank, 25);
    assert_int_equal(c->n_symbols, 2);
    assert_string_equal(c->symbols[0], "BTC/USD");
    assert_string_equal(c->symbols[1], "ETH/USD");
    assert_int_equal(c->order_type, HYDRA_ORDER_LIMIT);
    assert_int_equal(c->tif, HYDRA_TIF_GTC);
    assert_true(c->use_notional);
    assert_true(c->default_notional_usd == 50);
    assert_int_equal(c->trade_start_min, 0);
    assert_int_equal(c->manage_until_min, 23 * 60 + 59);

    assert_null(hydra_config_find_bot(cfg, "nope"));
    assert_null(hydra_bot_param(m, "nope"));
    free(cfg);
}

/* The defaults are the shipped settings, so a key left out changes nothing. */
static void test_defaults_match_shipped_settings(void **state)
{
    (void)state;
    hydra_config *shipped = load_ok(SHIPPED);
    hydra_config *def = new_config();
    hydra_config_defaults(def);

    /*
     * The series and the replay start describe the shipped data, not a
     * tunable: by default there are none and the replay starts at the first bar.
     */
    assert_int_equal(def->settings.sim.n_series, 0);
    assert_string_equal(def->settings.sim.start, "");
    memset(shipped->settings.sim.series, 0, sizeof shipped->settings.sim.series);
    shipped->settings.sim.n_series = 0;
    memset(shipped->settings.sim.start, 0, sizeof shipped->settings.sim.start);
    /* Paths are the defaults, resolved against the configuration directory. */
    char cwd[512], want[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    char *paths[][2] = {{shipped->settings.log_path, def->settings.log_path},
                        {shipped->settings.state_db_path, def->settings.state_db_path},
                        {shipped->settings.kill_switch_path, def->settings.kill_switch_path},
                        {shipped->settings.sim.db_path, def->settings.sim.db_path}};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        snprintf(want, sizeof want, "%s/" SHIPPED "/%s", cwd, paths[i][1]);
        assert_string_equal(paths[i][0], want);
        memcpy(paths[i][0], paths[i][1], HYDRA_PATH_LEN);
    }
    assert_memory_equal(&def->settings, &shipped->settings, sizeof def->settings);
    assert_memory_equal(&def->exitbot, &shipped->exitbot, sizeof def->exitbot);
    assert_memory_equal(&def->portfolio, &shipped->portfolio, sizeof def->portfolio);
    assert_int_equal(def->n_bots, 0);
    free(shipped);
    free(def);
}

static void test_bot_defaults_filled(void **state)
{
    (void)state;
    char dir[256];
    write_config(
        dir, sizeof dir, "# defaults\n",
        "momentum_bots:\n"
        "  - {bot_id: m, plugin: momentum, ticker: AAPL}\n"
        "optionsbot: {bot_id: o, plugin: options, tickers: [SPY]}\n"
        "cryptobot: {bot_id: c, plugin: crypto, pairs: [BTC/USD]}\n"
        "bots:\n"
        "  - {bot_id: g, plugin: x, bucket: crypto, asset_class: crypto, symbols: [ETH/USD]}\n");
    hydra_config *cfg = load_ok(dir);
    assert_int_equal(cfg->n_bots, 4);

    const hydra_bot_cfg *m = bot(cfg, "m");
    assert_true(m->enabled);
    assert_int_equal(m->rank, 20);
    assert_int_equal(m->isolation_process, 1);
    assert_int_equal(m->order_type, HYDRA_ORDER_MARKET);
    assert_int_equal(m->tif, HYDRA_TIF_DAY);
    assert_false(m->use_notional);
    assert_int_equal(m->trade_start_min, 6 * 60 + 35);
    assert_true(m->stop_loss_pct == 0);
    assert_int_equal(m->n_params, 0);
    assert_int_equal(m->line, 2);

    const hydra_bot_cfg *o = bot(cfg, "o");
    assert_int_equal(o->rank, 30);
    assert_int_equal(o->dte_min, 7);
    assert_int_equal(o->dte_max, 45);
    assert_true(o->delta_min == 0.25);
    assert_true(o->delta_max == 0.60);

    const hydra_bot_cfg *c = bot(cfg, "c");
    assert_int_equal(c->rank, 25);
    assert_int_equal(c->tif, HYDRA_TIF_GTC);
    assert_int_equal(c->order_type, HYDRA_ORDER_MARKET);
    assert_int_equal(c->trade_end_min, 23 * 60 + 59);

    const hydra_bot_cfg *g = bot(cfg, "g");
    assert_int_equal(g->kind, HYDRA_BOT_GENERIC);
    assert_int_equal(g->bucket, HYDRA_BUCKET_CRYPTO);
    assert_int_equal(g->asset_class, HYDRA_ASSET_CRYPTO);
    assert_int_equal(g->rank, 20);
    assert_int_equal(g->line, 6);

    tu_rmtree(dir);
    free(cfg);
}

static void test_generic_bots_and_params(void **state)
{
    (void)state;
    hydra_config *cfg = load_ok("tests/configs/generic_bots");
    assert_int_equal(cfg->n_bots, 3);

    const hydra_bot_cfg *e = bot(cfg, "gen_eq");
    assert_int_equal(e->kind, HYDRA_BOT_GENERIC);
    assert_int_equal(e->bucket, HYDRA_BUCKET_MOMENTUM);
    assert_int_equal(e->asset_class, HYDRA_ASSET_EQUITY);
    assert_int_equal(e->n_symbols, 2);
    assert_string_equal(e->symbols[1], "MSFT");
    assert_int_equal(e->rank, 15);
    assert_int_equal(e->isolation_process, 1);
    assert_string_equal(e->signal_mode, "meanrev_v1");
    assert_int_equal(e->n_params, 8);

    const hydra_param *p = param(e, "window", HYDRA_PARAM_INT);
    assert_int_equal(p->i, 20);
    assert_true(p->d == 20.0);
    assert_string_equal(p->s, "20");
    assert_true(param(e, "band", HYDRA_PARAM_DOUBLE)->d == 2.5);
    assert_int_equal(param(e, "short", HYDRA_PARAM_BOOL)->b, 0);
    assert_string_equal(param(e, "label", HYDRA_PARAM_STRING)->s, "plain text");
    /* Quoted scalars are strings even when they look like numbers. */
    assert_string_equal(param(e, "quoted_int", HYDRA_PARAM_STRING)->s, "42");
    assert_int_equal(param(e, "big", HYDRA_PARAM_INT)->i, -7);
    assert_true(param(e, "exp", HYDRA_PARAM_DOUBLE)->d == 1e-3);
    assert_string_equal(param(e, "quote", HYDRA_PARAM_STRING)->s, "a \"b\" \\ c");

    const hydra_bot_cfg *o = bot(cfg, "gen_opt");
    assert_false(o->enabled);
    assert_int_equal(o->bucket, HYDRA_BUCKET_OPTIONS);
    assert_int_equal(o->asset_class, HYDRA_ASSET_OPTION);
    assert_int_equal(o->dte_max, 10);
    assert_true(o->delta_min == 0.4);
    assert_int_equal(o->order_type, HYDRA_ORDER_LIMIT);
    assert_int_equal(o->tif, HYDRA_TIF_IOC);
    assert_true(o->default_notional_usd == 250.5);

    const hydra_bot_cfg *c = bot(cfg, "gen_cr");
    assert_int_equal(c->bucket, HYDRA_BUCKET_CRYPTO);
    assert_string_equal(c->symbols[0], "SOL/USD");
    assert_int_equal(c->isolation_process, 0); /* isolation: inprocess */
    free(cfg);
}

/* ---- one error class per case ------------------------------------------- */

static void test_syntax_error(void **state)
{
    (void)state;
    EXPECT_ERRORS("syntax_error",
                  "tests/configs/syntax_error/bots.yaml:4:4: YAML syntax error: did not find "
                  "expected '-' indicator (while parsing a block collection at line 2)");
}

static void test_unknown_key(void **state)
{
    (void)state;
    EXPECT_ERRORS("unknown_key",
                  "tests/configs/unknown_key/settings.yaml:2:3: risk: unknown key "
                  "\"max_orders_per_minit\"",
                  "tests/configs/unknown_key/settings.yaml:3:1: unknown key \"colour\"",
                  /* chain_rules belongs to options and generic bots only. */
                  "tests/configs/unknown_key/bots.yaml:5:5: momentum_bots[0]: unknown key "
                  "\"chain_rules\"",
                  "tests/configs/unknown_key/bots.yaml:9:7: momentum_bots[0].signal: unknown key "
                  "\"parms\"");
}

static void test_bad_type(void **state)
{
    (void)state;
    EXPECT_ERRORS(
        "bad_type",
        "tests/configs/bad_type/bots.yaml:6:14: momentum_bots[1].enabled: expected true or false, "
        "got \"yes\"",
        "tests/configs/bad_type/bots.yaml:10:27: momentum_bots[1].risk.max_trades_per_day: "
        "expected a positive integer, got \"three\"",
        "tests/configs/bad_type/bots.yaml:11:33: momentum_bots[1].risk.max_concurrent_positions: "
        "expected an integer within 1..64 (without quotes), got \"1\"",
        "tests/configs/bad_type/bots.yaml:13:22: momentum_bots[1].exits.stop_loss_pct: expected "
        "a number within 0..100, got \"high\"",
        "tests/configs/bad_type/bots.yaml:18:12: optionsbot.tickers: expected a sequence of "
        "symbols, got \"SPY\"",
        "tests/configs/bad_type/bots.yaml:19:9: optionsbot.risk: expected a mapping, got \"3\"",
        "tests/configs/bad_type/bots.yaml:21:11: optionsbot.signal.mode: expected a string, got "
        "a sequence");
}

/* The log's rotation and the state's retention are checked like every other key. */
static void test_logging_and_retention_keys(void **state)
{
    (void)state;
    EXPECT_ERRORS("bad_logging",
                  "tests/configs/bad_logging/settings.yaml:3:9: logging.keep: expected a "
                  "non-negative integer, got \"-1\"",
                  "tests/configs/bad_logging/settings.yaml:4:10: logging.level: expected debug, "
                  "info, warn or error, got \"verbose\"",
                  "tests/configs/bad_logging/settings.yaml:2:14: logging.max_bytes: 1000 is too "
                  "small: 0 (daily rotation only) or at least 65536 bytes",
                  "tests/configs/bad_logging/settings.yaml:6:19: state.retention_days: expected a "
                  "number of days within 0..36500 (0 keeps everything), got \"-5\"");
    /* Defaults: 256 MiB, keep as system.log_keep_files says, every level, 90 days. */
    hydra_config *cfg = new_config();
    hydra_diag d;
    hydra_diag_init(&d);
    assert_int_equal(hydra_config_load(SHIPPED, cfg, &d), 0);
    assert_int_equal(cfg->settings.logging.max_bytes, 256L * 1024 * 1024);
    assert_int_equal(hydra_settings_log_keep(&cfg->settings), 14);
    assert_int_equal(cfg->settings.logging.level, HYDRA_LOG_DEBUG);
    assert_int_equal(cfg->settings.state.retention_days, 90);
    cfg->settings.logging.keep = 3;
    assert_int_equal(hydra_settings_log_keep(&cfg->settings), 3);
    hydra_diag_free(&d);
    free(cfg);
}

static void test_out_of_range(void **state)
{
    (void)state;
    EXPECT_ERRORS(
        "out_of_range",
        "tests/configs/out_of_range/settings.yaml:2:26: runner.loop_interval_seconds: expected a "
        "positive integer, got \"0\"",
        "tests/configs/out_of_range/settings.yaml:4:30: risk.global_max_daily_loss_pct: expected "
        "a number within 0..100, got \"150\"",
        "tests/configs/out_of_range/bots.yaml:2:21: portfoliobot.cash_reserve_pct: expected a "
        "number within 0..100, got \"-1\"",
        "tests/configs/out_of_range/bots.yaml:4:36: "
        "portfoliobot.guardrails.per_bot_min_pct_of_daily_risk: expected a number not above "
        "per_bot_max_pct_of_daily_risk (25), got \"30\"",
        "tests/configs/out_of_range/bots.yaml:12:14: optionsbot.chain_rules.dte_min: expected an "
        "integer not above dte_max (45), got \"50\"",
        "tests/configs/out_of_range/bots.yaml:14:16: optionsbot.chain_rules.delta_min: expected "
        "a number not above delta_max (0.6), got \"0.7\"",
        "tests/configs/out_of_range/bots.yaml:24:18: bots[0].chain_rules.delta_max: expected a "
        "number within 0..1, got \"1.5\"");
}

static void test_bad_time(void **state)
{
    (void)state;
    EXPECT_ERRORS("bad_time",
                  "tests/configs/bad_time/settings.yaml:2:17: sim.session_open: expected a time "
                  "HH:MM (00:00..23:59), got \"0630\"",
                  "tests/configs/bad_time/bots.yaml:6:20: momentum_bots[0].session.trade_start: "
                  "expected a time HH:MM (00:00..23:59), got \"6:35\"",
                  "tests/configs/bad_time/bots.yaml:7:21: momentum_bots[0].session.manage_until: "
                  "expected a time HH:MM (00:00..23:59), got \"24:00\"");
}

static void test_bad_timezone(void **state)
{
    (void)state;
    EXPECT_ERRORS("bad_timezone",
                  "tests/configs/bad_timezone/settings.yaml:2:13: system.timezone: expected a "
                  "time zone in the tz database, got \"Mars/Olympus_Mons\"",
                  "tests/configs/bad_timezone/settings.yaml:7:17: sim.series[0].timezone: "
                  "expected a time zone in the tz database, got \"Europe/Atlantis\"");
}

static void test_duplicate_bot_id(void **state)
{
    (void)state;
    EXPECT_ERRORS("duplicate_bot_id",
                  "tests/configs/duplicate_bot_id/bots.yaml:5:13: momentum_bots[1].bot_id: "
                  "duplicate bot_id \"mom_A\", first declared at line 2",
                  "tests/configs/duplicate_bot_id/bots.yaml:10:11: cryptobot.bot_id: duplicate "
                  "bot_id \"mom_A\", first declared at line 2");
}

static void test_session_order(void **state)
{
    (void)state;
    EXPECT_ERRORS("session_order",
                  "tests/configs/session_order/bots.yaml:6:20: "
                  "momentum_bots[0].session.trade_start: expected a time not after trade_end "
                  "(09:30), got \"10:00\"",
                  "tests/configs/session_order/bots.yaml:8:21: "
                  "momentum_bots[0].session.manage_until: expected a time not before trade_end "
                  "(09:30), got \"09:00\"",
                  /* Only trade_end is given: it is blamed against the default trade_start. */
                  "tests/configs/session_order/bots.yaml:13:18: "
                  "momentum_bots[1].session.trade_end: expected a time not before trade_start "
                  "(06:35), got \"06:00\"");
}

static void test_bad_bot_id(void **state)
{
    (void)state;
    EXPECT_ERRORS("bad_bot_id",
                  "tests/configs/bad_bot_id/bots.yaml:2:13: momentum_bots[0].bot_id: expected an "
                  "id of 1 to 32 characters from A-Z a-z 0-9 _ -, got \"mom AAPL!\"",
                  "tests/configs/bad_bot_id/bots.yaml:5:13: momentum_bots[1].bot_id: expected an "
                  "id of 1 to 32 characters from A-Z a-z 0-9 _ -, got "
                  "\"mom_abcdefghijklmnopqrstuvwxyz0123\"",
                  "tests/configs/bad_bot_id/bots.yaml:6:13: momentum_bots[1].plugin: expected a "
                  "plugin name of 1 to 63 characters from A-Z a-z 0-9 _ -, got \"../evil\"");
}

static void test_missing_required(void **state)
{
    (void)state;
    EXPECT_ERRORS("missing_required",
                  "tests/configs/missing_required/settings.yaml:3:7: sim.series[0]: missing "
                  "required key \"symbol\"",
                  "tests/configs/missing_required/bots.yaml:2:5: momentum_bots[0]: missing "
                  "required key \"bot_id\"",
                  "tests/configs/missing_required/bots.yaml:2:5: momentum_bots[0]: missing "
                  "required key \"plugin\"",
                  "tests/configs/missing_required/bots.yaml:2:5: momentum_bots[0]: missing "
                  "required key \"ticker\"",
                  "tests/configs/missing_required/bots.yaml:5:5: bots[0]: missing required key "
                  "\"bucket\"",
                  "tests/configs/missing_required/bots.yaml:5:5: bots[0]: missing required key "
                  "\"asset_class\"",
                  "tests/configs/missing_required/bots.yaml:5:5: bots[0]: missing required key "
                  "\"symbols\"");
}

static void test_bad_enum(void **state)
{
    (void)state;
    EXPECT_ERRORS("bad_enum",
                  "tests/configs/bad_enum/settings.yaml:1:9: broker: expected sim or alpaca, got "
                  "\"paper\"",
                  "tests/configs/bad_enum/bots.yaml:5:16: momentum_bots[0].isolation: expected "
                  "inprocess or process, got \"thread\"",
                  "tests/configs/bad_enum/bots.yaml:7:19: momentum_bots[0].execution.order_type: "
                  "expected market or limit, got \"stop\"",
                  "tests/configs/bad_enum/bots.yaml:8:12: momentum_bots[0].execution.tif: "
                  "expected day, gtc or ioc, got \"fok\"",
                  "tests/configs/bad_enum/bots.yaml:13:13: bots[0].bucket: expected momentum, "
                  "options or crypto, got \"bonds\"",
                  "tests/configs/bad_enum/bots.yaml:14:18: bots[0].asset_class: expected equity, "
                  "crypto or option, got \"futures\"");
}

static void test_bad_series(void **state)
{
    (void)state;
    EXPECT_ERRORS("bad_series",
                  "tests/configs/bad_series/settings.yaml:5:18: sim.series[0]: expected either "
                  "file or generated: true, not both",
                  "tests/configs/bad_series/settings.yaml:7:7: sim.series[1]: missing required "
                  "key \"file\" (or generated: true)",
                  "tests/configs/bad_series/settings.yaml:8:7: sim.series[2]: missing required "
                  "key \"start_price\"",
                  "tests/configs/bad_series/settings.yaml:12:13: sim.series[3].seed: only valid "
                  "with generated: true",
                  "tests/configs/bad_series/settings.yaml:13:15: sim.series[4].symbol: duplicate "
                  "symbol \"AAPL\", first declared at line 3");
}

static void test_bad_structure(void **state)
{
    (void)state;
    EXPECT_ERRORS("bad_structure",
                  "tests/configs/bad_structure/settings.yaml:1:1: expected a mapping, got a "
                  "sequence",
                  "tests/configs/bad_structure/bots.yaml:3:3: exitbot: duplicate key \"enabled\"",
                  "tests/configs/bad_structure/bots.yaml:4:1: expected a single YAML document");
}

static void test_missing_file(void **state)
{
    (void)state;
    EXPECT_ERRORS("missing_file",
                  "tests/configs/missing_file/bots.yaml: cannot read: No such file or directory");
    /* Both files missing: both named, in one run. */
    EXPECT_ERRORS("no_such_dir",
                  "tests/configs/no_such_dir/settings.yaml: cannot read: No such file or directory",
                  "tests/configs/no_such_dir/bots.yaml: cannot read: No such file or directory");
}

static void test_many_errors_in_one_run(void **state)
{
    (void)state;
    EXPECT_ERRORS(
        "many_errors",
        "tests/configs/many_errors/settings.yaml:2:13: system.timezone: expected a time zone in "
        "the tz database, got \"Nowhere/City\"",
        "tests/configs/many_errors/settings.yaml:3:19: system.log_keep_files: expected a positive "
        "integer, got \"many\"",
        "tests/configs/many_errors/settings.yaml:4:1: unknown key \"brokr\"",
        "tests/configs/many_errors/bots.yaml:2:12: exitbot.enabled: expected true or false, got "
        "\"maybe\"",
        "tests/configs/many_errors/bots.yaml:8:27: momentum_bots[0].risk.max_trades_per_day: "
        "expected a positive integer, got \"three\"",
        "tests/configs/many_errors/bots.yaml:10:20: momentum_bots[0].session.trade_start: "
        "expected a time not after trade_end (09:30), got \"10:00\"",
        "tests/configs/many_errors/bots.yaml:15:24: momentum_bots[1].exits.take_profit_pct: "
        "expected a number within 0..100, got \"120\"",
        "tests/configs/many_errors/bots.yaml:11:13: momentum_bots[1].bot_id: duplicate bot_id "
        "\"mom_A\", first declared at line 4");
}

/* A disabled bot is validated like any other and kept with enabled = 0. */
static void test_disabled_bot_still_validated(void **state)
{
    (void)state;
    char dir[256];
    write_config(dir, sizeof dir, "# defaults\n",
                 "cryptobot:\n"
                 "  enabled: false\n"
                 "  bot_id: c\n"
                 "  plugin: crypto\n"
                 "  pairs: [BTC/USD]\n"
                 "  execution:\n"
                 "    use_notional: true\n");
    hydra_config *cfg = new_config();
    hydra_diag d;
    hydra_diag_init(&d);
    assert_int_equal(hydra_config_load(dir, cfg, &d), HYDRA_ECONFIG);
    char expected[512];
    snprintf(expected, sizeof expected,
             "%s/bots.yaml:7:5: cryptobot.execution: missing required key "
             "\"default_notional_usd\" (use_notional is true)",
             dir);
    const char *lines[] = {expected};
    assert_diag(&d, lines, 1);
    assert_int_equal(cfg->n_bots, 1);
    assert_false(cfg->bots[0].enabled);
    hydra_diag_free(&d);
    free(cfg);
    tu_rmtree(dir);
}

/* ---- printing ------------------------------------------------------------ */

/* Prints cfg, loads the two printed documents back and requires the same configuration. */
static void assert_round_trip(const hydra_config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    hydra_config_print(cfg, out);
    assert_int_equal(fclose(out), 0);

    char *sep = strstr(text, "\n---\n");
    assert_non_null(sep);
    sep[1] = '\0';
    char dir[256];
    write_config(dir, sizeof dir, text, sep + 5);

    hydra_config *back = load_ok(dir);
    /* Only where it was read from differs: the directory and the declaring lines. */
    memcpy(back->dir, cfg->dir, sizeof back->dir);
    assert_int_equal(back->n_bots, cfg->n_bots);
    for (int i = 0; i < back->n_bots; i++)
        back->bots[i].line = cfg->bots[i].line;
    assert_memory_equal(back, cfg, sizeof *cfg);

    tu_rmtree(dir);
    free(back);
    free(text);
}

static void test_print_round_trip_shipped(void **state)
{
    (void)state;
    hydra_config *cfg = load_ok(SHIPPED);
    assert_round_trip(cfg);
    free(cfg);
}

static void test_print_round_trip_generic(void **state)
{
    (void)state;
    hydra_config *cfg = load_ok("tests/configs/generic_bots");
    assert_round_trip(cfg);
    free(cfg);
}

static void test_print_defaults_round_trip(void **state)
{
    (void)state;
    hydra_config *cfg = new_config();
    hydra_config_defaults(cfg);
    /*
     * Loaded paths are resolved against the configuration's directory, so a
     * printed relative default would come back resolved: the round trip is
     * of absolute paths.
     */
    hydra_settings *s = &cfg->settings;
    snprintf(s->log_path, sizeof s->log_path, "/var/log/hydra/app.jsonl");
    snprintf(s->state_db_path, sizeof s->state_db_path, "/var/lib/hydra/trading_state.db");
    snprintf(s->kill_switch_path, sizeof s->kill_switch_path, "/var/lib/hydra/KILL_SWITCH_FILE");
    snprintf(s->sim.db_path, sizeof s->sim.db_path, "/var/lib/hydra/paper_exchange.db");
    assert_round_trip(cfg);
    free(cfg);
}

/* ---- diagnostics --------------------------------------------------------- */

/*
 * The in-memory loader (what the fuzz target drives) must be the file
 * loader: for the shipped configuration and every broken one, the same
 * texts give the same configuration and the same messages, file names,
 * lines and columns included.
 */
static void test_load_text_matches_files(void **state)
{
    (void)state;
    static const char *const dirs[] = {
        "config",
        "tests/configs/bad_bot_id",
        "tests/configs/bad_enum",
        "tests/configs/bad_series",
        "tests/configs/bad_structure",
        "tests/configs/bad_time",
        "tests/configs/bad_timezone",
        "tests/configs/bad_type",
        "tests/configs/duplicate_bot_id",
        "tests/configs/generic_bots",
        "tests/configs/many_errors",
        "tests/configs/missing_required",
        "tests/configs/out_of_range",
        "tests/configs/session_order",
        "tests/configs/syntax_error",
        "tests/configs/unknown_key",
    };
    for (size_t k = 0; k < sizeof dirs / sizeof dirs[0]; k++) {
        char path[512];
        size_t slen, blen;
        snprintf(path, sizeof path, "%s/settings.yaml", dirs[k]);
        char *settings = tu_read_file(path, &slen);
        snprintf(path, sizeof path, "%s/bots.yaml", dirs[k]);
        char *bots = tu_read_file(path, &blen);
        assert_non_null(settings);
        assert_non_null(bots);

        hydra_config *from_files = new_config(), *from_text = new_config();
        hydra_diag df, dt;
        hydra_diag_init(&df);
        hydra_diag_init(&dt);
        int rf = hydra_config_load(dirs[k], from_files, &df);
        int rt = hydra_config_load_text(dirs[k], settings, slen, bots, blen, from_text, &dt);
        if (rf != rt || df.n != dt.n)
            fprintf(stderr, "%s: files give %d with %zu message(s), text %d with %zu\n", dirs[k],
                    rf, df.n, rt, dt.n);
        assert_int_equal(rt, rf);
        assert_diag(&dt, (const char *const *)df.lines, df.n);
        if (rf == 0)
            assert_memory_equal(from_text, from_files, sizeof *from_files);
        hydra_diag_free(&df);
        hydra_diag_free(&dt);
        free(from_files);
        free(from_text);
        free(settings);
        free(bots);
    }
}

/* A text is read to its given length: no terminator needed, and nothing past it is read. */
static void test_load_text_reads_exactly_its_length(void **state)
{
    (void)state;
    static const char settings[] = "system:\n  timezone: America/New_York\n";
    /* One byte past the length would make the document "...: 5x", not an integer. */
    static const char bots[] = "exitbot:\n  cooloff_minutes: 5x";
    char *heap = malloc(sizeof bots - 2);
    assert_non_null(heap);
    memcpy(heap, bots, sizeof bots - 2); /* "...: 5", unterminated, exactly sized */
    hydra_config *cfg = new_config();
    hydra_diag d;
    hydra_diag_init(&d);
    int rc = hydra_config_load_text("mem", settings, sizeof settings - 1, heap, sizeof bots - 2,
                                    cfg, &d);
    assert_diag(&d, NULL, 0);
    assert_int_equal(rc, 0);
    assert_string_equal(cfg->settings.timezone, "America/New_York");
    assert_int_equal(cfg->exitbot.cooloff_minutes, 5);
    assert_string_equal(cfg->dir, "mem");
    hydra_diag_free(&d);

    /* And the messages name the files a load from that directory would. */
    hydra_diag_init(&d);
    rc = hydra_config_load_text("mem", settings, sizeof settings - 1, bots, sizeof bots - 1, cfg,
                                &d);
    assert_int_equal(rc, HYDRA_ECONFIG);
    assert_int_equal(d.n, 1);
    assert_true(strncmp(d.lines[0], "mem/bots.yaml:2:20: exitbot.cooloff_minutes: ", 45) == 0);
    hydra_diag_free(&d);
    free(heap);
    free(cfg);
}

static void test_diag_collects_and_prints(void **state)
{
    (void)state;
    hydra_diag d;
    hydra_diag_init(&d);
    for (int i = 0; i < 40; i++)
        hydra_diag_add(&d, "line %d", i);
    assert_int_equal(d.n, 40);
    assert_string_equal(d.lines[39], "line 39");

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    hydra_diag_print(&d, out);
    fclose(out);
    assert_true(strncmp(text, "line 0\nline 1\n", 14) == 0);
    free(text);
    hydra_diag_free(&d);
    assert_int_equal(d.n, 0);
    assert_null(d.lines);
}

/* ---- credentials --------------------------------------------------------- */

static void clear_alpaca_env(void)
{
    unsetenv("ALPACA_KEY");
    unsetenv("ALPACA_SECRET");
    unsetenv("ALPACA_PAPER");
}

static void write_env(char *dir, size_t size, char *path, size_t path_size, const char *text,
                      mode_t mode)
{
    assert_non_null(tu_mkdtemp(dir, size));
    snprintf(path, path_size, "%s/.env", dir);
    assert_int_equal(tu_write_file(path, text), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_credentials_env_wins(void **state)
{
    (void)state;
    char dir[256], path[512];
    clear_alpaca_env();
    write_env(dir, sizeof dir, path, sizeof path,
              "ALPACA_KEY=file-key\nALPACA_SECRET=file-secret\nALPACA_PAPER=false\n", 0600);
    setenv("ALPACA_KEY", "env-key", 1);
    setenv("ALPACA_PAPER", "true", 1);

    hydra_credentials cr;
    assert_int_equal(hydra_credentials_load(path, &cr, NULL), 0);
    assert_string_equal(cr.key, "env-key");
    assert_string_equal(cr.secret, "file-secret");
    assert_int_equal(cr.paper, 1);
    assert_int_equal(cr.have_keys, 1);

    clear_alpaca_env();
    tu_rmtree(dir);
}

static void test_credentials_dotenv_quoting(void **state)
{
    (void)state;
    char dir[256], path[512];
    clear_alpaca_env();
    write_env(dir, sizeof dir, path, sizeof path,
              "# Alpaca paper account\n"
              "\n"
              "OTHER_TOOL=ignored\n"
              "  ALPACA_KEY=plainkey   # trailing comment\n"
              "export ALPACA_SECRET=\"quoted # not a comment \\\"x\\\"\"\n"
              "ALPACA_PAPER = 'false'\n",
              0600);

    hydra_credentials cr;
    char *text = NULL;
    size_t len = 0;
    FILE *warn = open_memstream(&text, &len);
    assert_int_equal(hydra_credentials_load(path, &cr, warn), 0);
    fclose(warn);
    assert_string_equal(text, "");
    assert_string_equal(cr.key, "plainkey");
    assert_string_equal(cr.secret, "quoted # not a comment \"x\"");
    assert_int_equal(cr.paper, 0);
    assert_int_equal(cr.have_keys, 1);

    free(text);
    tu_rmtree(dir);
}

static void test_credentials_missing_file_is_fine(void **state)
{
    (void)state;
    clear_alpaca_env();
    hydra_credentials cr;
    assert_int_equal(hydra_credentials_load("/nonexistent/hydra/.env", &cr, NULL), 0);
    assert_int_equal(cr.have_keys, 0);
    assert_int_equal(cr.paper, 1);

    setenv("ALPACA_KEY", "k", 1);
    setenv("ALPACA_SECRET", "s", 1);
    assert_int_equal(hydra_credentials_load(NULL, &cr, NULL), 0);
    assert_int_equal(cr.have_keys, 1);
    clear_alpaca_env();
}

static void test_credentials_permission_warning_hides_secret(void **state)
{
    (void)state;
    static const char secret[] = "s3cr3t-VALUE-9f8e7d";
    static const char key[] = "AKTESTKEY123";
    char dir[256], path[512], env[256];
    clear_alpaca_env();
    snprintf(env, sizeof env, "ALPACA_KEY=%s\nALPACA_SECRET=\"%s\"\nALPACA_SECRET %s-broken\n", key,
             secret, secret);
    write_env(dir, sizeof dir, path, sizeof path, env, 0644);

    hydra_credentials cr;
    char *text = NULL;
    size_t len = 0;
    FILE *warn = open_memstream(&text, &len);
    assert_int_equal(hydra_credentials_load(path, &cr, warn), 0);
    fclose(warn);

    char expected[2048];
    snprintf(expected, sizeof expected,
             "hydra: warning: %s holds secrets but is accessible by group or others (mode 0644); "
             "run: chmod 600 %s\n"
             "hydra: warning: %s:3: not a KEY=value line, or the value is too long; ignored\n",
             path, path, path);
    assert_string_equal(text, expected);
    assert_null(strstr(text, secret));
    assert_null(strstr(text, key));
    assert_string_equal(cr.secret, secret);
    free(text);

    /* A private file draws no warning. */
    assert_int_equal(chmod(path, 0600), 0);
    snprintf(env, sizeof env, "ALPACA_KEY=%s\n", key);
    assert_int_equal(tu_write_file(path, env), 0);
    text = NULL;
    warn = open_memstream(&text, &len);
    assert_int_equal(hydra_credentials_load(path, &cr, warn), 0);
    fclose(warn);
    assert_string_equal(text, "");
    assert_int_equal(cr.have_keys, 0);
    free(text);
    tu_rmtree(dir);
}

int main(void)
{
    /* Messages name the configuration paths as given: relative to the source tree. */
    if (chdir(HYDRA_SOURCE_DIR) != 0) {
        perror(HYDRA_SOURCE_DIR);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_config_loads),
        cmocka_unit_test(test_defaults_match_shipped_settings),
        cmocka_unit_test(test_bot_defaults_filled),
        cmocka_unit_test(test_generic_bots_and_params),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_bad_type),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_logging_and_retention_keys),
        cmocka_unit_test(test_bad_time),
        cmocka_unit_test(test_bad_timezone),
        cmocka_unit_test(test_duplicate_bot_id),
        cmocka_unit_test(test_session_order),
        cmocka_unit_test(test_bad_bot_id),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_bad_enum),
        cmocka_unit_test(test_bad_series),
        cmocka_unit_test(test_bad_structure),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_many_errors_in_one_run),
        cmocka_unit_test(test_disabled_bot_still_validated),
        cmocka_unit_test(test_print_round_trip_shipped),
        cmocka_unit_test(test_print_round_trip_generic),
        cmocka_unit_test(test_print_defaults_round_trip),
        cmocka_unit_test(test_diag_collects_and_prints),
        cmocka_unit_test(test_load_text_matches_files),
        cmocka_unit_test(test_load_text_reads_exactly_its_length),
        cmocka_unit_test(test_credentials_env_wins),
        cmocka_unit_test(test_credentials_dotenv_quoting),
        cmocka_unit_test(test_credentials_missing_file_is_fine),
        cmocka_unit_test(test_credentials_permission_warning_hides_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
