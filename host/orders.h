/*
 * Orders: the journal, submission and reconciliation.
 *
 * Every order the host sends is first written to the journal (state
 * pending_submit) with a deterministic client_order_id,
 * "<bot_id>-<yyyymmdd>-<seq>" (at most 48 characters), and only then
 * submitted. The journal row is durable before the broker sees anything.
 *
 * A row whose outcome is unknown (a transport failure on submit, or a crash
 * between the journal write and the submission) is resolved by asking the
 * broker for that client_order_id: found means adopt the broker's order;
 * not found means the order never reached the broker and the row is closed
 * as canceled. Hydra never resubmits such an order: the intent is stale by
 * then, and not resubmitting is what makes a second order impossible.
 */
#ifndef HYDRA_ORDERS_H
#define HYDRA_ORDERS_H

#include <hydra/plugin.h>

#include "loop.h"

/* Journals and submits one intent for a bot. The cid is written to cid_out (>= 49 bytes). */
int hydra_orders_submit(hydra_engine *e, hydra_bot_slot *slot, const hydra_intent *in,
                        const char *reason, char *cid_out);
/*
 * The same for a bot that may no longer be configured (a halt closes what a
 * removed bot still holds): bot_id names the journal's owner, default_tif
 * applies when the intent names none.
 */
int hydra_orders_submit_as(hydra_engine *e, const char *bot_id, int default_tif,
                           const hydra_intent *in, const char *reason, char *cid_out);

/*
 * Resolves every non-final journal row with the broker: adopts or closes
 * pending rows, applies new fills to the bot's position and daily PnL, and
 * tells the bot (on_fill). Returns 0 or the first broker failure.
 */
int hydra_orders_sync(hydra_engine *e);

/*
 * Compares the broker's positions with the positions the journal attributes
 * to bots. Returns 0 when they agree, 1 with a description in `why` when a
 * broker position cannot be explained, negative on a broker failure.
 */
int hydra_orders_check_positions(hydra_engine *e, char *why, size_t whysz);

/* Quantity of working (non-final) orders of bot_id in symbol on `side`. */
double hydra_orders_working_qty(hydra_engine *e, const char *bot_id, const char *symbol, int side);

/* Working entry orders of bot_id: their count and their risk in dollars. */
void hydra_orders_working_entries(hydra_engine *e, const hydra_bot_cfg *bot, int *count,
                                  double *risk);

/* Entries created (all bots) since since_ms: the orders-per-minute gate. */
int hydra_orders_count_since(hydra_engine *e, int64_t since_ms);

#endif
