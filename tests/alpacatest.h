/*
 * The host with `broker: alpaca` against the local exchange: hydra-exchange's
 * server in-process on an ephemeral 127.0.0.1 port over its own simulated
 * market and clock, the host's configuration pointing broker alpaca at it,
 * fake credentials in the environment, and the exchange's control API
 * (/_hydra/...) over HTTP. Each test picks its own fake keys and tuning.
 */
#ifndef HYDRA_ALPACATEST_H
#define HYDRA_ALPACATEST_H

#include <stddef.h>

#include <jansson.h>

#include "clock.h"
#include "config.h"
#include "enginetest.h"
#include "exchange_server.h"
#include "sim.h"

typedef struct at_fixture {
    char dir[256];
    char log[512];      /* <dir>/app.jsonl */
    char state_db[512]; /* <dir>/trading_state.db */
    /* The fake credentials: the exchange accepts them, ALPACA_KEY/ALPACA_SECRET hold them. */
    const char *key;
    const char *secret;
    /* The exchange: its own configuration, sim and clock. */
    hydra_config *xcfg;
    hydra_clock xclock;
    hydra_sim *sim;
    hydra_exchange *ex;
    int port;
    /* The host. */
    hydra_engine e;
    int open;
    et_broker *w;
} at_fixture;

/*
 * A new fixture over a fresh temporary directory, with key and secret (fake,
 * never a real account's) set as ALPACA_KEY/ALPACA_SECRET and ALPACA_PAPER
 * unset. For a cmocka setup: `*state = at_new(KEY, SECRET)`.
 */
at_fixture *at_new(const char *key, const char *secret);
/* A cmocka teardown: the host closed, the exchange stopped, the directory removed. */
int at_teardown(void **state);

/* Starts the exchange over <dir>/exchange (shipped configuration), rate_limit requests a minute. */
void at_start_exchange(at_fixture *f, int rate_limit);

/*
 * Writes the host's configuration: the shipped one with broker alpaca at the
 * local exchange, use_broker_clock, the adapter's per-request timeout_ms and
 * the workers' call_deadline_ms, then `settings_edits` and `bots_edits`
 * (et_make_config's "old=>new" lines, may be NULL).
 */
void at_host_config(at_fixture *f, int timeout_ms, int call_deadline_ms, const char *settings_edits,
                    const char *bots_edits);

/*
 * Opens the host over <dir>/config, its broker wrapped by f->w (cleared) to
 * record every submission: 0, or non-zero with the reason in err and *code.
 */
int at_try_open(at_fixture *f, char *err, size_t errsz, int *code);
/* Opens the host or fails the test with the reason. */
void at_open(at_fixture *f);
void at_close(at_fixture *f);

/* One tick: the exchange's clock moves one step, then the host ticks on the broker's time. */
void at_tick(at_fixture *f);
void at_ticks(at_fixture *f, int n);
/* The halt row as the host's state database holds it. */
hydra_halt at_current_halt(at_fixture *f);

/*
 * A request to the exchange (`with_keys`: the fixture's credentials in
 * Alpaca's headers). Returns the answer's JSON (NULL when none or not JSON);
 * *status is the HTTP status, -1 when the server did not answer.
 */
json_t *at_request(at_fixture *f, const char *method, const char *path, const char *body,
                   int with_keys, long *status);
/* A control request; NULL unless answered 200 (the server may be told to refuse connections). */
json_t *at_try_control(at_fixture *f, const char *method, const char *path, const char *body);
/* A control request that must be answered with 200 and JSON. */
json_t *at_control(at_fixture *f, const char *method, const char *path, const char *body);
/* POST /_hydra/faults with these rules. */
void at_set_faults(at_fixture *f, const char *rules_json);
/* One number from GET /_hydra/stats. */
long at_stat_of(at_fixture *f, const char *key);

#endif
