/*
 * What a bot may make the host do, and what the host does when its own
 * state disappears:
 *
 *  - a bot that floods the log gets at most its quota of lines and bytes a
 *    tick into app.jsonl, one bot_log_throttled line a tick, and a
 *    quarantine when it keeps on; the other bots trade on;
 *  - a bot that fills its state is refused past its quota of keys and
 *    bytes, the database holds no more, and the bot is told;
 *  - a bot's log line can never pass for a host event or break out of its
 *    JSON string;
 *  - one missed deadline costs the bot that tick, repeated misses
 *    quarantine it;
 *  - a state database deleted, replaced or truncated under a running host
 *    halts it, and the host does not exit 0.
 *
 * Real parts throughout: the quota_abuser .so in real workers, the real
 * simulated exchange, a real SQLite file read back with SQLite, and the
 * hydra-host binary as a child process.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enginetest.h"
#include "error.h"
#include "quota.h"
#include "state.h"
#include "testutil.h"

typedef struct fixture {
    char dir[256];
    char plugins[512];
    char log[512];
    char db[512];
    hydra_engine e;
    int open;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(tu_mkdtemp(f->dir, sizeof f->dir));
    snprintf(f->log, sizeof f->log, "%s/app.jsonl", f->dir);
    snprintf(f->db, sizeof f->db, "%s/trading_state.db", f->dir);
    const char *const plugins[] = {ET_SHIPPED_PLUGINS, HYDRA_TEST_BROKEN_DIR "/quota_abuser.so",
                                   "quota_abuser", NULL};
    et_make_plugins(f->dir, f->plugins, sizeof f->plugins, plugins);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->open)
        hydra_engine_close(&f->e);
    if (getenv("HYDRA_TEST_KEEP") != NULL)
        print_message("kept %s\n", f->dir);
    else
        tu_rmtree(f->dir);
    free(f);
    return 0;
}

static void open_engine(fixture *f, int force_inprocess)
{
    et_open_plugins(&f->e, f->dir, f->plugins, force_inprocess);
    f->open = 1;
}

static void close_engine(fixture *f)
{
    hydra_engine_close(&f->e);
    f->open = 0;
}

/*
 * A deadline an honest bot never comes near even on a loaded machine, a
 * sleep far past it, and no restart delay.
 */
#define BASE_SETTINGS                                                                              \
    "call_deadline_ms: 0 =>call_deadline_ms: 1000 \n"                                              \
    "restart_backoff_ms: 1000=>restart_backoff_ms: 0\n"                                            \
    "restarts_per_day: 5=>restarts_per_day: 50"

/* One abuser bot entry (one line: the edit list is split on newlines). */
static void abuser(char *out, size_t outsz, const char *id, const char *symbol, const char *params)
{
    snprintf(out, outsz,
             "{bot_id: %s, plugin: quota_abuser, bucket: momentum, asset_class: equity, "
             "symbols: [%s], session: {trade_start: \"06:00\", trade_end: \"12:00\", "
             "manage_until: \"12:55\"}, risk: {max_trades_per_day: 50, "
             "max_concurrent_positions: 1}, exits: {time_stop_minutes: 5}, "
             "signal: {mode: quota_abuser_v1, params: {%s}}}",
             id, symbol, params);
}

/*
 * The configuration with `bots` added, plus "honest": the same plugin with
 * no abuse, buying FESX whenever it is flat, so a test can see that the
 * other bots trade on.
 */
static void make_config(fixture *f, const char *extra_settings, const char *bots)
{
    char settings[2048], edit[4096], honest[1024];
    snprintf(settings, sizeof settings, "%s\n%s", BASE_SETTINGS,
             extra_settings != NULL ? extra_settings : "");
    abuser(honest, sizeof honest, "honest", "FESX", "mode: none");
    snprintf(edit, sizeof edit, "bots: []=>bots: [%s, %s]", bots, honest);
    assert_int_equal(et_make_config(f->dir, settings, edit), 0);
}

/* Calls fn for every line of the log, parsed (NULL when a line is not a JSON object). */
typedef void (*line_fn)(json_t *line, const char *text, void *ctx);

static int each_line(const char *log_path, line_fn fn, void *ctx)
{
    char *text = tu_read_file(log_path, NULL);
    int n = 0;
    assert_non_null(text);
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n"), n++) {
        json_t *j = json_loads(line, 0, NULL);
        fn(json_is_object(j) ? j : NULL, line, ctx);
        json_decref(j);
    }
    free(text);
    return n;
}

static const char *str_of(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s != NULL ? s : "";
}

/* Index of the first log line with this event and bot, or -1. */
typedef struct find_ctx {
    const char *event, *bot_id;
    int idx, found;
} find_ctx;

static void find_fn(json_t *j, const char *text, void *ctx)
{
    find_ctx *c = ctx;
    (void)text;
    if (c->found < 0 && j != NULL && strcmp(str_of(j, "event"), c->event) == 0 &&
        strcmp(str_of(j, "bot_id"), c->bot_id) == 0)
        c->found = c->idx;
    c->idx++;
}

static int first_line(const char *log_path, const char *event, const char *bot_id)
{
    find_ctx c = {event, bot_id, 0, -1};
    each_line(log_path, find_fn, &c);
    return c.found;
}

/* Orders submitted after log line `after`, by `bot_id` (or by any bot but `except`). */
typedef struct orders_ctx {
    const char *bot_id, *except;
    int after, idx, n;
} orders_ctx;

static void orders_fn(json_t *j, const char *text, void *ctx)
{
    orders_ctx *c = ctx;
    (void)text;
    if (c->idx++ <= c->after || j == NULL || strcmp(str_of(j, "event"), "order_submitted") != 0)
        return;
    const char *bid = str_of(j, "bot_id");
    if ((c->bot_id != NULL && strcmp(bid, c->bot_id) == 0) ||
        (c->except != NULL && strcmp(bid, c->except) != 0))
        c->n++;
}

static int orders_after(const char *log_path, const char *bot_id, const char *except, int after)
{
    orders_ctx c = {bot_id, except, after, 0, 0};
    each_line(log_path, orders_fn, &c);
    return c.n;
}

static void assert_quarantined(fixture *f, const char *bot_id, const char *cause)
{
    hydra_bot_day day = {0};
    assert_int_equal(hydra_bot_day_get(f->e.state, bot_id, f->e.day, &day), 0);
    print_message("%s: quarantined %d: %s\n", bot_id, day.quarantined, day.quarantine_reason);
    assert_true(day.quarantined);
    assert_non_null(strstr(day.quarantine_reason, cause));
}

/* ---- the rules themselves ---- */

static void test_strike_window(void **state)
{
    (void)state;
    hydra_strikes s;
    hydra_strikes_clear(&s);
    assert_int_equal(hydra_strikes_add(&s, 5, 10), 1);
    assert_int_equal(hydra_strikes_add(&s, 9, 10), 2);
    assert_int_equal(hydra_strikes_add(&s, 14, 10), 3); /* 5..14 is ten ticks */
    assert_int_equal(hydra_strikes_add(&s, 15, 10), 3); /* 5 has left the window */
    assert_int_equal(hydra_strikes_add(&s, 100, 10), 1);
    /* More strikes than the ring holds: the newest count. */
    hydra_strikes_clear(&s);
    for (int i = 1; i <= 100; i++)
        assert_int_equal(hydra_strikes_add(&s, (uint64_t)i, 1000),
                         i < HYDRA_STRIKES_MAX ? i : HYDRA_STRIKES_MAX);
}

static void test_log_and_state_arithmetic(void **state)
{
    (void)state;
    hydra_log_quota q = {0};
    assert_true(hydra_log_quota_admit(&q, 60, 3, 100));
    assert_false(hydra_log_quota_admit(&q, 60, 3, 100)); /* bytes */
    assert_true(hydra_log_quota_admit(&q, 40, 3, 100));
    assert_false(hydra_log_quota_admit(&q, 0, 2, 100));   /* lines */
    assert_false(hydra_log_quota_admit(&q, 500, 9, 100)); /* larger than the whole quota */
    assert_int_equal(q.dropped_lines, 3);
    assert_int_equal(q.dropped_bytes, 560);
    hydra_log_quota_next_tick(&q);
    assert_int_equal(q.lines, 0);
    assert_int_equal(q.dropped_total, 3);

    hydra_kv_usage u = {.known = 1, .keys = 2, .bytes = 90};
    assert_true(hydra_kv_quota_fits(&u, 5, 5, -1, 3, 100));
    assert_false(hydra_kv_quota_fits(&u, 5, 6, -1, 3, 100)); /* one byte over */
    assert_true(hydra_kv_quota_fits(&u, 5, 50, 50, 2, 100)); /* replaces 50 bytes: no new key */
    assert_false(hydra_kv_quota_fits(&u, 1, 1, -1, 2, 100)); /* a third key */
    hydra_kv_quota_commit(&u, 5, 50, 50);
    assert_int_equal(u.keys, 2);
    assert_int_equal(u.bytes, 95);
}

/* Bad quota settings are refused with file, line and key. */
static void test_settings_are_validated(void **state)
{
    fixture *f = *state;
    assert_int_equal(
        et_make_config(f->dir,
                       "deadline_misses_to_quarantine: 3=>deadline_misses_to_quarantine: 40\n"
                       "log_lines_per_tick: 100=>log_lines_per_tick: 0\n"
                       "state_max_bytes: 1048576=>state_max_bytes: lots\n"
                       "state_quick_check_every_ticks: 240=>state_quick_check_every_ticks: -1",
                       NULL),
        0);
    char dir[600], err[8192] = "";
    snprintf(dir, sizeof dir, "%s/config", f->dir);
    hydra_config *cfg = calloc(1, sizeof *cfg);
    assert_int_not_equal(hydra_config_load_msg(dir, cfg, err, sizeof err), 0);
    print_message("%s\n", err);
    free(cfg);
    assert_non_null(
        strstr(err, "workers.deadline_misses_to_quarantine: expected an integer within 1..32"));
    assert_non_null(strstr(err, "quotas.log_lines_per_tick: expected a positive integer"));
    assert_non_null(strstr(err, "quotas.state_max_bytes: expected a positive integer"));
    assert_non_null(
        strstr(err, "safety.state_quick_check_every_ticks: expected a non-negative integer"));
    assert_non_null(strstr(err, "settings.yaml:"));
}

/* ---- the log quota ---- */

#define FLOOD_SETTINGS                                                                             \
    "log_lines_per_tick: 100=>log_lines_per_tick: 10\n"                                            \
    "log_bytes_per_tick: 32768=>log_bytes_per_tick: 1500\n"                                        \
    "log_throttled_ticks_to_quarantine: 5=>log_throttled_ticks_to_quarantine: 4\n"                 \
    "log_throttle_window_ticks: 60=>log_throttle_window_ticks: 10"

#define FLOOD_TICKS 30

typedef struct flood_ctx {
    long lines[FLOOD_TICKS + 2], bytes[FLOOD_TICKS + 2];
    int throttled[FLOOD_TICKS + 2];
    int bad_lines;
    long total_lines;
} flood_ctx;

static void flood_fn(json_t *j, const char *text, void *ctx)
{
    flood_ctx *c = ctx;
    (void)text;
    if (j == NULL) {
        c->bad_lines++;
        return;
    }
    if (strcmp(str_of(j, "bot_id"), "flood") != 0)
        return;
    json_int_t tick = json_integer_value(json_object_get(j, "tick"));
    if (tick < 0 || tick > FLOOD_TICKS + 1)
        tick = FLOOD_TICKS + 1;
    if (strcmp(str_of(j, "event"), "bot_log") == 0) {
        c->lines[tick]++;
        c->bytes[tick] += (long)(strlen(str_of(j, "bot_event")) + strlen(str_of(j, "message")));
        c->total_lines++;
    } else if (strcmp(str_of(j, "event"), "bot_log_throttled") == 0) {
        c->throttled[tick]++;
    }
}

/*
 * Lines of line_bytes bytes ("flood" adds 5) until the quota stops them:
 * `kept` a tick, by the byte quota (1500) or the line quota (10).
 */
static void check_flood(fixture *f, int force_inprocess, int line_bytes, int kept)
{
    char bot[1024], params[128];
    snprintf(params, sizeof params, "mode: flood, lines: 1000, line_bytes: %d", line_bytes);
    abuser(bot, sizeof bot, "flood", "FESX", params);
    make_config(f, FLOOD_SETTINGS, bot);
    open_engine(f, force_inprocess);
    et_engine_ticks(&f->e, FLOOD_TICKS);
    assert_quarantined(f, "flood", "log quota: throttled on 4 ticks within 10");
    close_engine(f);

    flood_ctx c;
    memset(&c, 0, sizeof c);
    each_line(f->log, flood_fn, &c);
    assert_int_equal(c.bad_lines, 0);
    /* The bot asked for 1000 lines in every call; each tick kept its quota and no more. */
    int throttled_ticks = 0;
    for (int t = 0; t <= FLOOD_TICKS; t++) {
        assert_true(c.lines[t] <= kept);
        assert_true(c.bytes[t] <= 1500);
        assert_true(c.throttled[t] <= 1);
        throttled_ticks += c.throttled[t];
        if (c.throttled[t])
            assert_int_equal(c.lines[t], kept); /* lines up to the quota were kept */
    }
    assert_int_equal(c.lines[FLOOD_TICKS + 1], 0); /* every line is stamped with its tick */
    /* Four throttled ticks quarantine it; after that only nothing of its own is written. */
    assert_int_equal(throttled_ticks, 4);
    assert_int_equal(c.total_lines, 4L * kept);
    assert_int_equal(et_count_events(f->log, "bot_quarantined", "flood"), 1);

    /* Quarantined after its fourth throttled tick; the other bots traded on after it. */
    int q = first_line(f->log, "bot_quarantined", "flood");
    assert_true(q > 0);
    assert_true(orders_after(f->log, "honest", NULL, q) >= 1);
    assert_int_equal(et_count_events(f->log, "tick_summary", NULL), FLOOD_TICKS);
}

static void test_log_flood_is_bounded_and_quarantined(void **state)
{
    check_flood(*state, 0, 300, 4); /* 305-byte lines: the byte quota binds */
}

static void test_log_flood_in_process_too(void **state)
{
    check_flood(*state, 1, 50, 10); /* 55-byte lines: the line quota binds */
}

/* ---- the state quota ---- */

/* A bot's keys and bytes as the file says, read with SQLite itself. */
static void db_usage(const char *db, const char *bot_id, long *keys, long *bytes, char *refused,
                     size_t refusedsz)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(h,
                           "SELECT COUNT(*), SUM(length(CAST(key AS BLOB)) + "
                           "length(CAST(value AS BLOB))) FROM bot_kv WHERE bot_id = ?1",
                           -1, &s, NULL),
        SQLITE_OK);
    sqlite3_bind_text(s, 1, bot_id, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    *keys = (long)sqlite3_column_int64(s, 0);
    *bytes = (long)sqlite3_column_int64(s, 1);
    sqlite3_finalize(s);
    assert_int_equal(
        sqlite3_prepare_v2(h, "SELECT value FROM bot_kv WHERE bot_id = ?1 AND key = 'refused'", -1,
                           &s, NULL),
        SQLITE_OK);
    sqlite3_bind_text(s, 1, bot_id, -1, SQLITE_STATIC);
    refused[0] = '\0';
    if (sqlite3_step(s) == SQLITE_ROW)
        snprintf(refused, refusedsz, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(h);
}

static void test_state_quota_refuses_and_the_bot_is_told(void **state)
{
    fixture *f = *state;
    char bytes_bot[1024], keys_bot[1024], bots[2100];
    abuser(bytes_bot, sizeof bytes_bot, "kv_big", "FESX",
           "mode: kv, keys_per_call: 5, value_bytes: 1000");
    abuser(keys_bot, sizeof keys_bot, "kv_many", "NVDA",
           "mode: kv, keys_per_call: 5, value_bytes: 10");
    snprintf(bots, sizeof bots, "%s, %s", bytes_bot, keys_bot);
    make_config(f,
                "state_max_keys: 1000=>state_max_keys: 20\n"
                "state_max_bytes: 1048576=>state_max_bytes: 8000",
                bots);
    open_engine(f, 0);
    et_engine_ticks(&f->e, 12); /* 60 writes each: well past both quotas */
    close_engine(f);

    long keys, bytes;
    char refused[16];
    db_usage(f->db, "kv_big", &keys, &bytes, refused, sizeof refused);
    print_message("kv_big: %ld keys, %ld bytes, refused %s\n", keys, bytes, refused);
    assert_true(bytes <= 8000);
    assert_true(bytes > 8000 - 1010);   /* filled up to the quota, not refused early */
    assert_string_equal(refused, "-4"); /* HYDRA_STATE_QUOTA, as the bot saw it */
    assert_int_equal(HYDRA_STATE_QUOTA, -4);

    db_usage(f->db, "kv_many", &keys, &bytes, refused, sizeof refused);
    print_message("kv_many: %ld keys, %ld bytes, refused %s\n", keys, bytes, refused);
    assert_int_equal(keys, 20);
    assert_string_equal(refused, "-4");
    assert_true(et_count_events(f->log, "bot_state_refused", "kv_big") >= 1);
    /* A full state is the bot's problem, not a reason to stop it trading. */
    assert_int_equal(et_count_events(f->log, "bot_quarantined", "kv_big"), 0);
}

/* ---- forged host events ---- */

typedef struct forge_ctx {
    int bad_lines, host_events_from_bot, forged_seen, system_halts;
} forge_ctx;

static void forge_fn(json_t *j, const char *text, void *ctx)
{
    forge_ctx *c = ctx;
    (void)text;
    if (j == NULL) {
        c->bad_lines++;
        return;
    }
    const char *ev = str_of(j, "event");
    if (strcmp(ev, "system_halt") == 0 || strcmp(ev, "halt_cleared") == 0)
        c->system_halts++;
    if (strcmp(str_of(j, "bot_id"), "forger") != 0)
        return;
    if (strcmp(ev, "bot_log") == 0) {
        if (strcmp(str_of(j, "bot_event"), "system_halt") == 0)
            c->forged_seen++;
        /* No member beyond the header and the two the host gives a bot line. */
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v)
        {
            static const char *const allowed[] = {"ts",     "level", "event",     "tick",
                                                  "bot_id", "t",     "bot_event", "message"};
            int ok = 0;
            for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
                ok |= strcmp(key, allowed[i]) == 0;
            if (!ok)
                c->host_events_from_bot++;
        }
    } else if (strstr(ev, "halt") != NULL || strstr(ev, "\"") != NULL) {
        print_message("bot line under a host event name: %s\n", text);
        c->host_events_from_bot++;
    }
}

static void test_bot_cannot_forge_host_events(void **state)
{
    fixture *f = *state;
    char bot[1024];
    abuser(bot, sizeof bot, "forger", "FESX", "mode: fake_halt");
    make_config(f, NULL, bot);
    open_engine(f, 0);
    et_engine_ticks(&f->e, 5);
    hydra_halt h = {0};
    assert_int_equal(hydra_halt_get(f->e.state, &h), 0);
    assert_false(h.active);
    close_engine(f);

    forge_ctx c = {0};
    size_t len = 0;
    char *text = tu_read_file(f->log, &len);
    size_t newlines = 0;
    for (size_t i = 0; i < len; i++)
        newlines += text[i] == '\n';
    free(text);
    int lines = each_line(f->log, forge_fn, &c);
    assert_int_equal((size_t)lines, newlines); /* no line was split or added */
    assert_int_equal(c.bad_lines, 0);
    assert_int_equal(c.system_halts, 0);
    assert_int_equal(c.host_events_from_bot, 0);
    assert_true(c.forged_seen >= 5); /* the lines were written, under bot_log */
}

/* ---- deadlines ---- */

static void test_one_missed_deadline_costs_one_tick(void **state)
{
    fixture *f = *state;
    char bot[1024];
    abuser(bot, sizeof bot, "late_once", "FESX", "mode: sleep_once, at_tick: 3, sleep_ms: 20000");
    make_config(f, NULL, bot);
    open_engine(f, 0);
    et_engine_ticks(&f->e, 40);
    hydra_bot_day day = {0};
    int rc = hydra_bot_day_get(f->e.state, "late_once", f->e.day, &day);
    assert_true(rc == 0 || rc == HYDRA_ENOTFOUND);
    assert_false(day.quarantined);
    close_engine(f);

    assert_int_equal(et_count_events(f->log, "bot_deadline_missed", "late_once"), 1);
    assert_int_equal(et_count_events(f->log, "bot_quarantined", "late_once"), 0);
    assert_int_equal(et_count_events(f->log, "worker_restarted", "late_once"), 1);
    int miss = first_line(f->log, "bot_deadline_missed", "late_once");
    assert_true(miss > 0);
    assert_true(orders_after(f->log, "late_once", NULL, miss) >= 1); /* it trades on */
}

static void test_repeated_missed_deadlines_quarantine(void **state)
{
    fixture *f = *state;
    char bot[1024];
    abuser(bot, sizeof bot, "late_always", "FESX", "mode: sleep_from, at_tick: 3, sleep_ms: 20000");
    make_config(f, NULL, bot);
    open_engine(f, 0);
    et_engine_ticks(&f->e, 40);
    assert_quarantined(f, "late_always", "3 deadline misses within 20 ticks");
    close_engine(f);

    assert_int_equal(et_count_events(f->log, "bot_deadline_missed", "late_always"), 3);
    assert_int_equal(et_count_events(f->log, "bot_quarantined", "late_always"), 1);
    int q = first_line(f->log, "bot_quarantined", "late_always");
    assert_true(q > 0);
    assert_true(orders_after(f->log, "honest", NULL, q) >= 1);
    assert_int_equal(et_count_events(f->log, "tick_summary", NULL), 40);
}

/* ---- the state database under a running host ---- */

typedef enum { LOSE_DELETE, LOSE_TRUNCATE, LOSE_REPLACE } lose_how;

static void lose_state(const fixture *f, lose_how how)
{
    if (how == LOSE_DELETE) {
        assert_int_equal(unlink(f->db), 0);
    } else if (how == LOSE_TRUNCATE) {
        assert_int_equal(truncate(f->db, 0), 0);
    } else {
        /* A valid, empty SQLite database put in its place, as a restore gone wrong would. */
        char other[600];
        snprintf(other, sizeof other, "%s/other.db", f->dir);
        sqlite3 *h = NULL;
        assert_int_equal(sqlite3_open(other, &h), SQLITE_OK);
        assert_int_equal(
            sqlite3_exec(h, "CREATE TABLE t (x); INSERT INTO t VALUES (1);", NULL, NULL, NULL),
            SQLITE_OK);
        sqlite3_close(h);
        assert_int_equal(rename(other, f->db), 0);
    }
}

static void check_state_loss(fixture *f, lose_how how, const char *words)
{
    assert_int_equal(et_make_config(f->dir, BASE_SETTINGS, NULL), 0);
    open_engine(f, 0);
    et_broker *w = calloc(1, sizeof *w);
    et_wrap(w, &f->e);
    et_engine_ticks(&f->e, 5);
    assert_false(f->e.halted);
    lose_state(f, how);
    assert_int_equal(hydra_engine_tick(&f->e), HYDRA_ESTATE);
    assert_true(f->e.halted);
    size_t submits = w->n_submits;
    /* It stays stopped: no further tick trades. */
    assert_int_equal(hydra_engine_tick(&f->e), HYDRA_ESTATE);
    assert_int_equal(w->n_submits, submits);
    f->e.opt.max_ticks = 100;
    assert_int_not_equal(hydra_engine_run(&f->e), 0);
    assert_int_equal(w->n_submits, submits);
    close_engine(f);
    free(w);

    assert_int_equal(et_count_events(f->log, "system_halt", NULL), 1);
    assert_int_equal(et_count_events(f->log, "state_lost", NULL), 1);
    char *text = tu_read_file(f->log, NULL);
    assert_non_null(strstr(text, words));
    assert_non_null(strstr(text, "STATE_LOST"));
    free(text);
}

static void test_state_deleted_halts(void **state)
{
    check_state_loss(*state, LOSE_DELETE, "was deleted under the running host");
}

static void test_state_truncated_halts(void **state)
{
    check_state_loss(*state, LOSE_TRUNCATE, "was truncated under the running host");
}

static void test_state_replaced_halts(void **state)
{
    check_state_loss(*state, LOSE_REPLACE, "was replaced under the running host");
}

/* The real binary: deleting its database makes it halt and exit 1, not 0. */
static void test_host_exits_nonzero_when_state_is_deleted(void **state)
{
    fixture *f = *state;
    assert_int_equal(et_make_config(f->dir, BASE_SETTINGS, NULL), 0);
    char cfg[512], out[512];
    snprintf(cfg, sizeof cfg, "%s/config", f->dir);
    snprintf(out, sizeof out, "%s/host.out", f->dir);
    const char *argv[] = {HYDRA_HOST_BIN,  "--config", cfg,       "--plugins", f->plugins,
                          "--interval-ms", "20",       "--quiet", NULL};
    pid_t pid = tu_spawn(argv, f->dir, out);
    assert_true(pid > 0);
    for (int i = 0; i < 600 && et_count_events(f->log, "tick_summary", NULL) < 3; i++)
        usleep(100 * 1000);
    assert_true(et_count_events(f->log, "tick_summary", NULL) >= 3);
    assert_int_equal(unlink(f->db), 0);
    int rc = tu_wait(pid, 60);
    char *text = tu_read_file(out, NULL);
    print_message("exit %d: %s\n", rc, text != NULL ? text : "");
    assert_non_null(text);
    assert_non_null(strstr(text, "stopped with trading halted"));
    free(text);
    assert_int_equal(rc, 1);
    assert_int_equal(et_count_events(f->log, "state_lost", NULL), 1);
    assert_int_equal(et_count_events(f->log, "system_halt", NULL), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strike_window),
        cmocka_unit_test(test_log_and_state_arithmetic),
        cmocka_unit_test_setup_teardown(test_settings_are_validated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_flood_is_bounded_and_quarantined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_flood_in_process_too, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_quota_refuses_and_the_bot_is_told, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bot_cannot_forge_host_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_missed_deadline_costs_one_tick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeated_missed_deadlines_quarantine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_deleted_halts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_truncated_halts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_replaced_halts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_exits_nonzero_when_state_is_deleted, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
