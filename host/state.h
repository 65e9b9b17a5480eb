/*
 * Durable state: one SQLite database (WAL; synchronous=FULL for the order
 * journal, NORMAL for the rest), one
 * connection, prepared statements.
 *
 * The schema version lives in PRAGMA user_version. Forward migrations run at
 * open in one transaction; a database written by a newer Hydra is refused.
 * Anything that cannot be opened, read or written is an error that names
 * the file and the reason: the caller fails closed (no trading).
 *
 * Tables: kv (the seed's key-value store, JSON values), orders (the order
 * journal, unique client_order_id), fills, positions (attributed to bots),
 * halts (history; the active one has cleared_ms NULL), bot_days (per-bot
 * daily counters and quarantine), budgets, equity, bot_kv (bot-scoped state
 * behind the plugin host API), operator_actions (who ran halt, resume,
 * reset-paper and unquarantine, when and why).
 *
 * Batching: hydra_state_begin/commit group a tick's writes. A journal insert
 * is always durable when it returns, even inside a batch (it commits the
 * batch first and opens a new one): an order never leaves the process before
 * its journal row is on disk.
 */
#ifndef HYDRA_STATE_H
#define HYDRA_STATE_H

#include <stddef.h>
#include <stdint.h>

#define HYDRA_STATE_SCHEMA_VERSION 2
#define HYDRA_CID_LEN 129 /* client_order_id, at most 128 characters (Alpaca's limit) + NUL */

typedef struct hydra_state hydra_state;

/* Opens (creating if needed) and migrates. ":memory:" gives a private in-memory database. */
int hydra_state_open(const char *path, hydra_state **out, char *err, size_t errsz);
void hydra_state_close(hydra_state *st);
/* The last SQLite error text for this connection (for messages). */
const char *hydra_state_errmsg(hydra_state *st);
const char *hydra_state_path(hydra_state *st);

int hydra_state_begin(hydra_state *st);
int hydra_state_commit(hydra_state *st);
int hydra_state_rollback(hydra_state *st);

/* ---- key-value (JSON text values) ---- */
int hydra_kv_get(hydra_state *st, const char *key, char *buf, size_t bufsz); /* HYDRA_ENOTFOUND if unset */
int hydra_kv_set(hydra_state *st, const char *key, const char *json);
int hydra_kv_get_double(hydra_state *st, const char *key, double *out);
int hydra_kv_set_double(hydra_state *st, const char *key, double v);
int hydra_kv_get_int(hydra_state *st, const char *key, int64_t *out);
int hydra_kv_set_int(hydra_state *st, const char *key, int64_t v);
int hydra_kv_get_str(hydra_state *st, const char *key, char *buf, size_t bufsz);
int hydra_kv_set_str(hydra_state *st, const char *key, const char *v);

/* ---- order journal ---- */
typedef enum hydra_order_state {
    HYDRA_ORD_PENDING_SUBMIT = 0, /* journaled, not yet known to the broker */
    HYDRA_ORD_OPEN = 1,           /* accepted/new/partially filled at the broker */
    HYDRA_ORD_FILLED = 2,
    HYDRA_ORD_CANCELED = 3,
    HYDRA_ORD_REJECTED = 4,
    HYDRA_ORD_EXPIRED = 5
} hydra_order_state;

/* 1 for FILLED, CANCELED, REJECTED, EXPIRED. */
int hydra_order_state_final(int state);
const char *hydra_order_state_name(int state);

typedef struct hydra_journal_order {
    char client_order_id[HYDRA_CID_LEN];
    char bot_id[64];
    char day[11];          /* trading day, market zone */
    int seq;               /* per bot and day, from 1 */
    int kind;              /* enum hydra_intent_kind */
    char symbol[48];
    int asset_class, side, type, tif;
    double qty, notional, limit_price;
    char reason[128];      /* why: the bot's reason or the host exit ("stop_loss") */
    int state;             /* enum hydra_order_state */
    char broker_id[64];
    double filled_qty, filled_avg_price;
    int64_t created_ms, updated_ms;
    char error[256];
} hydra_journal_order;

/* Inserts a new row; durable on return. HYDRA_EBUSY if the client_order_id exists. */
int hydra_journal_insert(hydra_state *st, const hydra_journal_order *o);
/*
 * Updates state, broker id, fill figures, error text, updated_ms, and qty and
 * limit_price (which change when the broker replaced the order) of one row.
 */
int hydra_journal_update(hydra_state *st, const hydra_journal_order *o);
int hydra_journal_get(hydra_state *st, const char *cid, hydra_journal_order *out);
/* Rows whose state is not final, oldest first. */
int hydra_journal_list_open(hydra_state *st, hydra_journal_order *out, size_t cap, size_t *n);
/* Next sequence number for bot_id on day (1 + the highest used). */
int hydra_journal_next_seq(hydra_state *st, const char *bot_id, const char *day, int *seq);
/* Number of orders created at or after since_ms (all bots): orders-per-minute gate. */
int hydra_journal_count_since(hydra_state *st, int64_t since_ms, int *count);

/* ---- fills ---- */
int hydra_fill_insert(hydra_state *st, const char *cid, const char *bot_id, const char *symbol,
                      int side, double qty, double price, double fee, int64_t t_ms);

/* ---- positions attributed to bots ---- */
typedef struct hydra_bot_position {
    char bot_id[64];
    char symbol[48];
    int asset_class;
    double qty;            /* > 0 while open */
    double avg_price;
    int64_t opened_ms;
    double multiplier;     /* 100 for options, 1 otherwise */
} hydra_bot_position;

/* HYDRA_ENOTFOUND when the bot holds nothing in symbol. */
int hydra_position_get(hydra_state *st, const char *bot_id, const char *symbol,
                       hydra_bot_position *out);
/* Open positions, of one bot (bot_id non-NULL) or of all bots. */
int hydra_position_list(hydra_state *st, const char *bot_id, hydra_bot_position *out, size_t cap,
                        size_t *n);
/*
 * Applies a fill to the bot's position: a buy adds at a new average price; a
 * sell reduces (never below zero) and returns the realised PnL of the sold
 * quantity, after `fee`, in *realized. A position that reaches zero is deleted.
 */
int hydra_position_apply_fill(hydra_state *st, const char *bot_id, const char *symbol,
                              int asset_class, double multiplier, int side, double qty,
                              double price, double fee, int64_t t_ms, double *realized);

/*
 * The arithmetic of hydra_position_apply_fill on a position in memory (the
 * backtest's book uses it too, so both books agree to the last bit). `have`
 * says whether *p is an open position; for a buy into none, *p needs only
 * its bot_id and symbol. Sets *realized as above. Returns 1 when the
 * position stays open, 0 when the sell closed it, HYDRA_ENOTFOUND for a
 * sell without a position.
 */
int hydra_position_fill(hydra_bot_position *p, int have, int asset_class, double multiplier,
                        int side, double qty, double price, double fee, int64_t t_ms,
                        double *realized);

/* ---- halts ---- */
typedef struct hydra_halt {
    int active;
    char reason[256];
    char source[32];       /* "exitbot", "bootstrap", "operator", "kill_switch", "reconcile" */
    int64_t since_ms, until_ms;
    int64_t id;            /* the row */
    char requested_by[96]; /* "user (uid N)" for an operator halt, else "" */
    /* Set when a host acted on the halt (logged it and flattened); 0 while nobody has. */
    int64_t ack_ms, ack_pid, ack_tick;
} hydra_halt;

int hydra_halt_get(hydra_state *st, hydra_halt *out); /* out->active = 0 when none */
int hydra_halt_set(hydra_state *st, const char *reason, const char *source, int64_t since_ms,
                   int64_t until_ms);
/* hydra_halt_set, naming who asked for it (an operator's "user (uid N)"). */
int hydra_halt_request(hydra_state *st, const char *reason, const char *source, int64_t since_ms,
                       int64_t until_ms, const char *requested_by);
/* Records that host `pid` acted on halt `id` at its tick `tick`. */
int hydra_halt_ack(hydra_state *st, int64_t id, int64_t ack_ms, int64_t pid, int64_t tick);

/* ---- operator actions (audit trail) ---- */
/* action: "halt", "resume", "reset_paper", "unquarantine". */
int hydra_operator_action_add(hydra_state *st, int64_t t_ms, const char *action, const char *user,
                              int64_t uid, const char *reason, const char *detail);
/* Clears the active halt (if any), recording who cleared it and when. */
int hydra_halt_clear(hydra_state *st, const char *cleared_by, int64_t now_ms);

/* ---- per-bot daily counters ---- */
typedef struct hydra_bot_day {
    int trades;            /* entries sent today */
    double realized_pnl;
    int quarantined;
    char quarantine_reason[256];
} hydra_bot_day;

/* Zeroes when no row exists yet for (bot_id, day). */
int hydra_bot_day_get(hydra_state *st, const char *bot_id, const char *day, hydra_bot_day *out);
int hydra_bot_day_add_trade(hydra_state *st, const char *bot_id, const char *day);
int hydra_bot_day_add_pnl(hydra_state *st, const char *bot_id, const char *day, double pnl);
int hydra_bot_day_quarantine(hydra_state *st, const char *bot_id, const char *day,
                             const char *reason);
/* Clears a bot's quarantine for day; *cleared (may be NULL) says whether one was set. */
int hydra_bot_day_unquarantine(hydra_state *st, const char *bot_id, const char *day, int *cleared);

/* ---- budgets ---- */
typedef struct hydra_budget {
    char bot_id[64];
    char day[11];
    double max_daily_loss, max_open_risk;
    int max_trades_per_day, max_concurrent_positions;
    int allowed, enabled;
    int64_t updated_ms;
} hydra_budget;

int hydra_budget_set(hydra_state *st, const hydra_budget *b);
int hydra_budget_get(hydra_state *st, const char *bot_id, hydra_budget *out); /* HYDRA_ENOTFOUND */
int hydra_budget_clear_all(hydra_state *st);

/* ---- equity history ---- */
int hydra_equity_insert(hydra_state *st, int64_t t_ms, double equity, double cash);

/*
 * Retention: deletes, at most max_rows rows in all, oldest first, the
 * history older than cutoff_ms: fills of closed orders, closed orders with
 * no fill left, and equity samples (rolled up: the last sample of each UTC
 * day stays). Never an order that is not final (the open journal), nor one
 * of `today` (the trading day "YYYY-MM-DD" whose budgets count its orders),
 * nor a fill of such an order. Call it inside the tick's batch, repeatedly:
 * a backlog goes in steps of max_rows. *out says how many rows of each went.
 */
typedef struct hydra_prune_counts {
    int fills, orders, equity;
} hydra_prune_counts;
int hydra_state_prune(hydra_state *st, int64_t cutoff_ms, const char *today, int max_rows,
                      hydra_prune_counts *out);

/* ---- bot-scoped key-value (plugin host API) ---- */
int hydra_bot_kv_get(hydra_state *st, const char *bot_id, const char *key, char *buf, size_t bufsz);
int hydra_bot_kv_set(hydra_state *st, const char *bot_id, const char *key, const char *value);
/* A bot's keys and their bytes (key + value, as stored), for its state quota. */
int hydra_bot_kv_usage(hydra_state *st, const char *bot_id, long *keys, long *bytes);
/* The bytes (key + value) of one entry; HYDRA_ENOTFOUND when the key is unset. */
int hydra_bot_kv_size(hydra_state *st, const char *bot_id, const char *key, long *bytes);

/* ---- the database file under the running host ---- */

/*
 * Whether the file at the database's path is still the one the host
 * opened, with nothing cut off: 0, or HYDRA_ESTATE with why naming what
 * happened (deleted, replaced by another file, truncated). Two stats; the
 * engine calls it at every tick boundary. Always 0 for ":memory:".
 */
int hydra_state_check_file(hydra_state *st, char *why, size_t whysz);
/* PRAGMA quick_check: 0, or HYDRA_ESTATE with why. Reads the whole file: call it rarely. */
int hydra_state_quick_check(hydra_state *st, char *why, size_t whysz);

#endif
