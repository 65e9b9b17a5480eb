/*
 * Host-enforced exits: run every tick for every position attributed to a
 * bot, whatever the bot's state (quarantined, disabled, halted, out of its
 * window). From bots.yaml: stop_loss_pct, take_profit_pct,
 * time_stop_minutes, flatten_before_close_minutes, and manage_until (after
 * that local time the position is closed). Pure: no I/O.
 */
#ifndef HYDRA_EXITS_H
#define HYDRA_EXITS_H

#include <stdint.h>

#include "broker.h"
#include "config.h"
#include "state.h"

typedef enum hydra_exit_reason {
    HYDRA_EXIT_NONE = 0,
    HYDRA_EXIT_STOP_LOSS = 1,
    HYDRA_EXIT_TAKE_PROFIT = 2,
    HYDRA_EXIT_TIME_STOP = 3,
    HYDRA_EXIT_BEFORE_CLOSE = 4,
    HYDRA_EXIT_MANAGE_UNTIL = 5
} hydra_exit_reason;

/*
 * The first exit rule that fires for `pos` at `price` and time now_ms, in the
 * order above; HYDRA_EXIT_NONE if none. A non-finite or non-positive price
 * fires nothing but the time rules. mclock may be NULL (no close known).
 */
hydra_exit_reason hydra_exit_check(const hydra_bot_cfg *bot, const hydra_bot_position *pos,
                                   double price, int64_t now_ms, const hydra_market_clock *mclock);

/* "stop_loss", "take_profit", "time_stop", "flatten_before_close", "manage_until", "none". */
const char *hydra_exit_reason_name(hydra_exit_reason r);

#endif
