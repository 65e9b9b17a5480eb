#define _GNU_SOURCE
/* cmocka needs these before its own header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include <hydra/types.h>

#include "error.h"
#include "state.h"
#include "testutil.h"

/* cmocka 1.1 has no floating-point assertion. */
#define assert_double_equal(got, want, eps)                                                        \
    do {                                                                                           \
        double got_ = (got), want_ = (want);                                                       \
        if (!(fabs(got_ - want_) <= (eps))) {                                                      \
            print_error("%.17g != %.17g (tolerance %g)\n", got_, want_, (double)(eps));            \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* The uid/gid a test drops to when it runs as root, so file permissions apply. */
#define NOBODY 65534

/* A temporary directory and the state database in it (testutil.c). */
static int setup(void **state)
{
    return tu_file_setup(state, "trading_state.db");
}

static hydra_state *open_ok(const char *path)
{
    char err[512];
    hydra_state *st = NULL;
    int rc = hydra_state_open(path, &st, err, sizeof err);
    if (rc != 0)
        fail_msg("open %s: %s", path, err);
    assert_non_null(st);
    return st;
}

/* Runs SQL on a raw connection, for setting up old files and checking results. */
static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

static int raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void raw_text(const char *path, const char *sql, char *buf, size_t bufsz)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    snprintf(buf, bufsz, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static hydra_journal_order make_order(const char *cid, const char *bot, const char *day, int seq,
                                      int64_t created)
{
    hydra_journal_order o;
    memset(&o, 0, sizeof o);
    snprintf(o.client_order_id, sizeof o.client_order_id, "%s", cid);
    snprintf(o.bot_id, sizeof o.bot_id, "%s", bot);
    snprintf(o.day, sizeof o.day, "%s", day);
    o.seq = seq;
    o.kind = 1;
    snprintf(o.symbol, sizeof o.symbol, "AAPL");
    o.asset_class = HYDRA_ASSET_EQUITY;
    o.side = HYDRA_SIDE_BUY;
    o.type = HYDRA_ORDER_LIMIT;
    o.tif = HYDRA_TIF_DAY;
    o.qty = 3;
    o.notional = 0;
    o.limit_price = 187.25;
    snprintf(o.reason, sizeof o.reason, "breakout above 20-bar high");
    o.state = HYDRA_ORD_PENDING_SUBMIT;
    o.created_ms = created;
    o.updated_ms = created;
    return o;
}

static void assert_order_equal(const hydra_journal_order *a, const hydra_journal_order *b)
{
    assert_string_equal(a->client_order_id, b->client_order_id);
    assert_string_equal(a->bot_id, b->bot_id);
    assert_string_equal(a->day, b->day);
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->kind, b->kind);
    assert_string_equal(a->symbol, b->symbol);
    assert_int_equal(a->asset_class, b->asset_class);
    assert_int_equal(a->side, b->side);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->tif, b->tif);
    assert_true(a->qty == b->qty);
    assert_true(a->notional == b->notional);
    assert_true(a->limit_price == b->limit_price);
    assert_string_equal(a->reason, b->reason);
    assert_int_equal(a->state, b->state);
    assert_string_equal(a->broker_id, b->broker_id);
    assert_true(a->filled_qty == b->filled_qty);
    assert_true(a->filled_avg_price == b->filled_avg_price);
    assert_int_equal(a->created_ms, b->created_ms);
    assert_int_equal(a->updated_ms, b->updated_ms);
    assert_string_equal(a->error, b->error);
}

/* ---- open, migrations, refusals ---- */

static void test_open_creates_current_schema(void **state)
{
    tu_file_fixture *f = *state;
    hydra_state *st = open_ok(f->path);
    assert_string_equal(hydra_state_path(st), f->path);
    hydra_state_close(st);

    assert_int_equal(raw_int(f->path, "PRAGMA user_version"), HYDRA_STATE_SCHEMA_VERSION);
    char mode[16];
    raw_text(f->path, "PRAGMA journal_mode", mode, sizeof mode);
    assert_string_equal(mode, "wal");
    assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
                                      "name IN ('kv', 'orders', 'fills', 'positions', 'halts', "
                                      "'bot_days', 'budgets', 'equity', 'bot_kv')"),
                     9);
    /* The open-orders index the tick's journal sync reads instead of every order. */
    assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND "
                                      "name = 'orders_open'"),
                     1);

    /* A second open of a current database migrates nothing and still works. */
    st = open_ok(f->path);
    assert_int_equal(hydra_kv_set_int(st, "n", 7), 0);
    hydra_state_close(st);
}

static void test_open_memory(void **state)
{
    (void)state;
    hydra_state *st = open_ok(":memory:");
    int64_t v = 0;
    assert_int_equal(hydra_kv_set_int(st, "k", 5), 0);
    assert_int_equal(hydra_kv_get_int(st, "k", &v), 0);
    assert_int_equal(v, 5);
    hydra_state_close(st);
}

static void test_migrate_seed_database(void **state)
{
    tu_file_fixture *f = *state;
    raw_exec(f->path, "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL);"
                      "INSERT INTO kv (k, v) VALUES ('equity_peak', '100250.5');"
                      "INSERT INTO kv (k, v) VALUES ('last_mode', '\"paper\"');");
    assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 0);

    hydra_state *st = open_ok(f->path);
    double peak = 0;
    assert_int_equal(hydra_kv_get_double(st, "equity_peak", &peak), 0);
    assert_true(peak == 100250.5);
    char mode[32];
    assert_int_equal(hydra_kv_get_str(st, "last_mode", mode, sizeof mode), 0);
    assert_string_equal(mode, "paper");
    /* The new tables exist and work on the migrated file. */
    hydra_journal_order o = make_order("c-1", "mom_AAPL", "2026-11-20", 1, 1000);
    assert_int_equal(hydra_journal_insert(st, &o), 0);
    hydra_state_close(st);

    assert_int_equal(raw_int(f->path, "PRAGMA user_version"), HYDRA_STATE_SCHEMA_VERSION);
    assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM kv"), 2);
    assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM orders"), 1);
}

/*
 * A version-1 file (halts without the request and acknowledgement columns,
 * no operator_actions) moves to version 2 keeping its halt, which no host
 * has acknowledged yet.
 */
static void test_migrate_version_1(void **state)
{
    tu_file_fixture *f = *state;
    hydra_state *st = open_ok(f->path);
    hydra_state_close(st);
    /* Take the file back to what version 1 wrote. */
    raw_exec(f->path, "DROP TABLE operator_actions;"
                      "ALTER TABLE halts DROP COLUMN requested_by;"
                      "ALTER TABLE halts DROP COLUMN ack_ms;"
                      "ALTER TABLE halts DROP COLUMN ack_pid;"
                      "ALTER TABLE halts DROP COLUMN ack_tick;"
                      "INSERT INTO halts (reason, source, since_ms, until_ms) "
                      "VALUES ('desk says stop', 'operator', 1000, 0);"
                      "PRAGMA user_version = 1;");
    st = open_ok(f->path);
    hydra_halt h;
    assert_int_equal(hydra_halt_get(st, &h), 0);
    assert_true(h.active);
    assert_string_equal(h.reason, "desk says stop");
    assert_string_equal(h.requested_by, "");
    assert_int_equal(h.ack_pid, 0);
    assert_int_equal(hydra_halt_ack(st, h.id, 2000, 4242, 17), 0);
    assert_int_equal(hydra_operator_action_add(st, 3000, "resume", "alice", 1000, "fixed", ""), 0);
    assert_int_equal(hydra_halt_get(st, &h), 0);
    assert_int_equal(h.ack_pid, 4242);
    assert_int_equal(h.ack_tick, 17);
    assert_int_equal(h.ack_ms, 2000);
    hydra_state_close(st);
    assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 2);
    assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM operator_actions WHERE user = 'alice' "
                                      "AND uid = 1000 AND action = 'resume'"),
                     1);
}

static void test_refuse_newer_schema(void **state)
{
    tu_file_fixture *f = *state;
    raw_exec(f->path, "CREATE TABLE future (x); PRAGMA user_version = 99;");
    char err[512] = "";
    hydra_state *st = (hydra_state *)&st; /* any non-NULL value: open must reset it */
    int rc = hydra_state_open(f->path, &st, err, sizeof err);
    assert_int_equal(rc, HYDRA_ESTATE);
    assert_null(st);
    char want[1024];
    snprintf(want, sizeof want,
             "%s: schema version 99 is newer than this build supports (%d); "
             "use the Hydra release that wrote it",
             f->path, HYDRA_STATE_SCHEMA_VERSION);
    assert_string_equal(err, want);
    /* The refused file is left exactly as it was. */
    assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 99);
    assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'kv'"), 0);
}

static void assert_refused(const char *path, int want_rc, const char *reason)
{
    char err[512] = "";
    hydra_state *st = NULL;
    int rc = hydra_state_open(path, &st, err, sizeof err);
    assert_int_equal(rc, want_rc);
    assert_null(st);
    size_t n = strlen(path);
    assert_memory_equal(err, path, n);
    assert_memory_equal(err + n, ": ", 2);
    if (strstr(err, reason) == NULL)
        fail_msg("message \"%s\" does not mention \"%s\"", err, reason);
}

static void test_refuse_text_file(void **state)
{
    tu_file_fixture *f = *state;
    char path[600];
    snprintf(path, sizeof path, "%s/notes.txt", f->dir);
    assert_int_equal(tu_write_file(path, "this is a text file, not a database; it is long enough "
                                         "to fill the header SQLite reads first.\n"),
                     0);
    assert_refused(path, HYDRA_ESTATE, "not a database");
}

static void test_refuse_corrupt_database(void **state)
{
    tu_file_fixture *f = *state;
    hydra_state *st = open_ok(f->path);
    for (int i = 0; i < 200; i++) {
        char key[32];
        snprintf(key, sizeof key, "key-%d", i);
        assert_int_equal(hydra_kv_set_str(st, key, "some value that takes a little room"), 0);
    }
    hydra_state_close(st);
    /* Garbage over the second page (the kv table's b-tree) leaves a valid header. */
    FILE *fp = fopen(f->path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 4096, SEEK_SET), 0);
    for (int i = 0; i < 4096 * 3; i++)
        fputc(0xA5, fp);
    fclose(fp);
    char err[512] = "";
    hydra_state *bad = NULL;
    int rc = hydra_state_open(f->path, &bad, err, sizeof err);
    assert_int_equal(rc, HYDRA_ESTATE);
    assert_null(bad);
    assert_memory_equal(err, f->path, strlen(f->path));
}

static void test_refuse_directory(void **state)
{
    tu_file_fixture *f = *state;
    assert_refused(f->dir, HYDRA_EIO, "directory");
}

/*
 * Runs fn in a child process; when the test runs as root the child first
 * becomes an unprivileged user, because root ignores file permissions.
 * Returns the child's exit status.
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

static int open_read_only(const char *path)
{
    char err[512] = "";
    hydra_state *st = NULL;
    int rc = hydra_state_open(path, &st, err, sizeof err);
    if (rc != HYDRA_EIO || st != NULL)
        return 1;
    size_t n = strlen(path);
    if (strncmp(err, path, n) != 0 || strncmp(err + n, ": ", 2) != 0)
        return 2;
    if (strstr(err, "not writable") == NULL)
        return 3;
    return 0;
}

static void test_refuse_read_only_file(void **state)
{
    tu_file_fixture *f = *state;
    hydra_state *st = open_ok(f->path);
    hydra_state_close(st);
    assert_int_equal(chmod(f->dir, 0755), 0);
    assert_int_equal(chmod(f->path, 0444), 0);
    assert_int_equal(run_unprivileged(open_read_only, f->path), 0);
}

/* ---- key-value ---- */

static void test_kv_round_trip(void **state)
{
    (void)state;
    hydra_state *st = open_ok(":memory:");
    char buf[64];
    double d = 0;
    int64_t i = 0;

    assert_int_equal(hydra_kv_get(st, "missing", buf, sizeof buf), HYDRA_ENOTFOUND);
    assert_int_equal(hydra_kv_get_double(st, "missing", &d), HYDRA_ENOTFOUND);

    const double doubles[] = {0.1, -3.25, 1e300, 123456789.123456789, 0.0};
    for (size_t k = 0; k < sizeof doubles / sizeof doubles[0]; k++) {
        assert_int_equal(hydra_kv_set_double(st, "d", doubles[k]), 0);
        assert_int_equal(hydra_kv_get_double(st, "d", &d), 0);
        assert_true(d == doubles[k]); /* bit-exact: 17 significant digits are stored */
    }
    assert_int_equal(hydra_kv_set_double(st, "d", NAN), HYDRA_EINVAL);

    const int64_t ints[] = {0, -1, 9007199254740993LL, INT64_MIN, INT64_MAX};
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
        assert_int_equal(hydra_kv_set_int(st, "i", ints[k]), 0);
        assert_int_equal(hydra_kv_get_int(st, "i", &i), 0);
        assert_true(i == ints[k]);
    }
    /* An integer stored by an older writer as a whole float still reads as an int. */
    assert_int_equal(hydra_kv_set(st, "i", "42.0"), 0);
    assert_int_equal(hydra_kv_get_int(st, "i", &i), 0);
    assert_int_equal(i, 42);
    assert_int_equal(hydra_kv_set(st, "i", "42.5"), 0);
    assert_int_equal(hydra_kv_get_int(st, "i", &i), HYDRA_EINVAL);

    assert_int_equal(hydra_kv_set_str(st, "s", "say \"hi\" \\ caf\xc3\xa9"), 0);
    assert_int_equal(hydra_kv_get_str(st, "s", buf, sizeof buf), 0);
    assert_string_equal(buf, "say \"hi\" \\ caf\xc3\xa9");
    assert_int_equal(hydra_kv_get(st, "s", buf, sizeof buf), 0);
    assert_string_equal(buf, "\"say \\\"hi\\\" \\\\ caf\xc3\xa9\"");
    assert_int_equal(hydra_kv_get_str(st, "s", buf, 5), HYDRA_EFULL);
    assert_int_equal(hydra_kv_get_double(st, "s", &d), HYDRA_EINVAL);
    assert_int_equal(hydra_kv_get_str(st, "i", buf, sizeof buf), HYDRA_EINVAL);

    /* Raw values must be JSON. */
    assert_int_equal(hydra_kv_set(st, "j", "{\"a\": [1, 2]}"), 0);
    assert_int_equal(hydra_kv_get(st, "j", buf, sizeof buf), 0);
    assert_string_equal(buf, "{\"a\": [1, 2]}");
    assert_int_equal(hydra_kv_get(st, "j", buf, 4), HYDRA_EFULL);
    assert_int_equal(hydra_kv_set(st, "j", "not json"), HYDRA_EINVAL);
    assert_int_equal(hydra_kv_get(st, "j", buf, sizeof buf), 0);
    assert_string_equal(buf, "{\"a\": [1, 2]}");
    hydra_state_close(st);
}

/* ---- journal ---- */

static void test_journal(void **state)
{
    tu_file_fixture *f = *state;
    hydra_state *st = open_ok(f->path);

    hydra_journal_order a = make_order("mom_AAPL-20261120-1", "mom_AAPL", "2026-11-20", 1, 1000);
    hydra_journal_order b = make_order("mom_AAPL-20261120-2", "mom_AAPL", "2026-11-20", 2, 3000);
    hydra_journal_order c =
        make_order("crypto_BTC-20261120-1", "crypto_BTC", "2026-11-20", 1, 2000);
    snprintf(c.symbol, sizeof c.symbol, "BTC/USD");
    c.asset_class = HYDRA_ASSET_CRYPTO;
    c.notional = 250.5;
    c.qty = 0;
    assert_int_equal(hydra_journal_insert(st, &a), 0);
    assert_int_equal(hydra_journal_insert(st, &b), 0);
    assert_int_equal(hydra_journal_insert(st, &c), 0);

    hydra_journal_order dup = make_order("mom_AAPL-20261120-1", "other", "2026-11-21", 9, 5000);
    assert_int_equal(hydra_journal_insert(st, &dup), HYDRA_EBUSY);

    hydra_journal_order got;
    assert_int_equal(hydra_journal_get(st, c.client_order_id, &got), 0);
    assert_order_equal(&got, &c);
    assert_int_equal(hydra_journal_get(st, "nope", &got), HYDRA_ENOTFOUND);

    /* The broker accepts a and fills b; c stays pending. */
    a.state = HYDRA_ORD_OPEN;
    snprintf(a.broker_id, sizeof a.broker_id, "b7e3-0001");
    a.filled_qty = 1;
    a.filled_avg_price = 187.2;
    a.updated_ms = 4000;
    assert_int_equal(hydra_journal_update(st, &a), 0);
    b.state = HYDRA_ORD_FILLED;
    b.filled_qty = 3;
    b.filled_avg_price = 187.0;
    snprintf(b.error, sizeof b.error, "none");
    b.updated_ms = 4100;
    assert_int_equal(hydra_journal_update(st, &b), 0);
    assert_int_equal(hydra_journal_get(st, a.client_order_id, &got), 0);
    assert_order_equal(&got, &a);
    hydra_journal_order ghost = make_order("ghost", "x", "2026-11-20", 1, 1);
    assert_int_equal(hydra_journal_update(st, &ghost), HYDRA_ENOTFOUND);

    hydra_journal_order open[4];
    size_t n = 99;
    assert_int_equal(hydra_journal_list_open(st, open, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(open[0].client_order_id, a.client_order_id); /* created 1000 */
    assert_string_equal(open[1].client_order_id, c.client_order_id); /* created 2000 */
    assert_int_equal(hydra_journal_list_open(st, open, 1, &n), HYDRA_EFULL);
    assert_int_equal(n, 1);

    int seq = 0;
    assert_int_equal(hydra_journal_next_seq(st, "mom_AAPL", "2026-11-20", &seq), 0);
    assert_int_equal(seq, 3);
    assert_int_equal(hydra_journal_next_seq(st, "crypto_BTC", "2026-11-20", &seq), 0);
    assert_int_equal(seq, 2);
    assert_int_equal(hydra_journal_next_seq(st, "mom_AAPL", "2026-11-21", &seq), 0);
    assert_int_equal(seq, 1);

    int count = -1;
    assert_int_equal(hydra_journal_count_since(st, 0, &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(hydra_journal_count_since(st, 2000, &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(hydra_journal_count_since(st, 3001, &count), 0);
    assert_int_equal(count, 0);

    assert_int_equal(hydra_order_state_final(HYDRA_ORD_FILLED), 1);
    assert_int_equal(hydra_order_state_final(HYDRA_ORD_OPEN), 0);
    assert_string_equal(hydra_order_state_name(HYDRA_ORD_PENDING_SUBMIT), "pending_submit");
    hydra_state_close(st);
}

static void test_journal_insert_durable_inside_batch(void **state)
{
    tu_file_fixture *f = *state;
    hydra_state *st = open_ok(f->path);
    assert_int_equal(hydra_state_begin(st), 0);
    assert_int_equal(hydra_state_begin(st), HYDRA_EINVAL); /* batches do not nest */
    assert_int_equal(hydra_kv_set_int(st, "before", 1), 0);
    hydra_journal_order o = make_order("c-batch", "mom_AAPL", "2026-11-20", 1, 1000);
    assert_int_equal(hydra_journal_insert(st, &o), 0);

    /* Another connection sees the row (and the writes before it) while the batch is open. */
    assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM orders WHERE client_order_id = "
                                      "'c-batch'"),
                     1);
    assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM kv WHERE k = 'before'"), 1);

    /*
     * The insert reopened a batch. Even a refused insert commits the batch
     * before it ("after"); writes after it roll back with the new batch.
     */
    assert_int_equal(hydra_kv_set_int(st, "after", 2), 0);
    hydra_journal_order dup = o;
    assert_int_equal(hydra_journal_insert(st, &dup), HYDRA_EBUSY);
    assert_int_equal(hydra_kv_set_int(st, "after2", 3), 0);
    assert_int_equal(hydra_state_rollback(st), 0);
    int64_t v = 0;
    assert_int_equal(hydra_kv_get_int(st, "before", &v), 0);
    assert_int_equal(hydra_kv_get_int(st, "after", &v), 0);
    assert_int_equal(hydra_kv_get_int(st, "after2", &v), HYDRA_ENOTFOUND);
    assert_int_equal(hydra_journal_get(st, "c-batch", &o), 0);
    assert_int_equal(hydra_state_commit(st), HYDRA_EINVAL); /* no batch open */

    /* A committed batch persists. */
    assert_int_equal(hydra_state_begin(st), 0);
    assert_int_equal(hydra_kv_set_int(st, "batched", 4), 0);
    assert_int_equal(hydra_state_commit(st), 0);
    hydra_state_close(st);
    st = open_ok(f->path);
    assert_int_equal(hydra_kv_get_int(st, "batched", &v), 0);
    assert_int_equal(v, 4);
    assert_int_equal(hydra_kv_get_int(st, "after2", &v), HYDRA_ENOTFOUND);
    hydra_state_close(st);
}

/* ---- fills and equity ---- */

static void test_fills_and_equity(void **state)
{
    tu_file_fixture *f = *state;
    hydra_state *st = open_ok(f->path);
    hydra_journal_order o = make_order("c-fill", "mom_AAPL", "2026-11-20", 1, 1000);
    assert_int_equal(hydra_journal_insert(st, &o), 0);
    assert_int_equal(
        hydra_fill_insert(st, "c-fill", "mom_AAPL", "AAPL", HYDRA_SIDE_BUY, 3, 187.0, 0.01, 2000),
        0);
    assert_int_equal(
        hydra_fill_insert(st, NULL, "reconcile", "MSFT", HYDRA_SIDE_BUY, 1, 410.0, 0, 2500), 0);
    /* A fill for an order that was never journaled breaks the foreign key. */
    assert_int_equal(
        hydra_fill_insert(st, "c-unknown", "mom_AAPL", "AAPL", HYDRA_SIDE_BUY, 1, 187.0, 0, 3000),
        HYDRA_EINVAL);
    assert_int_equal(hydra_equity_insert(st, 1000, 100000.0, 40000.0), 0);
    assert_int_equal(hydra_equity_insert(st, 2000, 100010.5, 39438.99), 0);
    assert_int_equal(hydra_equity_insert(st, 3000, NAN, 0), HYDRA_EINVAL);
    hydra_state_close(st);

    assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM fills"), 2);
    assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM fills WHERE client_order_id = 'c-fill' "
                                      "AND qty = 3 AND price = 187.0 AND t_ms = 2000"),
                     1);
    assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM equity"), 2);
}

/* ---- positions ---- */

static void test_position_math(void **state)
{
    (void)state;
    hydra_state *st = open_ok(":memory:");
    hydra_bot_position p;
    double r = 1234;

    assert_int_equal(hydra_position_apply_fill(st, "mom_AAPL", "AAPL", HYDRA_ASSET_EQUITY, 1,
                                               HYDRA_SIDE_BUY, 10, 100, 0, 1000, &r),
                     0);
    assert_true(r == 0);
    assert_int_equal(hydra_position_apply_fill(st, "mom_AAPL", "AAPL", HYDRA_ASSET_EQUITY, 1,
                                               HYDRA_SIDE_BUY, 10, 110, 0, 2000, &r),
                     0);
    assert_int_equal(hydra_position_get(st, "mom_AAPL", "AAPL", &p), 0);
    assert_double_equal(p.qty, 20, 1e-12);
    assert_double_equal(p.avg_price, 105, 1e-12);
    assert_int_equal(p.opened_ms, 1000);
    assert_double_equal(p.multiplier, 1, 0);
    assert_int_equal(p.asset_class, HYDRA_ASSET_EQUITY);

    assert_int_equal(hydra_position_apply_fill(st, "mom_AAPL", "AAPL", HYDRA_ASSET_EQUITY, 1,
                                               HYDRA_SIDE_SELL, 5, 120, 1, 3000, &r),
                     0);
    assert_double_equal(r, 74, 1e-9);
    assert_int_equal(hydra_position_get(st, "mom_AAPL", "AAPL", &p), 0);
    assert_double_equal(p.qty, 15, 1e-12);
    assert_double_equal(p.avg_price, 105, 1e-12);
    assert_int_equal(p.opened_ms, 1000);

    /* Selling more than held closes the position at the held quantity only. */
    assert_int_equal(hydra_position_apply_fill(st, "mom_AAPL", "AAPL", HYDRA_ASSET_EQUITY, 1,
                                               HYDRA_SIDE_SELL, 20, 90, 0.5, 4000, &r),
                     0);
    assert_double_equal(r, (90.0 - 105.0) * 15 - 0.5, 1e-9);
    assert_int_equal(hydra_position_get(st, "mom_AAPL", "AAPL", &p), HYDRA_ENOTFOUND);
    assert_int_equal(hydra_position_apply_fill(st, "mom_AAPL", "AAPL", HYDRA_ASSET_EQUITY, 1,
                                               HYDRA_SIDE_SELL, 1, 90, 0, 5000, &r),
                     HYDRA_ENOTFOUND);

    /* Options: two contracts, 100 shares each. */
    const char *occ = "SPY240126C00480000";
    assert_int_equal(hydra_position_apply_fill(st, "opt_SPY", occ, HYDRA_ASSET_OPTION, 100,
                                               HYDRA_SIDE_BUY, 2, 3.5, 1.3, 6000, &r),
                     0);
    assert_double_equal(r, -1.3, 1e-12);
    assert_int_equal(hydra_position_apply_fill(st, "opt_SPY", occ, HYDRA_ASSET_OPTION, 100,
                                               HYDRA_SIDE_SELL, 1, 4.0, 0.65, 7000, &r),
                     0);
    assert_double_equal(r, 0.5 * 1 * 100 - 0.65, 1e-9);
    assert_int_equal(hydra_position_get(st, "opt_SPY", occ, &p), 0);
    assert_double_equal(p.qty, 1, 0);
    assert_double_equal(p.multiplier, 100, 0);
    assert_int_equal(p.asset_class, HYDRA_ASSET_OPTION);

    /* The same symbol held by two bots is two positions. */
    assert_int_equal(hydra_position_apply_fill(st, "crypto_BTC", "BTC/USD", HYDRA_ASSET_CRYPTO, 1,
                                               HYDRA_SIDE_BUY, 0.015, 60000, 0, 8000, &r),
                     0);
    assert_int_equal(hydra_position_apply_fill(st, "crypto_ETH", "BTC/USD", HYDRA_ASSET_CRYPTO, 1,
                                               HYDRA_SIDE_BUY, 0.5, 61000, 0, 8000, &r),
                     0);
    hydra_bot_position list[8];
    size_t n = 0;
    assert_int_equal(hydra_position_list(st, NULL, list, 8, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(hydra_position_list(st, "crypto_BTC", list, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_double_equal(list[0].qty, 0.015, 1e-15);
    assert_int_equal(hydra_position_list(st, NULL, list, 2, &n), HYDRA_EFULL);

    /* Fractional sells that leave floating-point dust still close the position. */
    assert_int_equal(hydra_position_apply_fill(st, "crypto_BTC", "BTC/USD", HYDRA_ASSET_CRYPTO, 1,
                                               HYDRA_SIDE_SELL, 0.005, 60000, 0, 9000, &r),
                     0);
    assert_int_equal(hydra_position_apply_fill(st, "crypto_BTC", "BTC/USD", HYDRA_ASSET_CRYPTO, 1,
                                               HYDRA_SIDE_SELL, 0.01, 60000, 0, 9000, &r),
                     0);
    assert_int_equal(hydra_position_get(st, "crypto_BTC", "BTC/USD", &p), HYDRA_ENOTFOUND);

    assert_int_equal(hydra_position_apply_fill(st, "b", "X", HYDRA_ASSET_EQUITY, 1, HYDRA_SIDE_BUY,
                                               -1, 10, 0, 0, &r),
                     HYDRA_EINVAL);
    assert_int_equal(
        hydra_position_apply_fill(st, "b", "X", HYDRA_ASSET_EQUITY, 1, 7, 1, 10, 0, 0, &r),
        HYDRA_EINVAL);
    hydra_state_close(st);
}

/* ---- halts ---- */

static void test_halts_survive_reopen(void **state)
{
    tu_file_fixture *f = *state;
    hydra_state *st = open_ok(f->path);
    hydra_halt h;
    assert_int_equal(hydra_halt_get(st, &h), 0);
    assert_int_equal(h.active, 0);
    assert_int_equal(hydra_halt_set(st, "daily loss limit reached", "exitbot", 1000, 86400000), 0);
    hydra_state_close(st);

    st = open_ok(f->path);
    assert_int_equal(hydra_halt_get(st, &h), 0);
    assert_int_equal(h.active, 1);
    assert_string_equal(h.reason, "daily loss limit reached");
    assert_string_equal(h.source, "exitbot");
    assert_int_equal(h.since_ms, 1000);
    assert_int_equal(h.until_ms, 86400000);

    /* A second halt is reported while active; one clear ends both. */
    assert_int_equal(hydra_halt_set(st, "kill switch file present", "kill_switch", 2000, 0), 0);
    assert_int_equal(hydra_halt_get(st, &h), 0);
    assert_string_equal(h.source, "kill_switch");
    assert_int_equal(hydra_halt_clear(st, "operator", 5000), 0);
    hydra_state_close(st);

    st = open_ok(f->path);
    assert_int_equal(hydra_halt_get(st, &h), 0);
    assert_int_equal(h.active, 0);
    hydra_state_close(st);
    assert_int_equal(raw_int(f->path, "SELECT COUNT(*) FROM halts WHERE cleared_ms = 5000 AND "
                                      "cleared_by = 'operator'"),
                     2);
}

/* ---- daily counters, budgets, bot kv ---- */

static void test_bot_days(void **state)
{
    (void)state;
    hydra_state *st = open_ok(":memory:");
    hydra_bot_day d;
    assert_int_equal(hydra_bot_day_get(st, "mom_AAPL", "2026-11-20", &d), 0);
    assert_int_equal(d.trades, 0);
    assert_true(d.realized_pnl == 0);
    assert_int_equal(d.quarantined, 0);

    assert_int_equal(hydra_bot_day_add_trade(st, "mom_AAPL", "2026-11-20"), 0);
    assert_int_equal(hydra_bot_day_add_trade(st, "mom_AAPL", "2026-11-20"), 0);
    assert_int_equal(hydra_bot_day_add_pnl(st, "mom_AAPL", "2026-11-20", 10.5), 0);
    assert_int_equal(hydra_bot_day_add_pnl(st, "mom_AAPL", "2026-11-20", -3.25), 0);
    assert_int_equal(hydra_bot_day_add_pnl(st, "opt_SPY", "2026-11-20", -7), 0);
    assert_int_equal(hydra_bot_day_quarantine(st, "opt_SPY", "2026-11-20", "call deadline missed"),
                     0);

    assert_int_equal(hydra_bot_day_get(st, "mom_AAPL", "2026-11-20", &d), 0);
    assert_int_equal(d.trades, 2);
    assert_double_equal(d.realized_pnl, 7.25, 1e-12);
    assert_int_equal(d.quarantined, 0);
    assert_int_equal(hydra_bot_day_get(st, "opt_SPY", "2026-11-20", &d), 0);
    assert_int_equal(d.trades, 0);
    assert_double_equal(d.realized_pnl, -7, 1e-12);
    assert_int_equal(d.quarantined, 1);
    assert_string_equal(d.quarantine_reason, "call deadline missed");
    assert_int_equal(hydra_bot_day_get(st, "mom_AAPL", "2026-11-21", &d), 0);
    assert_int_equal(d.trades, 0);
    hydra_state_close(st);
}

static void test_budgets(void **state)
{
    (void)state;
    hydra_state *st = open_ok(":memory:");
    hydra_budget b, got;
    memset(&b, 0, sizeof b);
    snprintf(b.bot_id, sizeof b.bot_id, "mom_AAPL");
    snprintf(b.day, sizeof b.day, "2026-11-20");
    b.max_daily_loss = 250;
    b.max_open_risk = 1000;
    b.max_trades_per_day = 4;
    b.max_concurrent_positions = 2;
    b.allowed = 1;
    b.enabled = 1;
    b.updated_ms = 1000;
    assert_int_equal(hydra_budget_get(st, "mom_AAPL", &got), HYDRA_ENOTFOUND);
    assert_int_equal(hydra_budget_set(st, &b), 0);
    assert_int_equal(hydra_budget_get(st, "mom_AAPL", &got), 0);
    assert_memory_equal(&got, &b, sizeof got);

    b.allowed = 0;
    b.max_trades_per_day = 0;
    b.updated_ms = 2000;
    assert_int_equal(hydra_budget_set(st, &b), 0);
    assert_int_equal(hydra_budget_get(st, "mom_AAPL", &got), 0);
    assert_memory_equal(&got, &b, sizeof got);

    snprintf(b.bot_id, sizeof b.bot_id, "opt_SPY");
    assert_int_equal(hydra_budget_set(st, &b), 0);
    assert_int_equal(hydra_budget_clear_all(st), 0);
    assert_int_equal(hydra_budget_get(st, "mom_AAPL", &got), HYDRA_ENOTFOUND);
    assert_int_equal(hydra_budget_get(st, "opt_SPY", &got), HYDRA_ENOTFOUND);
    hydra_state_close(st);
}

static void test_bot_kv(void **state)
{
    (void)state;
    hydra_state *st = open_ok(":memory:");
    char buf[32];
    assert_int_equal(hydra_bot_kv_get(st, "mom_AAPL", "last_signal", buf, sizeof buf),
                     HYDRA_ENOTFOUND);
    assert_int_equal(hydra_bot_kv_set(st, "mom_AAPL", "last_signal", "long"), 0);
    assert_int_equal(hydra_bot_kv_set(st, "opt_SPY", "last_signal", "flat"), 0);
    assert_int_equal(hydra_bot_kv_get(st, "mom_AAPL", "last_signal", buf, sizeof buf), 0);
    assert_string_equal(buf, "long");
    assert_int_equal(hydra_bot_kv_set(st, "mom_AAPL", "last_signal", "short"), 0);
    assert_int_equal(hydra_bot_kv_get(st, "mom_AAPL", "last_signal", buf, sizeof buf), 0);
    assert_string_equal(buf, "short");
    assert_int_equal(hydra_bot_kv_get(st, "opt_SPY", "last_signal", buf, sizeof buf), 0);
    assert_string_equal(buf, "flat");
    assert_int_equal(hydra_bot_kv_get(st, "mom_AAPL", "last_signal", buf, 3), HYDRA_EFULL);
    hydra_state_close(st);
}

/* ---- crash safety ---- */

#define CRASH_ROWS 40

static void write_int(int fd, int v)
{
    if (write(fd, &v, sizeof v) != (ssize_t)sizeof v)
        _exit(3);
}

/*
 * The child journals rows one by one inside tick batches, reporting each
 * durable row on the pipe. After the last report it keeps writing inside
 * an open batch that it never commits, until it is killed.
 */
static void crash_child(const char *db, int fd)
{
    char err[512];
    hydra_state *st = NULL;
    if (hydra_state_open(db, &st, err, sizeof err) != 0)
        _exit(1);
    static char big[8192];
    memset(big, 'x', sizeof big - 1);
    for (int i = 1;; i++) {
        if (i <= CRASH_ROWS) {
            if (hydra_state_begin(st) != 0)
                _exit(2);
            hydra_kv_set_int(st, "tick", i);
            char cid[HYDRA_CID_LEN];
            snprintf(cid, sizeof cid, "crash-%d", i);
            hydra_journal_order o = make_order(cid, "mom_AAPL", "2026-11-20", i, i);
            if (hydra_journal_insert(st, &o) != 0)
                _exit(2);
            write_int(fd, i);
            if (i < CRASH_ROWS && hydra_state_commit(st) != 0)
                _exit(2);
        } else {
            char key[32];
            snprintf(key, sizeof key, "uncommitted-%d", i);
            hydra_kv_set_str(st, key, big);
            hydra_bot_day_add_trade(st, "mom_AAPL", "2026-11-20");
        }
    }
}

static void test_crash_safety(void **state)
{
    tu_file_fixture *f = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        crash_child(f->path, p[1]);
    }
    close(p[1]);
    int last = 0, v = 0;
    while (last < CRASH_ROWS && read(p[0], &v, sizeof v) == (ssize_t)sizeof v)
        last = v;
    close(p[0]);
    assert_int_equal(last, CRASH_ROWS);
    /* Let the child get well into its uncommitted batch, then kill it by its PID. */
    usleep(200 * 1000);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(tu_wait(pid, 10), 128 + SIGKILL);

    char check[64];
    raw_text(f->path, "PRAGMA integrity_check", check, sizeof check);
    assert_string_equal(check, "ok");

    hydra_state *st = open_ok(f->path);
    hydra_journal_order o;
    char cid[HYDRA_CID_LEN];
    snprintf(cid, sizeof cid, "crash-%d", CRASH_ROWS);
    assert_int_equal(hydra_journal_get(st, cid, &o), 0);
    assert_int_equal(o.seq, CRASH_ROWS);
    int count = 0;
    assert_int_equal(hydra_journal_count_since(st, 0, &count), 0);
    assert_int_equal(count, CRASH_ROWS);
    /* Nothing of the batch that was open at the kill survived. */
    char buf[16];
    snprintf(cid, sizeof cid, "uncommitted-%d", CRASH_ROWS + 1);
    assert_int_equal(hydra_kv_get(st, cid, buf, sizeof buf), HYDRA_ENOTFOUND);
    hydra_bot_day d;
    assert_int_equal(hydra_bot_day_get(st, "mom_AAPL", "2026-11-20", &d), 0);
    assert_int_equal(d.trades, 0);
    int64_t tick = 0;
    assert_int_equal(hydra_kv_get_int(st, "tick", &tick), 0);
    assert_int_equal(tick, CRASH_ROWS);
    hydra_state_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_current_schema, setup, tu_file_teardown),
        cmocka_unit_test(test_open_memory),
        cmocka_unit_test_setup_teardown(test_migrate_seed_database, setup, tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_migrate_version_1, setup, tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_refuse_newer_schema, setup, tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_refuse_text_file, setup, tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_refuse_corrupt_database, setup, tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_refuse_directory, setup, tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_refuse_read_only_file, setup, tu_file_teardown),
        cmocka_unit_test(test_kv_round_trip),
        cmocka_unit_test_setup_teardown(test_journal, setup, tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_journal_insert_durable_inside_batch, setup,
                                        tu_file_teardown),
        cmocka_unit_test_setup_teardown(test_fills_and_equity, setup, tu_file_teardown),
        cmocka_unit_test(test_position_math),
        cmocka_unit_test_setup_teardown(test_halts_survive_reopen, setup, tu_file_teardown),
        cmocka_unit_test(test_bot_days),
        cmocka_unit_test(test_budgets),
        cmocka_unit_test(test_bot_kv),
        cmocka_unit_test_setup_teardown(test_crash_safety, setup, tu_file_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
