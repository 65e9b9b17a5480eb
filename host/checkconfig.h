/*
 * `hydra-host check-config`: predicts whether a run would start and trade.
 * Beyond the configuration files' own validation it loads every enabled
 * bot's plugin where the host would (a worker, or in-process) and calls its
 * create with its params, checks that every declared symbol has a price
 * source, and checks PortfolioBot's bucket and guardrail arithmetic.
 */
#ifndef HYDRA_CHECKCONFIG_H
#define HYDRA_CHECKCONFIG_H

#include <stdio.h>

#include "config.h"

typedef struct hydra_check_options {
    const char *config_dir;
    const char *plugins_dir;
    int online; /* broker alpaca: ask the broker for a price of every symbol */
} hydra_check_options;

/*
 * Runs every check and lists every problem (one line each, naming the file,
 * the bot and the key) on `problems`; the effective configuration goes to
 * `out` when the files load. Returns the exit status: 0 when the run is
 * predicted to work, 2 when anything would fail.
 */
int hydra_check_config(const hydra_check_options *opt, FILE *out, FILE *problems);

/*
 * The problems with the configuration's numbers and symbols alone (no
 * plugin loaded, nothing asked of a broker): PortfolioBot's buckets over
 * 100% of the daily risk, per-bot minimums that together exceed it, a bot's
 * symbol with no sim.series entry under broker sim. Added to diag; returns
 * how many.
 */
int hydra_check_config_static(const hydra_config *cfg, hydra_diag *diag);

#endif
