/*
 * Orders: the journal, submission and reconciliation.
 *
 * Every order the host sends is first written to the journal (state
 * pending_submit) with a deterministic client_order_id,
 *
 *     hy-<install>-<account>-<bot_id>-<yyyymmdd>-<seq>
 *
 * where <install> is 8 hex digits drawn at random once per state database
 * (kv "install_id") and <account> 6 hex digits of a hash of the broker's
 * account id (kv "account_key", learnt from the first account read). At
 * most 3 + 8 + 1 + 6 + 1 + 32 + 1 + 8 + 1 + 10 = 71 characters (Alpaca
 * takes 128). A lost or reset journal, or a second host on the same
 * account, therefore never reuses an id; "hy-<install>-<account>-" is the
 * prefix that marks this installation's orders. Only then is the row
 * submitted. The journal row is durable before the broker sees anything.
 *
 * An order found at the broker under one of our ids is adopted only when
 * its symbol, side, type and size (qty, or notional) match the journal row.
 * A mismatch is an id collision: logged (order_id_collision, both sides),
 * never booked, the row closed as rejected, and the bot's entries stopped
 * for the day. A fill beyond the order's size is a broker contradiction:
 * nothing beyond the size is booked and the host halts.
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

/*
 * Loads this installation's id from state, making and storing one the first
 * time, and the account key learnt earlier. Returns 0 or HYDRA_ESTATE.
 */
int hydra_orders_identity_init(hydra_engine *e);

/*
 * Takes note of the account the broker reports. The first time, its key is
 * stored; afterwards a different account is a contradiction: returns 1
 * with the reason in `why`. 0 when it is the known account.
 */
int hydra_orders_learn_account(hydra_engine *e, const hydra_account *a, char *why, size_t whysz);

/* The client_order_id of (bot, day "YYYY-MM-DD", seq). HYDRA_EINVAL when it does not fit. */
int hydra_orders_client_id(const hydra_engine *e, const char *bot_id, const char *day, int seq,
                           char *out, size_t outsz);

/* 1 when cid carries this installation's and account's prefix. */
int hydra_orders_is_own(const hydra_engine *e, const char *cid);

/*
 * Positions and open orders on the account that Hydra did not create, found
 * at start once the journal is synced: a broker position beyond what the
 * journal explains (or any short: Hydra never shorts), and an open order
 * whose client_order_id neither carries this installation's prefix nor is
 * in the journal. With alpaca.foreign_positions: refuse, returns 1 with
 * them described in `why` (the host does not start). With ignore, the
 * positions are recorded as the foreign baseline (kv "foreign_baseline"),
 * logged, and 0 is returned; hydra_orders_check_positions then expects
 * broker = journal + baseline. Negative on a broker or state failure.
 */
int hydra_orders_strangers(hydra_engine *e, char *why, size_t whysz);

/* Loads the foreign baseline recorded at the last start (for tools that do not start the loop). */
int hydra_orders_load_foreign(hydra_engine *e);

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
 * to bots plus the foreign baseline. Returns 0 when they agree, 1 with a description in `why` when a
 * broker position cannot be explained, negative on a broker failure.
 */
int hydra_orders_check_positions(hydra_engine *e, char *why, size_t whysz);

/*
 * Crypto fees taken in coin. Alpaca charges a crypto buy's fee in the coin
 * received (the position is filled_qty less the fee) and its order carries
 * no fee for it; the CFEE activity that names it posts later. So a broker
 * position short of the journal by at most Alpaca's highest fee rate (0.25%,
 * the first taker tier) of what the journal holds is a fee: the check books
 * it (each bot holding the coin gives up its share as a realised loss) and
 * the journal then equals the account. A broker that reports the fee on the
 * order (fee_qty: the simulated exchange) is booked exactly at the fill.
 */
#define HYDRA_CRYPTO_MAX_FEE_RATE 0.0025

/*
 * The coin fee that explains a broker crypto position smaller than the
 * journal's: journal_qty - broker_qty when that is more than the position
 * check's tolerance and at most HYDRA_CRYPTO_MAX_FEE_RATE of journal_qty;
 * else 0 (nothing to explain, or not a fee: the check reports it).
 */
double hydra_orders_coin_fee_gap(unsigned asset_class, double journal_qty, double broker_qty);

/* Quantity of working (non-final) orders of bot_id in symbol on `side`. */
double hydra_orders_working_qty(hydra_engine *e, const char *bot_id, const char *symbol, int side);

/* Working entry orders of bot_id: their count and their risk in dollars. */
void hydra_orders_working_entries(hydra_engine *e, const hydra_bot_cfg *bot, int *count,
                                  double *risk);

/* Entries created (all bots) since since_ms: the orders-per-minute gate. */
int hydra_orders_count_since(hydra_engine *e, int64_t since_ms);

#endif
