/*
 * hydra-host data fetch, end to end: the host binary against hydra-exchange's
 * server (in this process, on 127.0.0.1) serving two years of daily ORCL bars
 * written by the test, with small pages so a fetch takes many. Paging to the
 * end, the written file read back bar for bar, a second run that asks for
 * nothing (the exchange's own request count), an interruption mid-range
 * (the exchange drops the connection) resumed into a file identical to an
 * uninterrupted fetch, every kind of bad bar refused with the symbol and
 * time and nothing left behind, 429s waited out and a bounded give-up, and
 * the fetched file backtested by hydra-host backtest as it is.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "enginetest.h"
#include "error.h"
#include "exchange_server.h"
#include "series.h"
#include "seriescache.h"
#include "testutil.h"

#define KEY "PKTESTFETCHKEY00001"
#define SECRET "test-fetch-secret-0001"
#define PAGE "50"
#define FROM "2023-01-01"
#define TO "2024-12-31"
#define OUT_NAME "orcl-1day-" FROM "-" TO ".csv"

typedef struct fixture {
    char dir[256];    /* the fetch's working directory: config/, .env, data/ */
    char xdir[256];   /* the exchange's configuration */
    char source[400]; /* the bars the exchange serves */
    hydra_series truth;
    hydra_config *cfg;
    hydra_clock clock;
    hydra_sim *sim;
    hydra_exchange *ex;
    int port;
} fixture;

/* Weekday bars of 2023 and 2024, a slow wave with a drift: enough for a moving-average cross. */
static void write_source(const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "Date,Open,High,Low,Close,Volume,OpenInterest\n");
    double prev = 100;
    int i = 0;
    for (int64_t day = hydra_days_from_date(20230102); day <= hydra_days_from_date(20241231);
         day++) {
        time_t t = (time_t)(day * 86400);
        struct tm tm;
        gmtime_r(&t, &tm);
        if (tm.tm_wday == 0 || tm.tm_wday == 6)
            continue;
        double close = 100 + 12 * sin(i / 9.0) + i * 0.03;
        double hi = fmax(prev, close) + 0.75, lo = fmin(prev, close) - 0.5;
        fprintf(f, "%04d-%02d-%02d,%.2f,%.2f,%.2f,%.2f,%d,0\n", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, prev, hi, lo, close, 1000 + i);
        prev = round(close * 100) / 100;
        i++;
    }
    fclose(f);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_non_null(tu_mkdtemp(f->dir, sizeof f->dir));
    assert_non_null(tu_mkdtemp(f->xdir, sizeof f->xdir));
    snprintf(f->source, sizeof f->source, "%s/orcl-source.csv", f->xdir);
    write_source(f->source);

    /* The exchange: the shipped settings, serving only the test's ORCL. */
    assert_int_equal(et_make_config(f->xdir, NULL, NULL), 0);
    f->cfg = calloc(1, sizeof *f->cfg);
    hydra_diag d;
    hydra_diag_init(&d);
    char cdir[600], err[1024] = "";
    snprintf(cdir, sizeof cdir, "%s/config", f->xdir);
    assert_int_equal(hydra_config_load(cdir, f->cfg, &d), 0);
    hydra_diag_free(&d);
    hydra_tz_set(f->cfg->settings.timezone);
    hydra_sim_cfg *sc = &f->cfg->settings.sim;
    memset(sc->series, 0, sizeof sc->series);
    sc->n_series = 2;
    snprintf(sc->series[0].symbol, sizeof sc->series[0].symbol, "ORCL");
    snprintf(sc->series[0].file, sizeof sc->series[0].file, "%s", f->source);
    /* The same bars as a crypto pair, served on /v1beta3/crypto/us/bars. */
    snprintf(sc->series[1].symbol, sizeof sc->series[1].symbol, "BTC/USD");
    snprintf(sc->series[1].file, sizeof sc->series[1].file, "%s", f->source);
    snprintf(sc->start, sizeof sc->start, "2023-01-02 06:00");
    hydra_clock_init_sim(&f->clock, 0);
    if (hydra_engine_open_sim(sc, &f->clock, &f->sim, err, sizeof err) != 0)
        fail_msg("sim: %s", err);
    /* Time after the data: every bar of the range is history. */
    hydra_clock_set(&f->clock, hydra_utc_from_local(2025, 3, 3, 12, 0, 0));
    hydra_exchange_opts o = {KEY, SECRET, 0, 1000000};
    if (hydra_exchange_start(f->sim, &f->clock, &o, &f->ex, err, sizeof err) != 0)
        fail_msg("exchange: %s", err);
    f->port = hydra_exchange_port(f->ex);
    char line[256];
    assert_int_equal(hydra_series_load_csv(f->source, "ORCL", NULL, 13 * 60, &f->truth, err,
                                           sizeof err),
                     0);

    /* The fetch's side: its settings point Alpaca's URLs at the exchange; keys in .env. */
    char edits[512];
    snprintf(edits, sizeof edits,
             "https://paper-api.alpaca.markets=>http://127.0.0.1:%d\n"
             "https://data.alpaca.markets=>http://127.0.0.1:%d",
             f->port, f->port);
    assert_int_equal(et_make_config(f->dir, edits, NULL), 0);
    char env[600];
    snprintf(env, sizeof env, "%s/.env", f->dir);
    snprintf(line, sizeof line, "ALPACA_KEY=%s\nALPACA_SECRET=%s\n", KEY, SECRET);
    assert_int_equal(tu_write_file(env, line), 0);
    chmod(env, 0600);
    setenv("SOURCE_DATE_EPOCH", "1733011200", 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    hydra_exchange_stop(f->ex);
    hydra_sim_close(f->sim);
    hydra_series_free(&f->truth);
    free(f->cfg);
    tu_rmtree(f->dir);
    tu_rmtree(f->xdir);
    free(f);
    return 0;
}

/* POST or GET on the exchange's control API; the answer's JSON (caller decrefs). */
static json_t *control(fixture *f, const char *method, const char *path, const char *body)
{
    char url[256], *out = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", f->port, path);
    long st = et_http(method, url, NULL, body, &out, NULL, 0);
    assert_int_equal(st, 200);
    json_error_t e;
    json_t *j = json_loads(out != NULL ? out : "", 0, &e);
    free(out);
    assert_non_null(j);
    return j;
}

static long bar_requests(fixture *f)
{
    json_t *j = control(f, "GET", "/_hydra/stats", NULL);
    long n = (long)json_integer_value(json_object_get(j, "bar_requests"));
    json_decref(j);
    return n;
}

static void faults(fixture *f, const char *rules)
{
    char body[1024];
    snprintf(body, sizeof body, "{\"rules\": [%s]}", rules);
    json_decref(control(f, "POST", "/_hydra/faults", body));
}

/* hydra-host data fetch of ORCL into <dir>/<out>, with `extra` (NULL or one flag) last. */
static int fetch_with(fixture *f, const char *out_dir, const char *extra, char **out)
{
    const char *argv[] = {HYDRA_HOST_BIN, "data",  "fetch",     "--symbols", "ORCL",
                          "--timeframe",  "1Day",  "--from",    FROM,        "--to",
                          TO,             "--out", out_dir,     "--config",  "config",
                          "--cache",      "cache", "--page-bars", PAGE,      extra, NULL};
    return tu_run(argv, f->dir, 120, out);
}

/* hydra-host data fetch of ORCL into <dir>/<out>; exit status, output in *out. */
static int fetch(fixture *f, const char *out_dir, char **out)
{
    return fetch_with(f, out_dir, NULL, out);
}

static int exists(fixture *f, const char *rel)
{
    char p[800];
    snprintf(p, sizeof p, "%s/%s", f->dir, rel);
    return access(p, F_OK) == 0;
}

static long pages_for(size_t bars)
{
    return (long)((bars + 49) / 50);
}

static void test_pages_to_the_end_then_nothing_again(void **state)
{
    fixture *f = *state;
    char *out = NULL;
    long before = bar_requests(f);
    int rc = fetch(f, "data", &out);
    if (rc != 0)
        fail_msg("fetch exit %d: %s", rc, out);
    long asked = bar_requests(f) - before;
    assert_true(f->truth.n > 500);
    assert_int_equal(asked, pages_for(f->truth.n));

    /* The file reads back, bar for bar, as the series the exchange served. */
    char path[800], err[512];
    snprintf(path, sizeof path, "%s/data/" OUT_NAME, f->dir);
    hydra_series s;
    if (hydra_series_load_csv(path, "ORCL", NULL, 13 * 60, &s, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(s.n, f->truth.n);
    for (size_t i = 0; i < s.n; i++) {
        assert_int_equal(s.bars[i].t_ms, f->truth.bars[i].t_ms);
        assert_true(s.bars[i].open == f->truth.bars[i].open);
        assert_true(s.bars[i].high == f->truth.bars[i].high);
        assert_true(s.bars[i].low == f->truth.bars[i].low);
        assert_true(s.bars[i].close == f->truth.bars[i].close);
        assert_true(s.bars[i].volume == f->truth.bars[i].volume);
    }
    hydra_series_free(&s);
    char *text = tu_read_file(path, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "# hydra data fetch: source=alpaca http://127.0.0.1:"));
    assert_non_null(strstr(text, " symbol=ORCL timeframe=1Day feed=iex adjustment=raw range=" FROM
                                 ".." TO " times=new-york-dates fetched_at=2024-12-01T00:00:00.000Z"));
    free(text);
    /* The binary cache is there for the backtest, and nothing in progress is left. */
    char cache_dir[700], cache[1400];
    snprintf(cache_dir, sizeof cache_dir, "%s/cache", f->dir);
    assert_int_equal(hydra_series_cache_path(path, NULL, 13 * 60, cache_dir, cache, sizeof cache),
                     0);
    assert_int_equal(access(cache, F_OK), 0);
    assert_false(exists(f, "data/" OUT_NAME ".partial"));
    assert_false(exists(f, "data/" OUT_NAME ".partial.json"));
    free(out);

    /* A finished range is not fetched again: zero bar requests at the exchange. */
    before = bar_requests(f);
    rc = fetch(f, "data", &out);
    if (rc != 0)
        fail_msg("second fetch exit %d: %s", rc, out);
    assert_int_equal(bar_requests(f), before);
    assert_non_null(strstr(out, "already fetched, nothing asked"));
    free(out);
}

static void test_interrupted_fetch_resumes_to_the_same_file(void **state)
{
    fixture *f = *state;
    char *out = NULL;
    /* The exchange goes down at the fifth page (connection refused): four pages kept. */
    faults(f, "{\"method\": \"GET\", \"path\": \"/v2/stocks/bars\", \"fault\": \"refuse\", "
              "\"skip\": 4, \"count\": 1}");
    int rc = fetch(f, "cut", &out);
    char err[256];
    assert_int_equal(hydra_exchange_restart(f->ex, err, sizeof err), 0);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "ORCL: page 5:"));
    assert_non_null(strstr(out, "200 bars kept in cut/" OUT_NAME ".partial"));
    assert_false(exists(f, "cut/" OUT_NAME));
    assert_true(exists(f, "cut/" OUT_NAME ".partial"));
    assert_true(exists(f, "cut/" OUT_NAME ".partial.json"));
    free(out);

    long before = bar_requests(f);
    rc = fetch(f, "cut", &out);
    if (rc != 0)
        fail_msg("resume exit %d: %s", rc, out);
    assert_non_null(strstr(out, "continuing after 200 bars"));
    /* Only what was missing is asked for. */
    assert_int_equal(bar_requests(f) - before, pages_for(f->truth.n - 200));
    assert_false(exists(f, "cut/" OUT_NAME ".partial"));
    assert_false(exists(f, "cut/" OUT_NAME ".partial.json"));
    free(out);

    rc = fetch(f, "whole", &out);
    if (rc != 0)
        fail_msg("uninterrupted exit %d: %s", rc, out);
    free(out);
    char a[800], b[800];
    snprintf(a, sizeof a, "%s/cut/" OUT_NAME, f->dir);
    snprintf(b, sizeof b, "%s/whole/" OUT_NAME, f->dir);
    size_t la = 0, lb = 0;
    char *ta = tu_read_file(a, &la), *tb = tu_read_file(b, &lb);
    assert_non_null(ta);
    assert_non_null(tb);
    assert_int_equal(la, lb);
    assert_memory_equal(ta, tb, la);
    free(ta);
    free(tb);
}

/* The file at path holds exactly the len bytes of want. */
static void assert_file_holds(const char *path, const char *want, size_t len)
{
    size_t got_len = 0;
    char *got = tu_read_file(path, &got_len);
    assert_non_null(got);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, want, len);
    free(got);
}

/*
 * --force asks for every page again. One that fails halfway leaves the
 * finished file exactly as it was (the new one only replaces it by rename),
 * and the next --force starts from the first page, not from what the
 * failed one kept.
 */
static void test_force_fetches_again_and_keeps_the_old_file_until_done(void **state)
{
    fixture *f = *state;
    char *out = NULL, path[800];
    snprintf(path, sizeof path, "%s/data/" OUT_NAME, f->dir);
    int rc = fetch(f, "data", &out);
    if (rc != 0)
        fail_msg("fetch exit %d: %s", rc, out);
    free(out);
    size_t len0 = 0;
    char *first = tu_read_file(path, &len0);
    assert_non_null(first);

    faults(f, "{\"method\": \"GET\", \"path\": \"/v2/stocks/bars\", \"fault\": \"refuse\", "
              "\"skip\": 2, \"count\": 1}");
    rc = fetch_with(f, "data", "--force", &out);
    char err[256];
    assert_int_equal(hydra_exchange_restart(f->ex, err, sizeof err), 0);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "ORCL: page 3:"));
    free(out);
    assert_file_holds(path, first, len0);
    assert_true(exists(f, "data/" OUT_NAME ".partial"));

    long before = bar_requests(f);
    rc = fetch_with(f, "data", "--force", &out);
    if (rc != 0)
        fail_msg("forced fetch exit %d: %s", rc, out);
    assert_null(strstr(out, "continuing after"));
    assert_int_equal(bar_requests(f) - before, pages_for(f->truth.n));
    free(out);
    assert_file_holds(path, first, len0);
    free(first);
    assert_false(exists(f, "data/" OUT_NAME ".partial"));
    assert_false(exists(f, "data/" OUT_NAME ".partial.json"));
}

static void test_bad_bars_are_refused_and_nothing_is_kept(void **state)
{
    fixture *f = *state;
    /* Each edit on the second page's fourth bar (overall bar 53), and what is said about it. */
    static const struct {
        const char *edit;
        size_t named; /* the bar whose time the refusal names */
        const char *what;
    } cases[] = {
        {"nan", 53, "field c is not a number: \"NaN\""},
        {"text", 53, "field o is not a number: \"12.5x\""},
        {"negative", 53, "price not positive"},
        {"high_below_low", 53, "is below low"},
        {"duplicate", 52, "duplicate timestamp"},
        {"out_of_order", 52, "out of order: after the bar at"},
        {"drop", 54, "gap: no bar for trading day"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char rule[512], when[40], want[160], *out = NULL;
        snprintf(rule, sizeof rule,
                 "{\"method\": \"GET\", \"path\": \"/v2/stocks/bars\", \"fault\": \"bad_bar\", "
                 "\"skip\": 1, \"count\": 1, \"bar\": 3, \"edit\": \"%s\"}",
                 cases[i].edit);
        faults(f, rule);
        int rc = fetch(f, "bad", &out);
        hydra_format_utc(f->truth.bars[cases[i].named].t_ms, when, sizeof when);
        snprintf(want, sizeof want, "ORCL bar at %s: ", when);
        if (rc != 1 || strstr(out, want) == NULL || strstr(out, cases[i].what) == NULL ||
            strstr(out, "refused, nothing kept") == NULL)
            fail_msg("%s: exit %d, want \"%s%s\": %s", cases[i].edit, rc, want, cases[i].what, out);
        assert_false(exists(f, "bad/" OUT_NAME));
        assert_false(exists(f, "bad/" OUT_NAME ".partial"));
        assert_false(exists(f, "bad/" OUT_NAME ".partial.json"));
        assert_false(exists(f, "bad/" OUT_NAME ".tmp"));
        free(out);
    }
    /* A day the calendar says was closed is no gap: the same missing bar on a holiday is fine. */
    char when[40], closed[128], *hol = NULL;
    hydra_format_utc(f->truth.bars[53].t_ms, when, sizeof when);
    snprintf(closed, sizeof closed, "{\"closed\": true, \"date\": \"%.10s\"}", when);
    json_decref(control(f, "POST", "/_hydra/market", closed));
    faults(f, "{\"method\": \"GET\", \"path\": \"/v2/stocks/bars\", \"fault\": \"bad_bar\", "
              "\"skip\": 1, \"count\": 1, \"bar\": 3, \"edit\": \"drop\"}");
    int hrc = fetch(f, "holiday", &hol);
    if (hrc != 0)
        fail_msg("a missing bar on a closed day: exit %d: %s", hrc, hol);
    free(hol);
    char hpath[800], herr[512];
    snprintf(hpath, sizeof hpath, "%s/holiday/" OUT_NAME, f->dir);
    hydra_series hs;
    if (hydra_series_load_csv(hpath, "ORCL", NULL, 13 * 60, &hs, herr, sizeof herr) != 0)
        fail_msg("%s", herr);
    assert_int_equal(hs.n, f->truth.n - 1);
    hydra_series_free(&hs);
    json_decref(control(f, "DELETE", "/_hydra/market", NULL));

    /* The same fetch without the bad bar completes. */
    faults(f, "");
    char *out = NULL;
    int rc = fetch(f, "bad", &out);
    if (rc != 0)
        fail_msg("clean fetch exit %d: %s", rc, out);
    assert_true(exists(f, "bad/" OUT_NAME));
    free(out);
}

static void test_rate_limit_is_waited_out_then_given_up(void **state)
{
    fixture *f = *state;
    char *out = NULL;
    /* Two 429s on the third page, each with a reset 3 s ahead: waited out, then done. */
    faults(f, "{\"method\": \"GET\", \"path\": \"/v2/stocks/bars\", \"fault\": \"429\", "
              "\"skip\": 2, \"count\": 2, \"reset_in_s\": 3}");
    long before = bar_requests(f);
    int rc = fetch(f, "limited", &out);
    if (rc != 0)
        fail_msg("fetch exit %d: %s", rc, out);
    assert_int_equal(bar_requests(f) - before, pages_for(f->truth.n) + 2);
    char *first = strstr(out, "rate limited (HTTP 429); waiting");
    assert_non_null(first);
    assert_non_null(strstr(first + 1, "rate limited (HTTP 429); waiting"));
    assert_true(exists(f, "limited/" OUT_NAME));
    free(out);

    /* A limit that never lifts: a bounded number of waits, then a clear failure. */
    faults(f, "{\"method\": \"GET\", \"path\": \"/v2/stocks/bars\", \"fault\": \"429\", "
              "\"reset_in_s\": 2}");
    before = bar_requests(f);
    rc = fetch(f, "never", &out);
    /* Four tries, each at most two requests (the adapter repeats once after a reset under 1 s). */
    long n = bar_requests(f) - before;
    if (rc != 1 || n < 4 || n > 8)
        fail_msg("exit %d after %ld requests: %s", rc, n, out);
    assert_non_null(strstr(out, "still rate limited after waiting out 3 resets; giving up"));
    assert_false(exists(f, "never/" OUT_NAME));
    assert_false(exists(f, "never/" OUT_NAME ".partial"));
    free(out);
    faults(f, "");
}

/* On a terminal: a progress bar redrawn in place on stderr, not the plain per-symbol line. */
static void test_progress_bar_on_a_terminal(void **state)
{
    fixture *f = *state;
    int master = -1, slave = -1;
    assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(f->dir) != 0)
            _exit(127);
        dup2(slave, STDOUT_FILENO);
        dup2(slave, STDERR_FILENO);
        close(master);
        close(slave);
        execl(HYDRA_HOST_BIN, HYDRA_HOST_BIN, "data", "fetch", "--symbols", "ORCL", "--timeframe",
              "1Day", "--from", FROM, "--to", TO, "--out", "tty", "--config", "config", "--cache",
              "cache", "--page-bars", PAGE, (char *)NULL);
        _exit(127);
    }
    close(slave);
    char *text = NULL;
    size_t len = 0;
    for (;;) {
        char buf[4096];
        ssize_t k = read(master, buf, sizeof buf);
        if (k <= 0)
            break; /* EIO once the child has gone and the terminal is closed */
        char *p = realloc(text, len + (size_t)k + 1);
        assert_non_null(p);
        text = p;
        memcpy(text + len, buf, (size_t)k);
        len += (size_t)k;
        text[len] = '\0';
    }
    close(master);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("exit %d: %s", WEXITSTATUS(status), text);
    assert_non_null(text);
    /* Redrawn once per page, ending full; no plain line. */
    assert_non_null(strstr(text, "\rORCL       [..............................]   0%  0 bars  0 pages"));
    assert_non_null(strstr(text, "\rORCL       [##############################] 100%"));
    assert_null(strstr(text, "bars in"));
    size_t redraws = 0;
    for (const char *q = text; (q = strstr(q, "\rORCL")) != NULL; q++)
        redraws++;
    assert_int_equal(redraws, (size_t)pages_for(f->truth.n) + 2);
    free(text);
    assert_true(exists(f, "tty/" OUT_NAME));
}

/* Crypto through /v1beta3/crypto/us/bars, hourly: a Date,Time file in UTC, bar for bar. */
static void test_crypto_intraday(void **state)
{
    fixture *f = *state;
    char *out = NULL;
    long before = bar_requests(f);
    const char *argv[] = {HYDRA_HOST_BIN, "data",    "fetch",    "--symbols", "BTC/USD",
                          "--timeframe",  "1Hour",   "--from",   FROM,        "--to",
                          TO,             "--out",   "data",     "--config",  "config",
                          "--cache",      "cache",   "--page-bars", "200",   NULL};
    int rc = tu_run(argv, f->dir, 120, &out);
    if (rc != 0)
        fail_msg("crypto fetch exit %d: %s", rc, out);
    assert_int_equal(bar_requests(f) - before, (long)((f->truth.n + 199) / 200));
    assert_non_null(strstr(out, "BTC/USD 1Hour"));
    free(out);
    char path[800], err[512];
    snprintf(path, sizeof path, "%s/data/btc-usd-1hour-" FROM "-" TO ".csv", f->dir);
    char *text = tu_read_file(path, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "/v1beta3/crypto/us/bars symbol=BTC/USD timeframe=1Hour feed=- "
                                 "adjustment=- range="));
    assert_non_null(strstr(text, " times=utc "));
    assert_non_null(strstr(text, "\nDate,Time,Open,High,Low,Close,Volume,OpenInterest\n"));
    free(text);
    hydra_series s;
    if (hydra_series_load_csv(path, "BTC/USD", "UTC", 0, &s, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(s.n, f->truth.n);
    assert_false(s.daily);
    for (size_t i = 0; i < s.n; i++) {
        assert_int_equal(s.bars[i].t_ms, f->truth.bars[i].t_ms);
        assert_true(s.bars[i].close == f->truth.bars[i].close);
    }
    hydra_series_free(&s);

    /* Daily crypto is checked against every calendar day: weekday-only bars have gaps. */
    const char *daily[] = {HYDRA_HOST_BIN, "data",   "fetch",  "--symbols", "BTC/USD",
                           "--timeframe",  "1Day",   "--from", FROM,        "--to",
                           TO,             "--out",  "data",   "--config",  "config",
                           "--cache",      "cache",  NULL};
    rc = tu_run(daily, f->dir, 120, &out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "BTC/USD bar at 2023-01-09T21:00:00.000Z: gap: no bar for trading "
                                "day 2023-01-07"));
    free(out);
}

/*
 * hydra-host backtest of the examples' sma_orcl bot with ORCL's series read
 * from `series_file`; its summary.json (caller decrefs).
 */
static json_t *backtest(fixture *f, const char *name, const char *series_file)
{
    char bt[600], p[800];
    snprintf(bt, sizeof bt, "%s/%s", f->dir, name);
    assert_int_equal(mkdir(bt, 0755), 0);
    char *settings = tu_read_file(HYDRA_SOURCE_DIR "/examples/config/settings.yaml", NULL);
    char *bots = tu_read_file(HYDRA_SOURCE_DIR "/examples/config/bots.yaml", NULL);
    assert_non_null(settings);
    assert_non_null(bots);
    char *series = strstr(settings, "  series:");
    assert_non_null(series);
    /* The examples' series list ends their settings. */
    for (const char *q = strchr(series, '\n'); q != NULL; q = strchr(q + 1, '\n'))
        assert_false(q[1] >= 'a' && q[1] <= 'z');
    char *text = NULL;
    assert_true(asprintf(&text, "%.*s  series:\n    - symbol: ORCL\n      file: %s\n",
                         (int)(series - settings), settings, series_file) > 0);
    /* State and logs inside the test's copy: "../../logs/x" becomes "logs/x" beside it. */
    for (char *q; (q = strstr(text, "../../")) != NULL;)
        memmove(q, q + 6, strlen(q + 6) + 1);
    snprintf(p, sizeof p, "%s/logs", bt);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/state", bt);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/settings.yaml", bt);
    assert_int_equal(tu_write_file(p, text), 0);
    snprintf(p, sizeof p, "%s/bots.yaml", bt);
    assert_int_equal(tu_write_file(p, bots), 0);
    free(text);
    free(settings);
    free(bots);
    char outdir[700], *out = NULL;
    snprintf(outdir, sizeof outdir, "%s/out", bt);
    const char *argv[] = {HYDRA_HOST_BIN, "backtest", "--config", bt,      "--plugins",
                          HYDRA_EXAMPLES_DIR, "--bot", "sma_orcl", "--out", outdir,
                          "--cache",      "cache",    "--quiet", NULL};
    int rc = tu_run(argv, f->dir, 120, &out);
    if (rc != 0)
        fail_msg("backtest exit %d: %s", rc, out);
    free(out);
    snprintf(p, sizeof p, "%s/summary.json", outdir);
    char *summary = tu_read_file(p, NULL);
    if (summary == NULL)
        fail_msg("no %s", p);
    json_error_t e;
    json_t *j = json_loads(summary, 0, &e);
    assert_non_null(j);
    free(summary);
    return j;
}

/* The fetched file backtests as it is, exactly as the file the exchange served. */
static void test_fetched_file_backtests(void **state)
{
    fixture *f = *state;
    char *out = NULL;
    int rc = fetch(f, "data", &out);
    if (rc != 0)
        fail_msg("fetch exit %d: %s", rc, out);
    free(out);
    char fetched[700];
    snprintf(fetched, sizeof fetched, "%s/data/" OUT_NAME, f->dir);
    json_t *a = backtest(f, "bt-fetched", fetched);
    json_t *b = backtest(f, "bt-source", f->source);
    json_t *bot = json_array_get(json_object_get(a, "bots"), 0);
    assert_non_null(bot);
    assert_true(json_integer_value(json_object_get(bot, "entries")) > 0);
    /* Same bars, days, trades and every metric. */
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pages_to_the_end_then_nothing_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_fetch_resumes_to_the_same_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_force_fetches_again_and_keeps_the_old_file_until_done,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_bars_are_refused_and_nothing_is_kept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit_is_waited_out_then_given_up, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crypto_intraday, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_bar_on_a_terminal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetched_file_backtests, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
