/*
 * ExitBot (rank 100, host code): the kill switch.
 *
 * Each tick, in order: clear a halt whose time has passed; the kill-switch
 * file; health (API failures in the window, price staleness, the audit log);
 * the account (readable, finite, positive, not blocked, no equity jump
 * beyond risk.max_equity_jump_pct in one tick, every broker position
 * explained by the journal); daily loss against day-start equity and
 * risk.global_max_daily_loss_pct. Each condition can be switched off in
 * bots.yaml (exitbot.kill_conditions). Any breach persists a halt (reason,
 * until = now + cooloff_minutes), cancels all orders, closes all positions
 * and logs it. While halted, positions left over are closed again.
 */
#ifndef HYDRA_EXITBOT_H
#define HYDRA_EXITBOT_H

#include "loop.h"

/*
 * Runs ExitBot. Returns 0 when trading may continue, 1 when a halt is
 * active (new or old), negative when ExitBot itself could not do its job
 * (the caller halts and flattens).
 */
int hydra_exitbot_run(hydra_engine *e);

/*
 * The conditions an operator's resume must not override: kill-switch file,
 * daily loss, account anomalies. Returns 0 when none holds, 1 with the
 * reason in `why`, negative on a broker failure.
 */
int hydra_exitbot_conditions(hydra_engine *e, char *why, size_t whysz);

/*
 * The two account rules as pure functions (live and backtest both use
 * them): 1 with the reason in `why` when equity has lost
 * max_daily_loss_pct of the day-start equity, or moved more than
 * max_jump_pct since last_equity (a rule whose reference is not positive
 * never fires); 0 otherwise.
 */
int hydra_exitbot_daily_loss(double day_start_equity, double equity, double max_daily_loss_pct,
                             char *why, size_t whysz);
int hydra_exitbot_equity_jump(double last_equity, double equity, double max_jump_pct, char *why,
                              size_t whysz);

#endif
