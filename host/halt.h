/*
 * Halts: one routine for every source (operator, kill switch, ExitBot,
 * reconciliation, bootstrap).
 *
 * A halt is persisted (the halts table), logged once as `system_halt` with
 * its source and reason, and then flattened, in the tick it is seen and in
 * every tick after it until Hydra holds nothing and has no order open:
 *
 *   1. Cancel, one by one and by the broker's order id, every open order in
 *      Hydra's journal except the market sells already closing a position.
 *      Entry orders are cancelled first and never waited on. An order the
 *      journal does not hold is not Hydra's and is never touched: no
 *      account-wide cancel is ever sent.
 *   2. Sync the journal (the cancels and any fills they raced with).
 *   3. Per symbol, sell min(journal, broker) less what working sells already
 *      cover, as journaled market orders (Hydra's client_order_id, so every
 *      fill is booked to the bot that held it), split over the bots holding
 *      it. A difference between journal and broker is logged
 *      (`halt_position_mismatch`): what the broker holds beyond the journal
 *      is somebody else's and stays; what the journal holds beyond the
 *      broker cannot be sold.
 *
 * A halt written by another process (`hydra-host halt`) is found by the
 * running host at its next tick, acknowledged in the row (pid, tick, time;
 * `status` shows it) and then handled exactly like the host's own.
 *
 * On the simulated exchange a market order fills on the next bar, so a halt
 * seen in tick N has cancelled Hydra's orders in tick N and holds nothing
 * after tick N + 1. A broker that refuses or fails a cancel or a sell is
 * asked again every tick.
 */
#ifndef HYDRA_HALT_H
#define HYDRA_HALT_H

#include "loop.h"
#include "state.h"

/*
 * Every tick while a halt is active (ExitBot calls it): a halt no host has
 * acted on yet is acknowledged and logged, then whatever is left is
 * flattened. Returns 1 once Hydra is flat (no open order, nothing it owns
 * at the broker), 0 while it is not.
 */
int hydra_halt_keep_flat(hydra_engine *e, const hydra_halt *h);

#endif
