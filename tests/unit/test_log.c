#define _GNU_SOURCE
/* cmocka needs these before its own header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>

#include "clock.h"
#include "error.h"
#include "jsontext.h"
#include "log.h"
#include "log_internal.h"
#include "testutil.h"

#define NOBODY 65534

/* A temporary directory and the log file in it (testutil.c). */
static int setup(void **state)
{
    return tu_file_setup(state, "app.jsonl");
}

static hydra_log *open_ok(const char *path, int keep)
{
    char err[512];
    hydra_log *lg = NULL;
    int rc = hydra_log_open(path, keep, &lg, err, sizeof err);
    if (rc != 0)
        fail_msg("open %s: %s", path, err);
    return lg;
}

/*
 * Parses every line of a log file, failing the test on any line that is
 * not a JSON object with ts (RFC 3339 UTC, milliseconds, Z), a known level
 * and an event. Returns the lines as a JSON array (caller releases).
 */
static json_t *read_lines(const char *path)
{
    char *text = tu_read_file(path, NULL);
    assert_non_null(text);
    json_t *lines = json_array();
    char *save = NULL;
    size_t len = strlen(text);
    assert_true(len == 0 || text[len - 1] == '\n');
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        json_error_t jerr;
        json_t *obj = json_loads(line, 0, &jerr);
        if (!json_is_object(obj))
            fail_msg("%s: line does not parse (%s): %.200s", path, jerr.text, line);
        const char *ts = json_string_value(json_object_get(obj, "ts"));
        assert_non_null(ts);
        assert_int_equal(strlen(ts), 24);
        assert_int_equal(ts[19], '.');
        assert_int_equal(ts[23], 'Z');
        int64_t ms = 0;
        assert_int_equal(hydra_parse_rfc3339(ts, &ms), 0);
        char again[32];
        hydra_format_utc(ms, again, sizeof again);
        assert_string_equal(again, ts);
        const char *level = json_string_value(json_object_get(obj, "level"));
        assert_non_null(level);
        assert_true(strcmp(level, "debug") == 0 || strcmp(level, "info") == 0 ||
                    strcmp(level, "warn") == 0 || strcmp(level, "error") == 0);
        assert_non_null(json_string_value(json_object_get(obj, "event")));
        json_array_append_new(lines, obj);
    }
    free(text);
    return lines;
}

static size_t count_lines(const char *path)
{
    json_t *lines = read_lines(path);
    size_t n = json_array_size(lines);
    json_decref(lines);
    return n;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* ---- the quick line text is jansson's text ---- */

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Mostly plain ASCII, sometimes quotes, backslashes, control bytes, DEL or a UTF-8 letter. */
static void random_text(char *buf, size_t cap, size_t *len)
{
    static const char special[] = {'"', '\\', '/', '\b', '\f', '\n', '\r', '\t', 1, 0x1f, 0x7f, 0};
    size_t n = rng() % 12;
    size_t o = 0;
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        uint64_t r = rng() % 40;
        if (r < 3)
            buf[o++] = special[rng() % sizeof special];
        else if (r == 3) {
            buf[o++] = (char)0xc3; /* é */
            buf[o++] = (char)0xa9;
        } else
            buf[o++] = (char)(' ' + rng() % 95);
    }
    buf[o] = '\0';
    *len = o;
}

static double random_real(void)
{
    static const double fixed[] = {0.0,    -0.0,   1.0,     100.0,     0.1,      1.0 / 3.0,
                                   1e16,   1e17,   1e21,    1e22,      123456789012345678.0,
                                   5e-324, 1e-300, DBL_MAX, -DBL_MAX,  DBL_MIN,  2.5e-5,
                                   3655.0, 99990.7902280042, 0.013813604};
    if (rng() % 3 == 0)
        return fixed[rng() % (sizeof fixed / sizeof fixed[0])];
    double m = (double)(rng() % 10000000000ULL) / 1e5;
    int e = (int)(rng() % 80) - 40;
    return (rng() % 2 ? -m : m) * pow(10.0, e);
}

static json_t *random_value(int depth)
{
    char text[64];
    size_t len;
    switch (rng() % (depth > 3 ? 6 : 8)) {
    case 0:
        random_text(text, sizeof text, &len);
        return json_stringn(text, len); /* NULL for invalid UTF-8: none is generated */
    case 1: {
        static const json_int_t fixed[] = {0, -1, 1, LLONG_MIN, LLONG_MAX, 1136370360000LL};
        return json_integer(rng() % 2 ? fixed[rng() % 6] : (json_int_t)rng());
    }
    case 2:
        return json_real(random_real());
    case 3:
        return json_true();
    case 4:
        return json_false();
    case 5:
        return json_null();
    case 6: {
        json_t *a = json_array();
        for (int i = (int)(rng() % 4); i > 0; i--)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (int i = (int)(rng() % 5); i > 0; i--) {
            random_text(text, sizeof text, &len);
            json_object_set_new(o, text, random_value(depth + 1));
        }
        return o;
    }
    }
}

static void test_jtext_matches_jansson(void **state)
{
    (void)state;
    int exact = 0, fallback = 0;
    for (int i = 0; i < 20000; i++) {
        json_t *v = random_value(0);
        assert_non_null(v);
        char buf[8192];
        hydra_jtext t;
        hydra_jtext_init(&t, buf, sizeof buf);
        hydra_jtext_value(&t, v);
        char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        assert_non_null(want);
        if (t.ok) {
            *t.p = '\0';
            assert_string_equal(buf, want);
            exact++;
        } else {
            /* Only what the writer does not claim: non-ASCII text. */
            assert_non_null(strchr(want, (char)0xc3));
            fallback++;
        }
        free(want);
        json_decref(v);
    }
    assert_true(exact > 10000 && fallback > 0);
}

/* Lines as hydra_log_event writes them, against build_line's object dumped by jansson. */
static void test_quick_lines_match_jansson(void **state)
{
    tu_file_fixture *f = *state;
    hydra_log *lg = open_ok(f->path, 14);
    hydra_clock wall, sim;
    hydra_clock_init_sim(&wall, 1136370360123LL);
    hydra_clock_init_sim(&sim, 1136191020000LL);
    hydra_log_set_wall_clock(lg, &wall);
    json_t *want = json_array();
    for (int i = 0; i < 400; i++) {
        int with_tick = i % 2, with_sim = i % 3 == 0, with_bot = i % 5 != 0;
        hydra_log_set_tick(lg, with_tick ? (uint64_t)i : 0);
        hydra_log_set_clock(lg, with_sim ? &sim : NULL);
        json_t *fields = random_value(3);
        if (i % 4 == 0) { /* fields named like header members */
            json_t *o = json_object();
            json_object_set_new(o, "tick", json_integer(-5));
            json_object_set_new(o, "t", json_string("x"));
            json_object_set_new(o, "bot_id", json_true());
            json_object_set_new(o, "ts", json_null());
            json_object_set_new(o, "x", fields);
            fields = o;
        }
        const char *bot = with_bot ? "mom_AAPL" : NULL;
        json_t *line = json_object();
        json_object_set_new(line, "ts", json_string("2006-01-04T10:26:00.123Z"));
        json_object_set_new(line, "level", json_string("info"));
        json_object_set_new(line, "event", json_string("tick_summary"));
        if (with_tick)
            json_object_set_new(line, "tick", json_integer(i));
        if (bot != NULL)
            json_object_set_new(line, "bot_id", json_string(bot));
        if (with_sim)
            json_object_set_new(line, "t", json_string("2006-01-02T08:37:00.000Z"));
        if (json_is_object(fields))
            json_object_update_missing(line, fields);
        else
            json_object_set(line, "fields", fields);
        json_array_append_new(want, line);
        assert_int_equal(hydra_log_event(lg, HYDRA_LOG_INFO, "tick_summary", bot, fields), 0);
    }
    hydra_log_close(lg);

    char *text = tu_read_file(f->path, NULL);
    assert_non_null(text);
    char *save = NULL, *got = strtok_r(text, "\n", &save);
    for (size_t i = 0; i < json_array_size(want); i++, got = strtok_r(NULL, "\n", &save)) {
        char *expect = json_dumps(json_array_get(want, i), JSON_COMPACT);
        assert_non_null(got);
        assert_string_equal(got, expect);
        free(expect);
    }
    assert_null(got);
    free(text);
    json_decref(want);
}

/* ---- line format ---- */

static void test_line_format(void **state)
{
    tu_file_fixture *f = *state;
    hydra_log *lg = open_ok(f->path, 14);
    int64_t before = hydra_clock_now_ms(&(hydra_clock){0, 0});

    assert_int_equal(hydra_log_event(lg, HYDRA_LOG_INFO, "startup", NULL, NULL), 0);
    hydra_log_set_tick(lg, 42);
    hydra_clock sim;
    hydra_clock_init_sim(&sim, 1795770245123LL); /* 2026-11-27T09:04:05.123Z */
    hydra_log_set_clock(lg, &sim);
    assert_int_equal(
        hydra_log_event(lg, HYDRA_LOG_WARN, "gate_reject", "mom_AAPL",
                        json_pack("{s:s,s:f,s:i}", "reason", "max_trades", "qty", 2.5, "ts", 7)),
        0);
    hydra_clock wall;
    hydra_clock_init_wall(&wall);
    hydra_log_set_clock(lg, &wall); /* a wall engine clock adds no `t` */
    assert_int_equal(hydra_log_pack(lg, HYDRA_LOG_ERROR, "exitbot_ok", NULL, "{s:f,s:[i,i]}",
                                    "equity", 100000.5, "list", 1, 2),
                     0);
    assert_int_equal(hydra_log_lines(lg), 3);
    assert_int_equal(hydra_log_healthy(lg), 1);
    hydra_log_close(lg);

    json_t *lines = read_lines(f->path);
    assert_int_equal(json_array_size(lines), 3);

    json_t *a = json_array_get(lines, 0);
    assert_string_equal(json_string_value(json_object_get(a, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(a, "event")), "startup");
    assert_null(json_object_get(a, "tick"));
    assert_null(json_object_get(a, "bot_id"));
    assert_null(json_object_get(a, "t"));
    int64_t ts = 0;
    assert_int_equal(hydra_parse_rfc3339(json_string_value(json_object_get(a, "ts")), &ts), 0);
    assert_true(ts >= before - 1000 && ts <= before + 60000);

    /* Field order is ts, level, event, tick, bot_id, t, then the event's fields. */
    json_t *b = json_array_get(lines, 1);
    const char *want[] = {"ts", "level", "event", "tick", "bot_id", "t", "reason", "qty"};
    size_t k = 0;
    const char *key;
    json_t *v;
    json_object_foreach(b, key, v)
    {
        assert_true(k < sizeof want / sizeof want[0]);
        assert_string_equal(key, want[k]);
        k++;
    }
    assert_int_equal(k, sizeof want / sizeof want[0]);
    assert_string_equal(json_string_value(json_object_get(b, "level")), "warn");
    assert_int_equal(json_integer_value(json_object_get(b, "tick")), 42);
    assert_string_equal(json_string_value(json_object_get(b, "bot_id")), "mom_AAPL");
    assert_string_equal(json_string_value(json_object_get(b, "t")), "2026-11-27T09:04:05.123Z");
    assert_true(json_real_value(json_object_get(b, "qty")) == 2.5);
    /* A field named like a header member does not replace the header. */
    assert_true(json_is_string(json_object_get(b, "ts")));

    json_t *c = json_array_get(lines, 2);
    assert_string_equal(json_string_value(json_object_get(c, "level")), "error");
    assert_null(json_object_get(c, "t"));
    assert_true(json_real_value(json_object_get(c, "equity")) == 100000.5);
    assert_int_equal(json_array_size(json_object_get(c, "list")), 2);
    json_decref(lines);
}

static void test_min_level_and_pack_error(void **state)
{
    tu_file_fixture *f = *state;
    hydra_log *lg = open_ok(f->path, 14);
    hydra_log_set_min_level(lg, HYDRA_LOG_WARN);
    assert_int_equal(hydra_log_event(lg, HYDRA_LOG_DEBUG, "noise", NULL, json_object()), 0);
    assert_int_equal(hydra_log_event(lg, HYDRA_LOG_INFO, "noise", NULL, NULL), 0);
    assert_int_equal(hydra_log_event(lg, HYDRA_LOG_WARN, "fill", "mom_AAPL", NULL), 0);
    /*
     * "{" is not a complete format: the event becomes a log_pack_error line.
     * (Not "{s:" with no argument: jansson would read a key that was never
     * passed, whatever the register held.)
     */
    assert_int_equal(hydra_log_pack(lg, HYDRA_LOG_WARN, "broken", NULL, "{"), HYDRA_EINVAL);
    assert_int_equal(hydra_log_lines(lg), 2);
    assert_int_equal(hydra_log_healthy(lg), 1);
    hydra_log_close(lg);

    json_t *lines = read_lines(f->path);
    assert_int_equal(json_array_size(lines), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 0), "event")),
                        "fill");
    json_t *e = json_array_get(lines, 1);
    assert_string_equal(json_string_value(json_object_get(e, "event")), "log_pack_error");
    assert_string_equal(json_string_value(json_object_get(e, "for_event")), "broken");
    json_decref(lines);
}

static void test_echo_to_stderr(void **state)
{
    tu_file_fixture *f = *state;
    char errpath[600];
    snprintf(errpath, sizeof errpath, "%s/stderr.txt", f->dir);
    int saved = dup(STDERR_FILENO);
    int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, STDERR_FILENO);
    close(fd);
    hydra_log *lg = open_ok(f->path, 14);
    hydra_log_set_echo(lg, 1);
    int rc = hydra_log_event(lg, HYDRA_LOG_INFO, "echoed", NULL, NULL);
    hydra_log_set_echo(lg, 0);
    int rc2 = hydra_log_event(lg, HYDRA_LOG_INFO, "quiet", NULL, NULL);
    hydra_log_close(lg);
    dup2(saved, STDERR_FILENO);
    close(saved);
    assert_int_equal(rc, 0);
    assert_int_equal(rc2, 0);
    assert_int_equal(count_lines(errpath), 1);
    char *text = tu_read_file(errpath, NULL);
    assert_non_null(strstr(text, "\"event\":\"echoed\""));
    free(text);
    assert_int_equal(count_lines(f->path), 2);
}

/* ---- redaction ---- */

static void test_redaction(void **state)
{
    tu_file_fixture *f = *state;
    hydra_log *lg = open_ok(f->path, 14);
    const char *key_id = "AKFAKEKEY1234567";
    const char *secret = "s3cr3t-\"quoted\"/value";
    const char *shorter = "PREFIXSECRET";
    const char *longer = "PREFIXSECRETTAIL99";
    hydra_log_add_secret(lg, key_id);
    hydra_log_add_secret(lg, secret);
    hydra_log_add_secret(lg, shorter);
    hydra_log_add_secret(lg, longer);
    hydra_log_add_secret(lg, "987654321");
    hydra_log_add_secret(lg, "");

    char sentence[256];
    snprintf(sentence, sizeof sentence, "header APCA-API-KEY-ID: %s sent", key_id);
    json_t *fields = json_pack("{s:s,s:{s:[s,{s:s}]},s:i,s:s,s:I}", "key", key_id, "request",
                               "headers", sentence, "auth", secret, key_id, 1, "token", longer,
                               "account", (json_int_t)9876543210LL);
    assert_non_null(fields);
    assert_int_equal(hydra_log_event(lg, HYDRA_LOG_INFO, "broker_request", key_id, fields), 0);
    assert_int_equal(
        hydra_log_pack(lg, HYDRA_LOG_ERROR, "auth_failed", NULL, "{s:s}", "detail", sentence), 0);
    hydra_log_close(lg);

    char *text = tu_read_file(f->path, NULL);
    assert_non_null(text);
    assert_null(strstr(text, key_id));
    assert_null(strstr(text, "s3cr3t"));
    assert_null(strstr(text, "PREFIXSECRET"));
    assert_null(strstr(text, "TAIL99")); /* the longer secret is not cut by the shorter one */
    assert_null(strstr(text, "987654321"));
    assert_non_null(strstr(text, "header APCA-API-KEY-ID: [REDACTED] sent"));
    free(text);

    json_t *lines = read_lines(f->path); /* redacted lines are still valid JSON */
    assert_int_equal(json_array_size(lines), 2);
    json_t *a = json_array_get(lines, 0);
    assert_string_equal(json_string_value(json_object_get(a, "key")), "[REDACTED]");
    assert_string_equal(json_string_value(json_object_get(a, "bot_id")), "[REDACTED]");
    assert_string_equal(json_string_value(json_object_get(a, "token")), "[REDACTED]");
    assert_string_equal(json_string_value(json_object_get(a, "account")), "[REDACTED]");
    assert_int_equal(json_integer_value(json_object_get(a, "[REDACTED]")), 1);
    json_t *inner = json_array_get(json_object_get(json_object_get(a, "request"), "headers"), 1);
    assert_string_equal(json_string_value(json_object_get(inner, "auth")), "[REDACTED]");
    json_decref(lines);
}

/* ---- rotation ---- */

static void set_mtime(const char *path, time_t t)
{
    struct timeval tv[2] = {{t, 0}, {t, 0}};
    assert_int_equal(utimes(path, tv), 0);
}

static void rotated_name(const tu_file_fixture *f, const char *day, char *buf, size_t bufsz)
{
    snprintf(buf, bufsz, "%s/app.%s.jsonl", f->dir, day);
}

static void test_rotation_at_open(void **state)
{
    tu_file_fixture *f = *state;
    assert_int_equal(tu_write_file(f->path, "{\"ts\":\"2000-01-01T00:00:00.000Z\",\"level\":"
                                            "\"info\",\"event\":\"old\"}\n"),
                     0);
    time_t yesterday = time(NULL) - 86400;
    set_mtime(f->path, yesterday);
    char day[11], rotated[600];
    hydra_format_utc((int64_t)yesterday * 1000, day, sizeof day);
    rotated_name(f, day, rotated, sizeof rotated);

    /* Older rotated files, and names rotation must never touch. */
    for (int d = 1; d <= 5; d++) {
        char old[600];
        snprintf(old, sizeof old, "%s/app.2020-01-0%d.jsonl", f->dir, d);
        assert_int_equal(tu_write_file(old, ""), 0);
    }
    char notes[600], other[600];
    snprintf(notes, sizeof notes, "%s/app.notes.jsonl", f->dir);
    snprintf(other, sizeof other, "%s/other.2020-01-01.jsonl", f->dir);
    assert_int_equal(tu_write_file(notes, ""), 0);
    assert_int_equal(tu_write_file(other, ""), 0);

    hydra_log *lg = open_ok(f->path, 3);
    assert_int_equal(hydra_log_event(lg, HYDRA_LOG_INFO, "new", NULL, NULL), 0);
    hydra_log_close(lg);

    json_t *lines = read_lines(rotated);
    assert_int_equal(json_array_size(lines), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 0), "event")),
                        "old");
    json_decref(lines);
    lines = read_lines(f->path);
    assert_int_equal(json_array_size(lines), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 0), "event")),
                        "new");
    json_decref(lines);

    /* keep_files = 3: yesterday's and the two newest older files remain. */
    const char *gone[] = {"2020-01-01", "2020-01-02", "2020-01-03"};
    const char *kept[] = {"2020-01-04", "2020-01-05"};
    char path[600];
    for (size_t i = 0; i < 3; i++) {
        rotated_name(f, gone[i], path, sizeof path);
        assert_false(file_exists(path));
    }
    for (size_t i = 0; i < 2; i++) {
        rotated_name(f, kept[i], path, sizeof path);
        assert_true(file_exists(path));
    }
    assert_true(file_exists(notes));
    assert_true(file_exists(other));

    /* A file written today is not rotated at open. */
    lg = open_ok(f->path, 3);
    hydra_log_close(lg);
    assert_int_equal(count_lines(f->path), 1);
}

static void test_rotation_on_day_change(void **state)
{
    tu_file_fixture *f = *state;
    hydra_log *lg = open_ok(f->path, 2);
    hydra_clock wall;
    /* Far enough ahead of the real date that every step is a later day. */
    hydra_clock_init_sim(&wall, 4076092799500LL); /* 2099-03-01T23:59:59.500Z */
    hydra_log_set_wall_clock(lg, &wall);
    assert_int_equal(hydra_log_event(lg, HYDRA_LOG_INFO, "before_midnight", NULL, NULL), 0);
    hydra_clock_set(&wall, 4076092800100LL); /* 2099-03-02T00:00:00.100Z */
    assert_int_equal(hydra_log_event(lg, HYDRA_LOG_INFO, "after_midnight", NULL, NULL), 0);

    char path[600];
    rotated_name(f, "2099-03-01", path, sizeof path);
    json_t *lines = read_lines(path);
    assert_int_equal(json_array_size(lines), 1);
    json_t *a = json_array_get(lines, 0);
    assert_string_equal(json_string_value(json_object_get(a, "ts")), "2099-03-01T23:59:59.500Z");
    assert_string_equal(json_string_value(json_object_get(a, "event")), "before_midnight");
    json_decref(lines);
    lines = read_lines(f->path);
    assert_int_equal(json_array_size(lines), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 0), "ts")),
                        "2099-03-02T00:00:00.100Z");
    json_decref(lines);

    /* Three more days: only the two newest rotated files are kept. */
    for (int d = 3; d <= 5; d++) {
        hydra_clock_set(&wall, 4076092800100LL + (int64_t)(d - 2) * 86400000);
        assert_int_equal(hydra_log_event(lg, HYDRA_LOG_INFO, "day", NULL, NULL), 0);
    }
    assert_int_equal(hydra_log_healthy(lg), 1);
    hydra_log_close(lg);
    const char *gone[] = {"2099-03-01", "2099-03-02"};
    const char *kept[] = {"2099-03-03", "2099-03-04"};
    for (size_t i = 0; i < 2; i++) {
        rotated_name(f, gone[i], path, sizeof path);
        assert_false(file_exists(path));
        rotated_name(f, kept[i], path, sizeof path);
        assert_int_equal(count_lines(path), 1);
    }
    lines = read_lines(f->path);
    assert_int_equal(json_array_size(lines), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 0), "ts")),
                        "2099-03-05T00:00:00.100Z");
    json_decref(lines);
}

/* ---- repeated decisions ---- */

/* The lines of a log with this event, in order. */
static json_t *lines_of(json_t *lines, const char *event)
{
    json_t *out = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l)
    {
        if (strcmp(json_string_value(json_object_get(l, "event")), event) == 0)
            json_array_append(out, l);
    }
    return out;
}

static json_int_t int_of(json_t *line, const char *key)
{
    json_t *v = json_object_get(line, key);
    if (!json_is_integer(v))
        fail_msg("no integer %s in line", key);
    return json_integer_value(v);
}

/*
 * A bot skipped for the same reason tick after tick is written once when the
 * skip starts, once when its reason changes (saying how many ticks the old
 * one held) and once when it ends; a decision that never changes is counted
 * until the log closes. Nothing else is written.
 */
static void test_repeats_written_at_start_change_and_end(void **state)
{
    tu_file_fixture *f = *state;
    hydra_log *lg = open_ok(f->path, 2);
    uint64_t tick = 0;
    for (int i = 0; i < 5; i++) { /* ticks 1..5: disabled */
        hydra_log_set_tick(lg, ++tick);
        assert_int_equal(hydra_log_repeat(lg, HYDRA_LOG_INFO, "preflight_skip", "a", NULL, "disabled",
                                          json_pack("{s:s}", "reason", "disabled")),
                         0);
        assert_int_equal(hydra_log_repeat(lg, HYDRA_LOG_WARN, "broker_error", NULL, "market_snapshot",
                                          "404 no price for MSFT",
                                          json_pack("{s:s}", "error", "no price for MSFT")),
                         0);
        assert_int_equal(hydra_log_repeats_round(lg), 0);
    }
    for (int i = 0; i < 3; i++) { /* ticks 6..8: another reason */
        hydra_log_set_tick(lg, ++tick);
        assert_int_equal(hydra_log_repeat(lg, HYDRA_LOG_INFO, "preflight_skip", "a", NULL,
                                          "outside trade window",
                                          json_pack("{s:s}", "reason", "outside trade window")),
                         0);
        hydra_log_repeat(lg, HYDRA_LOG_WARN, "broker_error", NULL, "market_snapshot",
                         "404 no price for MSFT", json_pack("{s:s}", "error", "no price for MSFT"));
        assert_int_equal(hydra_log_repeats_round(lg), 0);
    }
    /* Tick 9: bot a runs (no skip); the price is still missing. */
    hydra_log_set_tick(lg, ++tick);
    hydra_log_repeat(lg, HYDRA_LOG_WARN, "broker_error", NULL, "market_snapshot",
                     "404 no price for MSFT", json_pack("{s:s}", "error", "no price for MSFT"));
    assert_int_equal(hydra_log_repeats_round(lg), 0);
    assert_int_equal(hydra_log_repeats_active(lg), 1);
    /* Tick 10: a second skip of the same bot in one tick counts once. */
    hydra_log_set_tick(lg, ++tick);
    hydra_log_repeat(lg, HYDRA_LOG_INFO, "preflight_skip", "a", NULL, "disabled", NULL);
    hydra_log_repeat(lg, HYDRA_LOG_INFO, "preflight_skip", "a", NULL, "disabled", NULL);
    hydra_log_repeat(lg, HYDRA_LOG_WARN, "broker_error", NULL, "market_snapshot",
                     "404 no price for MSFT", json_pack("{s:s}", "error", "no price for MSFT"));
    assert_int_equal(hydra_log_repeats_round(lg), 0);
    hydra_log_set_tick(lg, ++tick); /* 11: nothing of a; still no price */
    hydra_log_repeat(lg, HYDRA_LOG_WARN, "broker_error", NULL, "market_snapshot",
                     "404 no price for MSFT", json_pack("{s:s}", "error", "no price for MSFT"));
    assert_int_equal(hydra_log_repeats_round(lg), 0);
    assert_int_equal(hydra_log_healthy(lg), 1);
    hydra_log_close(lg);

    json_t *lines = read_lines(f->path);
    /* 3 skip lines + 2 ended + 1 broker_error + its end at close. */
    assert_int_equal(json_array_size(lines), 7);
    json_t *skips = lines_of(lines, "preflight_skip");
    assert_int_equal(json_array_size(skips), 3);
    json_t *s0 = json_array_get(skips, 0), *s1 = json_array_get(skips, 1);
    assert_int_equal(int_of(s0, "tick"), 1);
    assert_string_equal(json_string_value(json_object_get(s0, "reason")), "disabled");
    assert_null(json_object_get(s0, "repeated"));
    assert_int_equal(int_of(s1, "tick"), 6);
    assert_string_equal(json_string_value(json_object_get(s1, "reason")), "outside trade window");
    assert_string_equal(json_string_value(json_object_get(s1, "previous")), "disabled");
    assert_int_equal(int_of(s1, "repeated"), 5);
    assert_int_equal(int_of(json_array_get(skips, 2), "tick"), 10);
    json_t *ended = lines_of(lines, "preflight_skip_ended");
    assert_int_equal(json_array_size(ended), 2);
    json_t *e0 = json_array_get(ended, 0);
    assert_int_equal(int_of(e0, "tick"), 9);
    assert_int_equal(int_of(e0, "repeated"), 3);
    assert_int_equal(int_of(e0, "since_tick"), 6);
    assert_string_equal(json_string_value(json_object_get(e0, "bot_id")), "a");
    assert_string_equal(json_string_value(json_object_get(e0, "reason")), "outside trade window");
    assert_int_equal(int_of(json_array_get(ended, 1), "repeated"), 1);
    assert_int_equal(int_of(json_array_get(ended, 1), "tick"), 11);
    json_t *errs = lines_of(lines, "broker_error");
    assert_int_equal(json_array_size(errs), 1);
    json_t *errs_end = lines_of(lines, "broker_error_ended");
    assert_int_equal(json_array_size(errs_end), 1);
    json_t *b = json_array_get(errs_end, 0);
    assert_int_equal(int_of(b, "repeated"), 11);
    assert_int_equal(int_of(b, "since_tick"), 1);
    assert_true(json_is_true(json_object_get(b, "still_active")));
    assert_string_equal(json_string_value(json_object_get(b, "error")), "no price for MSFT");
    json_decref(errs_end);
    json_decref(errs);
    json_decref(ended);
    json_decref(skips);
    json_decref(lines);
}

/* ---- size rotation and compression ---- */

/* The text of a gzip file, NUL-terminated (caller frees). */
static char *gunzip_file(const char *path)
{
    gzFile gz = gzopen(path, "rb");
    if (gz == NULL)
        fail_msg("%s: cannot open as gzip", path);
    size_t cap = 65536, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    int r;
    while ((r = gzread(gz, out + n, (unsigned)(cap - n - 1))) > 0) {
        n += (size_t)r;
        if (cap - n < 2) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
    }
    assert_true(r == 0);
    assert_int_equal(gzclose(gz), Z_OK);
    out[n] = '\0';
    return out;
}

/* Names in dir that start with prefix, sorted; returns how many (up to max). */
static size_t list_dir(const char *dir, const char *prefix, char names[][256], size_t max)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && n < max)
            snprintf(names[n++], 256, "%s", e->d_name);
    closedir(d);
    qsort(names, n, 256, (int (*)(const void *, const void *))strcmp);
    return n;
}

/* Appends the "seq" of every line of text to seqs. */
static void collect_seqs(const char *text, json_int_t *seqs, size_t *n, size_t max)
{
    char *copy = strdup(text), *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
        json_t *o = json_loads(l, 0, NULL);
        if (!json_is_object(o))
            fail_msg("not a JSON line: %.200s", l);
        assert_true(*n < max);
        seqs[(*n)++] = json_integer_value(json_object_get(o, "seq"));
        json_decref(o);
    }
    free(copy);
}

/*
 * With max_bytes, the file is moved aside before a line would take it past
 * the limit, every rotated file is compressed, none is larger than the
 * limit, and every line written is in exactly one file, in order.
 */
static void test_size_rotation_compresses_and_keeps_every_line(void **state)
{
    tu_file_fixture *f = *state;
    hydra_log *lg = open_ok(f->path, 1000);
    const int64_t max = 2000;
    hydra_log_set_rotation(lg, max, 1);
    enum { LINES = 400 };
    for (int i = 0; i < LINES; i++)
        assert_int_equal(hydra_log_pack(lg, HYDRA_LOG_INFO, "line", "bot", "{s:i,s:s}", "seq", i,
                                        "pad", "0123456789012345678901234567890123456789"),
                         0);
    uint64_t done = 0, failed = 0;
    hydra_log_compress_wait(lg, &done, &failed);
    assert_int_equal(failed, 0);
    assert_int_equal(hydra_log_healthy(lg), 1);
    hydra_log_close(lg);

    static char names[1024][256];
    size_t n = list_dir(f->dir, "app.", names, 1024);
    json_int_t *seqs = calloc(LINES + 1, sizeof *seqs);
    size_t got = 0, rotated = 0;
    /* Oldest first: by the number after the day (none = the day's first file). */
    for (long want = 0; want < (long)n; want++) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(names[i], "app.jsonl") == 0 || strstr(names[i], ".gz") == NULL)
                continue;
            long seq = 0;
            const char *p = names[i] + strlen("app.YYYY-MM-DD");
            if (*p == '.' && p[1] >= '0' && p[1] <= '9')
                seq = strtol(p + 1, NULL, 10);
            if (seq != want)
                continue;
            char path[700];
            snprintf(path, sizeof path, "%s/%s", f->dir, names[i]);
            char *text = gunzip_file(path);
            assert_true(strlen(text) > 0 && strlen(text) <= (size_t)max);
            collect_seqs(text, seqs, &got, LINES);
            free(text);
            rotated++;
        }
    }
    for (size_t i = 0; i < n; i++) /* nothing left uncompressed, no temporary file */
        assert_true(strcmp(names[i], "app.jsonl") == 0 || strstr(names[i], ".jsonl.gz") != NULL);
    assert_int_equal(rotated, done);
    assert_true(rotated >= 10);
    char *cur = tu_read_file(f->path, NULL);
    assert_true(strlen(cur) <= (size_t)max);
    collect_seqs(cur, seqs, &got, LINES);
    free(cur);
    assert_int_equal(got, LINES);
    for (int i = 0; i < LINES; i++)
        assert_int_equal(seqs[i], i);
    free(seqs);
}

/* keep_files counts compressed files: the oldest go; a file left plain by a run is compressed. */
static void test_size_rotation_keeps_newest_and_compresses_leftovers(void **state)
{
    tu_file_fixture *f = *state;
    char left[600];
    snprintf(left, sizeof left, "%s/app.2099-01-01.jsonl", f->dir);
    tu_write_file(left, "{\"ts\":\"2099-01-01T00:00:00.000Z\",\"level\":\"info\",\"event\":\"old\"}\n");
    hydra_log *lg = open_ok(f->path, 3);
    hydra_log_set_rotation(lg, 0, 1); /* compression only: the leftover is compressed */
    hydra_log_compress_leftovers(lg);
    uint64_t done = 0, failed = 0;
    hydra_log_compress_wait(lg, &done, &failed);
    assert_int_equal(done, 1);
    assert_false(file_exists(left));
    char gz[700];
    snprintf(gz, sizeof gz, "%s.gz", left);
    char *text = gunzip_file(gz);
    assert_non_null(strstr(text, "\"event\":\"old\""));
    free(text);

    hydra_log_set_rotation(lg, 600, 1);
    for (int i = 0; i < 200; i++)
        hydra_log_pack(lg, HYDRA_LOG_INFO, "line", NULL, "{s:i,s:s}", "seq", i, "pad",
                       "01234567890123456789012345678901234567890123456789");
    hydra_log_compress_wait(lg, &done, &failed);
    assert_int_equal(failed, 0);
    hydra_log_close(lg);
    static char names[256][256];
    size_t n = list_dir(f->dir, "app.", names, 256);
    /* The current file and the three newest rotated ones; the 2099-01-01 leftover sorts newest. */
    assert_int_equal(n, 4);
    assert_true(file_exists(gz));
    size_t plain = 0;
    for (size_t i = 0; i < n; i++)
        plain += strstr(names[i], ".gz") == NULL;
    assert_int_equal(plain, 1);
}

/*
 * Two writers on one file (as two processes would be): one rotates by size
 * and compresses, the other keeps writing through a descriptor that may
 * still point at a rotated or already compressed file. Every line of both
 * is found once, whatever the compressor's timing.
 */
static void test_second_writer_loses_no_line_across_rotation(void **state)
{
    tu_file_fixture *f = *state;
    hydra_log *a = open_ok(f->path, 1000), *b = open_ok(f->path, 1000);
    hydra_log_set_rotation(a, 1500, 1);
    hydra_log_set_rotation(b, 0, 1);
    enum { LINES = 600 };
    for (int i = 0; i < LINES; i++)
        assert_int_equal(hydra_log_pack(i % 2 ? b : a, HYDRA_LOG_INFO, "line", NULL, "{s:i}", "seq",
                                        i),
                         0);
    hydra_log_compress_wait(a, NULL, NULL);
    hydra_log_compress_wait(b, NULL, NULL);
    hydra_log_close(a);
    hydra_log_close(b);
    static char names[1024][256];
    size_t n = list_dir(f->dir, "app.", names, 1024);
    json_int_t *seqs = calloc(LINES + 1, sizeof *seqs);
    size_t got = 0;
    for (size_t i = 0; i < n; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/%s", f->dir, names[i]);
        char *text = strstr(names[i], ".gz") != NULL ? gunzip_file(path) : tu_read_file(path, NULL);
        collect_seqs(text, seqs, &got, LINES);
        free(text);
    }
    assert_int_equal(got, LINES);
    int *seen = calloc(LINES, sizeof *seen);
    for (size_t i = 0; i < got; i++) {
        assert_true(seqs[i] >= 0 && seqs[i] < LINES);
        assert_int_equal(seen[seqs[i]]++, 0);
    }
    free(seen);
    free(seqs);
}

/* ---- failures ---- */

static void test_write_failure_is_sticky(void **state)
{
    (void)state;
    hydra_log *lg = open_ok("/dev/full", 1);
    assert_int_equal(hydra_log_healthy(lg), 1);
    assert_int_equal(hydra_log_event(lg, HYDRA_LOG_INFO, "lost", NULL, NULL), HYDRA_EIO);
    assert_int_equal(hydra_log_healthy(lg), 0);
    assert_int_equal(hydra_log_lines(lg), 0);
    assert_int_equal(hydra_log_event(lg, HYDRA_LOG_INFO, "lost", NULL, NULL), HYDRA_EIO);
    assert_int_equal(hydra_log_healthy(lg), 0);
    hydra_log_close(lg);
}

static void test_open_failure_names_path(void **state)
{
    tu_file_fixture *f = *state;
    char path[600], err[512] = "";
    snprintf(path, sizeof path, "%s/missing-dir/app.jsonl", f->dir);
    hydra_log *lg = (hydra_log *)&lg; /* any non-NULL value: open must reset it */
    assert_int_equal(hydra_log_open(path, 14, &lg, err, sizeof err), HYDRA_EIO);
    assert_null(lg);
    size_t n = strlen(path);
    assert_memory_equal(err, path, n);
    assert_non_null(strstr(err, "No such file or directory"));
    assert_int_equal(hydra_log_open(f->path, -1, &lg, err, sizeof err), HYDRA_EINVAL);
}

/*
 * Runs fn in a child process; when the test runs as root the child first
 * becomes an unprivileged user, because root ignores file permissions.
 */
static int run_unprivileged(int (*fn)(const char *), const char *arg)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(NOBODY) != 0 || setuid(NOBODY) != 0))
            _exit(90);
        _exit(fn(arg));
    }
    assert_true(pid > 0);
    return tu_wait(pid, 30);
}

static int open_in_read_only_dir(const char *path)
{
    char err[512] = "";
    hydra_log *lg = NULL;
    if (hydra_log_open(path, 14, &lg, err, sizeof err) != HYDRA_EIO || lg != NULL)
        return 1;
    return strncmp(err, path, strlen(path)) == 0 && strstr(err, "Permission denied") != NULL ? 0
                                                                                             : 2;
}

/* The log opens, then its directory turns read-only: the day's rotation fails. */
static int rotate_in_read_only_dir(const char *dir)
{
    char path[600];
    if (snprintf(path, sizeof path, "%s/app.jsonl", dir) >= (int)sizeof path)
        return 1;
    hydra_log *lg = NULL;
    if (hydra_log_open(path, 14, &lg, NULL, 0) != 0)
        return 1;
    hydra_clock wall;
    hydra_clock_init_sim(&wall, 4076092799500LL);
    hydra_log_set_wall_clock(lg, &wall);
    int ok =
        hydra_log_event(lg, HYDRA_LOG_INFO, "first", NULL, NULL) == 0 && hydra_log_healthy(lg) == 1;
    if (ok && chmod(dir, 0555) != 0)
        ok = 0;
    hydra_clock_set(&wall, 4076092799500LL + 86400000);
    /* The rotation fails but the line still reaches the (unrotated) file. */
    ok = ok && hydra_log_event(lg, HYDRA_LOG_INFO, "second", NULL, NULL) == HYDRA_EIO &&
         hydra_log_healthy(lg) == 0 && hydra_log_lines(lg) == 2;
    hydra_log_close(lg);
    return ok ? 0 : 3;
}

static void test_unwritable_directory(void **state)
{
    tu_file_fixture *f = *state;
    char ro[600], rw[600], path[700];
    snprintf(ro, sizeof ro, "%s/ro", f->dir);
    snprintf(rw, sizeof rw, "%s/rw", f->dir);
    assert_int_equal(mkdir(ro, 0555), 0);
    assert_int_equal(mkdir(rw, 0755), 0);
    assert_int_equal(chmod(f->dir, 0755), 0);
    if (geteuid() == 0)
        assert_int_equal(chown(rw, NOBODY, NOBODY), 0);
    snprintf(path, sizeof path, "%s/app.jsonl", ro);
    assert_int_equal(run_unprivileged(open_in_read_only_dir, path), 0);
    assert_int_equal(run_unprivileged(rotate_in_read_only_dir, rw), 0);
    chmod(rw, 0755);
    snprintf(path, sizeof path, "%s/app.jsonl", rw);
    assert_int_equal(count_lines(path), 2);
}

/* ---- several processes ---- */

#define WRITER_LINES 2000

static int writer(const char *path, const char *name)
{
    hydra_log *lg = NULL;
    if (hydra_log_open(path, 14, &lg, NULL, 0) != 0)
        return 1;
    /* Long lines make a torn or interleaved write easy to see. */
    char pad[1500];
    memset(pad, name[0], sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < WRITER_LINES; i++)
        if (hydra_log_pack(lg, HYDRA_LOG_INFO, "line", name, "{s:i,s:s}", "i", i, "pad", pad) != 0)
            return 2;
    int ok = hydra_log_healthy(lg);
    hydra_log_close(lg);
    return ok ? 0 : 3;
}

static void test_concurrent_writers(void **state)
{
    tu_file_fixture *f = *state;
    const char *names[2] = {"a_writer", "b_writer"};
    pid_t pids[2];
    for (int k = 0; k < 2; k++) {
        pids[k] = fork();
        assert_true(pids[k] >= 0);
        if (pids[k] == 0)
            _exit(writer(f->path, names[k]));
    }
    for (int k = 0; k < 2; k++)
        assert_int_equal(tu_wait(pids[k], 120), 0);

    json_t *lines = read_lines(f->path);
    assert_int_equal(json_array_size(lines), 2 * WRITER_LINES);
    int next[2] = {0, 0};
    size_t i;
    json_t *line;
    json_array_foreach(lines, i, line)
    {
        const char *bot = json_string_value(json_object_get(line, "bot_id"));
        assert_non_null(bot);
        int k = bot[0] == 'a' ? 0 : 1;
        assert_string_equal(bot, names[k]);
        /* Each writer's lines arrive whole and in its own order. */
        assert_int_equal(json_integer_value(json_object_get(line, "i")), next[k]);
        next[k]++;
        const char *pad = json_string_value(json_object_get(line, "pad"));
        assert_int_equal(strlen(pad), 1499);
        assert_int_equal(strspn(pad, bot[0] == 'a' ? "a" : "b"), 1499);
    }
    assert_int_equal(next[0], WRITER_LINES);
    assert_int_equal(next[1], WRITER_LINES);
    json_decref(lines);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jtext_matches_jansson),
        cmocka_unit_test_setup_teardown(test_quick_lines_match_jansson, setup, tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_line_format, setup, tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_min_level_and_pack_error, setup, tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_echo_to_stderr, setup, tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_redaction, setup, tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_rotation_at_open, setup, tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_rotation_on_day_change, setup, tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_repeats_written_at_start_change_and_end, setup,
                                        tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_size_rotation_compresses_and_keeps_every_line, setup,
                                        tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_size_rotation_keeps_newest_and_compresses_leftovers,
                                        setup, tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_second_writer_loses_no_line_across_rotation, setup,
                                        tu_file_teardown),
        cmocka_unit_test(test_write_failure_is_sticky),
        cmocka_unit_test_setup_teardown(test_open_failure_names_path, setup, tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_directory, setup, tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, tu_file_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
