/*
 * The engine against the real simulated exchange: the whole loop, every
 * halt path, restart, crash safety and a randomised "no entry while halted"
 * run. Faults come from a wrapper around the real exchange (enginetest.c).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enginetest.h"
#include "error.h"
#include "state.h"
#include "testutil.h"

typedef et_fixture fixture;

/* The shipped configuration trades: entries and exits by all three bots, every decision logged. */
static void test_shipped_config_trades_with_all_bots(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    et_open(f);
    et_ticks(f, 3000);
    assert_false(et_current_halt(f).active);
    et_close(f);

    const char *bots[] = {"mom_FESX", "opt_core", "crypto_core"};
    for (int i = 0; i < 3; i++) {
        int fills = et_count_events(f->log, "order_fill", bots[i]);
        int submitted = et_count_events(f->log, "order_submitted", bots[i]);
        print_message("%s: %d orders submitted, %d fills\n", bots[i], submitted, fills);
        assert_true(submitted >= 2); /* at least one entry and one exit */
        /*
         * The options bot never stacks an entry on one still working (ABI
         * 1.1), so its day limits at the ask fill less often in 3000 ticks.
         */
        assert_true(fills >= (i == 1 ? 1 : 2));
    }
    assert_true(et_count_events(f->log, "exit_rule", NULL) >= 1);
    assert_true(et_count_events(f->log, "preflight_skip", "mom_FESX") >= 1);
    assert_int_equal(et_count_events(f->log, "tick_summary", NULL), 3000);
}

/* The terminal's status line says the tick, the equity and, once halted, the halt and why. */
static void test_status_line(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    et_open(f);
    et_ticks(f, 20);
    char line[512], want[64];
    hydra_engine_status_line(&f->e, hydra_clock_now_ms(&f->e.clock), line, sizeof line);
    print_message("%s\n", line);
    assert_non_null(strstr(line, " tick 20 "));
    snprintf(want, sizeof want, "equity %.2f", f->e.account.equity);
    assert_non_null(strstr(line, want));
    assert_non_null(strstr(line, "trading"));
    assert_null(strstr(line, "HALTED"));
    char kill[512];
    snprintf(kill, sizeof kill, "%s/KILL_SWITCH", f->dir);
    assert_int_equal(tu_write_file(kill, "stop\n"), 0);
    et_ticks(f, 1);
    hydra_engine_status_line(&f->e, hydra_clock_now_ms(&f->e.clock), line, sizeof line);
    print_message("%s\n", line);
    assert_non_null(strstr(line, "HALTED (kill_switch: "));
    et_close(f);
}

static void test_kill_switch_halts_and_flattens(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    et_open(f);
    et_ticks(f, 200); /* crypto has positions by now */
    char kill[512];
    snprintf(kill, sizeof kill, "%s/KILL_SWITCH", f->dir);
    assert_int_equal(tu_write_file(kill, "stop\n"), 0);
    et_wrap(f->w, &f->e);
    et_ticks(f, 3);
    hydra_halt h = et_current_halt(f);
    assert_true(h.active);
    assert_string_equal(h.source, "kill_switch");
    assert_non_null(strstr(h.reason, "kill-switch file present"));
    et_ticks(f, 5);
    hydra_bot_position pos[16];
    size_t n = 99;
    assert_int_equal(hydra_position_list(f->e.state, NULL, pos, 16, &n), 0);
    assert_int_equal(n, 0); /* flattened */
    for (size_t i = 0; i < f->w->n_submits; i++)
        assert_int_equal(f->w->submits[i].side, HYDRA_SIDE_SELL);
    et_close(f);
    assert_true(et_count_events(f->log, "system_halt", NULL) == 1);
    assert_true(et_count_events(f->log, "halt_flatten", NULL) >= 1);
}

static void test_daily_loss_halts(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    et_open(f);
    et_ticks(f, 2);
    /* Pretend the day started 2% richer: today's loss exceeds the 1% limit. */
    f->e.day_start_equity = f->e.account.equity * 1.02;
    et_ticks(f, 1);
    hydra_halt h = et_current_halt(f);
    assert_true(h.active);
    assert_string_equal(h.source, "exitbot");
    assert_non_null(strstr(h.reason, "daily loss"));
    int64_t now = hydra_clock_now_ms(&f->e.clock);
    assert_true(h.until_ms == now + 390LL * 60 * 1000 || h.until_ms > now);
}

static void test_api_failures_trip_health_halt(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    et_open(f);
    et_ticks(f, 2);
    et_wrap(f->w, &f->e);
    f->w->faults.prices = HYDRA_ETRANSIENT;
    et_ticks(f, 5); /* 5 failures in the window: the threshold */
    assert_false(et_current_halt(f).active);
    et_ticks(f, 1);
    hydra_halt h = et_current_halt(f);
    assert_true(h.active);
    assert_non_null(strstr(h.reason, "api failures"));
    et_close(f);
    /* The same read failing every tick is one line, counted; not a line a tick. */
    assert_int_equal(et_count_events(f->log, "broker_error", NULL), 1);
}

static void test_exitbot_failure_halts(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    et_open(f);
    et_ticks(f, 2);
    et_wrap(f->w, &f->e);
    f->w->faults.account = HYDRA_EMALFORMED;
    et_ticks(f, 1);
    hydra_halt h = et_current_halt(f);
    assert_true(h.active);
    assert_non_null(strstr(h.reason, "EXITBOT_FAIL"));
}

static void test_bootstrap_failure_halts(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    et_open(f);
    et_wrap(f->w, &f->e);
    /* Transient: the rollover waits, nothing halts, the failure counts once. */
    f->w->faults.account = HYDRA_ETRANSIENT;
    et_ticks(f, 1); /* the first tick is a day rollover, which reads the account */
    assert_false(et_current_halt(f).active);
    assert_int_equal(hydra_health_failures_in_window(&f->e.health, hydra_monotonic_ms()), 1);
    assert_int_equal(f->w->n_submits, 0);
    /* Permanent (credentials refused): halts at once. */
    f->w->faults.account = HYDRA_EAUTH;
    et_ticks(f, 1);
    hydra_halt h = et_current_halt(f);
    assert_true(h.active);
    assert_string_equal(h.source, "bootstrap");
    assert_non_null(strstr(h.reason, "BOOTSTRAP_FAIL"));
    /* While the broker stays down the halt stands; it is not declared again every tick. */
    et_ticks(f, 5);
    hydra_halt again = et_current_halt(f);
    assert_int_equal(again.since_ms, h.since_ms);
    et_close(f);
    assert_int_equal(et_count_events(f->log, "system_halt", NULL), 1);
    assert_true(et_count_events(f->log, "bootstrap_failed", NULL) >= 1);
}

static void test_account_anomalies_halt(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    et_open(f);
    et_ticks(f, 2);
    et_wrap(f->w, &f->e);
    f->w->faults.blocked = 1;
    et_ticks(f, 1);
    hydra_halt h = et_current_halt(f);
    assert_true(h.active);
    assert_string_equal(h.reason, "anomaly: account blocked for trading");

    /* An equity jump beyond risk.max_equity_jump_pct (10%) in one tick. */
    assert_int_equal(hydra_halt_clear(f->e.state, "operator", 0), 0);
    f->w->faults.blocked = 0;
    et_ticks(f, 1);
    assert_false(et_current_halt(f).active);
    f->w->faults.equity_scale = 1.2;
    et_ticks(f, 1);
    h = et_current_halt(f);
    assert_true(h.active);
    assert_non_null(strstr(h.reason, "anomaly: equity moved 20.00% in one tick"));
}

/* A gate rejection is logged with the gate's name and never reaches the exchange. */
static void test_gate_rejection_never_reaches_exchange(void **state)
{
    fixture *f = *state;
    /* The crypto bot's limit buys sit 0.1% above the last price: past a 0.01% limit distance. */
    assert_int_equal(et_make_config(f->dir,
                                    "max_limit_distance_pct: 5.0=>max_limit_distance_pct: 0.01",
                                    NULL),
                     0);
    et_open(f);
    et_wrap(f->w, &f->e);
    et_ticks(f, 120);
    et_close(f);
    for (size_t i = 0; i < f->w->n_submits; i++)
        assert_null(strchr(f->w->submits[i].symbol, '/')); /* no crypto order at all */
    int rejects = et_count_events(f->log, "gate_reject", "crypto_core");
    print_message("%d crypto entries rejected by the gates\n", rejects);
    assert_true(rejects >= 1);
    assert_int_equal(et_count_events(f->log, "order_submitted", "crypto_core"), 0);
    char *log = tu_read_file(f->log, NULL);
    assert_non_null(strstr(log, "\"gate\":\"limit_price_sane\""));
    free(log);
}

/* The operator's commands work against the state database, host running or not. */
static void test_operator_halt_status_resume(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    char cfg[512], kill[512];
    snprintf(cfg, sizeof cfg, "%s/config", f->dir);
    snprintf(kill, sizeof kill, "%s/KILL_SWITCH", f->dir);
    const char *run[] = {HYDRA_HOST_BIN, "--config", cfg, "--plugins", HYDRA_TEST_PLUGIN_DIR,
                         "--ticks", "60", "--interval-ms", "0", "--quiet", NULL};
    assert_int_equal(tu_run(run, f->dir, 120, NULL), 0);

    const char *halt[] = {HYDRA_HOST_BIN, "halt", "--config", cfg, "--reason", "desk says stop", NULL};
    assert_int_equal(tu_run(halt, f->dir, 60, NULL), 0);
    const char *status[] = {HYDRA_HOST_BIN, "status", "--json", "--config", cfg, NULL};
    char *out = NULL;
    assert_int_equal(tu_run(status, f->dir, 60, &out), 0);
    json_t *j = json_loads(out, 0, NULL);
    free(out);
    assert_non_null(j);
    json_t *h = json_object_get(j, "halt");
    assert_true(json_is_true(json_object_get(h, "active")));
    assert_string_equal(json_string_value(json_object_get(h, "reason")), "desk says stop");
    json_t *hj = json_object_get(j, "host");
    assert_int_equal(json_integer_value(json_object_get(hj, "last_tick")), 60);
    assert_int_equal(json_array_size(json_object_get(j, "bots")), 4);
    /* Every series says where its prices come from; generated ones say so. */
    size_t k, generated = 0;
    json_t *se;
    json_array_foreach(json_object_get(j, "series"), k, se)
        generated += json_is_true(json_object_get(se, "generated"));
    assert_int_equal(json_array_size(json_object_get(j, "series")), 6);
    assert_int_equal(generated, 2);
    json_decref(j);

    assert_int_equal(tu_write_file(kill, "x"), 0);
    const char *resume[] = {HYDRA_HOST_BIN, "resume", "--config", cfg, NULL};
    assert_int_equal(tu_run(resume, f->dir, 60, &out), 1);
    assert_non_null(strstr(out, "resume refused: kill-switch file present"));
    free(out);
    unlink(kill);
    assert_int_equal(tu_run(resume, f->dir, 60, &out), 0);
    assert_non_null(strstr(out, "resumed: cleared halt \"desk says stop\""));
    free(out);

    /* The host picks up where it left off, with nothing unexplained. */
    assert_int_equal(tu_run(run, f->dir, 120, NULL), 0);
    assert_int_equal(et_count_events(f->log, "system_halt", NULL), 0);
}

static void test_unexplained_position_halts_at_start(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    et_open(f);
    et_ticks(f, 1);
    /* The journal claims a position the exchange never saw. */
    double realized = 0;
    assert_int_equal(hydra_position_apply_fill(f->e.state, "mom_FESX", "FESX", HYDRA_ASSET_EQUITY,
                                               1.0, HYDRA_SIDE_BUY, 3, 100.0, 0, 0, &realized),
                     0);
    et_close(f);
    et_open(f);
    hydra_halt h = et_current_halt(f);
    assert_true(h.active);
    assert_string_equal(h.source, "reconcile");
    assert_non_null(strstr(h.reason, "FESX"));
}

static void test_state_survives_restart(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    et_open(f);
    et_ticks(f, 300);
    hydra_bot_position before[32], after[32];
    size_t nb = 0, na = 0;
    assert_int_equal(hydra_position_list(f->e.state, NULL, before, 32, &nb), 0);
    hydra_bot_day db, da;
    hydra_bot_day_get(f->e.state, "crypto_core", f->e.day, &db);
    hydra_budget bb, ba;
    assert_int_equal(hydra_budget_get(f->e.state, "crypto_core", &bb), 0);
    char day[11];
    snprintf(day, sizeof day, "%s", f->e.day);
    int64_t clock_before = hydra_clock_now_ms(&f->e.clock);
    et_close(f);

    et_open(f);
    assert_false(et_current_halt(f).active); /* the journal explains every position */
    assert_int_equal(hydra_clock_now_ms(&f->e.clock), clock_before);
    assert_int_equal(hydra_position_list(f->e.state, NULL, after, 32, &na), 0);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < nb; i++) {
        assert_string_equal(before[i].symbol, after[i].symbol);
        assert_true(fabs(before[i].qty - after[i].qty) < 1e-12);
    }
    hydra_bot_day_get(f->e.state, "crypto_core", day, &da);
    assert_int_equal(da.trades, db.trades);
    assert_true(fabs(da.realized_pnl - db.realized_pnl) < 1e-9);
    assert_int_equal(hydra_budget_get(f->e.state, "crypto_core", &ba), 0);
    assert_true(fabs(ba.max_daily_loss - bb.max_daily_loss) < 1e-9);

    /* A halt survives a restart too. */
    assert_int_equal(hydra_halt_set(f->e.state, "operator test", "operator", 1, 0), 0);
    et_close(f);
    et_open(f);
    hydra_halt h = et_current_halt(f);
    assert_true(h.active);
    assert_string_equal(h.reason, "operator test");
}

/*
 * Thousands of ticks with seeded random broker faults, kill-switch flips and
 * forced daily losses: no buy ever reaches the exchange while a halt is
 * active, and every order respects the notional cap.
 */
static void test_no_entry_while_halted_randomised(void **state)
{
    fixture *f = *state;
    unsigned long long seed = 20261121ULL;
    const char *env = getenv("HYDRA_TEST_SEED");
    if (env != NULL)
        seed = strtoull(env, NULL, 10);
    print_message("seed %llu (replay with HYDRA_TEST_SEED)\n", seed);
    assert_int_equal(et_make_config(f->dir, "global_cooldown_minutes: 390=>global_cooldown_minutes: 20",
                                    "cooloff_minutes: 390=>cooloff_minutes: 15"),
                     0);
    et_open(f);
    et_wrap(f->w, &f->e);
    f->w->faults.seed = seed;
    f->w->rng = seed;
    char kill[512];
    snprintf(kill, sizeof kill, "%s/KILL_SWITCH", f->dir);
    unsigned long long r = seed;
    int halted_ticks = 0, loss_ticks = 0;
    double real_day_start = 0;
    for (int t = 0; t < 4000; t++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned pick = (unsigned)(r >> 33) % 1000;
        /* Bursts of broker faults, a kill switch that comes and goes, and short spells of a
         * breached daily loss, each for a few ticks at a time. */
        f->w->faults.random_rate = pick < 8 ? 0.6 : 0.0;
        if (pick >= 996)
            tu_write_file(kill, "x");
        else if (pick >= 960)
            unlink(kill);
        if (pick >= 500 && pick < 503 && loss_ticks == 0) {
            real_day_start = f->e.day_start_equity;
            f->e.day_start_equity *= 1.05;
            loss_ticks = 10;
        } else if (loss_ticks > 0 && --loss_ticks == 0) {
            f->e.day_start_equity = real_day_start;
        }
        int rc = hydra_engine_tick(&f->e);
        if (rc == HYDRA_EEOF)
            break;
        assert_int_equal(rc, 0);
        halted_ticks += f->e.halted;
    }
    size_t buys = 0;
    for (size_t i = 0; i < f->w->n_submits; i++) {
        const et_submit *s = &f->w->submits[i];
        if (s->side == HYDRA_SIDE_BUY) {
            buys++;
            if (s->halted)
                fail_msg("buy %s reached the exchange while halted", s->cid);
            assert_true(s->notional_estimate <= 5000.0 * 1.0001);
        }
    }
    print_message("%zu orders, %zu buys, %d halted ticks, %d halts\n", f->w->n_submits, buys,
                  halted_ticks, et_count_events(f->log, "system_halt", NULL));
    assert_true(buys >= 10);
    assert_true(halted_ticks > 0);
    assert_true(halted_ticks < 3000); /* the run traded as well as halted */
}

/* SIGKILL between the journal write and the submission: one order at most, never two. */
static void test_crash_after_journal_never_doubles(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/config", f->dir);
    const char *argv[] = {HYDRA_HOST_BIN, "--config", cfg, "--plugins", HYDRA_TEST_PLUGIN_DIR,
                          "--ticks", "400", "--interval-ms", "0", "--quiet", NULL};
    setenv("HYDRA_TEST_CRASH_AT", "after_journal", 1);
    char *out = NULL;
    int rc = tu_run(argv, f->dir, 120, &out);
    unsetenv("HYDRA_TEST_CRASH_AT");
    free(out);
    assert_int_equal(rc, 128 + SIGKILL);

    /* The journal holds exactly one pending row, which the exchange has never seen. */
    hydra_state *st = NULL;
    char err[512], db[512];
    snprintf(db, sizeof db, "%s/trading_state.db", f->dir);
    assert_int_equal(hydra_state_open(db, &st, err, sizeof err), 0);
    hydra_journal_order rows[8];
    size_t n = 0;
    assert_int_equal(hydra_journal_list_open(st, rows, 8, &n), 0);
    hydra_state_close(st);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].state, HYDRA_ORD_PENDING_SUBMIT);

    /* Restart: reconciliation sends it once, with its original id. */
    et_open(f);
    hydra_order o;
    hydra_broker_err berr;
    assert_int_equal(f->e.broker.ops->order_by_client_id(f->e.broker.ctx, rows[0].client_order_id,
                                                         &o, &berr),
                     0);
    assert_string_equal(o.client_order_id, rows[0].client_order_id);
    hydra_journal_order row;
    assert_int_equal(hydra_journal_get(f->e.state, rows[0].client_order_id, &row), 0);
    assert_int_not_equal(row.state, HYDRA_ORD_PENDING_SUBMIT);
    et_wrap(f->w, &f->e);
    et_ticks(f, 20);
    for (size_t i = 0; i < f->w->n_submits; i++)
        assert_string_not_equal(f->w->submits[i].cid, rows[0].client_order_id);
    et_close(f);
    assert_int_equal(et_count_events(f->log, "order_resubmit", NULL), 1);
}

static void test_host_refuses_bad_config_with_status_2(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, "max_trades_per_day: 3=>max_trades_per_day: three"), 0);
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/config", f->dir);
    const char *argv[] = {HYDRA_HOST_BIN, "--config", cfg, "--once", NULL};
    char *out = NULL;
    int rc = tu_run(argv, f->dir, 60, &out);
    assert_int_equal(rc, 2);
    assert_non_null(out);
    assert_non_null(strstr(out, "momentum_bots[0].risk.max_trades_per_day: expected a positive integer, got \"three\""));
    free(out);
}

/* SIGHUP's reload: a bad configuration is rejected and the running one kept; a good one applies. */
static void test_reload_keeps_old_config_when_new_is_bad(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    et_open(f);
    et_ticks(f, 3);
    char bots[512];
    snprintf(bots, sizeof bots, "%s/config/bots.yaml", f->dir);
    char *good = tu_read_file(bots, NULL);
    assert_non_null(good);

    assert_int_equal(tu_write_file(bots, "momentum_bots: [\n"), 0);
    assert_int_equal(hydra_engine_reload(&f->e), HYDRA_ECONFIG);
    assert_int_equal(f->e.n_slots, 4);
    et_ticks(f, 2); /* still trading on the old configuration */

    char *changed = strdup(good);
    char *p = strstr(changed, "max_trades_per_day: 6");
    assert_non_null(p);
    p[20] = '2';
    assert_int_equal(tu_write_file(bots, changed), 0);
    assert_int_equal(hydra_engine_reload(&f->e), 0);
    hydra_budget b;
    assert_int_equal(hydra_budget_get(f->e.state, "crypto_core", &b), 0);
    assert_int_equal(b.max_trades_per_day, 2);
    et_ticks(f, 2);
    et_close(f);
    free(good);
    free(changed);
    assert_int_equal(et_count_events(f->log, "config_reload_rejected", NULL), 1);
    assert_int_equal(et_count_events(f->log, "config_reloaded", NULL), 1);
}

/* Lines of the log at `level` ("debug", "info", ...). */
static int lines_at(const char *log, const char *level)
{
    char *text = tu_read_file(log, NULL), want[40];
    assert_non_null(text);
    snprintf(want, sizeof want, "\"level\":\"%s\"", level);
    int n = 0;
    for (const char *p = text; (p = strstr(p, want)) != NULL; p += strlen(want))
        n++;
    free(text);
    return n;
}

/*
 * logging.level: a host started at info writes no debug line (the tick's
 * exitbot_ok heartbeat is one), and a reload back to debug brings them back
 * from the next tick on.
 */
static void test_log_level_applies_at_start_and_on_reload(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, "level: debug=>level: info", NULL), 0);
    et_open(f);
    et_ticks(f, 3);
    assert_int_equal(lines_at(f->log, "debug"), 0);
    assert_true(lines_at(f->log, "info") > 0);

    char settings[512];
    snprintf(settings, sizeof settings, "%s/config/settings.yaml", f->dir);
    char *text = tu_read_file(settings, NULL);
    assert_non_null(text);
    char *p = strstr(text, "level: info"), *edited = NULL;
    assert_non_null(p);
    assert_true(asprintf(&edited, "%.*slevel: debug%s", (int)(p - text), text,
                         p + strlen("level: info")) > 0);
    assert_int_equal(tu_write_file(settings, edited), 0);
    free(text);
    free(edited);
    assert_int_equal(hydra_engine_reload(&f->e), 0);
    et_ticks(f, 3);
    et_close(f);
    assert_true(et_count_events(f->log, "exitbot_ok", NULL) >= 3);
    assert_true(lines_at(f->log, "debug") >= 3);
}

/* Bots that could need more prices than a snapshot holds are refused at start, not mid-session. */
static void test_too_many_symbols_refused_at_start(void **state)
{
    fixture *f = *state;
    char edit[16384];
    size_t off = (size_t)snprintf(edit, sizeof edit, "bots: []=>bots:");
    for (int b = 0; b < 17; b++) {
        off += (size_t)snprintf(edit + off, sizeof edit - off,
                                "\\n  - bot_id: wide%d\\n    plugin: momentum\\n"
                                "    bucket: momentum\\n    asset_class: equity\\n    symbols: [",
                                b);
        for (int k = 0; k < 16; k++)
            off += (size_t)snprintf(edit + off, sizeof edit - off, "%sW%03d", k ? ", " : "",
                                    b * 16 + k);
        off += (size_t)snprintf(edit + off, sizeof edit - off, "]");
    }
    assert_int_equal(et_make_config(f->dir, NULL, edit), 0);
    hydra_engine_options opt;
    et_options(&opt, f->dir);
    char err[4096] = "";
    int code = -1;
    assert_int_not_equal(hydra_engine_open(&f->e, &opt, err, sizeof err, &code), 0);
    assert_int_equal(code, 2);
    /* 17 x 16 wide symbols + FESX, ORCL, NVDA, BTC/USD, ETH/USD; opt_core may hold 3 contracts. */
    assert_non_null(strstr(err, "the enabled bots need 280 symbols (277 declared, 3 option contracts "
                                "they may hold); a snapshot holds at most 256"));
}

/* A declared bot whose plugin is refused stops start-up, naming the file and the reason. */
static void test_host_refuses_bad_plugin_with_status_2(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, "plugin: options=>plugin: bad_major"), 0);
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/config", f->dir);
    const char *argv[] = {HYDRA_HOST_BIN, "--config", cfg, "--plugins", HYDRA_TEST_BROKEN_DIR,
                          "--once", NULL};
    char *out = NULL;
    int rc = tu_run(argv, f->dir, 60, &out);
    assert_int_equal(rc, 2);
    assert_non_null(out);
    assert_non_null(strstr(out, HYDRA_TEST_BROKEN_DIR "/bad_major.so: ABI version 2.0.0 is not "
                                "compatible with this host's 1.1.0 (major versions differ)"));
    assert_non_null(strstr(out, "refusing to start"));
    free(out);
}

static void test_sigterm_and_sigint_exit_cleanly(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    char cfg[512], out[512];
    snprintf(cfg, sizeof cfg, "%s/config", f->dir);
    snprintf(out, sizeof out, "%s/host.out", f->dir);
    const char *argv[] = {HYDRA_HOST_BIN, "--config", cfg, "--plugins", HYDRA_TEST_PLUGIN_DIR,
                          "--interval-ms", "20", NULL};
    int sigs[] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        pid_t pid = tu_spawn(argv, f->dir, out);
        assert_true(pid > 0);
        usleep(1500 * 1000);
        kill(pid, sigs[i]);
        assert_int_equal(tu_wait(pid, 30), 0);
    }
    assert_true(et_count_events(f->log, "host_stop", NULL) == 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shipped_config_trades_with_all_bots, et_setup,
                                        et_teardown),
        cmocka_unit_test_setup_teardown(test_status_line, et_setup, et_teardown),
        cmocka_unit_test_setup_teardown(test_kill_switch_halts_and_flattens, et_setup, et_teardown),
        cmocka_unit_test_setup_teardown(test_daily_loss_halts, et_setup, et_teardown),
        cmocka_unit_test_setup_teardown(test_api_failures_trip_health_halt, et_setup, et_teardown),
        cmocka_unit_test_setup_teardown(test_exitbot_failure_halts, et_setup, et_teardown),
        cmocka_unit_test_setup_teardown(test_bootstrap_failure_halts, et_setup, et_teardown),
        cmocka_unit_test_setup_teardown(test_account_anomalies_halt, et_setup, et_teardown),
        cmocka_unit_test_setup_teardown(test_gate_rejection_never_reaches_exchange, et_setup,
                                        et_teardown),
        cmocka_unit_test_setup_teardown(test_operator_halt_status_resume, et_setup, et_teardown),
        cmocka_unit_test_setup_teardown(test_unexplained_position_halts_at_start, et_setup,
                                        et_teardown),
        cmocka_unit_test_setup_teardown(test_state_survives_restart, et_setup, et_teardown),
        cmocka_unit_test_setup_teardown(test_no_entry_while_halted_randomised, et_setup,
                                        et_teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_journal_never_doubles, et_setup,
                                        et_teardown),
        cmocka_unit_test_setup_teardown(test_host_refuses_bad_config_with_status_2, et_setup,
                                        et_teardown),
        cmocka_unit_test_setup_teardown(test_log_level_applies_at_start_and_on_reload, et_setup,
                                        et_teardown),
        cmocka_unit_test_setup_teardown(test_reload_keeps_old_config_when_new_is_bad, et_setup,
                                        et_teardown),
        cmocka_unit_test_setup_teardown(test_too_many_symbols_refused_at_start, et_setup,
                                        et_teardown),
        cmocka_unit_test_setup_teardown(test_host_refuses_bad_plugin_with_status_2, et_setup,
                                        et_teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_and_sigint_exit_cleanly, et_setup,
                                        et_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
