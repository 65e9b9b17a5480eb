/*
 * Broker failures are classified before they act, and entries follow the
 * broker's market hours: the host loop with `broker: alpaca` against the
 * local exchange (hydra-exchange's server in-process on an ephemeral
 * 127.0.0.1 port), faults injected through its control API.
 *
 *   - one 503 on GET /v2/account: no halt, the tick's entries skipped, one
 *     failure in the health window; the same failure every tick halts when
 *     the window is full (health.max_api_failures_in_window), not before;
 *   - one failed /v2/clock with use_broker_clock: no halt;
 *   - a 429 whose reset is seconds away: calls are held, not counted, and
 *     the loop trades again after the reset;
 *   - the clock says closed (a day without a session): no equity or option
 *     order reaches the exchange, crypto still trades;
 *   - an early close from the calendar: positions are flattened before it.
 *
 * Assertions are on states and counts (halts, the health window, orders at
 * the exchange, the journal), never on how long something took.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alpacatest.h"
#include "enginetest.h"
#include "error.h"
#include "exchange_server.h"
#include "state.h"
#include "testutil.h"

#define FAKE_KEY "PKFAKETESTKEY00000002"
#define FAKE_SECRET "fake-test-secret-do-not-use-0000000002"

/* ---- the host, with broker alpaca at the local exchange (tests/alpacatest.c) ---- */

/* The shipped configuration with broker alpaca at the local exchange and its clock. */
static void open_engine(at_fixture *f, const char *bots_edits)
{
    /* Bots must not drop out because a worker call was slow on a loaded machine. */
    at_host_config(f, 5000, 30000, NULL, bots_edits);
    at_open(f);
}

static int setup(void **state)
{
    at_fixture *f = at_new(FAKE_KEY, FAKE_SECRET);
    at_start_exchange(f, 1000000);
    *state = f;
    return 0;
}

static int halted(at_fixture *f)
{
    return at_current_halt(f).active;
}

static int failures(at_fixture *f)
{
    return hydra_health_failures_in_window(&f->e.health, hydra_monotonic_ms());
}

/* Orders the exchange accepted for bots whose id starts with `prefix`. */
static int accepted_for_bots(at_fixture *f, const char *prefix)
{
    json_t *s = at_control(f, "GET", "/_hydra/stats", NULL);
    const char *cid;
    json_t *v;
    int n = 0;
    json_object_foreach(json_object_get(s, "submits"), cid, v)
    {
        if (strncmp(et_cid_from_bot(cid), prefix, strlen(prefix)) == 0)
            n += (int)json_integer_value(json_object_get(v, "accepted"));
    }
    json_decref(s);
    return n;
}

static size_t buys(at_fixture *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->w->n_submits; i++)
        n += f->w->submits[i].side == HYDRA_SIDE_BUY;
    return n;
}

/* ---- transient failures ---- */

/* One 503 on the ExitBot's account read: the tick skips entries, one failure, no halt. */
static void test_one_503_on_account_skips_the_tick(void **state)
{
    at_fixture *f = *state;
    open_engine(f, NULL);
    for (int i = 0; i < 3; i++)
        at_tick(f);
    assert_false(halted(f));
    int before = failures(f);
    size_t buys_before = buys(f);
    at_set_faults(f, "{\"rules\":[{\"method\":\"GET\",\"path\":\"/v2/account\",\"fault\":\"503\","
                     "\"count\":1}]}");
    at_tick(f);
    assert_int_equal(at_stat_of(f, "faults_fired"), 1);
    assert_false(halted(f));
    assert_int_equal(failures(f) - before, 1);
    assert_int_equal(buys(f), buys_before); /* no entry on a tick whose account is unknown */
    assert_non_null(strstr(f->e.entry_block, "account unreadable"));
    /* The next tick reads the account again and goes on. */
    at_tick(f);
    assert_false(halted(f));
    assert_int_equal(f->e.entry_block[0], '\0');
    assert_int_equal(failures(f) - before, 1);
}

/* The same 503 every tick: one failure a tick, the halt when the window is full and not before. */
static void test_consecutive_503s_halt_by_the_window(void **state)
{
    at_fixture *f = *state;
    open_engine(f, NULL);
    for (int i = 0; i < 3; i++)
        at_tick(f);
    int limit = f->e.cfg->settings.max_api_failures_in_window;
    assert_true(limit > 1);
    assert_int_equal(failures(f), 0);
    at_set_faults(f,
                  "{\"rules\":[{\"method\":\"GET\",\"path\":\"/v2/account\",\"fault\":\"503\"}]}");
    for (int i = 1; i <= limit; i++) {
        at_tick(f);
        assert_false(halted(f));
        assert_int_equal(failures(f), i);
    }
    at_tick(f); /* the ExitBot's health check sees a full window */
    assert_true(halted(f));
    hydra_halt h;
    assert_int_equal(hydra_halt_get(f->e.state, &h), 0);
    assert_non_null(strstr(h.reason, "api failures"));
    assert_string_equal(h.source, "exitbot");
}

/* With use_broker_clock, one failed /v2/clock leaves the time where it was: no halt. */
static void test_one_failed_clock_does_not_halt(void **state)
{
    at_fixture *f = *state;
    open_engine(f, NULL);
    for (int i = 0; i < 3; i++)
        at_tick(f);
    int64_t t0 = hydra_clock_now_ms(&f->e.clock);
    at_set_faults(f, "{\"rules\":[{\"method\":\"GET\",\"path\":\"/v2/clock\",\"fault\":\"503\","
                     "\"count\":1}]}");
    at_tick(f);
    assert_int_equal(at_stat_of(f, "faults_fired"), 1);
    assert_false(halted(f));
    assert_int_equal(failures(f), 1);
    assert_true(hydra_clock_now_ms(&f->e.clock) == t0);
    assert_non_null(strstr(f->e.entry_block, "clock"));
    at_tick(f);
    assert_false(halted(f));
    assert_true(hydra_clock_now_ms(&f->e.clock) > t0);
}

/* A permanent failure (credentials refused) still halts at once. */
static void test_401_on_account_halts(void **state)
{
    at_fixture *f = *state;
    open_engine(f, NULL);
    for (int i = 0; i < 3; i++)
        at_tick(f);
    at_set_faults(f, "{\"rules\":[{\"method\":\"GET\",\"path\":\"/v2/account\",\"fault\":\"401\","
                     "\"count\":1}]}");
    at_tick(f);
    assert_true(halted(f));
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A 429 on the account read whose reset is 2 s away: the 429 counts once,
 * the calls held until the reset are not sent and not counted, nothing
 * halts, and after the reset the exchange is asked again and entries run.
 */
static void test_429_with_far_reset_holds_without_halting(void **state)
{
    at_fixture *f = *state;
    open_engine(f, NULL);
    for (int i = 0; i < 3; i++)
        at_tick(f);
    /* 3 s ahead: X-Ratelimit-Reset is whole seconds, and "2 s" can fall within the 1 s short wait. */
    at_set_faults(f, "{\"rules\":[{\"method\":\"GET\",\"path\":\"/v2/account\",\"fault\":\"429\","
                     "\"count\":1,\"reset_in_s\":3}]}");
    at_tick(f);
    assert_int_equal(at_stat_of(f, "faults_fired"), 1);
    assert_false(halted(f));
    assert_int_equal(failures(f), 1);
    int64_t until = f->e.rate_limited_until_ms;
    assert_true(until > 0);
    /* Tick through the hold (bounded; what is asserted is the state, not the time taken). */
    int held_ticks = 0;
    for (int i = 0; i < 400 && wall_ms() <= until; i++) {
        at_tick(f);
        held_ticks += wall_ms() <= until;
        assert_false(halted(f));
        assert_int_equal(failures(f), 1);
        usleep(20 * 1000);
    }
    assert_true(wall_ms() > until);
    long req_before = at_stat_of(f, "requests");
    size_t buys_before = buys(f);
    for (int i = 0; i < 3; i++)
        at_tick(f);
    print_message("429 with a 2 s reset: %d ticks inside the hold, one failure counted\n",
                  held_ticks);
    assert_false(halted(f));
    assert_int_equal(failures(f), 1);
    assert_true(at_stat_of(f, "requests") > req_before); /* the exchange is asked again */
    assert_int_equal(f->e.entry_block[0], '\0');
    /* Entries run again: the crypto bot (told to enter on any rise) sends its buy. */
    for (int i = 0; i < 60 && buys(f) == buys_before; i++)
        at_tick(f);
    assert_true(buys(f) > buys_before);
}

/* ---- market hours ---- */

/* Lower thresholds so the momentum and crypto bots enter within the first trade window. */
#define EAGER_BOTS                                                                                 \
    "entry_roc_pct: 0.30=>entry_roc_pct: 0.0\n"

/* Ticks until the engine's market-zone minute of day reaches `minute` (at most max ticks). */
static void tick_until_minute(at_fixture *f, int minute, int max)
{
    for (int i = 0; i < max; i++) {
        hydra_local_time lt;
        hydra_local_from_utc(hydra_clock_now_ms(&f->e.clock), &lt);
        if (lt.minute_of_day >= minute)
            return;
        at_tick(f);
    }
    fail_msg("the clock did not reach minute %d in %d ticks", minute, max);
}

/* The clock says closed all day: no equity or option order reaches the exchange; crypto trades. */
static void test_closed_market_sends_no_equity_entry(void **state)
{
    at_fixture *f = *state;
    open_engine(f, EAGER_BOTS);
    json_decref(at_control(f, "POST", "/_hydra/market", "{\"closed\": true}"));
    tick_until_minute(f, 10 * 60, 400); /* through both equity trade windows */
    assert_false(halted(f));
    int equity = accepted_for_bots(f, "mom_") + accepted_for_bots(f, "opt_");
    int crypto = accepted_for_bots(f, "crypto_core");
    print_message("market closed: %d equity/option orders, %d crypto orders at the exchange\n",
                  equity, crypto);
    assert_int_equal(equity, 0);
    assert_true(crypto > 0);
}

/* The same day open: the momentum bot does enter (what the test above would catch). */
static void test_open_market_sends_equity_entries(void **state)
{
    at_fixture *f = *state;
    open_engine(f, EAGER_BOTS);
    tick_until_minute(f, 10 * 60, 400);
    int equity = accepted_for_bots(f, "mom_") + accepted_for_bots(f, "opt_");
    print_message("market open: %d equity/option orders at the exchange\n", equity);
    assert_true(equity > 0);
}

/*
 * An early close declared for today: the calendar says so, and positions
 * of a bot with flatten_before_close are sold in the minutes before that
 * close, never earlier. (The crypto bot is used because its orders fill
 * within the day in the simulated exchange; the rule is the same for
 * every bot that sets flatten_before_close_minutes.)
 */
static void test_early_close_flattens_before_the_calendar_close(void **state)
{
    at_fixture *f = *state;
    open_engine(f, "    stop_loss_pct: 0.75\\n    take_profit_pct: 1.50\\n    time_stop_minutes: 240=>"
                   "    stop_loss_pct: 90\\n    take_profit_pct: 100\\n    time_stop_minutes: 0\\n"
                   "    flatten_before_close_minutes: 20\n");
    json_decref(at_control(f, "POST", "/_hydra/market", "{\"early_close\": \"08:00\"}"));
    tick_until_minute(f, 9 * 60 + 30, 400);
    assert_false(halted(f));
    assert_int_equal(f->e.session_today, 1);
    int64_t close = f->e.session.close_ms;
    hydra_local_time lt;
    hydra_local_from_utc(close, &lt);
    assert_int_equal(lt.minute_of_day, 8 * 60); /* the calendar's early close */
    int flattens = 0;
    for (int seq = 1; seq < 200; seq++) {
        char cid[HYDRA_CID_LEN];
        snprintf(cid, sizeof cid, "hy-%s-%s-crypto_core-%08d-%d", f->e.install_id,
                 f->e.account_key, lt.date, seq);
        hydra_journal_order row;
        if (hydra_journal_get(f->e.state, cid, &row) != 0)
            continue;
        if (row.side == HYDRA_SIDE_SELL && strstr(row.reason, "flatten_before_close") != NULL) {
            flattens++;
            assert_true(row.created_ms >= close - 20 * 60000 && row.created_ms <= close);
        }
    }
    /* After the early close no equity or option entry goes out, though the bots' windows run on. */
    int late_entries = 0;
    static const char *const bots[] = {"mom_FESX", "opt_core"};
    for (size_t b = 0; b < 2; b++)
        for (int seq = 1; seq < 200; seq++) {
            char cid[HYDRA_CID_LEN];
            snprintf(cid, sizeof cid, "hy-%s-%s-%s-%08d-%d", f->e.install_id, f->e.account_key,
                     bots[b], lt.date, seq);
            hydra_journal_order row;
            if (hydra_journal_get(f->e.state, cid, &row) == 0 && row.side == HYDRA_SIDE_BUY &&
                row.created_ms >= close)
                late_entries++;
        }
    print_message("early close 08:00: %d flatten_before_close sells, all in the 20 minutes before; "
                  "%d equity/option entries after the close\n",
                  flattens, late_entries);
    assert_true(flattens >= 1);
    assert_int_equal(late_entries, 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_503_on_account_skips_the_tick, setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_consecutive_503s_halt_by_the_window, setup,
                                        at_teardown),
        cmocka_unit_test_setup_teardown(test_one_failed_clock_does_not_halt, setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_401_on_account_halts, setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_429_with_far_reset_holds_without_halting, setup,
                                        at_teardown),
        cmocka_unit_test_setup_teardown(test_closed_market_sends_no_equity_entry, setup,
                                        at_teardown),
        cmocka_unit_test_setup_teardown(test_open_market_sends_equity_entries, setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_early_close_flattens_before_the_calendar_close, setup,
                                        at_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
