/*
 * `hydra-host check-config` predicts the run, through the real binary: a
 * configuration a host starts and trades with passes; a missing plugin
 * file, params the bot itself rejects (in a worker and in-process), a
 * symbol with no price source and buckets adding up to 170% each exit 2
 * with a line naming the file, the bot and the key; several problems are
 * all listed in one run. Each failing configuration is also shown to fail
 * (or not trade) when a host runs it, so the prediction is checked.
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

#include "clock.h"
#include "enginetest.h"
#include "exchange_server.h"
#include "testutil.h"

#define FAKE_KEY "PKFAKETESTKEY00000003"
#define FAKE_SECRET "fake-test-secret-do-not-use-0000000003"

/* check-config's exit status; its output (stdout and stderr) in *out. */
static int check(et_fixture *f, char **out)
{
    const char *argv[] = {HYDRA_HOST_BIN, "check-config",        "--config", f->cfg,
                          "--plugins",    HYDRA_TEST_PLUGIN_DIR, NULL};
    return tu_run(argv, f->dir, 120, out);
}

static void assert_says(const char *out, const char *want)
{
    if (strstr(out, want) == NULL)
        fail_msg("check-config does not say \"%s\":\n%s", want, out);
}

/* check-config writes nothing: no state database, no log. */
static void assert_nothing_written(et_fixture *f)
{
    struct stat sb;
    char db[512];
    snprintf(db, sizeof db, "%s/trading_state.db", f->dir);
    assert_int_not_equal(stat(db, &sb), 0);
    assert_int_not_equal(stat(f->log, &sb), 0);
}

static void test_shipped_config_passes(void **state)
{
    et_fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    char *out = NULL;
    int rc = check(f, &out);
    if (rc != 0)
        fail_msg("check-config exited %d:\n%s", rc, out);
    assert_says(out, "every enabled bot loaded and accepted its params");
    assert_says(out, "bot_id: \"crypto_core\""); /* the effective configuration is still printed */
    free(out);
    assert_nothing_written(f);
}

static void test_missing_plugin_file(void **state)
{
    et_fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, "plugin: crypto=>plugin: nosuch"), 0);
    char *out = NULL;
    assert_int_equal(check(f, &out), 2);
    char want[768];
    snprintf(want, sizeof want, "%s/bots.yaml:", f->cfg);
    assert_says(out, want);
    snprintf(want, sizeof want, "bot crypto_core: plugin: nosuch: no plugin file %s/nosuch.so",
             HYDRA_TEST_PLUGIN_DIR);
    assert_says(out, want);
    assert_says(out, "1 problem in");
    free(out);
    assert_nothing_written(f);
}

static void test_params_the_bot_rejects(void **state)
{
    et_fixture *f = *state;
    /* In its worker (the default isolation). */
    assert_int_equal(et_make_config(f->dir, NULL, "roc_bars: 10 =>roc_bars: 0 "), 0);
    char *out = NULL;
    assert_int_equal(check(f, &out), 2);
    assert_says(out, "bot mom_FESX (plugin momentum): the bot refused its configuration: bot "
                     "mom_FESX: signal.params.roc_bars must be an integer from 1 to 1000");
    assert_null(strstr(out, "status -2"));
    free(out);
    assert_nothing_written(f);

    /* In-process, the same words. */
    tu_rmtree(f->cfg);
    assert_int_equal(
        et_make_config(f->dir, NULL,
                       "roc_bars: 10 =>roc_bars: 0 \n"
                       "plugin: momentum\\n=>plugin: momentum\\n    isolation: inprocess\\n"),
        0);
    assert_int_equal(check(f, &out), 2);
    assert_says(out, "isolation: \"inprocess\"");
    assert_says(out, "bot mom_FESX (plugin momentum): the bot refused its configuration: bot "
                     "mom_FESX: signal.params.roc_bars must be an integer from 1 to 1000");
    free(out);

    /* The prediction holds: the host refuses to start with the same reason. */
    const char *run[] = {HYDRA_HOST_BIN,        "--config", f->cfg,    "--plugins",
                         HYDRA_TEST_PLUGIN_DIR, "--once",   "--quiet", NULL};
    assert_int_equal(tu_run(run, f->dir, 120, &out), 2);
    free(out);
}

static void test_symbol_without_data(void **state)
{
    et_fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, "ticker: FESX=>ticker: MSFT"), 0);
    char *out = NULL;
    assert_int_equal(check(f, &out), 2);
    char want[1024];
    snprintf(want, sizeof want,
             "bot mom_FESX: symbol MSFT has no price source: broker is sim and %s/settings.yaml "
             "has no sim.series entry for MSFT",
             f->cfg);
    assert_says(out, want);
    assert_says(out, "1 problem in");
    free(out);
}

static void test_buckets_at_170_percent(void **state)
{
    et_fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL,
                                    "options_bucket_pct_of_daily_risk: 50=>"
                                    "options_bucket_pct_of_daily_risk: 95\n"
                                    "crypto_bucket_pct_of_daily_risk: 25=>"
                                    "crypto_bucket_pct_of_daily_risk: 50"),
                     0);
    char *out = NULL;
    assert_int_equal(check(f, &out), 2);
    char want[1024];
    snprintf(want, sizeof want,
             "%s/bots.yaml: portfoliobot.buckets: momentum_bucket_pct_of_daily_risk 25 + "
             "options_bucket_pct_of_daily_risk 95 + crypto_bucket_pct_of_daily_risk 50 = 170%%",
             f->cfg);
    assert_says(out, want);
    assert_says(out, "1 problem in");
    free(out);
}

static void test_every_problem_listed_at_once(void **state)
{
    et_fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL,
                                    "plugin: crypto=>plugin: nosuch\n"
                                    "roc_bars: 10 =>roc_bars: 0 \n"
                                    "tickers: [ORCL, NVDA]=>tickers: [ORCL, XYZ]\n"
                                    "per_bot_min_pct_of_daily_risk: 5=>"
                                    "per_bot_min_pct_of_daily_risk: 40\n"
                                    "per_bot_max_pct_of_daily_risk: 25=>"
                                    "per_bot_max_pct_of_daily_risk: 50\n"
                                    "options_bucket_pct_of_daily_risk: 50=>"
                                    "options_bucket_pct_of_daily_risk: 95\n"
                                    "crypto_bucket_pct_of_daily_risk: 25=>"
                                    "crypto_bucket_pct_of_daily_risk: 50"),
                     0);
    char *out = NULL;
    assert_int_equal(check(f, &out), 2);
    assert_says(out, "bot crypto_core: plugin: nosuch: no plugin file");
    assert_says(out, "signal.params.roc_bars must be an integer from 1 to 1000");
    assert_says(out, "bot opt_core: symbol XYZ has no price source");
    assert_says(out, "= 170% of the daily risk");
    assert_says(out,
                "per_bot_min_pct_of_daily_risk: 3 enabled bots x 40% = 120% of the daily risk");
    assert_says(out, "5 problems in");
    free(out);
}

/*
 * broker: alpaca: symbols are checked only with --online, against the
 * broker's data API: here hydra-exchange (in this process, on 127.0.0.1),
 * which prices the symbols it has series for and no others.
 */
static void test_alpaca_symbols_online(void **state)
{
    et_fixture *f = *state;
    char xdir[512], cdir[600], err[1024] = "";
    snprintf(xdir, sizeof xdir, "%s/exchange", f->dir);
    assert_int_equal(mkdir(xdir, 0755), 0);
    assert_int_equal(et_make_config(xdir, NULL, NULL), 0);
    hydra_config *xcfg = calloc(1, sizeof *xcfg);
    hydra_diag d;
    hydra_diag_init(&d);
    snprintf(cdir, sizeof cdir, "%s/config", xdir);
    assert_int_equal(hydra_config_load(cdir, xcfg, &d), 0);
    hydra_diag_free(&d);
    hydra_tz_set(xcfg->settings.timezone);
    hydra_clock xclock;
    hydra_clock_init_sim(&xclock, 0);
    hydra_sim *sim = NULL;
    hydra_exchange *ex = NULL;
    if (hydra_engine_open_sim(&xcfg->settings.sim, &xclock, &sim, err, sizeof err) != 0)
        fail_msg("exchange sim: %s", err);
    hydra_exchange_opts o = {FAKE_KEY, FAKE_SECRET, 0, 1000000};
    if (hydra_exchange_start(sim, &xclock, &o, &ex, err, sizeof err) != 0)
        fail_msg("exchange: %s", err);
    hydra_exchange_step(ex, 60);
    int port = hydra_exchange_port(ex);
    setenv("ALPACA_KEY", FAKE_KEY, 1);
    setenv("ALPACA_SECRET", FAKE_SECRET, 1);
    unsetenv("ALPACA_PAPER");

    char edits[1024];
    snprintf(edits, sizeof edits,
             "broker: sim =>broker: alpaca \n"
             "trading_url: https://paper-api.alpaca.markets=>trading_url: http://127.0.0.1:%d\n"
             "data_url: https://data.alpaca.markets=>data_url: http://127.0.0.1:%d\n",
             port, port);
    assert_int_equal(et_make_config(f->dir, edits, "ticker: FESX=>ticker: MSFT"), 0);

    /* Offline: nothing asked, and it says the symbols were not checked. */
    char *out = NULL;
    assert_int_equal(check(f, &out), 0);
    assert_says(out, "symbols not checked against Alpaca (pass --online)");
    free(out);

    const char *online[] = {HYDRA_HOST_BIN, "check-config",        "--online", "--config", f->cfg,
                            "--plugins",    HYDRA_TEST_PLUGIN_DIR, NULL};
    assert_int_equal(tu_run(online, f->dir, 120, &out), 2);
    assert_says(out, "bot mom_FESX: symbol MSFT is not an asset the broker lists");
    assert_null(strstr(out, "symbol ORCL"));
    assert_null(strstr(out, "symbol BTC/USD"));
    assert_says(out, "1 problem in");
    free(out);

    /*
     * MSFT listed but without a trade, ORCL delisted, BTC/USD listed but not
     * tradable: three problems, each named.
     */
    char url[128], *answer = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/_hydra/asset", port);
    const char *notes[] = {"{\"symbol\": \"MSFT\", \"status\": \"active\", \"tradable\": true}",
                           "{\"symbol\": \"ORCL\", \"status\": \"inactive\", \"tradable\": false}",
                           "{\"symbol\": \"BTC/USD\", \"status\": \"active\", \"tradable\": false}"};
    for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++) {
        assert_int_equal(et_http("POST", url, NULL, notes[i], &answer, NULL, 0), 200);
        free(answer);
    }
    assert_int_equal(tu_run(online, f->dir, 120, &out), 2);
    assert_says(out, "bot mom_FESX: symbol MSFT has no price at");
    assert_says(out, "symbol ORCL cannot be traded here: the broker says inactive, not tradable, "
                     "us_equity (the bot trades us_equity)");
    assert_says(out, "symbol BTC/USD cannot be traded here: the broker says active, not tradable, "
                     "crypto (the bot trades crypto)");
    assert_says(out, "3 problems in");
    free(out);

    /* The shipped symbols are all tradable assets with prices there. */
    const char *relist[] = {"{\"symbol\": \"ORCL\", \"status\": \"active\", \"tradable\": true}",
                            "{\"symbol\": \"BTCUSD\", \"status\": \"active\", \"tradable\": true}"};
    for (size_t i = 0; i < sizeof relist / sizeof relist[0]; i++) {
        assert_int_equal(et_http("POST", url, NULL, relist[i], &answer, NULL, 0), 200);
        free(answer);
    }
    tu_rmtree(f->cfg);
    assert_int_equal(et_make_config(f->dir, edits, NULL), 0);
    assert_int_equal(tu_run(online, f->dir, 120, &out), 0);
    assert_says(out, "every symbol a tradable asset with a price at the broker");
    free(out);

    hydra_exchange_stop(ex);
    hydra_sim_close(sim);
    free(xcfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shipped_config_passes, et_host_setup, et_teardown),
        cmocka_unit_test_setup_teardown(test_missing_plugin_file, et_host_setup, et_teardown),
        cmocka_unit_test_setup_teardown(test_params_the_bot_rejects, et_host_setup, et_teardown),
        cmocka_unit_test_setup_teardown(test_symbol_without_data, et_host_setup, et_teardown),
        cmocka_unit_test_setup_teardown(test_buckets_at_170_percent, et_host_setup, et_teardown),
        cmocka_unit_test_setup_teardown(test_every_problem_listed_at_once, et_host_setup,
                                        et_teardown),
        cmocka_unit_test_setup_teardown(test_alpaca_symbols_online, et_host_setup, et_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
