/*
 * Bots in worker processes: deliberately broken bots cannot take the host
 * down, the cause of each failure is logged, the other bots keep trading
 * and the broken bot's positions stay under the host's exits. Both
 * isolation modes give the same orders. Hot swap replaces a running bot's
 * code between ticks and refuses a broken replacement.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enginetest.h"
#include "error.h"
#include "state.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

typedef struct fixture {
    char dir[256];
    char plugins[512];
    char log[512];
    hydra_engine e;
    int open;
    et_broker *w;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(tu_mkdtemp(f->dir, sizeof f->dir));
    snprintf(f->log, sizeof f->log, "%s/app.jsonl", f->dir);
    const char *const plugins[] = {ET_SHIPPED_PLUGINS, HYDRA_TEST_BROKEN_DIR "/misbehave.so",
                                   "misbehave", NULL};
    et_make_plugins(f->dir, f->plugins, sizeof f->plugins, plugins);
    f->w = calloc(1, sizeof *f->w);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->open)
        hydra_engine_close(&f->e);
    tu_rmtree(f->dir);
    free(f->w);
    free(f);
    return 0;
}

static void open_engine(fixture *f)
{
    et_open_plugins(&f->e, f->dir, f->plugins, 0);
    f->open = 1;
}

static void close_engine(fixture *f)
{
    hydra_engine_close(&f->e);
    f->open = 0;
}

/*
 * Settings for these tests: a deadline that tolerates a slow machine, no
 * restart delay, and a quarantine at the first missed deadline (repeated
 * misses are tested in test_quotas.c).
 */
#define TEST_SETTINGS                                                                              \
    "call_deadline_ms: 0 =>call_deadline_ms: 300 \n"                                               \
    "restart_backoff_ms: 1000=>restart_backoff_ms: 0\n"                                            \
    "deadline_misses_to_quarantine: 3=>deadline_misses_to_quarantine: 1"

/* A generic bot on the misbehave plugin that breaks in `mode` on its third on_tick. */
static void make_config_with_bad_bot(fixture *f, const char *mode)
{
    char edit[2048];
    /* One line: the edit list is split on newlines. */
    snprintf(edit, sizeof edit,
             "bots: []=>bots: [{bot_id: bad, plugin: misbehave, bucket: momentum, "
             "asset_class: equity, symbols: [FESX], "
             "session: {trade_start: \"06:00\", trade_end: \"12:00\", manage_until: \"12:55\"}, "
             "risk: {max_trades_per_day: 10, max_concurrent_positions: 1}, "
             "exits: {time_stop_minutes: 5}, "
             "signal: {mode: misbehave_v1, params: {mode: %s, at_call: 3}}}]",
             mode);
    assert_int_equal(et_make_config(f->dir, TEST_SETTINGS, edit), 0);
}

/* Index of the first log line with this event and bot, or -1. */
static int first_line(const char *log_path, const char *event, const char *bot_id)
{
    char *text = tu_read_file(log_path, NULL);
    int idx = 0, found = -1;
    assert_non_null(text);
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n"), idx++) {
        json_t *j = json_loads(line, 0, NULL);
        const char *ev = json_string_value(json_object_get(j, "event"));
        const char *bid = json_string_value(json_object_get(j, "bot_id"));
        int match = ev != NULL && strcmp(ev, event) == 0 && bid != NULL && strcmp(bid, bot_id) == 0;
        json_decref(j);
        if (match) {
            found = idx;
            break;
        }
    }
    free(text);
    return found;
}

/* Orders submitted by any bot other than `except` after log line `after`. */
static int orders_by_others_after(const char *log_path, const char *except, int after)
{
    char *text = tu_read_file(log_path, NULL);
    int idx = 0, n = 0;
    assert_non_null(text);
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n"), idx++) {
        if (idx <= after)
            continue;
        json_t *j = json_loads(line, 0, NULL);
        const char *ev = json_string_value(json_object_get(j, "event"));
        const char *bid = json_string_value(json_object_get(j, "bot_id"));
        if (ev != NULL && strcmp(ev, "order_submitted") == 0 && bid != NULL &&
            strcmp(bid, except) != 0)
            n++;
        json_decref(j);
    }
    free(text);
    return n;
}

static int log_contains(const char *log_path, const char *needle)
{
    char *text = tu_read_file(log_path, NULL);
    int found = text != NULL && strstr(text, needle) != NULL;
    free(text);
    return found;
}

/*
 * Runs the shipped bots with one broken bot and checks everything the
 * issue asks of a failure: the host ticks on, the cause is logged, the
 * other bots keep trading, the broken bot's position is closed by the host.
 */
static void check_broken_bot(fixture *f, const char *mode, const char *cause, int worker_dies)
{
    make_config_with_bad_bot(f, mode);
    open_engine(f);
    et_engine_ticks(&f->e, 120);

    hydra_bot_day day = {0};
    assert_int_equal(hydra_bot_day_get(f->e.state, "bad", f->e.day, &day), 0);
    print_message("%s: quarantined %d: %s\n", mode, day.quarantined, day.quarantine_reason);
    assert_true(day.quarantined);
    assert_non_null(strstr(day.quarantine_reason, cause));

    hydra_bot_position pos[8];
    size_t n = 99;
    assert_int_equal(hydra_position_list(f->e.state, "bad", pos, 8, &n), 0);
    assert_int_equal(n, 0); /* the host's time stop closed what the bot held */
    close_engine(f);

    assert_int_equal(et_count_events(f->log, "bot_quarantined", "bad"), 1);
    assert_true(et_count_events(f->log, "exit_rule", "bad") >= 1);
    int q = first_line(f->log, "bot_quarantined", "bad");
    assert_true(q > 0);
    assert_true(orders_by_others_after(f->log, "bad", q) >= 1);
    if (worker_dies) {
        assert_int_equal(et_count_events(f->log, "worker_failed", "bad"), 1);
        assert_int_equal(et_count_events(f->log, "worker_restarted", "bad"), 1);
    } else {
        assert_int_equal(et_count_events(f->log, "worker_failed", "bad"), 0);
    }
    assert_int_equal(et_count_events(f->log, "tick_summary", NULL), 120);
}

static void test_segfault_on_third_tick(void **state)
{
    check_broken_bot(*state, "segfault", "worker killed by signal 11 (SIGSEGV) in on_tick", 1);
}

static void test_infinite_loop_misses_deadline(void **state)
{
    check_broken_bot(*state, "loop", "on_tick exceeded its 300 ms deadline", 1);
}

static void test_abort(void **state)
{
    check_broken_bot(*state, "abort", "worker killed by signal 6 (SIGABRT) in on_tick", 1);
}

static void test_exit_inside_call(void **state)
{
    check_broken_bot(*state, "exit", "worker exited with status 0 in on_tick", 1);
}

static void test_write_past_intent_buffer(void **state)
{
    check_broken_bot(*state, "overflow", "on_tick corrupted the intent buffer", 0);
}

static void test_nan_quantity(void **state)
{
    check_broken_bot(*state, "nan",
                     "on_tick: invalid intent 0: quantity or notional not a finite non-negative number",
                     0);
}

static void test_negative_quantity(void **state)
{
    check_broken_bot(*state, "negative",
                     "on_tick: invalid intent 0: quantity or notional not a finite non-negative number",
                     0);
}

static void test_huge_allocation(void **state)
{
    if (SANITIZED) {
        /* Sanitizer builds run workers without an address-space limit (ASan needs its shadow). */
        print_message("skipped: no RLIMIT_AS under AddressSanitizer\n");
        skip();
    }
    check_broken_bot(*state, "alloc", "worker killed by signal 11 (SIGSEGV) in on_tick", 1);
}

static void test_socket_is_forbidden(void **state)
{
    check_broken_bot(*state, "socket",
                     "worker killed by signal 31 (SIGSYS: a forbidden system call) in on_tick", 1);
}

static void test_writing_a_file_is_forbidden(void **state)
{
    unlink("/tmp/hydra-misbehave-wrote-here");
    check_broken_bot(*state, "write_file",
                     "worker killed by signal 31 (SIGSYS: a forbidden system call) in on_tick", 1);
    assert_int_not_equal(access("/tmp/hydra-misbehave-wrote-here", F_OK), 0);
}

/* The worker proper: the one child of the jail's init (whose pid the host holds). */
static int worker_proper(pid_t init)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)init, (int)init);
    size_t len = 0;
    char *kids = tu_read_file(path, &len);
    int pid = kids != NULL ? atoi(kids) : 0;
    free(kids);
    return pid;
}

/* The worker starts with nothing of the host's: no environment, only its socket. */
static void test_worker_gets_no_secrets(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, TEST_SETTINGS, NULL), 0);
    setenv("ALPACA_SECRET", "do-not-leak-this", 1);
    open_engine(f);
    unsetenv("ALPACA_SECRET");
    int checked = 0;
    for (int i = 0; i < f->e.n_slots; i++) {
        const hydra_bot_runner *r = f->e.slots[i].run;
        if (!f->e.slots[i].loaded || !r->process)
            continue;
        int pid = worker_proper(r->worker.pid);
        assert_true(pid > 0);
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/environ", pid);
        size_t len = 0;
        char *env = tu_read_file(path, &len);
        assert_non_null(env);
        for (size_t k = 0; k < len; k += strlen(env + k) + 1)
            assert_true(strncmp(env + k, "PATH=", 5) == 0 || strncmp(env + k, "ASAN_OPTIONS=", 13) == 0);
        free(env);
        /* Descriptors: 0-2 on /dev/null and the socket; nothing else inherited. */
        int fds = 0;
        for (int fd = 0; fd < 256; fd++) {
            char p[96], target[256];
            snprintf(p, sizeof p, "/proc/%d/fd/%d", pid, fd);
            ssize_t n = readlink(p, target, sizeof target - 1);
            if (n < 0)
                continue;
            target[n] = '\0';
            fds++;
            if (fd <= 2)
                assert_string_equal(target, "/dev/null");
            else
                assert_non_null(strstr(target, "socket:"));
        }
        assert_int_equal(fds, 4);
        assert_true(r->worker.seccomp);
        checked++;
    }
    assert_int_equal(checked, 3);
}

/* The same plugin code gives the same orders in a worker as in-process. */
static void test_process_and_inprocess_give_same_orders(void **state)
{
    fixture *f = *state;
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/a", f->dir);
    snprintf(b, sizeof b, "%s/b", f->dir);
    assert_int_equal(mkdir(a, 0755), 0);
    assert_int_equal(mkdir(b, 0755), 0);
    assert_int_equal(et_make_config(a, TEST_SETTINGS, NULL), 0);
    assert_int_equal(et_make_config(b, TEST_SETTINGS, NULL), 0);

    hydra_engine *ea = calloc(1, sizeof *ea), *eb = calloc(1, sizeof *eb);
    et_broker *wa = calloc(1, sizeof *wa), *wb = calloc(1, sizeof *wb);
    et_open_plugins(ea, a, f->plugins, 1);
    et_open_plugins(eb, b, f->plugins, 0);
    assert_false(ea->slots[0].run->process);
    assert_true(eb->slots[0].run->process);
    et_wrap(wa, ea);
    et_wrap(wb, eb);
    et_engine_ticks(ea, 1500);
    et_engine_ticks(eb, 1500);
    print_message("in-process %zu orders, workers %zu orders\n", wa->n_submits, wb->n_submits);
    assert_true(wa->n_submits >= 5);
    assert_int_equal(wa->n_submits, wb->n_submits);
    for (size_t i = 0; i < wa->n_submits; i++) {
        assert_string_equal(et_cid_from_bot(wa->submits[i].cid),
                            et_cid_from_bot(wb->submits[i].cid));
        assert_string_equal(wa->submits[i].symbol, wb->submits[i].symbol);
        assert_int_equal(wa->submits[i].side, wb->submits[i].side);
        assert_true(wa->submits[i].notional_estimate == wb->submits[i].notional_estimate);
    }
    hydra_engine_close(ea);
    hydra_engine_close(eb);
    free(ea);
    free(eb);
    free(wa);
    free(wb);
}

static size_t option_orders(const et_broker *w)
{
    size_t n = 0;
    for (size_t i = 0; i < w->n_submits; i++)
        n += hydra_symbol_asset_class(w->submits[i].symbol) == HYDRA_ASSET_OPTION;
    return n;
}

/*
 * The options bot asks for its chain (hydra.options-chain/1) in process and
 * from a worker; the same bot on a host without the extension reads the
 * chain from every snapshot. All three send the same orders, and asking
 * fetches a chain from the exchange only on the ticks the signal fires.
 */
static void test_chain_on_request_gives_the_snapshot_orders(void **state)
{
    fixture *f = *state;
    et_copy_plugin(f->plugins, HYDRA_TEST_BROKEN_DIR "/options_snapshot.so", "options_snapshot");
    const char *names[3] = {"inproc", "worker", "snapshot"};
    hydra_engine *e[3];
    et_broker *w[3];
    for (int i = 0; i < 3; i++) {
        char d[512];
        snprintf(d, sizeof d, "%s/%s", f->dir, names[i]);
        assert_int_equal(mkdir(d, 0755), 0);
        assert_int_equal(et_make_config(d, TEST_SETTINGS,
                                        i == 2 ? "plugin: options=>plugin: options_snapshot" : NULL),
                         0);
        e[i] = calloc(1, sizeof *e[i]);
        w[i] = calloc(1, sizeof *w[i]);
        et_open_plugins(e[i], d, f->plugins, i == 0);
        et_wrap(w[i], e[i]);
    }
    assert_true(hydra_runner_asks_chain(et_slot(e[0], "opt_core")->run));
    assert_true(et_slot(e[1], "opt_core")->run->process);
    assert_true(hydra_runner_asks_chain(et_slot(e[1], "opt_core")->run));
    assert_false(hydra_runner_asks_chain(et_slot(e[2], "opt_core")->run));
    for (int i = 0; i < 3; i++)
        et_engine_ticks(e[i], 3000);
    print_message("option orders %zu / %zu / %zu; chains fetched %zu / %zu / %zu\n",
                  option_orders(w[0]), option_orders(w[1]), option_orders(w[2]), w[0]->n_chains,
                  w[1]->n_chains, w[2]->n_chains);
    assert_true(option_orders(w[0]) >= 2);
    for (int i = 1; i < 3; i++) {
        assert_int_equal(w[i]->n_submits, w[0]->n_submits);
        for (size_t k = 0; k < w[0]->n_submits; k++) {
            assert_string_equal(et_cid_from_bot(w[i]->submits[k].cid),
                                et_cid_from_bot(w[0]->submits[k].cid));
            assert_string_equal(w[i]->submits[k].symbol, w[0]->submits[k].symbol);
            assert_int_equal(w[i]->submits[k].side, w[0]->submits[k].side);
            assert_true(w[i]->submits[k].notional_estimate == w[0]->submits[k].notional_estimate);
        }
    }
    /* Asked for: a chain per fired signal; received: a chain every tick. */
    assert_int_equal(w[1]->n_chains, w[0]->n_chains);
    assert_true(w[0]->n_chains > 0);
    assert_true(w[0]->n_chains * 10 < w[2]->n_chains);
    for (int i = 0; i < 3; i++) {
        hydra_engine_close(e[i]);
        free(e[i]);
        free(w[i]);
    }
}

/*
 * A chain the exchange cannot deliver when the bot asks: no option is
 * bought, the failure is logged and counted against health like any
 * broker failure, and the rest of the host trades on.
 */
static void test_failed_chain_request_buys_nothing(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, TEST_SETTINGS, NULL), 0);
    open_engine(f);
    et_wrap(f->w, &f->e);
    f->w->faults.chain = HYDRA_ETRANSIENT;
    et_engine_ticks(&f->e, 3000);
    print_message("orders %zu, option orders %zu\n", f->w->n_submits, option_orders(f->w));
    assert_int_equal(option_orders(f->w), 0);
    assert_true(f->w->n_submits > 0);
    assert_true(log_contains(f->log, "injected fault in option_chain"));
}

/* Replacing momentum.so in a running host changes its intents, keeps positions and state. */
static void test_hot_swap_changes_signal(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, TEST_SETTINGS, NULL), 0);
    open_engine(f);
    et_engine_ticks(&f->e, 200);
    hydra_bot_position before[32], after[32];
    size_t nb = 0, na = 0;
    assert_int_equal(hydra_position_list(f->e.state, NULL, before, 32, &nb), 0);
    pid_t mom_pid = et_slot(&f->e, "mom_FESX")->run->worker.pid;
    pid_t crypto_pid = et_slot(&f->e, "crypto_core")->run->worker.pid;
    assert_int_equal(hydra_bot_kv_set(f->e.state, "mom_FESX", "swap_probe", "kept-123"), 0);
    assert_false(log_contains(f->log, "alt signal"));

    et_replace_plugin(f->plugins, HYDRA_TEST_BROKEN_DIR "/momentum_alt.so", "momentum");
    assert_int_equal(hydra_engine_reload(&f->e), 0);

    const hydra_bot_slot *mom = et_slot(&f->e, "mom_FESX");
    assert_string_equal(hydra_runner_version(mom->run), "2.0.0");
    assert_int_not_equal(mom->run->worker.pid, mom_pid);
    /* Only the changed bot was reloaded. */
    assert_int_equal(et_slot(&f->e, "crypto_core")->run->worker.pid, crypto_pid);
    assert_int_equal(hydra_position_list(f->e.state, NULL, after, 32, &na), 0);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < nb; i++) {
        assert_string_equal(before[i].bot_id, after[i].bot_id);
        assert_string_equal(before[i].symbol, after[i].symbol);
        assert_true(before[i].qty == after[i].qty);
    }
    et_engine_ticks(&f->e, 100);
    close_engine(f);
    assert_int_equal(et_count_events(f->log, "bot_swapped", "mom_FESX"), 1);
    assert_int_equal(et_count_events(f->log, "bot_swapped", "crypto_core"), 0);
    assert_true(log_contains(f->log, "swap_probe=kept-123"));
    assert_true(log_contains(f->log, "alt signal"));
    assert_int_equal(et_count_events(f->log, "host_start", NULL), 1);
}

/* A replacement that fails its checks is refused; the old code keeps trading. */
static void test_broken_replacement_is_refused(void **state)
{
    fixture *f = *state;
    const char *broken[] = {HYDRA_TEST_BROKEN_DIR "/create_fails.so",
                            HYDRA_TEST_BROKEN_DIR "/bad_major.so",
                            HYDRA_TEST_BROKEN_DIR "/not_a_so.so"};
    const char *why[] = {"create failed", "ABI version", "not a loadable shared object"};
    assert_int_equal(et_make_config(f->dir, TEST_SETTINGS, NULL), 0);
    open_engine(f);
    et_engine_ticks(&f->e, 50);
    pid_t mom_pid = et_slot(&f->e, "mom_FESX")->run->worker.pid;
    for (int i = 0; i < 3; i++) {
        et_replace_plugin(f->plugins, broken[i], "momentum");
        assert_int_not_equal(hydra_engine_reload(&f->e), 0);
        const hydra_bot_slot *mom = et_slot(&f->e, "mom_FESX");
        assert_int_equal(mom->run->worker.pid, mom_pid);
        assert_string_equal(hydra_runner_version(mom->run), "1.0.0");
        assert_true(log_contains(f->log, why[i]));
        et_engine_ticks(&f->e, 20);
        assert_false(et_slot(&f->e, "mom_FESX")->quarantined);
    }
    close_engine(f);
    assert_int_equal(et_count_events(f->log, "config_reload_rejected", NULL), 3);
    assert_int_equal(et_count_events(f->log, "bot_swapped", NULL), 0);
}

/* `hydra-host reload` signals the running host, which swaps the bot without a restart. */
static void test_reload_command_swaps_running_host(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, TEST_SETTINGS, NULL), 0);
    char cfg[512], out[512];
    snprintf(cfg, sizeof cfg, "%s/config", f->dir);
    snprintf(out, sizeof out, "%s/host.out", f->dir);
    const char *argv[] = {HYDRA_HOST_BIN, "--config", cfg, "--plugins", f->plugins,
                          "--interval-ms", "20", "--quiet", NULL};
    pid_t pid = tu_spawn(argv, f->dir, out);
    assert_true(pid > 0);
    for (int i = 0; i < 100 && et_count_events(f->log, "tick_summary", NULL) < 5; i++)
        usleep(100 * 1000);
    et_replace_plugin(f->plugins, HYDRA_TEST_BROKEN_DIR "/momentum_alt.so", "momentum");
    const char *reload[] = {HYDRA_HOST_BIN, "reload", "--config", cfg, NULL};
    char *text = NULL;
    int rc = tu_run(reload, f->dir, 30, &text);
    print_message("reload: %s", text != NULL ? text : "");
    free(text);
    assert_int_equal(rc, 0);
    for (int i = 0; i < 100 && et_count_events(f->log, "bot_swapped", "mom_FESX") < 1; i++)
        usleep(100 * 1000);
    kill(pid, SIGTERM);
    assert_int_equal(tu_wait(pid, 30), 0);
    assert_int_equal(et_count_events(f->log, "bot_swapped", "mom_FESX"), 1);
    assert_int_equal(et_count_events(f->log, "host_start", NULL), 1);
    assert_int_equal(et_count_events(f->log, "host_stop", NULL), 1);
}

/*
 * A worker's request is answered when it asks, not when every bot ranked
 * before it has answered: `hog` (rank 50, first) never returns from on_tick,
 * `chatty` writes its state on every on_tick and waits for the host's
 * answer. Served in rank order, chatty's request would wait out hog's
 * deadline and chatty would miss its own, through no fault of its own.
 */
static void test_slow_bot_does_not_starve_anothers_requests(void **state)
{
    fixture *f = *state;
    char edit[2048];
    snprintf(edit, sizeof edit,
             "bots: []=>bots: [{bot_id: hog, plugin: misbehave, bucket: momentum, rank: 50, "
             "asset_class: equity, symbols: [FESX], "
             "session: {trade_start: \"06:00\", trade_end: \"12:00\", manage_until: \"12:55\"}, "
             "signal: {mode: misbehave_v1, params: {mode: loop, at_call: 1}}}, "
             "{bot_id: chatty, plugin: misbehave, bucket: momentum, asset_class: equity, "
             "symbols: [FESX], "
             "session: {trade_start: \"06:00\", trade_end: \"12:00\", manage_until: \"12:55\"}, "
             "signal: {mode: misbehave_v1, params: {mode: chatty}}}]");
    assert_int_equal(et_make_config(f->dir,
                                    "call_deadline_ms: 0 =>call_deadline_ms: 2000 \n"
                                    "restart_backoff_ms: 1000=>restart_backoff_ms: 0\n"
                                    "deadline_misses_to_quarantine: 3=>deadline_misses_to_quarantine: 1",
                                    edit),
                     0);
    open_engine(f);
    hydra_bot_day hog = {0}, chatty = {0};
    for (int i = 0; i < 120 && !hog.quarantined; i++) {
        assert_int_equal(hydra_engine_tick(&f->e), 0);
        assert_int_equal(hydra_bot_day_get(f->e.state, "hog", f->e.day, &hog), 0);
    }
    assert_true(hog.quarantined);
    assert_non_null(strstr(hog.quarantine_reason, "on_tick exceeded its 2000 ms deadline"));
    assert_int_equal(hydra_bot_day_get(f->e.state, "chatty", f->e.day, &chatty), 0);
    if (chatty.quarantined)
        fail_msg("chatty quarantined: %s", chatty.quarantine_reason);
    /* Its write on the tick hog stalled was answered and kept. */
    char calls[32] = "";
    assert_int_equal(hydra_bot_kv_get(f->e.state, "chatty", "calls", calls, sizeof calls), 0);
    assert_true(atoi(calls) >= 1);
    close_engine(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_segfault_on_third_tick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_infinite_loop_misses_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_bot_does_not_starve_anothers_requests, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_inside_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_past_intent_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nan_quantity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_negative_quantity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_allocation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_is_forbidden, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writing_a_file_is_forbidden, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_gets_no_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_process_and_inprocess_give_same_orders, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_chain_on_request_gives_the_snapshot_orders, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failed_chain_request_buys_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hot_swap_changes_signal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_replacement_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_command_swaps_running_host, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
