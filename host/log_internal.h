/*
 * Log internals shared with the tests only.
 */
#ifndef HYDRA_LOG_INTERNAL_H
#define HYDRA_LOG_INTERNAL_H

#include "clock.h"
#include "log.h"

/*
 * Replaces the wall clock that stamps `ts` and decides the daily rotation
 * (NULL restores the real wall clock). A simulated clock here lets a test
 * cross midnight without waiting for it. The clock must outlive the log.
 */
void hydra_log_set_wall_clock(hydra_log *lg, const hydra_clock *wall);

#endif
