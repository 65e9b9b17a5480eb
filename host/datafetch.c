#define _GNU_SOURCE
#include "datafetch.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "alpaca.h"
#include "alpaca_json.h"
#include "clock.h"
#include "config.h"
#include "error.h"
#include "seriescache.h"

/* Alpaca's daily bars are stamped at midnight New York; dates and the range are New York days. */
#define NY "America/New_York"
#define MAX_PAGE_BARS 10000
/* 429s in a row on one page that are waited out before the fetch gives up. */
#define MAX_RATE_WAITS 3
/* The longest single wait for a rate-limit reset (Alpaca's windows are a minute). */
#define MAX_RATE_WAIT_MS 65000
#define MAX_SYMBOLS 64
#define STATE_VERSION 1

typedef struct fetch_opts {
    char symbols[MAX_SYMBOLS][48];
    int n_symbols;
    char timeframe[8]; /* 1Min, 5Min, 1Hour, 1Day */
    int daily;
    char from[11], to[11];
    char feed[16];
    char adjustment[12];
    int crypto;
    char out_dir[HYDRA_PATH_LEN];
    char config_dir[HYDRA_PATH_LEN];
    char cache_dir[HYDRA_PATH_LEN];
    int page_bars;
    int force; /* fetch from the first page even when the file or a partial fetch exists */
} fetch_opts;

/* What one run shares across its symbols. */
typedef struct fetch_run {
    const fetch_opts *o;
    hydra_broker broker;
    const hydra_settings *st;
    int64_t start_ms, end_ms; /* the range: from 00:00 to the end of `to`, New York */
    char start_s[32], end_s[32];
    int stamp_min;            /* daily rows: the session close, as the backtest stamps them */
    int tty;                  /* progress bar on stderr */
    char fetched_at[32];
    /* 1Day stocks: the trading days of the range (New York dates), for the gap rule. */
    int *days;
    size_t n_days;
} fetch_run;

/* One symbol's fetch in progress, as <file>.partial.json records it. */
typedef struct progress {
    long long bytes;  /* rows in <file>.partial that are complete and checked */
    long bars, pages;
    int64_t last_t;   /* the last bar kept; INT64_MIN before the first */
    char fetched_at[32];
} progress;

void hydra_data_usage(FILE *out)
{
    fprintf(out,
            "usage: hydra-host data fetch --symbols SYM[,SYM...] --timeframe 1Min|5Min|1Hour|1Day\n"
            "                             --from YYYY-MM-DD --to YYYY-MM-DD [--feed iex|sip]\n"
            "                             [--adjustment raw|split|dividend|all] [--crypto]\n"
            "                             [--out DIR] [--config DIR] [--cache DIR] [--page-bars N]\n"
            "                             [--force]\n"
            "Historical bars from Alpaca's market data (alpaca.data_url in settings.yaml; keys\n"
            "ALPACA_KEY and ALPACA_SECRET from the environment or .env) into one file per symbol,\n"
            "DIR/<symbol>-<timeframe>-<from>-<to>.csv (default DIR data/), with a '#' provenance\n"
            "line, and into the backtest's binary cache (default state/cache). Daily files hold\n"
            "New York dates (sim.series: no timezone needed); intraday files hold UTC times (give\n"
            "the series timezone: UTC). Stocks use /v2/stocks/bars (feed: default\n"
            "alpaca.stock_feed; adjustment: default raw); --crypto (or a symbol with '/') uses\n"
            "/v1beta3/crypto/us/bars. Pages (--page-bars, default 10000) are followed to the end.\n"
            "An interrupted fetch continues where it stopped when run again; a finished file is\n"
            "not fetched again. --force fetches from the first page anyway, discarding an\n"
            "interrupted fetch; a finished file is replaced only when the new one is complete.\n"
            "Refused and nothing kept: a bar out of order, a duplicate time, a\n"
            "price that is not a positive number, high below low or the body, a bar outside the\n"
            "range, and in a 1Day fetch a trading day missing between two bars (the broker's\n"
            "calendar; every day for crypto). A 429 is waited out up to %d times in a row.\n"
            "Exit status: 0 ok, 1 a fetch failed or was refused, 2 usage or configuration error.\n",
            MAX_RATE_WAITS);
}

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hydra-host data fetch: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 2;
}

static int parse_date(const char *s, int *yyyymmdd)
{
    int y, m, d;
    char extra;
    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3 || m < 1 || m > 12 ||
        d < 1 || d > 31)
        return -1;
    *yyyymmdd = y * 10000 + m * 100 + d;
    /* 2024-02-30 round-trips to another date: refused. */
    int64_t days = hydra_days_from_date(*yyyymmdd);
    time_t t = (time_t)(days * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    return tm.tm_year + 1900 == y && tm.tm_mon + 1 == m && tm.tm_mday == d ? 0 : -1;
}

/* yyyymmdd plus n days. */
static int add_days(int yyyymmdd, int n)
{
    time_t t = (time_t)((hydra_days_from_date(yyyymmdd) + n) * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

/* The New York date of an instant. */
static int ny_date(int64_t t_ms)
{
    int64_t shifted = t_ms - 4LL * 3600 * 1000; /* New York is UTC-4 or UTC-5 */
    time_t t = (time_t)(shifted >= 0 ? shifted / 1000 : -((-shifted + 999) / 1000));
    struct tm tm;
    gmtime_r(&t, &tm);
    int d = (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
    /* Under EST, 04:00-05:00 UTC is still the day before in New York. */
    if (hydra_utc_from_zone(NY, d / 10000, d / 100 % 100, d % 100, 0, 0, 0) > t_ms)
        d = add_days(d, -1);
    return d;
}

static int64_t ny_midnight(int yyyymmdd)
{
    return hydra_utc_from_zone(NY, yyyymmdd / 10000, yyyymmdd / 100 % 100, yyyymmdd % 100, 0, 0, 0);
}

static void fmt_date(int d, char *out, size_t outsz)
{
    if (snprintf(out, outsz, "%04d-%02d-%02d", d / 10000 % 10000, d / 100 % 100, d % 100) >=
        (int)outsz)
        out[0] = '\0'; /* not a date this program makes */
}

/* A number as the shortest text that reads back to the same double. */
static void fmt_num(double v, char *out, size_t outsz)
{
    snprintf(out, outsz, "%.15g", v);
    if (strtod(out, NULL) != v)
        snprintf(out, outsz, "%.17g", v);
}

/* ---- files ---- */

static void base_path(const fetch_opts *o, const char *symbol, char *out, size_t outsz)
{
    char sym[48], tf[8];
    size_t i = 0;
    for (; symbol[i] != '\0' && i + 1 < sizeof sym; i++)
        sym[i] = symbol[i] == '/' ? '-' : (char)tolower((unsigned char)symbol[i]);
    sym[i] = '\0';
    for (i = 0; o->timeframe[i] != '\0' && i + 1 < sizeof tf; i++)
        tf[i] = (char)tolower((unsigned char)o->timeframe[i]);
    tf[i] = '\0';
    if (snprintf(out, outsz, "%s/%s-%s-%s-%s.csv", o->out_dir, sym, tf, o->from, o->to) >=
        (int)outsz)
        out[0] = '\0'; /* too long a directory: the callers refuse an empty path */
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Writes `len` bytes to fd, all of them. */
static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t k = write(fd, p, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

/* Replaces `path` with `text` through <path>.tmp, fsync and rename. */
static int replace_file(const char *path, const char *text, char *err, size_t errsz)
{
    char tmp[HYDRA_PATH_LEN + 8];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        snprintf(err, errsz, "path too long: %.200s", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0) {
        snprintf(err, errsz, "%s: cannot write: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        return HYDRA_EIO;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        snprintf(err, errsz, "%s: cannot rename into place: %s", path, strerror(errno));
        unlink(tmp);
        return HYDRA_EIO;
    }
    return 0;
}

/* The fields of a request that make two fetches the same fetch (the provenance minus times). */
static void identity(const fetch_run *r, const char *symbol, char *out, size_t outsz)
{
    const fetch_opts *o = r->o;
    snprintf(out, outsz, "source=alpaca %s%s symbol=%s timeframe=%s feed=%s adjustment=%s range=%s..%s",
             r->st->alpaca.data_url, o->crypto ? "/v1beta3/crypto/us/bars" : "/v2/stocks/bars",
             symbol, o->timeframe, o->crypto ? "-" : o->feed, o->crypto ? "-" : o->adjustment,
             o->from, o->to);
}

static int save_progress(const fetch_run *r, const char *symbol, const char *state_path,
                         const progress *p, char *err, size_t errsz)
{
    char id[1024];
    identity(r, symbol, id, sizeof id);
    json_t *j = json_pack("{s:i,s:s,s:I,s:I,s:I,s:I,s:s}", "version", STATE_VERSION, "fetch", id,
                          "bytes", (json_int_t)p->bytes, "bars", (json_int_t)p->bars, "pages",
                          (json_int_t)p->pages, "last_t_ms", (json_int_t)p->last_t, "fetched_at",
                          p->fetched_at);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text == NULL) {
        snprintf(err, errsz, "%s: out of memory", state_path);
        return HYDRA_ENOMEM;
    }
    int rc = replace_file(state_path, text, err, errsz);
    free(text);
    return rc;
}

/*
 * Reads <file>.partial.json. 0 with *p filled; HYDRA_ENOTFOUND when there is
 * none; HYDRA_EINVAL (err says why) when it belongs to another fetch or is
 * unreadable.
 */
static int load_progress(const fetch_run *r, const char *symbol, const char *state_path,
                         progress *p, char *err, size_t errsz)
{
    json_error_t jerr;
    json_t *j = json_load_file(state_path, 0, &jerr);
    if (j == NULL) {
        if (access(state_path, F_OK) != 0)
            return HYDRA_ENOTFOUND;
        snprintf(err, errsz, "%s: unreadable (%s); delete it and its .partial to start over",
                 state_path, jerr.text);
        return HYDRA_EINVAL;
    }
    char id[1024];
    identity(r, symbol, id, sizeof id);
    const char *fid = json_string_value(json_object_get(j, "fetch"));
    const char *at = json_string_value(json_object_get(j, "fetched_at"));
    json_t *bytes = json_object_get(j, "bytes"), *last = json_object_get(j, "last_t_ms");
    int rc = 0;
    if (json_integer_value(json_object_get(j, "version")) != STATE_VERSION || fid == NULL ||
        at == NULL || !json_is_integer(bytes) || !json_is_integer(last) ||
        json_integer_value(bytes) < 0) {
        snprintf(err, errsz, "%s: not a progress file of this version; delete it and its .partial",
                 state_path);
        rc = HYDRA_EINVAL;
    } else if (strcmp(fid, id) != 0) {
        snprintf(err, errsz, "%s: progress of another fetch (%.300s); delete it or use another --out",
                 state_path, fid);
        rc = HYDRA_EINVAL;
    } else {
        p->bytes = json_integer_value(bytes);
        p->bars = (long)json_integer_value(json_object_get(j, "bars"));
        p->pages = (long)json_integer_value(json_object_get(j, "pages"));
        p->last_t = json_integer_value(last);
        snprintf(p->fetched_at, sizeof p->fetched_at, "%s", at);
    }
    json_decref(j);
    return rc;
}

/*
 * A finished file for this fetch already there: 1 (nothing to fetch), 0 when
 * there is none, HYDRA_EINVAL when a file of that name holds another fetch.
 */
static int finished_already(const fetch_run *r, const char *symbol, const char *path, char *err,
                            size_t errsz)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char line[2048] = "";
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    char id[1024];
    identity(r, symbol, id, sizeof id);
    static const char prefix[] = "# hydra data fetch: ";
    if (ok && strncmp(line, prefix, sizeof prefix - 1) == 0 &&
        strncmp(line + sizeof prefix - 1, id, strlen(id)) == 0 &&
        line[sizeof prefix - 1 + strlen(id)] == ' ')
        return 1;
    snprintf(err, errsz, "%s exists and is not this fetch (%s); move it or use another --out",
             path, id);
    return HYDRA_EINVAL;
}

/* ---- checking a page ---- */

static int refuse(char *err, size_t errsz, const char *symbol, int64_t t, const char *fmt, ...)
{
    char when[32], what[256];
    hydra_format_utc(t, when, sizeof when);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(err, errsz, "%s bar at %s: %s", symbol, when, what);
    return HYDRA_EMALFORMED;
}

static int number_field(const json_t *b, const char *k, const char *symbol, int64_t t, double *out,
                        char *err, size_t errsz)
{
    const json_t *v = json_object_get(b, k);
    if (!json_is_number(v)) {
        char *text = v != NULL ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
        refuse(err, errsz, symbol, t, "field %s is not a number: %.40s", k,
               text != NULL ? text : "(missing)");
        free(text);
        return HYDRA_EMALFORMED;
    }
    *out = json_number_value(v);
    if (!isfinite(*out))
        return refuse(err, errsz, symbol, t, "field %s is not finite", k);
    return 0;
}

/* 1 when a trading day of the range lies strictly between dates a and b. */
static int trading_day_between(const fetch_run *r, int a, int b, int *missing)
{
    for (size_t i = 0; i < r->n_days; i++)
        if (r->days[i] > a && r->days[i] < b) {
            *missing = r->days[i];
            return 1;
        }
    return 0;
}

/*
 * The bars of one answer, checked in order against what was kept before
 * (p->last_t) and appended as CSV rows to *rows. Returns 0, or
 * HYDRA_EMALFORMED with "SYMBOL bar at TIME: what" in err.
 */
static int check_page(const fetch_run *r, const char *symbol, const json_t *answer, progress *p,
                      char **rows, size_t *rows_len, size_t *n_bars, char *err, size_t errsz)
{
    *n_bars = 0;
    const json_t *bars = json_object_get(answer, "bars");
    if (json_is_object(bars))
        bars = json_object_get(bars, symbol);
    if (bars == NULL || json_is_null(bars))
        return 0;
    if (!json_is_array(bars)) {
        snprintf(err, errsz, "%s: the answer's bars are not a list", symbol);
        return HYDRA_EMALFORMED;
    }
    size_t cap = json_array_size(bars) * 128 + 1, len = 0;
    char *out = malloc(cap);
    if (out == NULL) {
        snprintf(err, errsz, "%s: out of memory", symbol);
        return HYDRA_ENOMEM;
    }
    size_t i;
    const json_t *b;
    int rc = 0;
    /* Times first, over the whole page: a swapped pair is "out of order", not a gap. */
    int64_t before = p->last_t;
    json_array_foreach(bars, i, b)
    {
        const char *ts = json_string_value(json_object_get(b, "t"));
        int64_t t = 0;
        if (!json_is_object(b) || ts == NULL || hydra_parse_rfc3339(ts, &t) != 0) {
            snprintf(err, errsz, "%s: bar %zu of page %ld has no readable time \"t\"", symbol, i + 1,
                     p->pages + 1);
            rc = HYDRA_EMALFORMED;
            break;
        }
        char prev[32] = "";
        if (before != INT64_MIN)
            hydra_format_utc(before, prev, sizeof prev);
        if (t < r->start_ms || t > r->end_ms) {
            rc = refuse(err, errsz, symbol, t, "outside the range asked for (%s..%s)", r->o->from,
                        r->o->to);
            break;
        }
        if (before != INT64_MIN && t == before) {
            rc = refuse(err, errsz, symbol, t, "duplicate timestamp");
            break;
        }
        if (before != INT64_MIN && t < before) {
            rc = refuse(err, errsz, symbol, t, "out of order: after the bar at %s", prev);
            break;
        }
        before = t;
    }
    json_array_foreach(bars, i, b)
    {
        if (rc != 0)
            break;
        int64_t t = 0;
        hydra_parse_rfc3339(json_string_value(json_object_get(b, "t")), &t);
        double o, h, l, c, v;
        if ((rc = number_field(b, "o", symbol, t, &o, err, errsz)) != 0 ||
            (rc = number_field(b, "h", symbol, t, &h, err, errsz)) != 0 ||
            (rc = number_field(b, "l", symbol, t, &l, err, errsz)) != 0 ||
            (rc = number_field(b, "c", symbol, t, &c, err, errsz)) != 0 ||
            (rc = number_field(b, "v", symbol, t, &v, err, errsz)) != 0)
            break;
        char prev[32] = "";
        if (p->last_t != INT64_MIN)
            hydra_format_utc(p->last_t, prev, sizeof prev);
        if (!(o > 0) || !(h > 0) || !(l > 0) || !(c > 0)) {
            rc = refuse(err, errsz, symbol, t, "price not positive (o %g h %g l %g c %g)", o, h, l, c);
            break;
        }
        if (v < 0) {
            rc = refuse(err, errsz, symbol, t, "volume %g is negative", v);
            break;
        }
        if (h < l) {
            rc = refuse(err, errsz, symbol, t, "high %g is below low %g", h, l);
            break;
        }
        if (h < fmax(o, c) || l > fmin(o, c)) {
            rc = refuse(err, errsz, symbol, t, "open %g or close %g outside low %g .. high %g", o, c,
                        l, h);
            break;
        }
        char line[256], os[32], hs[32], ls[32], cs[32], vs[32];
        fmt_num(o, os, sizeof os);
        fmt_num(h, hs, sizeof hs);
        fmt_num(l, ls, sizeof ls);
        fmt_num(c, cs, sizeof cs);
        fmt_num(v, vs, sizeof vs);
        int n;
        if (r->o->daily) {
            int d = ny_date(t), missing = 0;
            if (p->last_t != INT64_MIN && d == ny_date(p->last_t)) {
                rc = refuse(err, errsz, symbol, t, "a second bar for New York day %d", d);
                break;
            }
            if (p->last_t != INT64_MIN && trading_day_between(r, ny_date(p->last_t), d, &missing)) {
                char md[12];
                fmt_date(missing, md, sizeof md);
                rc = refuse(err, errsz, symbol, t, "gap: no bar for trading day %s (previous bar %s)",
                            md, prev);
                break;
            }
            char ds[12];
            fmt_date(d, ds, sizeof ds);
            n = snprintf(line, sizeof line, "%s,%s,%s,%s,%s,%s,0\n", ds, os, hs, ls, cs, vs);
        } else {
            if (t % 1000 != 0) {
                rc = refuse(err, errsz, symbol, t, "time is not on a whole second");
                break;
            }
            time_t sec = (time_t)(t / 1000);
            struct tm tm;
            gmtime_r(&sec, &tm);
            n = snprintf(line, sizeof line, "%04d-%02d-%02d,%02d:%02d:%02d,%s,%s,%s,%s,%s,0\n",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                         tm.tm_sec, os, hs, ls, cs, vs);
        }
        if (len + (size_t)n + 1 > cap) {
            cap = (len + (size_t)n + 1) * 2;
            char *q = realloc(out, cap);
            if (q == NULL) {
                rc = HYDRA_ENOMEM;
                snprintf(err, errsz, "%s: out of memory", symbol);
                break;
            }
            out = q;
        }
        memcpy(out + len, line, (size_t)n);
        len += (size_t)n;
        out[len] = '\0';
        p->last_t = t;
        (*n_bars)++;
    }
    if (rc != 0) {
        free(out);
        return rc;
    }
    *rows = out;
    *rows_len = len;
    return 0;
}

/* ---- fetching ---- */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/*
 * One page, with the rate limit honoured: a 429 (or a call held by one)
 * waits for the reset the broker named, at most MAX_RATE_WAITS times in a
 * row; every other failure comes back at once.
 */
static int page_with_waits(const fetch_run *r, const hydra_bars_request *q, json_t **answer,
                           hydra_broker_err *e)
{
    for (int waits = 0;; waits++) {
        memset(e, 0, sizeof *e);
        int rc = hydra_alpaca_bars_page(&r->broker, q, answer, e);
        int limited = rc == HYDRA_ETRANSIENT && (e->http_status == 429 || e->held);
        if (!limited)
            return rc;
        if (waits == MAX_RATE_WAITS) {
            char msg[sizeof e->msg];
            snprintf(msg, sizeof msg, "%s", e->msg);
            snprintf(e->msg, sizeof e->msg,
                     "still rate limited after waiting out %d resets; giving up: %.150s",
                     MAX_RATE_WAITS, msg);
            return rc;
        }
        int64_t wait = e->retry_at_ms - wall_ms();
        if (wait < 100)
            wait = 100;
        if (wait > MAX_RATE_WAIT_MS)
            wait = MAX_RATE_WAIT_MS;
        if (!r->tty)
            printf("%s: rate limited (HTTP 429); waiting %.1f s for the reset\n", q->symbol,
                   (double)wait / 1000);
        fflush(stdout);
        sleep_ms(wait);
    }
}

static void show_progress(const fetch_run *r, const char *symbol, const progress *p, int done)
{
    if (!r->tty)
        return;
    double span = (double)(r->end_ms - r->start_ms);
    double frac = done || p->last_t == INT64_MIN ? (done ? 1.0 : 0.0)
                                                 : (double)(p->last_t - r->start_ms) / span;
    if (frac < 0)
        frac = 0;
    if (frac > 1)
        frac = 1;
    char bar[31];
    int fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r%-10s [%s] %3d%%  %ld bars  %ld pages", symbol, bar, (int)(frac * 100),
            p->bars, p->pages);
    if (done)
        fprintf(stderr, "\n");
    fflush(stderr);
}

static void remove_progress(const char *partial, const char *state)
{
    unlink(partial);
    unlink(state);
}

/* The final file: provenance, header and the checked rows, through <file>.tmp and rename. */
static int write_final(const fetch_run *r, const char *symbol, const char *path,
                       const char *partial, const progress *p, char *err, size_t errsz)
{
    char tmp[HYDRA_PATH_LEN + 8], id[1024], head[2048];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    identity(r, symbol, id, sizeof id);
    int n = snprintf(head, sizeof head,
                     "# hydra data fetch: %s times=%s fetched_at=%s bars=%ld\n%s\n", id,
                     r->o->daily ? "new-york-dates" : "utc", p->fetched_at, p->bars,
                     r->o->daily ? "Date,Open,High,Low,Close,Volume,OpenInterest"
                                 : "Date,Time,Open,High,Low,Close,Volume,OpenInterest");
    int in = open(partial, O_RDONLY | O_CLOEXEC);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = in >= 0 && out >= 0 && write_all(out, head, (size_t)n) == 0 ? 0 : HYDRA_EIO;
    char buf[65536];
    long long copied = 0;
    while (rc == 0 && copied < p->bytes) {
        ssize_t k = read(in, buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0 || write_all(out, buf, (size_t)k) != 0)
            rc = HYDRA_EIO;
        else
            copied += k;
    }
    if (rc == 0 && (copied != p->bytes || fsync(out) != 0))
        rc = HYDRA_EIO;
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0)
        rc = HYDRA_EIO;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = HYDRA_EIO;
    if (rc != 0) {
        snprintf(err, errsz, "%s: cannot write the finished file: %s", path, strerror(errno));
        unlink(tmp);
        return rc;
    }
    fsync_dir(r->o->out_dir);
    return 0;
}

/* The binary cache the backtest reads, for the finished file. */
static int write_cache(const fetch_run *r, const char *symbol, const char *path, char *err,
                       size_t errsz)
{
    hydra_series s;
    hydra_cache_outcome how;
    int rc = hydra_series_load_cached(path, symbol, r->o->daily ? NULL : "UTC", r->stamp_min,
                                      r->o->cache_dir, &s, &how, err, errsz);
    if (rc != 0)
        return rc;
    hydra_series_free(&s);
    return 0;
}

/* Fetches one symbol. 0 done (or already there), 1 failed or refused (err says why). */
static int fetch_symbol(fetch_run *r, const char *symbol, char *err, size_t errsz)
{
    char path[HYDRA_PATH_LEN], partial[HYDRA_PATH_LEN + 16], state[HYDRA_PATH_LEN + 24];
    base_path(r->o, symbol, path, sizeof path);
    if (path[0] == '\0') {
        snprintf(err, errsz, "%s: the output directory's path is too long", symbol);
        return 1;
    }
    snprintf(partial, sizeof partial, "%s.partial", path);
    snprintf(state, sizeof state, "%s.partial.json", path);

    /*
     * --force: from the first page, whatever is there. An interrupted fetch
     * is discarded; a finished file stays until the new one replaces it by
     * rename, so a forced fetch that fails leaves it as it was.
     */
    if (r->o->force)
        remove_progress(partial, state);
    int done = r->o->force ? 0 : finished_already(r, symbol, path, err, errsz);
    if (done < 0)
        return 1;
    if (done == 1) {
        if (write_cache(r, symbol, path, err, errsz) != 0)
            return 1;
        printf("%s %s %s..%s: already fetched, nothing asked: %s\n", symbol, r->o->timeframe,
               r->o->from, r->o->to, path);
        return 0;
    }

    progress p = {0, 0, 0, INT64_MIN, ""};
    int rc = load_progress(r, symbol, state, &p, err, errsz);
    if (rc == HYDRA_EINVAL)
        return 1;
    int resumed = rc == 0;
    if (!resumed) {
        p = (progress){0, 0, 0, INT64_MIN, ""};
        snprintf(p.fetched_at, sizeof p.fetched_at, "%s", r->fetched_at);
    }
    int fd = open(partial, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    /* Rows past the recorded length were written but never recorded as checked and kept. */
    if (fd < 0 || ftruncate(fd, (off_t)p.bytes) != 0 || lseek(fd, 0, SEEK_END) != (off_t)p.bytes) {
        snprintf(err, errsz, "%s: cannot open or trim: %s", partial, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    if (resumed && !r->tty)
        printf("%s: continuing after %ld bars (%s)\n", symbol, p.bars, state);

    /*
     * A run asks from the bar after the last one kept (the range's start on
     * a first run) and follows page tokens from there: a token belongs to
     * the request it came with, so an interrupted run's token is not reused.
     */
    char start[32], token[512] = "";
    if (p.last_t != INT64_MIN)
        hydra_format_utc(p.last_t + 1, start, sizeof start);
    else
        snprintf(start, sizeof start, "%s", r->start_s);
    long pages_this_run = 0;
    show_progress(r, symbol, &p, 0);
    for (;;) {
        hydra_bars_request q = {symbol,  r->o->crypto,      r->o->timeframe, start,
                                r->end_s, r->o->feed,       r->o->adjustment, r->o->page_bars,
                                token};
        if (token[0] == '\0' && pages_this_run > 0)
            break;
        json_t *answer = NULL;
        hydra_broker_err e;
        rc = page_with_waits(r, &q, &answer, &e);
        if (rc != 0) {
            close(fd);
            if (p.pages == 0)
                unlink(partial); /* nothing kept yet: no empty file left behind */
            if (r->tty)
                fprintf(stderr, "\n");
            snprintf(err, errsz,
                     "%s: page %ld: %.300s; %ld bars kept in %s: run the same command again to "
                     "continue",
                     symbol, p.pages + 1, e.msg, p.bars, partial);
            return 1;
        }
        char *rows = NULL, why[200];
        size_t rows_len = 0, n_bars = 0;
        progress next = p;
        rc = check_page(r, symbol, answer, &next, &rows, &rows_len, &n_bars, err, errsz);
        char next_token[512] = "";
        if (rc == 0 && hydra_alpaca_next_page_token(answer, next_token, sizeof next_token, why,
                                                    sizeof why) != 0) {
            snprintf(err, errsz, "%s: page %ld: %s", symbol, p.pages + 1, why);
            rc = HYDRA_EMALFORMED;
        }
        json_decref(answer);
        if (rc == 0 && next_token[0] != '\0' && n_bars == 0) {
            snprintf(err, errsz, "%s: page %ld: no bars but a next page token", symbol, p.pages + 1);
            rc = HYDRA_EMALFORMED;
        }
        if (rc != 0) {
            /* A bad answer: nothing of this symbol is kept, the next run starts over. */
            free(rows);
            close(fd);
            remove_progress(partial, state);
            if (r->tty)
                fprintf(stderr, "\n");
            size_t l = strlen(err);
            snprintf(err + l, errsz - l, "; refused, nothing kept");
            return 1;
        }
        if (rows_len > 0 && (write_all(fd, rows, rows_len) != 0 || fsync(fd) != 0)) {
            free(rows);
            close(fd);
            snprintf(err, errsz, "%s: cannot append: %s", partial, strerror(errno));
            return 1;
        }
        free(rows);
        next.bytes += (long long)rows_len;
        next.bars += (long)n_bars;
        next.pages++;
        pages_this_run++;
        if (save_progress(r, symbol, state, &next, err, errsz) != 0) {
            close(fd);
            return 1;
        }
        p = next;
        snprintf(token, sizeof token, "%s", next_token);
        show_progress(r, symbol, &p, 0);
    }
    close(fd);
    if (p.bars == 0) {
        remove_progress(partial, state);
        snprintf(err, errsz, "%s: no bars between %s and %s (%s); nothing written", symbol,
                 r->o->from, r->o->to, r->o->crypto ? "crypto" : r->o->feed);
        return 1;
    }
    if (write_final(r, symbol, path, partial, &p, err, errsz) != 0)
        return 1;
    remove_progress(partial, state);
    show_progress(r, symbol, &p, 1);
    if (write_cache(r, symbol, path, err, errsz) != 0)
        return 1;
    if (!r->tty)
        printf("%s %s %s..%s: %ld bars in %ld pages%s: %s\n", symbol, r->o->timeframe, r->o->from,
               r->o->to, p.bars, p.pages, resumed ? " (resumed)" : "", path);
    return 0;
}

/* The trading days of the range, for the 1Day gap rule: the broker's calendar, or every day. */
static int load_days(fetch_run *r, int from, int to, char *err, size_t errsz)
{
    size_t cap = (size_t)hydra_days_between(from, to) + 1;
    r->days = calloc(cap, sizeof *r->days);
    if (r->days == NULL)
        return HYDRA_ENOMEM;
    if (r->o->crypto) {
        for (int d = from; d <= to; d = add_days(d, 1))
            r->days[r->n_days++] = d;
        return 0;
    }
    hydra_session *s = calloc(cap, sizeof *s);
    if (s == NULL)
        return HYDRA_ENOMEM;
    /* A year a request: calendars answer a bounded span (hydra-exchange: 400 days). */
    int rc = 0;
    for (int a = from; rc == 0 && a <= to; a = add_days(a, 366)) {
        int b = add_days(a, 365) < to ? add_days(a, 365) : to;
        hydra_broker_err e = {0};
        size_t n = 0;
        rc = r->broker.ops->calendar(r->broker.ctx, a, b, s, cap, &n, &e);
        if (rc != 0)
            snprintf(err, errsz, "the trading calendar (to find missing days) failed: %s", e.msg);
        for (size_t i = 0; rc == 0 && i < n && r->n_days < cap; i++)
            r->days[r->n_days++] = s[i].date;
    }
    free(s);
    return rc;
}

static int split_symbols(const char *list, fetch_opts *o)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (*t == '\0')
            continue;
        if (o->n_symbols == MAX_SYMBOLS || strlen(t) >= sizeof o->symbols[0])
            return usage_error("--symbols: at most %d symbols of up to 47 characters", MAX_SYMBOLS);
        for (const char *c = t; *c != '\0'; c++)
            if (!(isalnum((unsigned char)*c) || *c == '.' || *c == '/' || *c == '-'))
                return usage_error("--symbols: \"%s\" is not a symbol", t);
        if (strchr(t, '/') != NULL)
            o->crypto = 1;
        snprintf(o->symbols[o->n_symbols++], sizeof o->symbols[0], "%s", t);
    }
    return o->n_symbols > 0 ? 0 : usage_error("--symbols: no symbol given");
}

static int fetch_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"symbols", required_argument, NULL, 's'}, {"timeframe", required_argument, NULL, 't'},
        {"from", required_argument, NULL, 'f'},    {"to", required_argument, NULL, 'T'},
        {"feed", required_argument, NULL, 'F'},    {"adjustment", required_argument, NULL, 'a'},
        {"crypto", no_argument, NULL, 'C'},        {"out", required_argument, NULL, 'o'},
        {"config", required_argument, NULL, 'c'},  {"cache", required_argument, NULL, 'k'},
        {"page-bars", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'},
        {"force", no_argument, NULL, 'R'},         {NULL, 0, NULL, 0},
    };
    fetch_opts *o = calloc(1, sizeof *o);
    if (o == NULL)
        return 1;
    snprintf(o->out_dir, sizeof o->out_dir, "data");
    snprintf(o->config_dir, sizeof o->config_dir, "config");
    snprintf(o->cache_dir, sizeof o->cache_dir, "state/cache");
    snprintf(o->adjustment, sizeof o->adjustment, "raw");
    o->page_bars = MAX_PAGE_BARS;
    const char *symbols = NULL;
    int ch, rc = 2, crypto_flag = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 's': symbols = optarg; break;
        case 't':
            if (strcmp(optarg, "1Min") != 0 && strcmp(optarg, "5Min") != 0 &&
                strcmp(optarg, "1Hour") != 0 && strcmp(optarg, "1Day") != 0) {
                rc = usage_error("--timeframe: expected 1Min, 5Min, 1Hour or 1Day, got \"%s\"",
                                 optarg);
                goto out;
            }
            snprintf(o->timeframe, sizeof o->timeframe, "%s", optarg);
            break;
        case 'f': snprintf(o->from, sizeof o->from, "%.10s", optarg); break;
        case 'T': snprintf(o->to, sizeof o->to, "%.10s", optarg); break;
        case 'F':
            if (strcmp(optarg, "iex") != 0 && strcmp(optarg, "sip") != 0) {
                rc = usage_error("--feed: expected iex or sip, got \"%s\"", optarg);
                goto out;
            }
            snprintf(o->feed, sizeof o->feed, "%s", optarg);
            break;
        case 'a':
            if (strcmp(optarg, "raw") != 0 && strcmp(optarg, "split") != 0 &&
                strcmp(optarg, "dividend") != 0 && strcmp(optarg, "all") != 0) {
                rc = usage_error("--adjustment: expected raw, split, dividend or all, got \"%s\"",
                                 optarg);
                goto out;
            }
            snprintf(o->adjustment, sizeof o->adjustment, "%s", optarg);
            break;
        case 'C': crypto_flag = 1; break;
        case 'o': snprintf(o->out_dir, sizeof o->out_dir, "%s", optarg); break;
        case 'c': snprintf(o->config_dir, sizeof o->config_dir, "%s", optarg); break;
        case 'k': snprintf(o->cache_dir, sizeof o->cache_dir, "%s", optarg); break;
        case 'p': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end != '\0' || v < 1 || v > MAX_PAGE_BARS) {
                rc = usage_error("--page-bars: expected 1..%d, got \"%s\"", MAX_PAGE_BARS, optarg);
                goto out;
            }
            o->page_bars = (int)v;
            break;
        }
        case 'R': o->force = 1; break;
        case 'h': hydra_data_usage(stdout); rc = 0; goto out;
        default: hydra_data_usage(stderr); goto out;
        }
    }
    if (optind < argc) {
        rc = usage_error("unexpected argument \"%s\"", argv[optind]);
        goto out;
    }
    int from = 0, to = 0;
    if (symbols == NULL || o->timeframe[0] == '\0' || o->from[0] == '\0' || o->to[0] == '\0') {
        rc = usage_error("--symbols, --timeframe, --from and --to are required (--help)");
        goto out;
    }
    if ((rc = split_symbols(symbols, o)) != 0)
        goto out;
    rc = 2;
    if (crypto_flag)
        o->crypto = 1;
    if (parse_date(o->from, &from) != 0 || parse_date(o->to, &to) != 0 || from > to) {
        rc = usage_error("--from/--to: expected two dates YYYY-MM-DD, from not after to");
        goto out;
    }
    if (o->crypto && (o->feed[0] != '\0' || strcmp(o->adjustment, "raw") != 0)) {
        rc = usage_error("--feed and --adjustment are for stocks, not crypto");
        goto out;
    }
    o->daily = strcmp(o->timeframe, "1Day") == 0;
    if (mkdir(o->out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "hydra-host data fetch: --out %s: cannot create: %s\n", o->out_dir,
                strerror(errno));
        goto out;
    }

    char err[2048] = "";
    hydra_config *cfg = calloc(1, sizeof *cfg);
    fetch_run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    if (cfg == NULL || hydra_config_load_msg(o->config_dir, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "hydra-host data fetch: %s\n", err);
        free(cfg);
        goto out;
    }
    hydra_tz_set(cfg->settings.timezone);
    r.st = &cfg->settings;
    if (o->feed[0] == '\0' && !o->crypto)
        snprintf(o->feed, sizeof o->feed, "%s", cfg->settings.alpaca.stock_feed);
    hydra_parse_hhmm(cfg->settings.sim.session_close, &r.stamp_min);
    hydra_credentials creds;
    hydra_credentials_load(".env", &creds, stderr);
    rc = hydra_alpaca_open(&cfg->settings.alpaca, &creds, &r.broker, err, sizeof err);
    explicit_bzero(&creds, sizeof creds);
    if (rc != 0) {
        fprintf(stderr, "hydra-host data fetch: %s\n", err);
        free(cfg);
        rc = 2;
        goto out;
    }
    r.start_ms = ny_midnight(from);
    r.end_ms = ny_midnight(add_days(to, 1)) - 1;
    hydra_format_utc(r.start_ms, r.start_s, sizeof r.start_s);
    hydra_format_utc(r.end_ms, r.end_s, sizeof r.end_s);
    r.tty = isatty(STDERR_FILENO);
    /* SOURCE_DATE_EPOCH (reproducible builds' convention) fixes the recorded fetch time. */
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    char *end = NULL;
    long long epoch = sde != NULL ? strtoll(sde, &end, 10) : 0;
    int64_t at = sde != NULL && end != sde && *end == '\0' ? epoch * 1000 : wall_ms() / 1000 * 1000;
    hydra_format_utc(at, r.fetched_at, sizeof r.fetched_at);

    rc = 0;
    if (o->daily && load_days(&r, from, to, err, sizeof err) != 0) {
        fprintf(stderr, "hydra-host data fetch: %s\n", err);
        rc = 1;
    }
    for (int i = 0; rc == 0 && i < o->n_symbols; i++) {
        err[0] = '\0';
        if (fetch_symbol(&r, o->symbols[i], err, sizeof err) != 0) {
            fprintf(stderr, "hydra-host data fetch: %s\n", err);
            rc = 1;
        }
    }
    free(r.days);
    r.broker.ops->destroy(r.broker.ctx);
    free(cfg);
out:
    free(o);
    return rc;
}

int hydra_data_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "fetch") == 0)
        return fetch_main(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        hydra_data_usage(stdout);
        return 0;
    }
    fprintf(stderr, "hydra-host data: expected the subcommand fetch\n");
    hydra_data_usage(stderr);
    return 2;
}
