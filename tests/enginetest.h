/*
 * Helpers for engine tests: a private copy of the shipped configuration
 * that writes state and logs into a temporary directory, and a broker
 * wrapper that injects faults into the real simulated exchange and records
 * every order that reaches it.
 */
#ifndef HYDRA_ENGINETEST_H
#define HYDRA_ENGINETEST_H

#include <stddef.h>

#include "broker.h"
#include "loop.h"

/*
 * Creates <dir>/config/{settings,bots}.yaml from the shipped files with
 * state, log, kill switch and paper exchange inside dir and data paths
 * pointing at the repository. `settings_edits` and `bots_edits` (may be NULL)
 * are "old=>new" replacement pairs, one per line, applied to the text; a
 * literal backslash-n inside a pair stands for a line break.
 */
int et_make_config(const char *dir, const char *settings_edits, const char *bots_edits);

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
    unsigned long long rng;
} et_broker;

/* Wraps e->broker: from now on the engine calls through `w`. */
void et_wrap(et_broker *w, hydra_engine *e);

/* Reads a JSONL log and counts lines whose event (and bot_id, if non-NULL) match. */
int et_count_events(const char *log_path, const char *event, const char *bot_id);

/*
 * A client order id from its bot id on ("<bot>-<yyyymmdd>-<seq>", past
 * "hy-<install>-<account>-"): what two runs of the same bots on different
 * state databases agree on.
 */
const char *et_cid_from_bot(const char *cid);

#endif
