/*
 * `hydra-host status`: what an operator asks first, read from the instance
 * lock and the state database a host writes, without disturbing that host.
 *
 * The JSON (`status --json`) is versioned by its "schema" member; schema 1 is
 * documented in README.md ("status --json"). Members are only ever added
 * within a schema; a removal or a change of meaning gets a new number.
 */
#ifndef HYDRA_STATUS_H
#define HYDRA_STATUS_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "state.h"

#define HYDRA_STATUS_SCHEMA 1

/* Who, if anyone, runs with this state: the instance lock file "<db>.lock". */
typedef struct hydra_host_probe {
    long pid;       /* the PID written in the lock file; 0 when there is none */
    int pid_alive;  /* that process exists */
    int holds_lock; /* the lock is held now: a host is running */
} hydra_host_probe;

void hydra_status_probe(const char *state_db_path, hydra_host_probe *out);

/*
 * The status document (schema 1) at wall-clock time now_ms. Returns a new
 * reference, or NULL when out of memory. Reads only.
 */
json_t *hydra_status_build(const hydra_config *cfg, hydra_state *st, int64_t now_ms);

/* The same document for people. */
void hydra_status_print(const json_t *status, FILE *out);

#endif
