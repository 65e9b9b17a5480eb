/*
 * A start that fails says why where an operator looks, through the real
 * binary: every bot that cannot load is named with its own reason, on
 * stderr and in the log (host_start_failed); a bot that refuses its params
 * is shown in its own words, not as a create status.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enginetest.h"
#include "testutil.h"

static void assert_says(const char *out, const char *want)
{
    if (strstr(out, want) == NULL)
        fail_msg("the host does not say \"%s\":\n%s", want, out);
}

/* The one host_start_failed line of the log, parsed. */
static json_t *start_failed_line(et_fixture *f)
{
    char *text = tu_read_file(f->log, NULL);
    if (text == NULL)
        fail_msg("no log at %s", f->log);
    json_t *found = NULL;
    int n = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        const char *ev = json_string_value(json_object_get(j, "event"));
        if (ev != NULL && strcmp(ev, "host_start_failed") == 0) {
            n++;
            json_decref(found);
            found = j;
        } else {
            json_decref(j);
        }
    }
    free(text);
    assert_int_equal(n, 1);
    return found;
}

static const char *bot_reason(const json_t *line, const char *bot_id)
{
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(line, "bots"), i, b)
    {
        if (strcmp(json_string_value(json_object_get(b, "bot_id")), bot_id) == 0)
            return json_string_value(json_object_get(b, "reason"));
    }
    fail_msg("host_start_failed does not name %s", bot_id);
    return NULL;
}

static int64_t orders_in(const char *db)
{
    sqlite3 *h = NULL;
    int64_t v = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(h, "SELECT COUNT(*) FROM orders", -1, &s, NULL) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW)
            v = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return v;
}

static void test_every_failing_bot_in_log_and_stderr(void **state)
{
    et_fixture *f = *state;
    assert_int_equal(
        et_make_config(f->dir, NULL, "roc_bars: 10 =>roc_bars: 0 \nplugin: crypto=>plugin: nosuch"),
        0);
    const char *run[] = {HYDRA_HOST_BIN,        "--config", f->cfg,    "--plugins",
                         HYDRA_TEST_PLUGIN_DIR, "--once",   "--quiet", NULL};
    char *out = NULL;
    assert_int_equal(tu_run(run, f->dir, 120, &out), 2);
    /* stderr: both bots, the refusing one in its own words. */
    assert_says(out, "refused its configuration: bot mom_FESX: signal.params.roc_bars must be an "
                     "integer from 1 to 1000");
    assert_says(out, "bot crypto_core: ");
    assert_says(out, "nosuch.so");
    assert_null(strstr(out, "status -2"));
    assert_says(out, "refusing to start");
    free(out);

    /* The log: one host_start_failed naming each bot with its reason. */
    json_t *line = start_failed_line(f);
    assert_string_equal(json_string_value(json_object_get(line, "level")), "error");
    assert_int_equal(json_array_size(json_object_get(line, "bots")), 2);
    assert_non_null(strstr(bot_reason(line, "mom_FESX"),
                           "signal.params.roc_bars must be an integer from 1 to 1000"));
    assert_non_null(strstr(bot_reason(line, "crypto_core"), "nosuch.so"));
    assert_int_equal(json_integer_value(json_object_get(line, "exit_code")), 2);
    json_decref(line);

    /* Nothing traded. */
    char db[512];
    snprintf(db, sizeof db, "%s/trading_state.db", f->dir);
    int64_t n = orders_in(db);
    assert_true(n == 0 || n == -1);
}

/* A bot that refuses in-process says the same: the words come through the host's log service. */
static void test_inprocess_refusal_in_the_bots_words(void **state)
{
    et_fixture *f = *state;
    assert_int_equal(
        et_make_config(f->dir, NULL,
                       "roc_bars: 10 =>roc_bars: 0 \n"
                       "plugin: momentum\\n=>plugin: momentum\\n    isolation: inprocess\\n"),
        0);
    const char *run[] = {HYDRA_HOST_BIN,        "--config", f->cfg,    "--plugins",
                         HYDRA_TEST_PLUGIN_DIR, "--once",   "--quiet", NULL};
    char *out = NULL;
    assert_int_equal(tu_run(run, f->dir, 120, &out), 2);
    assert_says(out, "refused its configuration: bot mom_FESX: signal.params.roc_bars must be an "
                     "integer from 1 to 1000");
    assert_null(strstr(out, "status -2"));
    free(out);
    json_t *line = start_failed_line(f);
    assert_int_equal(json_array_size(json_object_get(line, "bots")), 1);
    json_decref(line);
}

/* A failure before the log was open (another host holds the state) is still logged. */
static void test_failure_before_the_log_opened(void **state)
{
    et_fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, NULL, NULL), 0);
    char lock[512];
    snprintf(lock, sizeof lock, "%s/trading_state.db.lock", f->dir);
    /* A lock held by a process we start and stop by PID: a shell holding flock on the file. */
    char script[2048];
    snprintf(script, sizeof script, "exec 9>>'%s'; flock -x 9; echo 4242 > '%s'; sleep 60", lock,
             lock);
    const char *holder[] = {"/bin/sh", "-c", script, NULL};
    char hold_log[512];
    snprintf(hold_log, sizeof hold_log, "%s/holder.out", f->dir);
    pid_t pid = tu_spawn(holder, f->dir, hold_log);
    assert_true(pid > 0);
    for (int i = 0; i < 400; i++) {
        char *t = tu_read_file(lock, NULL);
        int ready = t != NULL && strstr(t, "4242") != NULL;
        free(t);
        if (ready)
            break;
        usleep(25 * 1000);
    }
    const char *run[] = {HYDRA_HOST_BIN,        "--config", f->cfg,    "--plugins",
                         HYDRA_TEST_PLUGIN_DIR, "--once",   "--quiet", NULL};
    char *out = NULL;
    int rc = tu_run(run, f->dir, 120, &out);
    kill(pid, SIGKILL);
    tu_wait(pid, 10);
    assert_int_equal(rc, 1);
    assert_says(out, "another hydra-host (pid 4242) is running with this state");
    free(out);
    json_t *line = start_failed_line(f);
    assert_non_null(strstr(json_string_value(json_object_get(line, "reason")),
                           "another hydra-host (pid 4242)"));
    assert_int_equal(json_array_size(json_object_get(line, "bots")), 0);
    json_decref(line);
}

/* Counts the entries of a directory other than . and .. */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

/*
 * Relative paths in settings.yaml name files beside the configuration, not
 * in the directory hydra-host runs from: a run from elsewhere leaves no
 * stray state/ or logs/ there, and its state is where the configuration says.
 */
static void test_relative_paths_resolve_against_the_config_dir(void **state)
{
    et_fixture *f = *state;
    char edits[4096];
    snprintf(edits, sizeof edits,
             "%s/trading_state.db=>./state/trading_state.db\n"
             "%s/KILL_SWITCH=>state/KILL_SWITCH\n"
             "%s/paper_exchange.db=>./state/paper_exchange.db\n"
             "%s/app.jsonl=>../logs/app.jsonl",
             f->dir, f->dir, f->dir, f->dir);
    assert_int_equal(et_make_config(f->dir, edits, NULL), 0);
    char settings[600];
    snprintf(settings, sizeof settings, "%s/settings.yaml", f->cfg);
    char *text = tu_read_file(settings, NULL);
    assert_non_null(strstr(text, "state_db_path: ./state/trading_state.db"));
    assert_non_null(strstr(text, "log_path: ../logs/app.jsonl"));
    free(text);
    char state_dir[600], logs_dir[600], elsewhere[600];
    snprintf(state_dir, sizeof state_dir, "%s/state", f->cfg);
    snprintf(logs_dir, sizeof logs_dir, "%s/logs", f->dir);
    snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", f->dir);
    assert_int_equal(mkdir(state_dir, 0755), 0);
    assert_int_equal(mkdir(logs_dir, 0755), 0);
    assert_int_equal(mkdir(elsewhere, 0755), 0);

    /* From another directory, with the configuration named relative to it. */
    const char *run[] = {HYDRA_HOST_BIN,
                         "--config",
                         "../config",
                         "--plugins",
                         HYDRA_TEST_PLUGIN_DIR,
                         "--ticks",
                         "3",
                         "--interval-ms",
                         "0",
                         "--quiet",
                         NULL};
    char *out = NULL;
    int rc = tu_run(run, elsewhere, 120, &out);
    if (rc != 0)
        fail_msg("the host exited %d:\n%s", rc, out);
    free(out);
    assert_int_equal(entries(elsewhere), 0);

    char db[700], log[700], paper[700];
    snprintf(db, sizeof db, "%s/trading_state.db", state_dir);
    snprintf(paper, sizeof paper, "%s/paper_exchange.db", state_dir);
    snprintf(log, sizeof log, "%s/app.jsonl", logs_dir);
    struct stat sb;
    assert_int_equal(stat(db, &sb), 0);
    assert_int_equal(stat(paper, &sb), 0);
    assert_int_equal(stat(log, &sb), 0);
    assert_int_equal(orders_in(db) >= 0, 1);

    /* status and check-config from there read the same files. */
    const char *status[] = {HYDRA_HOST_BIN, "status", "--json", "--config", "../config", NULL};
    assert_int_equal(tu_run(status, elsewhere, 60, &out), 0);
    assert_non_null(strstr(out, "\"last_tick\": 3"));
    free(out);
    assert_int_equal(entries(elsewhere), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_failing_bot_in_log_and_stderr, et_host_setup,
                                        et_teardown),
        cmocka_unit_test_setup_teardown(test_inprocess_refusal_in_the_bots_words, et_host_setup,
                                        et_teardown),
        cmocka_unit_test_setup_teardown(test_failure_before_the_log_opened, et_host_setup,
                                        et_teardown),
        cmocka_unit_test_setup_teardown(test_relative_paths_resolve_against_the_config_dir,
                                        et_host_setup, et_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
