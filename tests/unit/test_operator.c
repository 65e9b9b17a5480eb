/*
 * The operator's commands, through the real hydra-host binary: every
 * command answers --help with its own usage; reset-paper refuses under a
 * running host and without --yes; halt, resume, reset-paper and
 * unquarantine leave an audit trail (app log and operator_actions) naming
 * the operator; a quarantine ends by unquarantine at the running host's
 * next tick, or by a successful hot swap of the bot.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <pwd.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hydra/plugin.h>

#include "enginetest.h"
#include "error.h"
#include "state.h"
#include "testutil.h"

typedef struct fixture {
    char dir[256];
    char log[512];
    char cfg[512];
    char db[512];
    char plugins[512];
    hydra_engine e;
    int open;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(tu_mkdtemp(f->dir, sizeof f->dir));
    snprintf(f->log, sizeof f->log, "%s/app.jsonl", f->dir);
    snprintf(f->cfg, sizeof f->cfg, "%s/config", f->dir);
    snprintf(f->db, sizeof f->db, "%s/trading_state.db", f->dir);
    const char *const plugins[] = {ET_SHIPPED_PLUGINS, HYDRA_TEST_BROKEN_DIR "/misbehave.so",
                                   "misbehave", NULL};
    et_make_plugins(f->dir, f->plugins, sizeof f->plugins, plugins);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->open)
        hydra_engine_close(&f->e);
    tu_rmtree(f->dir);
    free(f);
    return 0;
}

static void open_engine(fixture *f)
{
    et_open_plugins(&f->e, f->dir, f->plugins, 0);
    f->open = 1;
}

static void tick(fixture *f)
{
    assert_int_equal(hydra_engine_tick(&f->e), 0);
}

static int64_t db_int(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    int64_t v = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(h, 5000);
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(h, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
            v = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return v;
}

/* Runs hydra-host with args (NULL-terminated, after the binary) in the fixture's directory. */
static int host(fixture *f, char **out, const char *a0, const char *a1, const char *a2,
                const char *a3, const char *a4, const char *a5)
{
    const char *argv[] = {HYDRA_HOST_BIN, a0, a1, a2, a3, a4, a5, NULL};
    char *text = NULL;
    int rc = tu_run(argv, f->dir, 120, &text);
    if (out != NULL)
        *out = text;
    else
        free(text);
    return rc;
}

static const char *me(void)
{
    struct passwd *pw = getpwuid(getuid());
    assert_non_null(pw);
    return pw->pw_name;
}

/* One row of operator_actions with this action, the operator's name and uid and this reason. */
static void assert_action(fixture *f, const char *action, const char *reason)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM operator_actions WHERE action = '%s' AND user = '%s' AND "
             "uid = %ld AND reason = '%s'",
             action, me(), (long)getuid(), reason);
    assert_int_equal(db_int(f->db, sql), 1);
}

/* The app log has `event` naming the operator and the reason. */
static void assert_logged(fixture *f, const char *event, const char *reason)
{
    char *text = tu_read_file(f->log, NULL);
    assert_non_null(text);
    int found = 0;
    for (char *line = strtok(text, "\n"); line != NULL && !found; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        const char *ev = json_string_value(json_object_get(j, "event"));
        const char *user = json_string_value(json_object_get(j, "user"));
        const char *why = json_string_value(json_object_get(j, "reason"));
        found = ev != NULL && strcmp(ev, event) == 0 && user != NULL && strcmp(user, me()) == 0 &&
                json_integer_value(json_object_get(j, "uid")) == (json_int_t)getuid() &&
                why != NULL && strcmp(why, reason) == 0;
        json_decref(j);
    }
    free(text);
    if (!found)
        fail_msg("no %s line naming %s with reason \"%s\" in %s", event, me(), reason, f->log);
}

static void test_help_on_every_command_and_version(void **state)
{
    fixture *f = *state;
    const char *commands[] = {"run",    "check-config", "status",       "halt",
                              "resume", "reset-paper",  "unquarantine", "reload"};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char *out = NULL;
        assert_int_equal(host(f, &out, commands[i], "--help", NULL, NULL, NULL, NULL), 0);
        char want[64];
        if (strcmp(commands[i], "run") == 0)
            snprintf(want, sizeof want, "usage: hydra-host [run]");
        else
            snprintf(want, sizeof want, "usage: hydra-host %s ", commands[i]);
        if (strncmp(out, want, strlen(want)) != 0)
            fail_msg("%s --help printed:\n%s", commands[i], out);
        /* Its own usage only, not every command's. */
        if (strcmp(commands[i], "status") != 0)
            assert_null(strstr(out, "hydra-host status"));
        free(out);
    }
    char *out = NULL;
    /* With no command named, --help lists them all. */
    assert_int_equal(host(f, &out, "--help", NULL, NULL, NULL, NULL, NULL), 0);
    assert_non_null(strstr(out, "hydra-host unquarantine BOT"));
    assert_non_null(strstr(out, "hydra-host reset-paper [--yes]"));
    free(out);
    assert_int_equal(host(f, &out, "--version", NULL, NULL, NULL, NULL, NULL), 0);
    char want[64];
    snprintf(want, sizeof want, "hydra-host %s (plugin ABI %u.", HYDRA_VERSION, HYDRA_ABI_MAJOR);
    assert_non_null(strstr(out, want));
    free(out);
}

/* Waits until the running host has ticked at least n times (fails if it exits first). */
static void wait_ticks(fixture *f, pid_t pid, int64_t n)
{
    for (int i = 0; i < 2400; i++) {
        if (db_int(f->db, "SELECT CAST(v AS INTEGER) FROM kv WHERE k = 'last_tick'") >= n)
            return;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            fail_msg("the host exited (status %d)", status);
        usleep(50 * 1000);
    }
    kill(pid, SIGKILL);
    tu_wait(pid, 10);
    fail_msg("the host never reached tick %lld", (long long)n);
}

/* --quiet silences the console entirely: no start line (and no status line on a terminal). */
static void test_quiet_run_prints_nothing(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    const char *quiet[] = {HYDRA_HOST_BIN, "--config", f->cfg, "--plugins", f->plugins,
                           "--ticks", "2", "--interval-ms", "0", "--quiet", NULL};
    char *out = NULL;
    assert_int_equal(tu_run(quiet, f->dir, 120, &out), 0);
    if (out != NULL && out[0] != '\0')
        fail_msg("--quiet printed:\n%s", out);
    free(out);
    assert_int_equal(db_int(f->db, "SELECT CAST(v AS INTEGER) FROM kv WHERE k = 'last_tick'"), 2);
    const char *loud[] = {HYDRA_HOST_BIN, "--config", f->cfg, "--plugins", f->plugins,
                          "--ticks", "1", "--interval-ms", "0", NULL};
    assert_int_equal(tu_run(loud, f->dir, 120, &out), 0);
    assert_non_null(out);
    assert_non_null(strstr(out, "hydra-host "));
    free(out);
}

static void test_reset_paper_respects_a_running_host(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    char out_path[512], sim_db[512];
    snprintf(out_path, sizeof out_path, "%s/host.out", f->dir);
    snprintf(sim_db, sizeof sim_db, "%s/paper_exchange.db", f->dir);
    const char *run[] = {HYDRA_HOST_BIN, "--config", f->cfg, "--plugins", f->plugins,
                         "--interval-ms", "20", "--quiet", NULL};
    pid_t pid = tu_spawn(run, f->dir, out_path);
    assert_true(pid > 0);
    wait_ticks(f, pid, 3);

    /* Under a running host: refused, even with --yes; nothing deleted, the host goes on. */
    char *out = NULL;
    assert_int_equal(host(f, &out, "reset-paper", "--yes", "--config", f->cfg, NULL, NULL), 1);
    char want[64];
    snprintf(want, sizeof want, "refused: hydra-host pid %d is running", (int)pid);
    if (strstr(out, want) == NULL)
        fail_msg("reset-paper said:\n%s", out);
    free(out);
    int64_t ticked = db_int(f->db, "SELECT CAST(v AS INTEGER) FROM kv WHERE k = 'last_tick'");
    wait_ticks(f, pid, ticked + 3);
    struct stat sb;
    assert_int_equal(stat(sim_db, &sb), 0);
    kill(pid, SIGTERM);
    assert_int_equal(tu_wait(pid, 60), 0);
    assert_int_equal(db_int(f->db, "SELECT COUNT(*) FROM operator_actions"), 0);

    /* No host, but nobody to confirm (stdin is not a terminal) and no --yes: refused. */
    const char *no_tty[] = {"/bin/sh", "-c", HYDRA_HOST_BIN " reset-paper --config \"$0\" </dev/null",
                            f->cfg, NULL};
    assert_int_equal(tu_run(no_tty, f->dir, 60, &out), 1);
    assert_non_null(strstr(out, "again with --yes"));
    free(out);
    assert_int_equal(stat(sim_db, &sb), 0);
    assert_true(db_int(f->db, "SELECT COUNT(*) FROM orders") >= 0);
    int64_t last_tick = db_int(f->db, "SELECT CAST(v AS INTEGER) FROM kv WHERE k = 'last_tick'");
    assert_true(last_tick > 0);

    /* With --yes: both databases start over, and the new one says who reset it. */
    assert_int_equal(host(f, &out, "reset-paper", "--yes", "--config", f->cfg, "--reason",
                          "new quarter"),
                     0);
    free(out);
    assert_int_equal(db_int(f->db, "SELECT COUNT(*) FROM kv WHERE k = 'last_tick'"), 0);
    assert_action(f, "reset_paper", "new quarter");
    assert_logged(f, "operator_reset_paper", "new quarter");
}

static void test_halt_and_resume_are_audited(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    char *out = NULL;
    assert_int_equal(host(f, &out, "halt", "--config", f->cfg, "--reason", "desk says stop", NULL), 0);
    assert_non_null(strstr(out, "no host is running"));
    free(out);
    assert_action(f, "halt", "desk says stop");
    assert_logged(f, "operator_halt", "desk says stop");
    char who[128];
    snprintf(who, sizeof who, "%s (uid %ld)", me(), (long)getuid());
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM halts WHERE requested_by = '%s'", who);
    assert_int_equal(db_int(f->db, sql), 1);

    assert_int_equal(host(f, &out, "status", "--config", f->cfg, NULL, NULL, NULL), 0);
    if (strstr(out, "not yet acknowledged: no host is running") == NULL || strstr(out, who) == NULL)
        fail_msg("status said:\n%s", out);
    free(out);

    assert_int_equal(host(f, &out, "resume", "--config", f->cfg, "--reason", "all clear", NULL), 0);
    free(out);
    assert_action(f, "resume", "all clear");
    assert_logged(f, "operator_resume", "all clear");
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM halts WHERE cleared_by = 'operator %s'", who);
    assert_int_equal(db_int(f->db, sql), 1);
}

/* A generic bot on the misbehave plugin that returns a NaN quantity on its third on_tick. */
static void make_config_with_bad_bot(fixture *f)
{
    const char *edit =
        "bots: []=>bots: [{bot_id: bad, plugin: misbehave, bucket: momentum, "
        "asset_class: equity, symbols: [FESX], "
        "session: {trade_start: \"06:00\", trade_end: \"12:00\", manage_until: \"12:55\"}, "
        "risk: {max_trades_per_day: 10, max_concurrent_positions: 1}, "
        "exits: {time_stop_minutes: 5}, "
        "signal: {mode: misbehave_v1, params: {mode: nan, at_call: 3}}}]";
    assert_int_equal(et_make_config(f->dir, "call_deadline_ms: 0 =>call_deadline_ms: 300 ", edit),
                     0);
}

static hydra_bot_slot *bad_slot(fixture *f)
{
    for (int i = 0; i < f->e.n_slots; i++)
        if (strcmp(f->e.slots[i].cfg->bot_id, "bad") == 0)
            return &f->e.slots[i];
    fail_msg("no bot \"bad\"");
    return NULL;
}

static void quarantine_bad_bot(fixture *f)
{
    make_config_with_bad_bot(f);
    open_engine(f);
    for (int i = 0; i < 600 && !bad_slot(f)->quarantined; i++)
        tick(f);
    assert_true(bad_slot(f)->quarantined);
}

static void test_unquarantine_reaches_the_running_host(void **state)
{
    fixture *f = *state;
    quarantine_bad_bot(f);
    char *out = NULL;
    assert_int_equal(host(f, &out, "unquarantine", "bad", "--config", f->cfg, "--reason", "fixed"), 0);
    if (strstr(out, "quarantine cleared") == NULL)
        fail_msg("unquarantine said:\n%s", out);
    free(out);
    assert_true(bad_slot(f)->quarantined); /* not in the middle of anything: at the tick boundary */
    tick(f);
    assert_false(bad_slot(f)->quarantined);
    for (int i = 0; i < 20; i++)
        tick(f);
    assert_false(bad_slot(f)->quarantined); /* its next calls are honest ones */
    hydra_engine_close(&f->e);
    f->open = 0;
    assert_action(f, "unquarantine", "fixed");
    assert_logged(f, "operator_unquarantine", "fixed");
    assert_int_equal(et_count_events(f->log, "bot_unquarantined", "bad"), 1);
    assert_int_equal(et_count_events(f->log, "bot_quarantined", "bad"), 1);

    /* A bot nobody configured is a usage error; one not quarantined is nothing to do. */
    assert_int_equal(host(f, &out, "unquarantine", "nobody", "--config", f->cfg, NULL, NULL), 2);
    free(out);
    assert_int_equal(host(f, &out, "unquarantine", "bad", "--config", f->cfg, NULL, NULL), 0);
    assert_non_null(strstr(out, "is not quarantined"));
    free(out);
}

static void test_hot_swap_ends_the_quarantine(void **state)
{
    fixture *f = *state;
    quarantine_bad_bot(f);
    et_replace_plugin(f->plugins, HYDRA_TEST_BROKEN_DIR "/misbehave.so", "misbehave");
    assert_int_equal(hydra_engine_reload(&f->e), 0);
    assert_false(bad_slot(f)->quarantined);
    tick(f);
    assert_false(bad_slot(f)->quarantined);
    hydra_engine_close(&f->e);
    f->open = 0;
    assert_int_equal(et_count_events(f->log, "bot_swapped", "bad"), 1);
    assert_int_equal(et_count_events(f->log, "bot_unquarantined", "bad"), 1);
    char *log = tu_read_file(f->log, NULL);
    assert_non_null(strstr(log, "\"by\":\"swap\""));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_help_on_every_command_and_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quiet_run_prints_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_paper_respects_a_running_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_halt_and_resume_are_audited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unquarantine_reaches_the_running_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hot_swap_ends_the_quarantine, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
