/*
 * /metrics over real HTTP: the real engine in-process with its server on a
 * free port of 127.0.0.1, ticks against the real simulated exchange, a
 * scrape with libcurl, the numbers checked against what the engine and its
 * log say, and the body checked by `promtool check metrics` when promtool is
 * installed (a loud SKIP otherwise). Also: binding beyond loopback is
 * refused without allow_remote and without a token, and with both, a
 * request without the token is refused.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "enginetest.h"
#include "error.h"
#include "http.h"
#include "metrics.h"
#include "state.h"
#include "testutil.h"

#define HTTP_ON "http:\\n  enabled: false=>http:\\n  enabled: true\nport: 9464=>port: 0\n"

typedef et_fixture fixture;

/* No test inherits a token from the environment or leaves one behind. */
static int setup(void **state)
{
    unsetenv("HYDRA_HTTP_TOKEN");
    return et_setup(state);
}

static int teardown(void **state)
{
    unsetenv("HYDRA_HTTP_TOKEN");
    return et_teardown(state);
}

static int open_engine(fixture *f, char *err, size_t errsz)
{
    int code = -1;
    return et_try_open(f, err, errsz, &code);
}

typedef struct body {
    char *text;
    size_t len;
} body;

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    body *b = ud;
    char *t = realloc(b->text, b->len + size * n + 1);
    if (t == NULL)
        return 0;
    memcpy(t + b->len, p, size * n);
    b->len += size * n;
    t[b->len] = '\0';
    b->text = t;
    return size * n;
}

/* GETs url; returns the HTTP status (or -1) and the body in *out (caller frees). */
static long http_get(const char *url, const char *bearer, char **out, char *ctype, size_t ctsz)
{
    char auth[400];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", bearer != NULL ? bearer : "");
    const char *const hdr[] = {auth, NULL};
    return et_http("GET", url, bearer != NULL ? hdr : NULL, NULL, out, ctype, ctsz);
}

/* The value of the sample whose name and labels are exactly `series`; NAN if absent. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return NAN;
}

/* Runs `promtool check metrics` on text: 0 clean, 1 problems, -1 promtool not installed. */
static int promtool_check(const char *dir, const char *text, char **report)
{
    if (system("command -v promtool >/dev/null 2>&1") != 0)
        return -1;
    char path[512], cmd[1200];
    snprintf(path, sizeof path, "%s/metrics.txt", dir);
    assert_int_equal(tu_write_file(path, text), 0);
    snprintf(cmd, sizeof cmd, "promtool check metrics < '%s' 2>&1", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    body b = {0};
    char buf[1024];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, p)) > 0)
        collect(buf, 1, got, &b);
    int st = pclose(p);
    *report = b.text != NULL ? b.text : strdup("");
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

static void test_metrics_scraped_over_http(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, HTTP_ON, NULL), 0);
    char err[4096] = "";
    if (open_engine(f, err, sizeof err) != 0)
        fail_msg("engine open failed: %s", err);
    int port = hydra_http_port(f->e.http);
    assert_true(port > 0 && port != 9464);
    print_message("metrics server on 127.0.0.1:%d\n", port);

    /* Trading ticks, one tick whose price fetch fails, then the kill switch. */
    et_ticks(f, 200);
    et_wrap(f->w, &f->e);
    f->w->faults.prices = HYDRA_ETRANSIENT;
    et_ticks(f, 1);
    f->w->faults.prices = 0;
    char kill[512];
    snprintf(kill, sizeof kill, "%s/KILL_SWITCH", f->dir);
    assert_int_equal(tu_write_file(kill, "stop\n"), 0);
    et_ticks(f, 4);
    const long ticks = 205;
    assert_int_equal((long)f->e.tick, ticks);

    char url[128], ctype[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    char *text = NULL;
    assert_int_equal(http_get(url, NULL, &text, ctype, sizeof ctype), 200);
    assert_non_null(strstr(ctype, "text/plain"));
    assert_non_null(strstr(ctype, "version=0.0.4"));

    print_message("scrape: %zu bytes; mean tick %.3f ms over %ld ticks\n", strlen(text),
                  1000.0 * sample(text, "hydra_tick_duration_seconds_sum") / (double)ticks, ticks);
    assert_true(sample(text, "hydra_ticks_total") == (double)ticks);
    assert_true(sample(text, "hydra_tick_duration_seconds_count") == (double)ticks);
    assert_true(sample(text, "hydra_tick_duration_seconds_bucket{le=\"+Inf\"}") == (double)ticks);
    assert_true(sample(text, "hydra_tick_duration_seconds_sum") > 0);
    assert_true(sample(text, "hydra_halts_total{source=\"kill_switch\"}") == 1);
    assert_true(sample(text, "hydra_halted") == 1);
    assert_true(sample(text, "hydra_api_failures_total{call=\"market_snapshot\"}") >= 1);
    assert_true(sample(text, "hydra_equity_dollars") == f->e.account.equity);
    assert_true(sample(text, "hydra_cash_dollars") == f->e.account.cash);
    assert_true(sample(text, "hydra_quarantines_total") == 0);

    /* Orders and fills agree with the log, which records each one. */
    int submitted = et_count_events(f->log, "order_submitted", NULL);
    int fills = et_count_events(f->log, "order_fill", NULL);
    int rejected = et_count_events(f->log, "order_rejected", NULL);
    int blocked = et_count_events(f->log, "gate_reject", NULL);
    print_message("ticks %ld, submitted %d, fills %d, rejected %d, gate-blocked %d\n", ticks,
                  submitted, fills, rejected, blocked);
    assert_true(submitted > 0 && fills > 0);
    assert_true(sample(text, "hydra_orders_total{outcome=\"submitted\"}") == submitted);
    assert_true(sample(text, "hydra_orders_total{outcome=\"rejected\"}") == rejected);
    assert_true(sample(text, "hydra_orders_total{outcome=\"gate_blocked\"}") == blocked);
    assert_true(sample(text, "hydra_fills_total") == fills);

    /* Every configured bot has its gauges; flattened by the halt, exposure is 0. */
    for (int i = 0; i < f->e.n_slots; i++) {
        char series[200];
        snprintf(series, sizeof series, "hydra_bot_exposure_dollars{bot=\"%s\"}",
                 f->e.slots[i].cfg->bot_id);
        assert_true(sample(text, series) == 0);
        snprintf(series, sizeof series, "hydra_bot_realized_pnl_dollars{bot=\"%s\"}",
                 f->e.slots[i].cfg->bot_id);
        assert_true(isfinite(sample(text, series)));
    }
    assert_non_null(strstr(text, "# HELP hydra_ticks_total "));
    assert_non_null(strstr(text, "# TYPE hydra_ticks_total counter\n"));
    assert_non_null(strstr(text, "# TYPE hydra_tick_duration_seconds histogram\n"));

    char *report = NULL;
    int pt = promtool_check(f->dir, text, &report);
    if (pt < 0) {
        fprintf(stderr, "\n*** SKIP: promtool is not installed (Debian package prometheus); "
                        "/metrics was NOT checked by promtool ***\n\n");
    } else {
        if (pt != 0)
            fail_msg("promtool check metrics failed:\n%s\n--- body ---\n%s", report, text);
        print_message("promtool check metrics: clean\n");
    }
    free(report);

    /* What publishing costs a tick, and a scrape costs the server (printed, not asserted). */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    hydra_state_begin(f->e.state); /* as in a tick: the reads share the tick's transaction */
    for (int i = 0; i < 1000; i++)
        hydra_metrics_collect(f->e.metrics, &f->e);
    hydra_state_commit(f->e.state);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double pub_us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3 / 1000;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 1000; i++) {
        char *r = NULL;
        size_t rl = 0;
        assert_int_equal(hydra_metrics_render(f->e.metrics, &r, &rl), 0);
        free(r);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ren_us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3 / 1000;
    print_message("collect %.1f us per tick (%d bots); render %.1f us per scrape\n", pub_us,
                  f->e.n_slots, ren_us);

    char *nf = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/no-such-page", port);
    assert_int_equal(http_get(url, NULL, &nf, NULL, 0), 404);
    free(nf);
    free(text);
}

/* A bind beyond loopback without allow_remote is a configuration error at file:line. */
static void test_remote_bind_needs_allow_remote(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, HTTP_ON "bind: 127.0.0.1=>bind: 0.0.0.0\n", NULL), 0);
    char err[4096] = "";
    assert_int_not_equal(open_engine(f, err, sizeof err), 0);
    print_message("%s\n", err);
    assert_non_null(strstr(err, "settings.yaml:"));
    assert_non_null(strstr(err, "http.bind: 0.0.0.0 is not 127.0.0.1"));
    assert_non_null(strstr(err, "allow_remote"));
}

/* allow_remote without a token refuses to start; with one, requests need it. */
static void test_remote_bind_needs_token(void **state)
{
    fixture *f = *state;
    /* 127.0.0.2 is not the loopback address the rules allow, yet is reachable from here. */
    assert_int_equal(et_make_config(f->dir,
                                    HTTP_ON "bind: 127.0.0.1=>bind: 127.0.0.2\n"
                                            "allow_remote: false=>allow_remote: true\n",
                                    NULL),
                     0);
    char err[4096] = "";
    assert_int_not_equal(open_engine(f, err, sizeof err), 0);
    print_message("%s\n", err);
    assert_non_null(strstr(err, "HYDRA_HTTP_TOKEN"));
    assert_null(f->e.http);

    const char *token = "t0k3n-for-the-metrics-test";
    setenv("HYDRA_HTTP_TOKEN", token, 1);
    if (open_engine(f, err, sizeof err) != 0)
        fail_msg("engine open failed: %s", err);
    et_ticks(f, 3);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.2:%d/metrics", hydra_http_port(f->e.http));
    char *text = NULL;
    assert_int_equal(http_get(url, NULL, &text, NULL, 0), 401);
    assert_null(strstr(text, "hydra_ticks_total"));
    free(text);
    assert_int_equal(http_get(url, "wrong-token-of-the-same-len", &text, NULL, 0), 401);
    free(text);
    assert_int_equal(http_get(url, token, &text, NULL, 0), 200);
    assert_true(sample(text, "hydra_ticks_total") == 3);
    free(text);
    hydra_engine_close(&f->e);
    f->open = 0;
    /* The token never reaches the log. */
    char *log = tu_read_file(f->log, NULL);
    assert_non_null(log);
    assert_null(strstr(log, token));
    assert_non_null(strstr(log, "\"http_listening\""));
    free(log);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metrics_scraped_over_http, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remote_bind_needs_allow_remote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remote_bind_needs_token, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
