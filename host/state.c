#define _GNU_SOURCE
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include <hydra/types.h>

#include "error.h"

/*
 * Forward migrations. migrations[v] takes a database from user_version v to
 * v + 1; open applies every step the file is missing in one transaction, so
 * a database is either fully migrated or untouched.
 *
 * Version 0 is an empty file or the seed's store, which had only
 * `kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)`; that table is kept as it is.
 * Steps are append-only: a released step is never edited.
 */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE orders ("
    "  id INTEGER PRIMARY KEY,"
    "  client_order_id TEXT NOT NULL UNIQUE,"
    "  bot_id TEXT NOT NULL,"
    "  day TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  symbol TEXT NOT NULL,"
    "  asset_class INTEGER NOT NULL,"
    "  side INTEGER NOT NULL,"
    "  type INTEGER NOT NULL,"
    "  tif INTEGER NOT NULL,"
    "  qty REAL NOT NULL,"
    "  notional REAL NOT NULL,"
    "  limit_price REAL NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  broker_id TEXT NOT NULL,"
    "  filled_qty REAL NOT NULL,"
    "  filled_avg_price REAL NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  error TEXT NOT NULL);"
    "CREATE INDEX orders_bot_day ON orders (bot_id, day);"
    "CREATE INDEX orders_created ON orders (created_ms);"
    "CREATE INDEX orders_state ON orders (state);"
    "CREATE TABLE fills ("
    "  id INTEGER PRIMARY KEY,"
    "  client_order_id TEXT REFERENCES orders (client_order_id),"
    "  bot_id TEXT NOT NULL,"
    "  symbol TEXT NOT NULL,"
    "  side INTEGER NOT NULL,"
    "  qty REAL NOT NULL,"
    "  price REAL NOT NULL,"
    "  fee REAL NOT NULL,"
    "  t_ms INTEGER NOT NULL);"
    "CREATE INDEX fills_cid ON fills (client_order_id);"
    "CREATE TABLE positions ("
    "  bot_id TEXT NOT NULL,"
    "  symbol TEXT NOT NULL,"
    "  asset_class INTEGER NOT NULL,"
    "  qty REAL NOT NULL,"
    "  avg_price REAL NOT NULL,"
    "  opened_ms INTEGER NOT NULL,"
    "  multiplier REAL NOT NULL,"
    "  PRIMARY KEY (bot_id, symbol));"
    "CREATE TABLE halts ("
    "  id INTEGER PRIMARY KEY,"
    "  reason TEXT NOT NULL,"
    "  source TEXT NOT NULL,"
    "  since_ms INTEGER NOT NULL,"
    "  until_ms INTEGER NOT NULL,"
    "  cleared_ms INTEGER,"
    "  cleared_by TEXT);"
    "CREATE TABLE bot_days ("
    "  bot_id TEXT NOT NULL,"
    "  day TEXT NOT NULL,"
    "  trades INTEGER NOT NULL DEFAULT 0,"
    "  realized_pnl REAL NOT NULL DEFAULT 0,"
    "  quarantined INTEGER NOT NULL DEFAULT 0,"
    "  quarantine_reason TEXT NOT NULL DEFAULT '',"
    "  PRIMARY KEY (bot_id, day));"
    "CREATE TABLE budgets ("
    "  bot_id TEXT PRIMARY KEY,"
    "  day TEXT NOT NULL,"
    "  max_daily_loss REAL NOT NULL,"
    "  max_open_risk REAL NOT NULL,"
    "  max_trades_per_day INTEGER NOT NULL,"
    "  max_concurrent_positions INTEGER NOT NULL,"
    "  allowed INTEGER NOT NULL,"
    "  enabled INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL);"
    "CREATE TABLE equity ("
    "  t_ms INTEGER NOT NULL,"
    "  equity REAL NOT NULL,"
    "  cash REAL NOT NULL);"
    "CREATE INDEX equity_t ON equity (t_ms);"
    "CREATE TABLE bot_kv ("
    "  bot_id TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (bot_id, key));",
    /*
     * 1 -> 2: who asked for a halt and whether a running host has acted on
     * it (an operator halt is written by another process and acknowledged
     * by the host at its next tick), and the operators' audit trail.
     */
    "ALTER TABLE halts ADD COLUMN requested_by TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE halts ADD COLUMN ack_ms INTEGER;"
    "ALTER TABLE halts ADD COLUMN ack_pid INTEGER;"
    "ALTER TABLE halts ADD COLUMN ack_tick INTEGER;"
    "CREATE TABLE operator_actions ("
    "  id INTEGER PRIMARY KEY,"
    "  t_ms INTEGER NOT NULL,"
    "  action TEXT NOT NULL,"
    "  user TEXT NOT NULL,"
    "  uid INTEGER NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  detail TEXT NOT NULL);",
};

_Static_assert(sizeof migrations / sizeof migrations[0] == HYDRA_STATE_SCHEMA_VERSION,
               "one migration step per schema version");

#define ORDER_COLS                                                                                 \
    "client_order_id, bot_id, day, seq, kind, symbol, asset_class, side, type, tif, qty, "         \
    "notional, limit_price, reason, state, broker_id, filled_qty, filled_avg_price, "              \
    "created_ms, updated_ms, error"

#define POSITION_COLS "bot_id, symbol, asset_class, qty, avg_price, opened_ms, multiplier"

enum stmt_id {
    S_KV_GET,
    S_KV_SET,
    S_J_INSERT,
    S_J_UPDATE,
    S_J_GET,
    S_J_OPEN,
    S_J_NEXT_SEQ,
    S_J_COUNT_SINCE,
    S_FILL_INSERT,
    S_POS_GET,
    S_POS_LIST_ALL,
    S_POS_LIST_BOT,
    S_POS_PUT,
    S_POS_DELETE,
    S_HALT_GET,
    S_HALT_SET,
    S_HALT_CLEAR,
    S_HALT_ACK,
    S_OP_INSERT,
    S_DAY_UNQUARANTINE,
    S_DAY_GET,
    S_DAY_TRADE,
    S_DAY_PNL,
    S_DAY_QUARANTINE,
    S_BUDGET_SET,
    S_BUDGET_GET,
    S_BUDGET_CLEAR,
    S_EQUITY_INSERT,
    S_BOT_KV_GET,
    S_BOT_KV_SET,
    S_BOT_KV_USAGE,
    S_BOT_KV_SIZE,
    S_PRUNE_FILLS,
    S_PRUNE_ORDERS,
    S_PRUNE_EQUITY,
    S_BEGIN,
    S_COMMIT,
    S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
    /* A tick begins and commits one batch: prepared like the rest, not parsed each time. */
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_KV_GET] = "SELECT v FROM kv WHERE k = ?1",
    [S_KV_SET] =
        "INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
    [S_J_INSERT] = "INSERT INTO orders (" ORDER_COLS ") VALUES "
                   "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
                   "?18, ?19, ?20, ?21)",
    [S_J_UPDATE] = "UPDATE orders SET state = ?2, broker_id = ?3, filled_qty = ?4, "
                   "filled_avg_price = ?5, error = ?6, updated_ms = ?7, qty = ?8, limit_price = ?9 "
                   "WHERE client_order_id = ?1",
    [S_J_GET] = "SELECT " ORDER_COLS " FROM orders WHERE client_order_id = ?1",
    [S_J_OPEN] = "SELECT " ORDER_COLS " FROM orders WHERE state NOT IN (2, 3, 4, 5) "
                 "ORDER BY created_ms, id",
    [S_J_NEXT_SEQ] = "SELECT COALESCE(MAX(seq), 0) + 1 FROM orders WHERE bot_id = ?1 AND day = ?2",
    [S_J_COUNT_SINCE] = "SELECT COUNT(*) FROM orders WHERE created_ms >= ?1",
    [S_FILL_INSERT] = "INSERT INTO fills (client_order_id, bot_id, symbol, side, qty, price, fee, "
                      "t_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [S_POS_GET] = "SELECT " POSITION_COLS " FROM positions WHERE bot_id = ?1 AND symbol = ?2",
    [S_POS_LIST_ALL] = "SELECT " POSITION_COLS " FROM positions ORDER BY bot_id, symbol",
    [S_POS_LIST_BOT] = "SELECT " POSITION_COLS " FROM positions WHERE bot_id = ?1 ORDER BY symbol",
    [S_POS_PUT] = "INSERT INTO positions (" POSITION_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                  "ON CONFLICT (bot_id, symbol) DO UPDATE SET asset_class = excluded.asset_class, "
                  "qty = excluded.qty, avg_price = excluded.avg_price, "
                  "multiplier = excluded.multiplier",
    [S_POS_DELETE] = "DELETE FROM positions WHERE bot_id = ?1 AND symbol = ?2",
    [S_HALT_GET] = "SELECT reason, source, since_ms, until_ms, id, requested_by, "
                   "COALESCE(ack_ms, 0), COALESCE(ack_pid, 0), COALESCE(ack_tick, 0) "
                   "FROM halts WHERE cleared_ms IS NULL ORDER BY id DESC LIMIT 1",
    [S_HALT_SET] = "INSERT INTO halts (reason, source, since_ms, until_ms, requested_by) "
                   "VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_HALT_ACK] = "UPDATE halts SET ack_ms = ?2, ack_pid = ?3, ack_tick = ?4 WHERE id = ?1",
    [S_OP_INSERT] = "INSERT INTO operator_actions (t_ms, action, user, uid, reason, detail) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_DAY_UNQUARANTINE] = "UPDATE bot_days SET quarantined = 0, quarantine_reason = '' "
                           "WHERE bot_id = ?1 AND day = ?2 AND quarantined = 1",
    [S_HALT_CLEAR] = "UPDATE halts SET cleared_ms = ?1, cleared_by = ?2 WHERE cleared_ms IS NULL",
    [S_DAY_GET] = "SELECT trades, realized_pnl, quarantined, quarantine_reason FROM bot_days "
                  "WHERE bot_id = ?1 AND day = ?2",
    [S_DAY_TRADE] = "INSERT INTO bot_days (bot_id, day, trades) VALUES (?1, ?2, 1) "
                    "ON CONFLICT (bot_id, day) DO UPDATE SET trades = trades + 1",
    [S_DAY_PNL] = "INSERT INTO bot_days (bot_id, day, realized_pnl) VALUES (?1, ?2, ?3) "
                  "ON CONFLICT (bot_id, day) DO UPDATE SET realized_pnl = realized_pnl + ?3",
    [S_DAY_QUARANTINE] = "INSERT INTO bot_days (bot_id, day, quarantined, quarantine_reason) "
                         "VALUES (?1, ?2, 1, ?3) ON CONFLICT (bot_id, day) DO UPDATE SET "
                         "quarantined = 1, quarantine_reason = ?3",
    [S_BUDGET_SET] = "INSERT INTO budgets (bot_id, day, max_daily_loss, max_open_risk, "
                     "max_trades_per_day, max_concurrent_positions, allowed, enabled, updated_ms) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (bot_id) DO UPDATE "
                     "SET day = excluded.day, max_daily_loss = excluded.max_daily_loss, "
                     "max_open_risk = excluded.max_open_risk, "
                     "max_trades_per_day = excluded.max_trades_per_day, "
                     "max_concurrent_positions = excluded.max_concurrent_positions, "
                     "allowed = excluded.allowed, enabled = excluded.enabled, "
                     "updated_ms = excluded.updated_ms",
    [S_BUDGET_GET] = "SELECT bot_id, day, max_daily_loss, max_open_risk, max_trades_per_day, "
                     "max_concurrent_positions, allowed, enabled, updated_ms FROM budgets "
                     "WHERE bot_id = ?1",
    [S_BUDGET_CLEAR] = "DELETE FROM budgets",
    [S_EQUITY_INSERT] = "INSERT INTO equity (t_ms, equity, cash) VALUES (?1, ?2, ?3)",
    /*
     * Retention (hydra_state_prune). Fills go first: a fill names its order.
     * A fill is old when it is, and its order is closed and of an earlier
     * day (or gone); an order when it was created and last changed before
     * the cutoff, is closed, is of an earlier day, and no fill names it.
     * Equity samples before the cutoff are rolled up to the last of each UTC
     * day. Each deletes at most ?3 (?2) rows, oldest first.
     */
    [S_PRUNE_FILLS] = "DELETE FROM fills WHERE id IN (SELECT f.id FROM fills f LEFT JOIN orders o "
                      "ON o.client_order_id = f.client_order_id WHERE f.t_ms < ?1 AND "
                      "(o.id IS NULL OR (o.state IN (2, 3, 4, 5) AND o.day < ?2)) "
                      "ORDER BY f.t_ms LIMIT ?3)",
    [S_PRUNE_ORDERS] = "DELETE FROM orders WHERE id IN (SELECT o.id FROM orders o WHERE "
                       "o.created_ms < ?1 AND o.updated_ms < ?1 AND o.state IN (2, 3, 4, 5) AND "
                       "o.day < ?2 AND NOT EXISTS (SELECT 1 FROM fills f WHERE "
                       "f.client_order_id = o.client_order_id) ORDER BY o.created_ms LIMIT ?3)",
    [S_PRUNE_EQUITY] = "DELETE FROM equity WHERE rowid IN (SELECT e.rowid FROM equity e WHERE "
                       "e.t_ms < ?1 AND e.t_ms >= ?3 AND EXISTS (SELECT 1 FROM equity l WHERE "
                       "l.t_ms > e.t_ms AND l.t_ms < (e.t_ms / 86400000 + 1) * 86400000) "
                       "ORDER BY e.t_ms LIMIT ?2)",
    [S_BOT_KV_GET] = "SELECT value FROM bot_kv WHERE bot_id = ?1 AND key = ?2",
    [S_BOT_KV_SET] = "INSERT INTO bot_kv (bot_id, key, value) VALUES (?1, ?2, ?3) "
                     "ON CONFLICT (bot_id, key) DO UPDATE SET value = excluded.value",
    /* Bytes, not characters: a quota on what the file holds. */
    [S_BOT_KV_USAGE] = "SELECT COUNT(*), COALESCE(SUM(length(CAST(key AS BLOB)) + "
                       "length(CAST(value AS BLOB))), 0) FROM bot_kv WHERE bot_id = ?1",
    [S_BOT_KV_SIZE] = "SELECT length(CAST(key AS BLOB)) + length(CAST(value AS BLOB)) FROM bot_kv "
                      "WHERE bot_id = ?1 AND key = ?2",
};

struct hydra_state {
    sqlite3 *db;
    int in_batch;
    int64_t equity_rolled_to; /* every equity sample before this is rolled up (prune) */
    sqlite3_stmt *stmt[S_COUNT];
    char path[4096];
    /*
     * The database file as opened, to notice it being deleted, replaced or
     * truncated under the running host (hydra_state_check_file). The
     * descriptor only reads metadata; it is closed after SQLite's own, since
     * closing any descriptor of a file drops the process's POSIX locks on it.
     */
    int watch_fd;
    unsigned long long dev, ino;
    long long max_size;       /* the largest size seen: the file never shrinks (no VACUUM) */
};

/* Quantities this close to zero after a sell count as a closed position. */
#define QTY_EPSILON 1e-9

/* Maps an SQLite result code to the Hydra code the caller acts on. */
static int map_sqlite(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_NOMEM:
        return HYDRA_ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return HYDRA_EBUSY;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_FULL:
        return HYDRA_EIO;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
        return HYDRA_EINVAL;
    default: /* SQLITE_NOTADB, SQLITE_CORRUPT, SQLITE_SCHEMA, ... */
        return HYDRA_ESTATE;
    }
}

static void copy_str(char *dst, size_t dstsz, const char *src)
{
    if (dstsz == 0)
        return;
    snprintf(dst, dstsz, "%s", src != NULL ? src : "");
}

static void col_str(sqlite3_stmt *s, int col, char *dst, size_t dstsz)
{
    copy_str(dst, dstsz, (const char *)sqlite3_column_text(s, col));
}

/* Resets a statement so it can be bound and stepped again on the next call. */
static void finish(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

/* Steps a statement that returns no rows and finishes it. */
static int step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    finish(s);
    return rc == SQLITE_DONE ? 0 : map_sqlite(rc);
}

/*
 * Steps a statement expected to return at most one row. Returns 1 with the
 * row available, 0 when there is none (the statement is finished), or a
 * negative code. The caller finishes the statement after reading the row.
 */
static int step_row(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        return 1;
    finish(s);
    return rc == SQLITE_DONE ? 0 : map_sqlite(rc);
}

static int bind_text(sqlite3_stmt *s, int idx, const char *v)
{
    return sqlite3_bind_text(s, idx, v != NULL ? v : "", -1, SQLITE_TRANSIENT);
}

/* Runs SQL without results (pragmas, transaction control, migrations). */
static int exec_sql(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static int pragma_int(sqlite3 *db, const char *sql, int *out)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int(s, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(s);
    return rc;
}

/* Reads the journal mode set by `sql` ("wal" when it took effect). */
static int pragma_text(sqlite3 *db, const char *sql, char *buf, size_t bufsz)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        col_str(s, 0, buf, bufsz);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(s);
    return rc;
}

static int migrate(hydra_state *st, int from, char *err, size_t errsz)
{
    int rc = exec_sql(st->db, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK)
        goto fail;
    for (int v = from; v < HYDRA_STATE_SCHEMA_VERSION; v++) {
        rc = exec_sql(st->db, migrations[v]);
        if (rc != SQLITE_OK)
            goto fail;
    }
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", HYDRA_STATE_SCHEMA_VERSION);
    rc = exec_sql(st->db, sql);
    if (rc != SQLITE_OK)
        goto fail;
    rc = exec_sql(st->db, "COMMIT");
    if (rc != SQLITE_OK)
        goto fail;
    return 0;

fail:
    snprintf(err, errsz, "%s: migrating schema from version %d to %d: %s", st->path, from,
             HYDRA_STATE_SCHEMA_VERSION, sqlite3_errmsg(st->db));
    if (!sqlite3_get_autocommit(st->db))
        exec_sql(st->db, "ROLLBACK");
    return map_sqlite(rc);
}

int hydra_state_open(const char *path, hydra_state **out, char *err, size_t errsz)
{
    char dummy[1];
    if (err == NULL || errsz == 0) {
        err = dummy;
        errsz = sizeof dummy;
    }
    err[0] = '\0';
    if (out == NULL || path == NULL || path[0] == '\0') {
        snprintf(err, errsz, "state database: no path given");
        return HYDRA_EINVAL;
    }
    *out = NULL;
    if (strlen(path) >= sizeof((hydra_state *)0)->path) {
        snprintf(err, errsz, "%.64s...: path too long", path);
        return HYDRA_EINVAL;
    }

    hydra_state *st = calloc(1, sizeof *st);
    if (st == NULL) {
        snprintf(err, errsz, "%s: out of memory", path);
        return HYDRA_ENOMEM;
    }
    copy_str(st->path, sizeof st->path, path);
    st->watch_fd = -1;

    int ret = HYDRA_ESTATE;
    int rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK)
        goto sqlite_fail;
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, 5000);

    /*
     * SQLite quietly falls back to read-only when the file is not writable;
     * a state store that cannot record an order must refuse to start.
     */
    if (sqlite3_db_readonly(st->db, "main") == 1) {
        snprintf(err, errsz, "%s: not writable (read-only file or no permission)", path);
        ret = HYDRA_EIO;
        goto fail;
    }

    /* The first read of the header is where a non-database file shows itself. */
    int version = 0;
    rc = pragma_int(st->db, "PRAGMA user_version", &version);
    if (rc != SQLITE_OK)
        goto sqlite_fail;
    if (version > HYDRA_STATE_SCHEMA_VERSION) {
        snprintf(err, errsz,
                 "%s: schema version %d is newer than this build supports (%d); "
                 "use the Hydra release that wrote it",
                 path, version, HYDRA_STATE_SCHEMA_VERSION);
        ret = HYDRA_ESTATE;
        goto fail;
    }

    char mode[16] = "";
    rc = pragma_text(st->db, "PRAGMA journal_mode = WAL", mode, sizeof mode);
    if (rc != SQLITE_OK)
        goto sqlite_fail;
    if (strcmp(mode, "wal") != 0 && strcmp(path, ":memory:") != 0) {
        snprintf(err, errsz, "%s: cannot switch to WAL journal mode (got \"%s\")", path, mode);
        ret = HYDRA_ESTATE;
        goto fail;
    }
    rc = exec_sql(st->db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON");
    if (rc != SQLITE_OK)
        goto sqlite_fail;

    if (version < HYDRA_STATE_SCHEMA_VERSION) {
        ret = migrate(st, version, err, errsz);
        if (ret != 0)
            goto fail;
    }

    /*
     * A database at the current version may still be damaged; a quick check
     * here turns that into a refusal to start instead of a failure mid-trade.
     */
    char check[64] = "";
    rc = pragma_text(st->db, "PRAGMA quick_check", check, sizeof check);
    if (rc != SQLITE_OK)
        goto sqlite_fail;
    if (strcmp(check, "ok") != 0) {
        snprintf(err, errsz, "%s: integrity check failed: %s", path, check);
        ret = HYDRA_ESTATE;
        goto fail;
    }

    /*
     * The open orders, in the order the journal lists them, without reading
     * every order ever placed: the tick asks for them every time, and the
     * table only grows. An index is not a schema change (older builds read
     * the file as before), so it is added to any file that lacks it. The
     * WHERE must stay the same text as S_J_OPEN's for SQLite to use it.
     */
    rc = exec_sql(st->db, "CREATE INDEX IF NOT EXISTS orders_open ON orders (created_ms, id) "
                          "WHERE state NOT IN (2, 3, 4, 5)");
    if (rc != SQLITE_OK)
        goto sqlite_fail;
    /* Retention finds old fills by time without reading every fill (hydra_state_prune). */
    rc = exec_sql(st->db, "CREATE INDEX IF NOT EXISTS fills_t ON fills (t_ms)");
    if (rc != SQLITE_OK)
        goto sqlite_fail;

    for (int i = 0; i < S_COUNT; i++) {
        rc = sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
                                NULL);
        if (rc != SQLITE_OK)
            goto sqlite_fail;
    }

    if (strcmp(path, ":memory:") != 0) {
        struct stat sb;
        st->watch_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (st->watch_fd < 0 || fstat(st->watch_fd, &sb) != 0) {
            snprintf(err, errsz, "%s: cannot open to watch: %s", path, strerror(errno));
            ret = HYDRA_EIO;
            goto fail;
        }
        st->dev = (unsigned long long)sb.st_dev;
        st->ino = (unsigned long long)sb.st_ino;
        st->max_size = (long long)sb.st_size;
    }

    *out = st;
    return 0;

sqlite_fail:
    ret = map_sqlite(rc);
    /* SQLite's text for an unopenable file is generic; the system's reason says why. */
    int sys = st->db != NULL ? sqlite3_system_errno(st->db) : 0;
    if (sys != 0 && ret == HYDRA_EIO)
        snprintf(err, errsz, "%s: %s (%s)", path, sqlite3_errmsg(st->db), strerror(sys));
    else
        snprintf(err, errsz, "%s: %s", path,
                 st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
fail:
    hydra_state_close(st);
    return ret;
}

/* A batch still open at close never reached its commit and is rolled back. */
void hydra_state_close(hydra_state *st)
{
    if (st == NULL)
        return;
    if (st->db != NULL) {
        if (!sqlite3_get_autocommit(st->db))
            exec_sql(st->db, "ROLLBACK");
        for (int i = 0; i < S_COUNT; i++)
            sqlite3_finalize(st->stmt[i]);
        sqlite3_close(st->db);
    }
    if (st->watch_fd >= 0)
        close(st->watch_fd);
    free(st);
}

const char *hydra_state_errmsg(hydra_state *st)
{
    return st != NULL && st->db != NULL ? sqlite3_errmsg(st->db) : "no state database";
}

const char *hydra_state_path(hydra_state *st)
{
    return st != NULL ? st->path : "";
}

/* ---- batches ---- */

/* Steps a statement that returns no rows and resets it: SQLITE_OK or the step's error. */
static int run_stmt(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int hydra_state_begin(hydra_state *st)
{
    if (st == NULL || st->in_batch)
        return HYDRA_EINVAL;
    int rc = run_stmt(st->stmt[S_BEGIN]);
    if (rc != SQLITE_OK)
        return map_sqlite(rc);
    st->in_batch = 1;
    return 0;
}

int hydra_state_commit(hydra_state *st)
{
    if (st == NULL || !st->in_batch)
        return HYDRA_EINVAL;
    int rc = run_stmt(st->stmt[S_COMMIT]);
    if (rc != SQLITE_OK) {
        /* A failed COMMIT may leave the transaction open; nothing of it is durable. */
        if (!sqlite3_get_autocommit(st->db))
            exec_sql(st->db, "ROLLBACK");
        st->in_batch = 0;
        return map_sqlite(rc);
    }
    st->in_batch = 0;
    return 0;
}

int hydra_state_rollback(hydra_state *st)
{
    if (st == NULL || !st->in_batch)
        return HYDRA_EINVAL;
    st->in_batch = 0;
    if (sqlite3_get_autocommit(st->db))
        return 0; /* SQLite already rolled back after an error */
    return map_sqlite(exec_sql(st->db, "ROLLBACK"));
}

/*
 * Steps a one-column text query and copies the value into buf: 0,
 * HYDRA_ENOTFOUND without a row, HYDRA_EFULL when it does not fit.
 */
static int read_text(sqlite3_stmt *s, char *buf, size_t bufsz)
{
    int rc = step_row(s);
    if (rc <= 0)
        return rc == 0 ? HYDRA_ENOTFOUND : rc;
    const char *v = (const char *)sqlite3_column_text(s, 0);
    size_t n = v != NULL ? strlen(v) : 0;
    int ret = 0;
    if (n >= bufsz)
        ret = HYDRA_EFULL;
    else
        memcpy(buf, v != NULL ? v : "", n + 1);
    finish(s);
    return ret;
}

/* ---- key-value ---- */

int hydra_kv_get(hydra_state *st, const char *key, char *buf, size_t bufsz)
{
    if (st == NULL || key == NULL || buf == NULL || bufsz == 0)
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_KV_GET];
    bind_text(s, 1, key);
    return read_text(s, buf, bufsz);
}

/* Stores JSON text already known to be valid. */
static int kv_put(hydra_state *st, const char *key, const char *json)
{
    sqlite3_stmt *s = st->stmt[S_KV_SET];
    bind_text(s, 1, key);
    bind_text(s, 2, json);
    return step_done(s);
}

int hydra_kv_set(hydra_state *st, const char *key, const char *json)
{
    if (st == NULL || key == NULL || json == NULL)
        return HYDRA_EINVAL;
    /* Values are JSON text; refusing anything else keeps every reader's parse safe. */
    json_t *probe = json_loads(json, JSON_DECODE_ANY, NULL);
    if (probe == NULL)
        return HYDRA_EINVAL;
    json_decref(probe);
    return kv_put(st, key, json);
}

/* Reads a key and decodes its JSON value; the caller releases *out. */
static int kv_load(hydra_state *st, const char *key, json_t **out)
{
    if (st == NULL || key == NULL || out == NULL)
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_KV_GET];
    bind_text(s, 1, key);
    int rc = step_row(s);
    if (rc <= 0)
        return rc == 0 ? HYDRA_ENOTFOUND : rc;
    const char *v = (const char *)sqlite3_column_text(s, 0);
    *out = v != NULL ? json_loads(v, JSON_DECODE_ANY, NULL) : NULL;
    finish(s);
    return *out != NULL ? 0 : HYDRA_EINVAL;
}

/* Encodes a value and stores it; the reference to v is consumed. */
static int kv_store(hydra_state *st, const char *key, json_t *v)
{
    if (v == NULL)
        return HYDRA_EINVAL;
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(v);
    if (text == NULL)
        return HYDRA_ENOMEM;
    /* jansson's own output needs no parse to prove it is JSON (the tick stores two a time). */
    int rc = st == NULL || key == NULL ? HYDRA_EINVAL : kv_put(st, key, text);
    free(text);
    return rc;
}

int hydra_kv_get_double(hydra_state *st, const char *key, double *out)
{
    json_t *v = NULL;
    int rc = kv_load(st, key, &v);
    if (rc != 0)
        return rc;
    rc = HYDRA_EINVAL;
    if (out != NULL && json_is_number(v)) {
        *out = json_number_value(v);
        rc = 0;
    }
    json_decref(v);
    return rc;
}

int hydra_kv_set_double(hydra_state *st, const char *key, double v)
{
    if (!isfinite(v))
        return HYDRA_EINVAL; /* JSON has no NaN or infinity */
    return kv_store(st, key, json_real(v));
}

int hydra_kv_get_int(hydra_state *st, const char *key, int64_t *out)
{
    json_t *v = NULL;
    int rc = kv_load(st, key, &v);
    if (rc != 0)
        return rc;
    rc = HYDRA_EINVAL;
    if (out != NULL && json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        rc = 0;
    } else if (out != NULL && json_is_real(v)) {
        /* Older writers stored every number as a float; accept whole ones. */
        double d = json_real_value(v);
        if (d == floor(d) && fabs(d) < 9007199254740992.0) {
            *out = (int64_t)d;
            rc = 0;
        }
    }
    json_decref(v);
    return rc;
}

int hydra_kv_set_int(hydra_state *st, const char *key, int64_t v)
{
    return kv_store(st, key, json_integer((json_int_t)v));
}

int hydra_kv_get_str(hydra_state *st, const char *key, char *buf, size_t bufsz)
{
    if (buf == NULL || bufsz == 0)
        return HYDRA_EINVAL;
    json_t *v = NULL;
    int rc = kv_load(st, key, &v);
    if (rc != 0)
        return rc;
    rc = HYDRA_EINVAL;
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        if (n >= bufsz) {
            rc = HYDRA_EFULL;
        } else {
            memcpy(buf, json_string_value(v), n + 1);
            rc = 0;
        }
    }
    json_decref(v);
    return rc;
}

int hydra_kv_set_str(hydra_state *st, const char *key, const char *v)
{
    if (v == NULL)
        return HYDRA_EINVAL;
    return kv_store(st, key, json_string(v));
}

/* ---- order journal ---- */

int hydra_order_state_final(int state)
{
    return state == HYDRA_ORD_FILLED || state == HYDRA_ORD_CANCELED ||
           state == HYDRA_ORD_REJECTED || state == HYDRA_ORD_EXPIRED;
}

const char *hydra_order_state_name(int state)
{
    switch (state) {
    case HYDRA_ORD_PENDING_SUBMIT:
        return "pending_submit";
    case HYDRA_ORD_OPEN:
        return "open";
    case HYDRA_ORD_FILLED:
        return "filled";
    case HYDRA_ORD_CANCELED:
        return "canceled";
    case HYDRA_ORD_REJECTED:
        return "rejected";
    case HYDRA_ORD_EXPIRED:
        return "expired";
    default:
        return "unknown";
    }
}

static void read_order(sqlite3_stmt *s, hydra_journal_order *o)
{
    memset(o, 0, sizeof *o);
    col_str(s, 0, o->client_order_id, sizeof o->client_order_id);
    col_str(s, 1, o->bot_id, sizeof o->bot_id);
    col_str(s, 2, o->day, sizeof o->day);
    o->seq = sqlite3_column_int(s, 3);
    o->kind = sqlite3_column_int(s, 4);
    col_str(s, 5, o->symbol, sizeof o->symbol);
    o->asset_class = sqlite3_column_int(s, 6);
    o->side = sqlite3_column_int(s, 7);
    o->type = sqlite3_column_int(s, 8);
    o->tif = sqlite3_column_int(s, 9);
    o->qty = sqlite3_column_double(s, 10);
    o->notional = sqlite3_column_double(s, 11);
    o->limit_price = sqlite3_column_double(s, 12);
    col_str(s, 13, o->reason, sizeof o->reason);
    o->state = sqlite3_column_int(s, 14);
    col_str(s, 15, o->broker_id, sizeof o->broker_id);
    o->filled_qty = sqlite3_column_double(s, 16);
    o->filled_avg_price = sqlite3_column_double(s, 17);
    o->created_ms = sqlite3_column_int64(s, 18);
    o->updated_ms = sqlite3_column_int64(s, 19);
    col_str(s, 20, o->error, sizeof o->error);
}

/* The struct's strings are fixed arrays; an unterminated one is a caller bug. */
#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

static int insert_order(hydra_state *st, const hydra_journal_order *o)
{
    sqlite3_stmt *s = st->stmt[S_J_INSERT];
    bind_text(s, 1, o->client_order_id);
    bind_text(s, 2, o->bot_id);
    bind_text(s, 3, o->day);
    sqlite3_bind_int(s, 4, o->seq);
    sqlite3_bind_int(s, 5, o->kind);
    bind_text(s, 6, o->symbol);
    sqlite3_bind_int(s, 7, o->asset_class);
    sqlite3_bind_int(s, 8, o->side);
    sqlite3_bind_int(s, 9, o->type);
    sqlite3_bind_int(s, 10, o->tif);
    sqlite3_bind_double(s, 11, o->qty);
    sqlite3_bind_double(s, 12, o->notional);
    sqlite3_bind_double(s, 13, o->limit_price);
    bind_text(s, 14, o->reason);
    sqlite3_bind_int(s, 15, o->state);
    bind_text(s, 16, o->broker_id);
    sqlite3_bind_double(s, 17, o->filled_qty);
    sqlite3_bind_double(s, 18, o->filled_avg_price);
    sqlite3_bind_int64(s, 19, o->created_ms);
    sqlite3_bind_int64(s, 20, o->updated_ms);
    bind_text(s, 21, o->error);
    int rc = sqlite3_step(s);
    finish(s);
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return HYDRA_EBUSY;
    return rc == SQLITE_DONE ? 0 : map_sqlite(rc);
}

/*
 * Journal rows are the one write that must survive a power cut, not just a
 * crash: an order may leave the process right after. They are committed with
 * synchronous=FULL (the WAL is fsynced at that commit); every other write uses
 * NORMAL, which in WAL mode survives a process crash and at worst loses the
 * last ticks' bookkeeping on a power cut, which reconciliation against the
 * journal and the broker restores.
 *
 * Inside a batch the row must not wait for the tick's commit: the batch is
 * committed first, the row is inserted and committed on its own, and a new
 * batch is opened for the rest of the tick. A refused insert still reopens the batch so the caller's
 * begin/commit pairing holds; only when the open batch itself cannot be
 * committed does the insert return that error with no batch open.
 */
int hydra_journal_insert(hydra_state *st, const hydra_journal_order *o)
{
    if (st == NULL || o == NULL || !TERMINATED(o->client_order_id) ||
        o->client_order_id[0] == '\0' || !TERMINATED(o->bot_id) || !TERMINATED(o->day) ||
        !TERMINATED(o->symbol) || !TERMINATED(o->reason) || !TERMINATED(o->broker_id) ||
        !TERMINATED(o->error))
        return HYDRA_EINVAL;
    int batch = st->in_batch;
    if (batch) {
        int rc = hydra_state_commit(st);
        if (rc != 0)
            return rc;
    }
    int ret = exec_sql(st->db, "PRAGMA synchronous = FULL");
    if (ret == 0)
        ret = insert_order(st, o);
    int rc_normal = exec_sql(st->db, "PRAGMA synchronous = NORMAL");
    if (ret == 0)
        ret = rc_normal;
    if (batch) {
        int rc = hydra_state_begin(st);
        if (ret == 0)
            ret = rc;
    }
    return ret;
}

int hydra_journal_update(hydra_state *st, const hydra_journal_order *o)
{
    if (st == NULL || o == NULL || !TERMINATED(o->client_order_id) || !TERMINATED(o->broker_id) ||
        !TERMINATED(o->error))
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_J_UPDATE];
    bind_text(s, 1, o->client_order_id);
    sqlite3_bind_int(s, 2, o->state);
    bind_text(s, 3, o->broker_id);
    sqlite3_bind_double(s, 4, o->filled_qty);
    sqlite3_bind_double(s, 5, o->filled_avg_price);
    bind_text(s, 6, o->error);
    sqlite3_bind_int64(s, 7, o->updated_ms);
    sqlite3_bind_double(s, 8, o->qty);
    sqlite3_bind_double(s, 9, o->limit_price);
    int rc = step_done(s);
    if (rc != 0)
        return rc;
    return sqlite3_changes(st->db) == 1 ? 0 : HYDRA_ENOTFOUND;
}

int hydra_journal_get(hydra_state *st, const char *cid, hydra_journal_order *out)
{
    if (st == NULL || cid == NULL || out == NULL)
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_J_GET];
    bind_text(s, 1, cid);
    int rc = step_row(s);
    if (rc <= 0)
        return rc == 0 ? HYDRA_ENOTFOUND : rc;
    read_order(s, out);
    finish(s);
    return 0;
}

int hydra_journal_list_open(hydra_state *st, hydra_journal_order *out, size_t cap, size_t *n)
{
    if (st == NULL || n == NULL || (out == NULL && cap > 0))
        return HYDRA_EINVAL;
    *n = 0;
    sqlite3_stmt *s = st->stmt[S_J_OPEN];
    int rc, ret = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            ret = HYDRA_EFULL; /* more open orders than the caller can hold */
            break;
        }
        read_order(s, &out[(*n)++]);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = map_sqlite(rc);
    finish(s);
    return ret;
}

int hydra_journal_next_seq(hydra_state *st, const char *bot_id, const char *day, int *seq)
{
    if (st == NULL || bot_id == NULL || day == NULL || seq == NULL)
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_J_NEXT_SEQ];
    bind_text(s, 1, bot_id);
    bind_text(s, 2, day);
    int rc = step_row(s);
    if (rc <= 0)
        return rc == 0 ? HYDRA_ESTATE : rc;
    *seq = sqlite3_column_int(s, 0);
    finish(s);
    return 0;
}

int hydra_journal_count_since(hydra_state *st, int64_t since_ms, int *count)
{
    if (st == NULL || count == NULL)
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_J_COUNT_SINCE];
    sqlite3_bind_int64(s, 1, since_ms);
    int rc = step_row(s);
    if (rc <= 0)
        return rc == 0 ? HYDRA_ESTATE : rc;
    *count = sqlite3_column_int(s, 0);
    finish(s);
    return 0;
}

/* ---- fills ---- */

/*
 * cid names the journaled order the fill belongs to (a foreign key); NULL
 * records a fill that has no journal row, such as one found at reconcile.
 */
int hydra_fill_insert(hydra_state *st, const char *cid, const char *bot_id, const char *symbol,
                      int side, double qty, double price, double fee, int64_t t_ms)
{
    if (st == NULL || bot_id == NULL || symbol == NULL)
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_FILL_INSERT];
    if (cid != NULL)
        bind_text(s, 1, cid);
    else
        sqlite3_bind_null(s, 1);
    bind_text(s, 2, bot_id);
    bind_text(s, 3, symbol);
    sqlite3_bind_int(s, 4, side);
    sqlite3_bind_double(s, 5, qty);
    sqlite3_bind_double(s, 6, price);
    sqlite3_bind_double(s, 7, fee);
    sqlite3_bind_int64(s, 8, t_ms);
    return step_done(s);
}

/* ---- positions ---- */

static void read_position(sqlite3_stmt *s, hydra_bot_position *p)
{
    memset(p, 0, sizeof *p);
    col_str(s, 0, p->bot_id, sizeof p->bot_id);
    col_str(s, 1, p->symbol, sizeof p->symbol);
    p->asset_class = sqlite3_column_int(s, 2);
    p->qty = sqlite3_column_double(s, 3);
    p->avg_price = sqlite3_column_double(s, 4);
    p->opened_ms = sqlite3_column_int64(s, 5);
    p->multiplier = sqlite3_column_double(s, 6);
}

int hydra_position_get(hydra_state *st, const char *bot_id, const char *symbol,
                       hydra_bot_position *out)
{
    if (st == NULL || bot_id == NULL || symbol == NULL || out == NULL)
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_POS_GET];
    bind_text(s, 1, bot_id);
    bind_text(s, 2, symbol);
    int rc = step_row(s);
    if (rc <= 0)
        return rc == 0 ? HYDRA_ENOTFOUND : rc;
    read_position(s, out);
    finish(s);
    return 0;
}

int hydra_position_list(hydra_state *st, const char *bot_id, hydra_bot_position *out, size_t cap,
                        size_t *n)
{
    if (st == NULL || n == NULL || (out == NULL && cap > 0))
        return HYDRA_EINVAL;
    *n = 0;
    sqlite3_stmt *s = st->stmt[bot_id != NULL ? S_POS_LIST_BOT : S_POS_LIST_ALL];
    if (bot_id != NULL)
        bind_text(s, 1, bot_id);
    int rc, ret = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            ret = HYDRA_EFULL;
            break;
        }
        read_position(s, &out[(*n)++]);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = map_sqlite(rc);
    finish(s);
    return ret;
}

static int position_put(hydra_state *st, const hydra_bot_position *p)
{
    sqlite3_stmt *s = st->stmt[S_POS_PUT];
    bind_text(s, 1, p->bot_id);
    bind_text(s, 2, p->symbol);
    sqlite3_bind_int(s, 3, p->asset_class);
    sqlite3_bind_double(s, 4, p->qty);
    sqlite3_bind_double(s, 5, p->avg_price);
    sqlite3_bind_int64(s, 6, p->opened_ms);
    sqlite3_bind_double(s, 7, p->multiplier);
    return step_done(s);
}

/*
 * A buy realises only its fee (*realized = -fee). A sell of a symbol the bot
 * does not hold changes nothing and returns HYDRA_ENOTFOUND: Hydra does not
 * sell short, so such a fill is for the caller to investigate.
 */
int hydra_position_apply_fill(hydra_state *st, const char *bot_id, const char *symbol,
                              int asset_class, double multiplier, int side, double qty,
                              double price, double fee, int64_t t_ms, double *realized)
{
    if (st == NULL || bot_id == NULL || symbol == NULL || !(qty > 0) || !isfinite(qty) ||
        !(price >= 0) || !isfinite(price) || !isfinite(fee) || !(multiplier > 0) ||
        (side != HYDRA_SIDE_BUY && side != HYDRA_SIDE_SELL) ||
        strlen(bot_id) >= sizeof((hydra_bot_position *)0)->bot_id ||
        strlen(symbol) >= sizeof((hydra_bot_position *)0)->symbol)
        return HYDRA_EINVAL;
    if (realized != NULL)
        *realized = 0;

    hydra_bot_position p;
    int rc = hydra_position_get(st, bot_id, symbol, &p);
    if (rc != 0 && rc != HYDRA_ENOTFOUND)
        return rc;
    int have = rc == 0;
    if (!have) {
        memset(&p, 0, sizeof p);
        copy_str(p.bot_id, sizeof p.bot_id, bot_id);
        copy_str(p.symbol, sizeof p.symbol, symbol);
    }
    double pnl = 0;
    int left = hydra_position_fill(&p, have, asset_class, multiplier, side, qty, price, fee, t_ms,
                                   &pnl);
    if (left < 0)
        return left;
    if (left == 0) {
        sqlite3_stmt *s = st->stmt[S_POS_DELETE];
        bind_text(s, 1, bot_id);
        bind_text(s, 2, symbol);
        rc = step_done(s);
    } else {
        rc = position_put(st, &p);
    }
    if (rc == 0 && realized != NULL)
        *realized = pnl;
    return rc;
}

int hydra_position_fill(hydra_bot_position *p, int have, int asset_class, double multiplier,
                        int side, double qty, double price, double fee, int64_t t_ms,
                        double *realized)
{
    if (side == HYDRA_SIDE_BUY) {
        if (!have) {
            p->qty = 0;
            p->avg_price = 0;
            p->opened_ms = t_ms;
        }
        double total = p->qty + qty;
        p->avg_price = (p->avg_price * p->qty + price * qty) / total;
        p->qty = total;
        p->asset_class = asset_class;
        p->multiplier = multiplier;
        *realized = -fee;
        return 1;
    }
    if (!have)
        return HYDRA_ENOTFOUND;
    double sold = qty < p->qty ? qty : p->qty;
    *realized = (price - p->avg_price) * sold * multiplier - fee;
    p->qty -= sold;
    return p->qty <= QTY_EPSILON ? 0 : 1;
}

/* ---- halts ---- */

/*
 * Setting a halt while one is active adds another row; the newest is the one
 * reported and a clear ends all of them, so no halt reason is ever lost.
 */
int hydra_halt_get(hydra_state *st, hydra_halt *out)
{
    if (st == NULL || out == NULL)
        return HYDRA_EINVAL;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = st->stmt[S_HALT_GET];
    int rc = step_row(s);
    if (rc <= 0)
        return rc;
    out->active = 1;
    col_str(s, 0, out->reason, sizeof out->reason);
    col_str(s, 1, out->source, sizeof out->source);
    out->since_ms = sqlite3_column_int64(s, 2);
    out->until_ms = sqlite3_column_int64(s, 3);
    out->id = sqlite3_column_int64(s, 4);
    col_str(s, 5, out->requested_by, sizeof out->requested_by);
    out->ack_ms = sqlite3_column_int64(s, 6);
    out->ack_pid = sqlite3_column_int64(s, 7);
    out->ack_tick = sqlite3_column_int64(s, 8);
    finish(s);
    return 0;
}

int hydra_halt_request(hydra_state *st, const char *reason, const char *source, int64_t since_ms,
                       int64_t until_ms, const char *requested_by)
{
    if (st == NULL || reason == NULL || source == NULL)
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_HALT_SET];
    bind_text(s, 1, reason);
    bind_text(s, 2, source);
    sqlite3_bind_int64(s, 3, since_ms);
    sqlite3_bind_int64(s, 4, until_ms);
    bind_text(s, 5, requested_by != NULL ? requested_by : "");
    return step_done(s);
}

int hydra_halt_set(hydra_state *st, const char *reason, const char *source, int64_t since_ms,
                   int64_t until_ms)
{
    return hydra_halt_request(st, reason, source, since_ms, until_ms, "");
}

int hydra_halt_ack(hydra_state *st, int64_t id, int64_t ack_ms, int64_t pid, int64_t tick)
{
    if (st == NULL || id <= 0)
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_HALT_ACK];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, ack_ms);
    sqlite3_bind_int64(s, 3, pid);
    sqlite3_bind_int64(s, 4, tick);
    return step_done(s);
}

/* ---- operator actions ---- */

int hydra_operator_action_add(hydra_state *st, int64_t t_ms, const char *action, const char *user,
                              int64_t uid, const char *reason, const char *detail)
{
    if (st == NULL || action == NULL || user == NULL)
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_OP_INSERT];
    sqlite3_bind_int64(s, 1, t_ms);
    bind_text(s, 2, action);
    bind_text(s, 3, user);
    sqlite3_bind_int64(s, 4, uid);
    bind_text(s, 5, reason != NULL ? reason : "");
    bind_text(s, 6, detail != NULL ? detail : "");
    return step_done(s);
}

int hydra_halt_clear(hydra_state *st, const char *cleared_by, int64_t now_ms)
{
    if (st == NULL || cleared_by == NULL)
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_HALT_CLEAR];
    sqlite3_bind_int64(s, 1, now_ms);
    bind_text(s, 2, cleared_by);
    return step_done(s);
}

/* ---- per-bot daily counters ---- */

int hydra_bot_day_get(hydra_state *st, const char *bot_id, const char *day, hydra_bot_day *out)
{
    if (st == NULL || bot_id == NULL || day == NULL || out == NULL)
        return HYDRA_EINVAL;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = st->stmt[S_DAY_GET];
    bind_text(s, 1, bot_id);
    bind_text(s, 2, day);
    int rc = step_row(s);
    if (rc <= 0)
        return rc;
    out->trades = sqlite3_column_int(s, 0);
    out->realized_pnl = sqlite3_column_double(s, 1);
    out->quarantined = sqlite3_column_int(s, 2);
    col_str(s, 3, out->quarantine_reason, sizeof out->quarantine_reason);
    finish(s);
    return 0;
}

int hydra_bot_day_add_trade(hydra_state *st, const char *bot_id, const char *day)
{
    if (st == NULL || bot_id == NULL || day == NULL)
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_DAY_TRADE];
    bind_text(s, 1, bot_id);
    bind_text(s, 2, day);
    return step_done(s);
}

int hydra_bot_day_add_pnl(hydra_state *st, const char *bot_id, const char *day, double pnl)
{
    if (st == NULL || bot_id == NULL || day == NULL || !isfinite(pnl))
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_DAY_PNL];
    bind_text(s, 1, bot_id);
    bind_text(s, 2, day);
    sqlite3_bind_double(s, 3, pnl);
    return step_done(s);
}

int hydra_bot_day_quarantine(hydra_state *st, const char *bot_id, const char *day,
                             const char *reason)
{
    if (st == NULL || bot_id == NULL || day == NULL || reason == NULL)
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_DAY_QUARANTINE];
    bind_text(s, 1, bot_id);
    bind_text(s, 2, day);
    bind_text(s, 3, reason);
    return step_done(s);
}

int hydra_bot_day_unquarantine(hydra_state *st, const char *bot_id, const char *day, int *cleared)
{
    if (st == NULL || bot_id == NULL || day == NULL)
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_DAY_UNQUARANTINE];
    bind_text(s, 1, bot_id);
    bind_text(s, 2, day);
    int rc = step_done(s);
    if (cleared != NULL)
        *cleared = rc == 0 && sqlite3_changes(st->db) > 0;
    return rc;
}

/* ---- budgets ---- */

int hydra_budget_set(hydra_state *st, const hydra_budget *b)
{
    if (st == NULL || b == NULL || !TERMINATED(b->bot_id) || b->bot_id[0] == '\0' ||
        !TERMINATED(b->day))
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_BUDGET_SET];
    bind_text(s, 1, b->bot_id);
    bind_text(s, 2, b->day);
    sqlite3_bind_double(s, 3, b->max_daily_loss);
    sqlite3_bind_double(s, 4, b->max_open_risk);
    sqlite3_bind_int(s, 5, b->max_trades_per_day);
    sqlite3_bind_int(s, 6, b->max_concurrent_positions);
    sqlite3_bind_int(s, 7, b->allowed);
    sqlite3_bind_int(s, 8, b->enabled);
    sqlite3_bind_int64(s, 9, b->updated_ms);
    return step_done(s);
}

int hydra_budget_get(hydra_state *st, const char *bot_id, hydra_budget *out)
{
    if (st == NULL || bot_id == NULL || out == NULL)
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_BUDGET_GET];
    bind_text(s, 1, bot_id);
    int rc = step_row(s);
    if (rc <= 0)
        return rc == 0 ? HYDRA_ENOTFOUND : rc;
    memset(out, 0, sizeof *out);
    col_str(s, 0, out->bot_id, sizeof out->bot_id);
    col_str(s, 1, out->day, sizeof out->day);
    out->max_daily_loss = sqlite3_column_double(s, 2);
    out->max_open_risk = sqlite3_column_double(s, 3);
    out->max_trades_per_day = sqlite3_column_int(s, 4);
    out->max_concurrent_positions = sqlite3_column_int(s, 5);
    out->allowed = sqlite3_column_int(s, 6);
    out->enabled = sqlite3_column_int(s, 7);
    out->updated_ms = sqlite3_column_int64(s, 8);
    finish(s);
    return 0;
}

int hydra_budget_clear_all(hydra_state *st)
{
    if (st == NULL)
        return HYDRA_EINVAL;
    return step_done(st->stmt[S_BUDGET_CLEAR]);
}

/* ---- equity history ---- */

int hydra_equity_insert(hydra_state *st, int64_t t_ms, double equity, double cash)
{
    if (st == NULL || !isfinite(equity) || !isfinite(cash))
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_EQUITY_INSERT];
    sqlite3_bind_int64(s, 1, t_ms);
    sqlite3_bind_double(s, 2, equity);
    sqlite3_bind_double(s, 3, cash);
    return step_done(s);
}

/* ---- retention ---- */

static int prune_step(hydra_state *st, int which, int64_t cutoff_ms, const char *today,
                      int64_t from_ms, int limit, int *deleted)
{
    *deleted = 0;
    if (limit <= 0)
        return 0;
    sqlite3_stmt *s = st->stmt[which];
    sqlite3_bind_int64(s, 1, cutoff_ms);
    if (which == S_PRUNE_EQUITY) {
        sqlite3_bind_int(s, 2, limit);
        sqlite3_bind_int64(s, 3, from_ms);
    } else {
        bind_text(s, 2, today);
        sqlite3_bind_int(s, 3, limit);
    }
    int rc = step_done(s);
    if (rc == 0)
        *deleted = sqlite3_changes(st->db);
    return rc;
}

int hydra_state_prune(hydra_state *st, int64_t cutoff_ms, const char *today, int max_rows,
                      hydra_prune_counts *out)
{
    if (st == NULL || today == NULL || max_rows <= 0 || out == NULL)
        return HYDRA_EINVAL;
    memset(out, 0, sizeof *out);
    int left = max_rows, rc;
    if ((rc = prune_step(st, S_PRUNE_FILLS, cutoff_ms, today, 0, left, &out->fills)) != 0)
        return rc;
    left -= out->fills;
    if ((rc = prune_step(st, S_PRUNE_ORDERS, cutoff_ms, today, 0, left, &out->orders)) != 0)
        return rc;
    left -= out->orders;
    if (left <= 0)
        return 0;
    /*
     * The samples already rolled up (one a day) are not read again: once a
     * pass leaves rows to spare, everything before the cutoff's day is done.
     */
    int64_t day_of_cutoff = cutoff_ms - (cutoff_ms % 86400000 + 86400000) % 86400000;
    if ((rc = prune_step(st, S_PRUNE_EQUITY, cutoff_ms, today, st->equity_rolled_to, left,
                         &out->equity)) != 0)
        return rc;
    if (out->equity < left && day_of_cutoff > st->equity_rolled_to)
        st->equity_rolled_to = day_of_cutoff;
    return 0;
}

/* ---- bot-scoped key-value ---- */

int hydra_bot_kv_get(hydra_state *st, const char *bot_id, const char *key, char *buf, size_t bufsz)
{
    if (st == NULL || bot_id == NULL || key == NULL || buf == NULL || bufsz == 0)
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_BOT_KV_GET];
    bind_text(s, 1, bot_id);
    bind_text(s, 2, key);
    return read_text(s, buf, bufsz);
}

int hydra_bot_kv_set(hydra_state *st, const char *bot_id, const char *key, const char *value)
{
    if (st == NULL || bot_id == NULL || key == NULL || value == NULL)
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_BOT_KV_SET];
    bind_text(s, 1, bot_id);
    bind_text(s, 2, key);
    bind_text(s, 3, value);
    return step_done(s);
}

int hydra_bot_kv_usage(hydra_state *st, const char *bot_id, long *keys, long *bytes)
{
    if (st == NULL || bot_id == NULL || keys == NULL || bytes == NULL)
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_BOT_KV_USAGE];
    bind_text(s, 1, bot_id);
    int rc = step_row(s);
    if (rc <= 0)
        return rc == 0 ? HYDRA_ESTATE : rc;
    *keys = (long)sqlite3_column_int64(s, 0);
    *bytes = (long)sqlite3_column_int64(s, 1);
    finish(s);
    return 0;
}

int hydra_bot_kv_size(hydra_state *st, const char *bot_id, const char *key, long *bytes)
{
    if (st == NULL || bot_id == NULL || key == NULL || bytes == NULL)
        return HYDRA_EINVAL;
    sqlite3_stmt *s = st->stmt[S_BOT_KV_SIZE];
    bind_text(s, 1, bot_id);
    bind_text(s, 2, key);
    int rc = step_row(s);
    if (rc <= 0)
        return rc == 0 ? HYDRA_ENOTFOUND : rc;
    *bytes = (long)sqlite3_column_int64(s, 0);
    finish(s);
    return 0;
}

/* ---- the file under the running host ---- */

int hydra_state_check_file(hydra_state *st, char *why, size_t whysz)
{
    struct stat open_sb, path_sb;
    if (st == NULL || st->watch_fd < 0)
        return 0; /* in memory: nothing on disk to lose */
    if (fstat(st->watch_fd, &open_sb) != 0) {
        snprintf(why, whysz, "%s: cannot stat the open database: %s", st->path, strerror(errno));
        return HYDRA_ESTATE;
    }
    if (stat(st->path, &path_sb) != 0) {
        snprintf(why, whysz, "%s: the state database was deleted under the running host (%s)",
                 st->path, strerror(errno));
        return HYDRA_ESTATE;
    }
    if ((unsigned long long)path_sb.st_dev != st->dev ||
        (unsigned long long)path_sb.st_ino != st->ino) {
        snprintf(why, whysz,
                 "%s: the state database was replaced under the running host (the path names "
                 "inode %llu, the host opened inode %llu)",
                 st->path, (unsigned long long)path_sb.st_ino, st->ino);
        return HYDRA_ESTATE;
    }
    if (open_sb.st_nlink == 0) {
        snprintf(why, whysz, "%s: the state database was deleted under the running host",
                 st->path);
        return HYDRA_ESTATE;
    }
    /* Hydra never vacuums and WAL checkpoints only append: a smaller file lost data. */
    if ((long long)open_sb.st_size < st->max_size) {
        snprintf(why, whysz,
                 "%s: the state database was truncated under the running host (%lld bytes, "
                 "was %lld)",
                 st->path, (long long)open_sb.st_size, st->max_size);
        return HYDRA_ESTATE;
    }
    st->max_size = (long long)open_sb.st_size;
    return 0;
}

int hydra_state_quick_check(hydra_state *st, char *why, size_t whysz)
{
    if (st == NULL || st->db == NULL)
        return HYDRA_EINVAL;
    char check[256] = "";
    int rc = pragma_text(st->db, "PRAGMA quick_check", check, sizeof check);
    if (rc != SQLITE_OK) {
        snprintf(why, whysz, "%s: integrity check could not run: %s", st->path,
                 sqlite3_errmsg(st->db));
        return HYDRA_ESTATE;
    }
    if (strcmp(check, "ok") != 0) {
        snprintf(why, whysz, "%s: integrity check failed: %s", st->path, check);
        return HYDRA_ESTATE;
    }
    return 0;
}
