/*
 * Helpers for engine tests: a private copy of the shipped configuration
 * that writes state and logs into a temporary directory, and a broker
 * wrapper that injects faults into the real simulated exchange and records
 * every order that reaches it.
 */
#ifndef HYDRA_ENGINETEST_H
#define HYDRA_ENGINETEST_H

#include <stddef.h>

#include "backtest.h"
#include "broker.h"
#include "loop.h"
#include "state.h"

/*
 * Creates <dir>/config/{settings,bots}.yaml from a fixed copy of the shipped
 * files (tests/configs/shipped: never the user's config/, which a user edits) with
 * state, log, kill switch and paper exchange inside dir and data paths
 * pointing at the repository. `settings_edits` and `bots_edits` (may be NULL)
 * are "old=>new" replacement pairs, one per line, applied to the text; a
 * literal backslash-n inside a pair stands for a line break.
 */
int et_make_config(const char *dir, const char *settings_edits, const char *bots_edits);

/*
 * Writes <dir>/{settings,bots}.yaml from examples/config with its logs and
 * state in dir and its data paths pointing into the repository. 0 or -1.
 */
int et_examples_config(const char *dir);

/*
 * Backtests one bot of the examples' configuration (et_examples_config in
 * dir) on one symbol, with the built example plugins, the configuration's
 * cash and no fees or slippage; fails the test when it cannot run.
 */
hydra_backtest *et_examples_backtest(const char *dir, const char *bot_id, const char *symbol);

/*
 * Runs hydra-host for `ticks` ticks on the simulated exchange over a copy of
 * the shipped configuration (et_make_config in dir) whose bots are only
 * `bots_yaml` (entries of a bots: list, "  - bot_id: ..." lines), loaded
 * from plugins_dir. Returns the host's exit status; its log is <dir>/app.jsonl.
 */
int et_host_run_bots(const char *dir, const char *plugins_dir, const char *bots_yaml, int ticks);

/*
 * Runs one equity bot on FESX in a sandboxed worker process (isolation:
 * process) for 400 ticks on the simulated exchange, and asserts it was
 * loaded once, had at least two fills and was never quarantined. `params`
 * is a YAML flow map, e.g. "{fast: 3, slow: 8}".
 */
void et_assert_trades_in_worker(const char *plugins_dir, const char *bot_id, const char *plugin,
                                const char *mode, const char *params);

/* Options for an in-process engine over <dir>/config and the built plugins. */
void et_options(hydra_engine_options *opt, const char *dir);

#define ET_MAX_SUBMITS 20000

typedef struct et_submit {
    char cid[HYDRA_BROKER_CID_LEN];
    char symbol[48];
    int side;
    int halted; /* a halt was active in the state database when it reached the exchange */
    double notional_estimate;
} et_submit;

/* Which broker calls fail, and how. */
typedef struct et_faults {
    int account;        /* fail account() with this code (0 = pass) */
    int prices;         /* fail latest_prices() */
    int submit;         /* fail submit() */
    int orders;         /* fail order_by_client_id() */
    int chain;          /* fail option_chain() */
    double random_rate; /* 0..1: each call fails with HYDRA_ETRANSIENT at this rate */
    int blocked;        /* account() answers trading_blocked */
    double equity_scale;/* account() multiplies equity by this (0 = unchanged) */
    unsigned long long seed;
    const char *message;/* the injected failure's text (NULL: "injected fault in <call>") */
} et_faults;

typedef struct et_broker {
    hydra_broker inner;
    hydra_engine *engine;
    et_faults faults;
    et_submit submits[ET_MAX_SUBMITS];
    size_t n_submits;
    size_t n_chains;    /* option_chain() calls that reached the exchange */
    size_t n_cancels;   /* cancel_order() calls */
    size_t n_account_wide; /* cancel_all() and close_all() calls: the host must make none */
    unsigned long long rng;
} et_broker;

/* Wraps e->broker: from now on the engine calls through `w`. */
void et_wrap(et_broker *w, hydra_engine *e);

/*
 * An order somebody else placed on the account, straight at the broker and
 * never journaled: a GTC limit buy of qty at limit. Fails the test if the
 * broker refuses it.
 */
void et_stranger_order(hydra_broker *b, const char *cid, const char *symbol, double qty, double limit);
/*
 * Twelve daily bars of a made-up symbol, 2024-01-02 .. 01-17, that dip to
 * 8.00 on 01-16: the backtest's pinned crossover (which adds two days) and
 * the cancel attack's resting buy run on them.
 */
#define ET_DAILY_BARS \
    "Date,Open,High,Low,Close,Volume\n" \
    "2024-01-02,10.00,11.00,9.00,10.00,100\n" \
    "2024-01-03,10.50,11.50,9.00,10.00,100\n" \
    "2024-01-04,10.50,11.50,9.00,10.00,100\n" \
    "2024-01-05,10.50,11.50,9.00,10.00,100\n" \
    "2024-01-08,10.50,12.00,9.50,11.00,100\n" \
    "2024-01-09,11.50,13.00,10.50,12.00,100\n" \
    "2024-01-10,12.50,14.00,11.50,13.00,100\n" \
    "2024-01-11,13.50,14.50,11.00,12.00,100\n" \
    "2024-01-12,12.50,13.50,10.00,11.00,100\n" \
    "2024-01-15,10.50,12.00,9.00,10.00,100\n" \
    "2024-01-16,10.50,11.50,8.00,9.00,100\n" \
    "2024-01-17,9.50,10.50,8.00,9.00,100\n"

/* The slot of bot_id in e; fails the test when there is none. */
hydra_bot_slot *et_slot(hydra_engine *e, const char *bot_id);
/*
 * A resting limit buy of qty `symbol` at 90% of its market price, as
 * bot_id's entry, through the path every entry takes (journal, then
 * broker); its client_order_id in cid (HYDRA_CID_LEN).
 */
void et_resting_buy(hydra_engine *e, const char *bot_id, const char *symbol, double qty,
                    const char *why, char *cid);
/* The broker's status of an order by client order id (hydra_broker_order_status); -1 when it has none. */
int et_broker_status(hydra_broker *b, const char *cid);

/* Reads a JSONL log and counts lines whose event (and bot_id, if non-NULL) match. */
int et_count_events(const char *log_path, const char *event, const char *bot_id);

/*
 * A client order id from its bot id on ("<bot>-<yyyymmdd>-<seq>", past
 * "hy-<install>-<account>-"): what two runs of the same bots on different
 * state databases agree on.
 */
const char *et_cid_from_bot(const char *cid);

/*
 * What most engine tests hold: a temporary directory (config/ inside it once
 * et_make_config has run, app.jsonl, the state database), the engine over
 * it, and a fault wrapper the test may put around the engine's broker.
 */
typedef struct et_fixture {
    char dir[256];
    char log[512]; /* <dir>/app.jsonl */
    char cfg[512]; /* <dir>/config */
    hydra_engine e;
    int open;
    et_broker *w;
} et_fixture;

/* A cmocka setup and teardown for an et_fixture: a new directory, and everything removed. */
int et_setup(void **state);
int et_teardown(void **state);

/* Opens the engine over <dir>/config: 0, or non-zero with the reason in err and *code. */
int et_try_open(et_fixture *f, char *err, size_t errsz, int *code);
/* Opens the engine or fails the test with the reason. */
void et_open(et_fixture *f);
void et_close(et_fixture *f);
/* Runs n ticks; each must return 0. */
void et_ticks(et_fixture *f, int n);
/* The halt row as the state database holds it. */
hydra_halt et_current_halt(et_fixture *f);

/*
 * One HTTP request (no proxy, 30 s at most). `headers`: extra header lines,
 * NULL-terminated, or NULL; `body`: sent as is, or NULL for none. Returns
 * the status (-1 when no answer) and the answer's body in *out (caller
 * frees); its Content-Type in ctype when ctype is not NULL.
 */
long et_http(const char *method, const char *url, const char *const *headers, const char *body,
             char **out, char *ctype, size_t ctsz);

/*
 * A host that loads its plugins from a directory of the test's own, so a
 * test can swap a plugin under it as a deployment would. `pairs`: a plugin
 * file, then the name it is loaded by, ..., NULL; ET_SHIPPED_PLUGINS lists
 * the shipped plugins where the test program knows where they are built.
 */
#define ET_SHIPPED_PLUGINS                                                                         \
    HYDRA_MOMENTUM_SO, "momentum", HYDRA_OPTIONS_SO, "options", HYDRA_CRYPTO_SO, "crypto"
/* Makes <dir>/plugins (its path in `plugins`) holding a copy of each plugin in `pairs`. */
void et_make_plugins(const char *dir, char *plugins, size_t plugins_sz, const char *const *pairs);
/* Copies the plugin `from` to <plugins>/<name>.so. */
void et_copy_plugin(const char *plugins, const char *from, const char *name);
/* Puts `from` where the host loads <name>.so from, by rename, as a deployment would. */
void et_replace_plugin(const char *plugins, const char *from, const char *name);
/*
 * Opens e over <dir>/config with the plugins in `plugins` (in the host's
 * process when force_inprocess), or fails the test with the reason.
 */
void et_open_plugins(hydra_engine *e, const char *dir, const char *plugins, int force_inprocess);
/* Runs n ticks of e; each must return 0. */
void et_engine_ticks(hydra_engine *e, int n);

/* A cmocka setup for tests that run hydra-host: et_setup, HYDRA_WORKER naming the built worker. */
int et_host_setup(void **state);

#endif
