/*
 * The engine and its tick, as DESIGN.md "One tick" describes it:
 *
 *   1. bootstrap    day rollover in the market zone; order journal synced
 *                   with the broker (fills, cancels, rejections)
 *   2. ExitBot      kill switch, health, account sanity, daily loss;
 *                   any breach persists a halt and flattens
 *   3. PortfolioBot budgets per bot (at start, rollover and reload)
 *   4. snapshot     prices, bars and option chains for every bot (a bot
 *                   that asks for its chain gets it during step 5)
 *   5. execution    per bot in rank order: host exits, manage, preflight,
 *                   on_tick, gates, journal, submit
 *   6. finalize     one summary line; state committed
 *
 * A failure in 1 or 2 halts and flattens (halt.h: one routine for every
 * halt source, repeated each tick until flat). A failure in 3 leaves budgets
 * missing, so bots refuse entries. A failing bot is quarantined for the day;
 * its positions stay under the host's exits.
 */
#ifndef HYDRA_LOOP_H
#define HYDRA_LOOP_H

#include <signal.h>
#include <stdint.h>

#include "broker.h"
#include "clock.h"
#include "config.h"
#include "health.h"
#include "loader.h"
#include "log.h"
#include "marketdata.h"
#include "quota.h"
#include "sandbox.h"
#include "sim.h"
#include "state.h"

#define HYDRA_MAX_OPEN_ORDERS 512
#define HYDRA_MAX_INTENTS 32 /* intents one bot may return from one call */
#define HYDRA_MAX_FOREIGN 64 /* symbols with a position Hydra did not open */

/* A quantity of a symbol the account held at start that the journal does not explain. */
typedef struct hydra_foreign_position {
    char symbol[48];
    double qty;
} hydra_foreign_position;

/* One configured bot and its runtime state. */
typedef struct hydra_bot_slot {
    const hydra_bot_cfg *cfg;
    hydra_bot_runner *run;   /* in-process instance or worker process; never NULL once loaded */
    int loaded;
    int quarantined;
    char quarantine_reason[256];
    hydra_budget budget;
    int have_budget;
    /* A worker that failed is restarted with backoff, a limited number of times a day. */
    int worker_down;
    int64_t restart_at_us;   /* monotonic time of the next restart attempt */
    int restarts_today;
    int backoff_ms;
    int restarts_exhausted_logged;
    /* The plugin file as loaded, to see on reload whether it changed. */
    unsigned long long so_dev, so_ino, so_size;
    long long so_mtime_ns;
    /* A call started this tick and its answer, held until it is collected. */
    hydra_intent call_intents[HYDRA_MAX_INTENTS];
    hydra_intent_buf call_buf;
    int32_t call_status;
    int call_started;
    /* Quotas (quota.h): the bot's log lines this tick, its state usage, its missed deadlines. */
    hydra_log_quota logq;
    hydra_kv_usage kv;
    hydra_strikes deadline_misses;
} hydra_bot_slot;

typedef struct hydra_engine_options {
    char config_dir[HYDRA_PATH_LEN];
    char plugins_dir[HYDRA_PATH_LEN];
    long max_ticks;          /* 0 = until stopped or the replay ends */
    int interval_ms;         /* -1 = from settings; 0 = no pause between ticks */
    int live;                /* --live given */
    int quiet;               /* no per-tick status line */
    int tools_only;          /* status/halt/resume: state, log and broker; no lock, bots or reconcile */
    int force_inprocess;     /* every bot in-process whatever its isolation (backtests) */
} hydra_engine_options;

typedef struct hydra_engine {
    hydra_engine_options opt;
    hydra_config *cfg;
    hydra_credentials creds;
    hydra_clock clock;
    hydra_state *state;
    hydra_log *log;
    hydra_health health;
    hydra_broker broker;
    hydra_sim *sim;          /* non-NULL when broker is "sim" */
    hydra_host_services svc;
    hydra_sandbox_limits limits;  /* for worker processes */
    hydra_sandbox_limits sandbox; /* what the machine offered at start (hydra_sandbox_configure) */
    int sandbox_checked;
    int sandbox_rc;               /* nonzero: isolated bots cannot start, sandbox_why says why */
    char sandbox_why[512];
    int call_deadline_ms;    /* every worker call's deadline */
    hydra_bot_slot *slots;   /* sorted by rank, highest first */
    int n_slots;
    hydra_market market;     /* this tick's snapshot */
    uint64_t tick;
    char day[11];
    double day_start_equity;
    double last_equity;      /* previous tick's equity, for the jump anomaly */
    hydra_account account;   /* this tick's account */
    hydra_journal_order open_orders[HYDRA_MAX_OPEN_ORDERS]; /* non-final journal rows */
    size_t n_open_orders;
    int halted;              /* a halt is active this tick */
    int halt_raised;         /* hydra_engine_halt ran this tick (its row is in this tick's batch) */
    int halt_flat_logged;    /* the active halt has reached flat (halt_flat logged) */
    int halt_seen;           /* the last ExitBot run found a halt in force (a resume is noticed) */
    int state_unwritable;    /* the last tick's commit failed: no entries until one succeeds */
    /*
     * Set when the host must stop (the state database was lost, or a halt
     * could not be persisted): the tick returns it and the run ends with it,
     * so the process exits non-zero instead of trading on.
     */
    int fatal;
    hydra_bot_slot *svc_slot;/* the bot whose code runs now: its services' quotas (engine.c) */
    int orders_sent;         /* this tick */
    /* This tick's broker failures, classified by hydra_broker_classify (reset every tick). */
    char entry_block[200];   /* non-empty: a read entries need failed transiently; why */
    char permanent_failure[300]; /* the first permanent failure: the tick ends in a halt */
    int account_unread;      /* the account read failed: finalize does not ask again */
    int64_t rate_limited_until_ms; /* wall-clock ms: a 429 holds calls (entries pause) until then */
    /* Today's session from the broker's calendar, read once per market-zone day. */
    hydra_session session;
    int session_date;        /* the yyyymmdd it was read for; 0 = not read (yet) */
    int session_today;       /* 1: today is a trading day and `session` is it */
    char install_id[16];     /* random, made once per state database (kv "install_id") */
    char account_key[16];    /* short hash of the broker account id (kv "account_key"); "" until learnt */
    char pending_halt[384];
    hydra_foreign_position foreign[HYDRA_MAX_FOREIGN]; /* recorded at start (kv "foreign_baseline") */
    size_t n_foreign;  /* a contradiction found while syncing: halted once the sync is done */
    int lock_fd;
    struct hydra_metrics *metrics; /* counters and gauges for /metrics (metrics.h) */
    struct hydra_http *http;       /* the HTTP server when http.enabled (http.h) */
    struct hydra_dashboard *dashboard; /* the page behind http (dashboard.h); NULL without http */
    struct hydra_notify *notify;   /* notification sender when notify.enabled (notify.h) */
    void *scratch;           /* per-call snapshot views (loop.c) */
    volatile sig_atomic_t *stop;   /* set by SIGINT/SIGTERM */
    volatile sig_atomic_t *reload; /* set by SIGHUP */
} hydra_engine;

/*
 * Opens everything the loop needs (lock, state, log, broker, bots) and
 * reconciles the journal with the broker. On failure returns negative with
 * a message in err, having released what it took; the exit status the CLI
 * should use is 2 for configuration problems, 1 otherwise (in *exit_code).
 */
int hydra_engine_open(hydra_engine *e, const hydra_engine_options *opt, char *err, size_t errsz,
                      int *exit_code);
void hydra_engine_close(hydra_engine *e);

/*
 * Opens the simulated exchange over the series in `sc` (loaded from data/
 * or generated), on the simulated clock `clock`. Used by the engine and by
 * hydra-exchange.
 */
int hydra_engine_open_sim(const hydra_sim_cfg *sc, hydra_clock *clock, hydra_sim **out, char *err,
                          size_t errsz);

/*
 * With alpaca.use_broker_clock: sets the engine's (simulated) clock to the
 * broker's /v2/clock time. Returns 0 or the broker failure (recorded).
 */
int hydra_engine_adopt_broker_clock(hydra_engine *e);

/* Allocates and frees the loop's per-call scratch (engine.c calls these). */
int hydra_loop_init(hydra_engine *e);
void hydra_loop_free(hydra_engine *e);

/* Budgets for every bot from day-start equity (PortfolioBot); logs and returns 0 or negative. */
int hydra_loop_portfolio(hydra_engine *e);

/*
 * One tick. Returns 0, HYDRA_EEOF when the simulated replay has ended, or
 * HYDRA_ESTATE when the host must stop (e->fatal): the state database was
 * deleted, replaced, truncated or failed its integrity check under the
 * running host, or a halt could not be persisted. The halt has then been
 * raised and logged; trading does not go on.
 */
int hydra_engine_tick(hydra_engine *e);

/*
 * Ticks at the configured cadence until stopped, max_ticks, or the end of
 * the replay (0), or until a tick says the host must stop (HYDRA_ESTATE).
 */
int hydra_engine_run(hydra_engine *e);

/* Re-reads the configuration; keeps the old one (and says why) if the new one is bad. */
int hydra_engine_reload(hydra_engine *e);

/*
 * Persists a halt (acknowledged by this host), logs `system_halt` and
 * flattens: every halt source goes through here (halt.c, halt.h).
 */
void hydra_engine_halt(hydra_engine *e, const char *source, const char *reason, int cooloff_minutes);

/*
 * One flatten pass (halt.c): cancels Hydra's own open orders by id, then
 * sells min(journal, broker) of every symbol Hydra holds through journaled
 * market orders. Never touches an order or a position Hydra did not create.
 */
void hydra_engine_flatten(hydra_engine *e, const char *reason);

/* Tells a bot about a fill of its order; a worker that fails in on_fill quarantines the bot. */
void hydra_loop_on_fill(hydra_engine *e, hydra_bot_slot *slot, const hydra_fill *fill);

/*
 * Restarts failed workers whose backoff has passed (at most
 * workers.restarts_per_day per bot and trading day). Called every tick.
 */
void hydra_loop_restart_workers(hydra_engine *e);

/*
 * hydra.options-chain/1 for the live loop (the engine's option_chain
 * service): the bot's underlying's chain for this tick, fetched on first
 * request, so an options bot that asks costs a chain only when it wants to
 * buy. A failed fetch counts against health like any broker failure.
 */
int hydra_loop_option_chain(void *ctx, const char *bot_id, const char *underlying, uint32_t rights,
                            hydra_option_view *out, uint32_t cap);

/*
 * The end of a tick for the bots' quotas: one bot_log_throttled line for
 * each bot whose log lines were dropped since the last boundary, and a
 * quarantine for one throttled too often within the window.
 */
void hydra_loop_quota_tick(hydra_engine *e);

/* Quarantines a bot for the rest of the trading day (persisted, logged once). */
void hydra_loop_quarantine(hydra_engine *e, hydra_bot_slot *slot, const char *why);

/*
 * Stops a bot's entries for the rest of the trading day (persisted in
 * bot_days, so a restart keeps it); its positions stay under host exits.
 */
void hydra_engine_quarantine(hydra_engine *e, const char *bot_id, const char *why);

/*
 * Records a broker failure with the health monitor and the log, by its
 * class (hydra_broker_classify): a transient or permanent failure counts
 * once in the health window; a call held back by a rate limit does not
 * count (the 429 that set the hold did) and pauses entries until the reset;
 * a permanent failure is remembered and halts at the end of the tick.
 */
void hydra_engine_broker_failure(hydra_engine *e, const char *call, const hydra_broker_err *err);

/*
 * A read the tick needed failed with rc (already recorded). Transient: the
 * entries of this tick are skipped with `what` as the reason and 0 is
 * returned; anything else is returned for the caller to halt on.
 */
int hydra_engine_read_failed(hydra_engine *e, int rc, const char *what);

#endif
