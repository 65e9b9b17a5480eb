/*
 * hydra-conform's --json report, parsed as a CI script would, on the
 * broken bots of tests/plugins: every report follows the schema in
 * tools/conform/README.md, a crash names the callback, the case and the
 * faulting function, one cause seen by several checks is one entry of
 * "causes" with its count, and a bot slower than the call deadline is
 * stopped after --max-timeouts checks with its call times reported.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

extern char **environ;

#define BROKEN HYDRA_TEST_BROKEN_DIR

/* Runs hydra-conform --json with the arguments; returns its parsed stdout and exit status. */
static json_t *conform_json(int *status, const char *plugin, const char *const *extra)
{
#ifndef HYDRA_CONFORM_BIN
    (void)status, (void)plugin, (void)extra;
    skip();
    return NULL;
#else
    char out_path[] = "/tmp/hydra-conform-report.XXXXXX";
    int fd = mkstemp(out_path);
    const char *argv[16] = {HYDRA_CONFORM_BIN, plugin, "--json", "--seed", "1", "--timeout", "3"};
    int argc = 7;
    posix_spawn_file_actions_t fa;
    pid_t pid;
    assert_true(fd >= 0);
    for (; extra != NULL && *extra != NULL && argc < 15; extra++)
        argv[argc++] = *extra;
    argv[argc] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, STDOUT_FILENO);
    assert_int_equal(posix_spawn(&pid, HYDRA_CONFORM_BIN, &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    *status = WEXITSTATUS(st);
    close(fd);
    json_error_t err;
    json_t *root = json_load_file(out_path, 0, &err);
    unlink(out_path);
    if (root == NULL)
        fail_msg("%s: the report is not JSON: %s (line %d)", plugin, err.text, err.line);
    return root;
#endif
}

static void want_type(json_t *obj, const char *key, json_type type, int nullable)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        fail_msg("key \"%s\" missing", key);
    if (!(json_typeof(v) == type || (nullable && json_is_null(v)) ||
          (type == JSON_REAL && json_is_integer(v)) || (type == JSON_TRUE && json_is_boolean(v))))
        fail_msg("key \"%s\" has the wrong type", key);
}

static const char *const OUTCOMES[] = {"PASS", "WARN", "SKIP", "FAIL", "CRASH", "TIMEOUT"};

/* The whole schema of tools/conform/README.md, and the summary agreeing with the checks. */
static void check_schema(json_t *root, int status)
{
    int counts[6] = {0};
    assert_true(json_is_object(root));
    want_type(root, "tool", JSON_STRING, 0);
    assert_string_equal(json_string_value(json_object_get(root, "tool")), "hydra-conform");
    want_type(root, "version", JSON_STRING, 0);
    want_type(root, "plugin", JSON_STRING, 0);
    want_type(root, "seed", JSON_INTEGER, 0);
    want_type(root, "seed_text", JSON_STRING, 0);
    want_type(root, "config", JSON_OBJECT, 0);
    json_t *cfg = json_object_get(root, "config");
    want_type(cfg, "bot_id", JSON_STRING, 0);
    want_type(cfg, "mode", JSON_STRING, 0);
    want_type(cfg, "symbols", JSON_ARRAY, 0);
    want_type(cfg, "params_file", JSON_STRING, 1);
    want_type(cfg, "note", JSON_STRING, 1);
    want_type(root, "checks", JSON_ARRAY, 0);
    want_type(root, "causes", JSON_ARRAY, 0);
    want_type(root, "summary", JSON_OBJECT, 0);
    want_type(root, "ok", JSON_TRUE, 0);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(root, "checks"), i, c) {
        want_type(c, "name", JSON_STRING, 0);
        want_type(c, "description", JSON_STRING, 0);
        want_type(c, "outcome", JSON_STRING, 0);
        want_type(c, "message", JSON_STRING, 0);
        want_type(c, "seeded", JSON_TRUE, 0);
        want_type(c, "seconds", JSON_REAL, 0);
        want_type(c, "cause", JSON_STRING, 1);
        want_type(c, "case", JSON_STRING, 1);
        const char *outcome = json_string_value(json_object_get(c, "outcome"));
        int k = 0;
        while (k < 6 && strcmp(OUTCOMES[k], outcome) != 0)
            k++;
        assert_true(k < 6);
        counts[k]++;
    }
    json_t *sum = json_object_get(root, "summary");
    static const char *const keys[] = {"pass", "warn", "skip", "fail", "crash", "timeout"};
    for (int k = 0; k < 6; k++) {
        want_type(sum, keys[k], JSON_INTEGER, 0);
        assert_int_equal(json_integer_value(json_object_get(sum, keys[k])), counts[k]);
    }
    int bad = counts[3] + counts[4] + counts[5] > 0;
    assert_int_equal(json_is_true(json_object_get(root, "ok")), !bad);
    assert_int_equal(status, bad);
    json_array_foreach(json_object_get(root, "causes"), i, c) {
        want_type(c, "cause", JSON_STRING, 0);
        want_type(c, "count", JSON_INTEGER, 0);
        want_type(c, "checks", JSON_ARRAY, 0);
        want_type(c, "first_cases", JSON_ARRAY, 0);
        assert_int_equal(json_integer_value(json_object_get(c, "count")),
                         json_array_size(json_object_get(c, "checks")));
        assert_true(json_array_size(json_object_get(c, "first_cases")) <= 3);
    }
}

static json_t *check_named(json_t *root, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(root, "checks"), i, c) if (
        strcmp(json_string_value(json_object_get(c, "name")), name) == 0) return c;
    fail_msg("no check %s in the report", name);
    return NULL;
}

static void test_crash_names_callback_case_and_function(void **state)
{
    (void)state;
    int status;
    json_t *root = conform_json(&status, BROKEN "/crash_on_empty.so", NULL);
    check_schema(root, status);
    json_t *c = check_named(root, "empty-snapshot");
    assert_string_equal(json_string_value(json_object_get(c, "outcome")), "CRASH");
    const char *msg = json_string_value(json_object_get(c, "message"));
    print_message("%s\n", msg);
    assert_non_null(strstr(msg, "signal 11"));
    assert_non_null(strstr(msg, "in on_tick, a snapshot with nothing in it, tick 1 (0 symbols"));
    assert_non_null(strstr(msg, "at cb_on_tick+0x"));
    assert_non_null(strstr(msg, "in crash_on_empty.so"));
    const char *cause = json_string_value(json_object_get(c, "cause"));
    assert_non_null(cause);
    assert_non_null(strstr(cause, "signal 11 (SIGSEGV) in on_tick at cb_on_tick+0x"));
    assert_non_null(strstr(json_string_value(json_object_get(c, "case")), "on_tick, a snapshot with nothing"));
    json_decref(root);
}

static void test_one_cause_reported_once(void **state)
{
    (void)state;
    int status;
    json_t *root = conform_json(&status, BROKEN "/unknown_symbol.so", NULL);
    check_schema(root, status);
    json_t *causes = json_object_get(root, "causes");
    assert_int_equal(json_array_size(causes), 1);
    json_t *c = json_array_get(causes, 0);
    print_message("%s x%lld\n", json_string_value(json_object_get(c, "cause")),
                  (long long)json_integer_value(json_object_get(c, "count")));
    assert_non_null(strstr(json_string_value(json_object_get(c, "cause")), "unknown symbol \"aapl\""));
    assert_int_equal(json_integer_value(json_object_get(c, "count")),
                     json_integer_value(json_object_get(json_object_get(root, "summary"), "fail")));
    assert_true(json_integer_value(json_object_get(c, "count")) >= 2);
    assert_int_equal(json_array_size(json_object_get(c, "first_cases")), 3);
    json_decref(root);
}

static void test_slow_bot_stopped_after_max_timeouts(void **state)
{
    (void)state;
    int status;
    /* A whole-check timeout far beyond the call deadline: the call deadline is what stops it. */
    const char *const two[] = {"--max-timeouts", "2", "--timeout", "30", NULL};
    json_t *root = conform_json(&status, BROKEN "/slow_bot.so", two);
    check_schema(root, status);
    json_t *sum = json_object_get(root, "summary");
    assert_int_equal(json_integer_value(json_object_get(sum, "timeout")), 2);
    json_t *c = check_named(root, "empty-snapshot");
    const char *msg = json_string_value(json_object_get(c, "message"));
    print_message("%s\n", msg);
    assert_string_equal(json_string_value(json_object_get(c, "outcome")), "TIMEOUT");
    assert_non_null(strstr(msg, "on_tick ran past the 1000 ms call deadline"));
    assert_non_null(strstr(msg, "median"));
    assert_non_null(strstr(msg, "p99"));
    assert_non_null(strstr(msg, "max"));
    /* Every check after the second timeout that calls the bot was not run. */
    c = check_named(root, "huge-values");
    assert_string_equal(json_string_value(json_object_get(c, "outcome")), "SKIP");
    assert_non_null(strstr(json_string_value(json_object_get(c, "message")), "--max-timeouts 2"));
    c = check_named(root, "state-survives-restart");
    assert_string_equal(json_string_value(json_object_get(c, "outcome")), "SKIP");
    json_decref(root);
}

/* With a call deadline beyond the check's own, the check's timeout says where the call was. */
static void test_check_timeout_names_the_running_call(void **state)
{
    (void)state;
    int status;
    /* 2.2 s: in the middle of the second 1.5-s on_tick, far from either end of it. */
    const char *const args[] = {"--max-timeouts", "1", "--call-deadline", "600000", "--timeout", "2.2", NULL};
    json_t *root = conform_json(&status, BROKEN "/slow_bot.so", args);
    check_schema(root, status);
    json_t *c = check_named(root, "empty-snapshot");
    const char *msg = json_string_value(json_object_get(c, "message"));
    print_message("%s\n", msg);
    assert_string_equal(json_string_value(json_object_get(c, "outcome")), "TIMEOUT");
    assert_non_null(strstr(msg, "no result within 2.2 s (in on_tick, a snapshot with nothing in it, tick "));
    assert_non_null(strstr(msg, "median"));
    assert_string_equal(json_string_value(json_object_get(check_named(root, "bad-prices"), "outcome")), "SKIP");
    json_decref(root);
}

static void test_conforming_bot_report(void **state)
{
    (void)state;
    int status;
    json_t *root = conform_json(&status, BROKEN "/conform_good.so", NULL);
    check_schema(root, status);
    assert_int_equal(status, 0);
    assert_int_equal(json_array_size(json_object_get(root, "causes")), 0);
    assert_string_equal(json_string_value(json_object_get(check_named(root, "orders-in-view"), "outcome")),
                        "PASS");
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_names_callback_case_and_function),
        cmocka_unit_test(test_one_cause_reported_once),
        cmocka_unit_test(test_slow_bot_stopped_after_max_timeouts),
        cmocka_unit_test(test_check_timeout_names_the_running_call),
        cmocka_unit_test(test_conforming_bot_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
