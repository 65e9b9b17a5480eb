/*
 * The embedded simulated exchange (broker "sim", the default).
 *
 * A stateful paper exchange inside the host. It replays market data series
 * with a simulated clock and fills orders by fixed, documented rules (see
 * the README, "Simulated exchange fill rules"):
 *
 *   - The clock moves from bar to bar. At clock time T the last price of a
 *     symbol is the close of its latest bar stamped <= T, and the bars call
 *     returns the series' own bars stamped <= T (not resampled to the asked
 *     timeframe). A step is bar_seconds long; when no series has a bar in
 *     the next step the clock jumps straight to the earliest next bar, so
 *     nights and weekends take one step.
 *   - A market order submitted at T fills at the open of the symbol's next
 *     bar (stamped > T), plus slippage against the taker.
 *   - A limit buy fills on the first later bar whose low <= limit, at
 *     min(open, limit); a limit sell on the first bar whose high >= limit,
 *     at max(open, limit). Slippage does not apply to limit fills.
 *   - Time in force: a day order belongs to the market-zone date of the
 *     first bar after its submission (so an order sent after the close
 *     works the next session) and expires when a bar of a later date
 *     arrives, or the clock passes that date, unfilled. An IOC order that
 *     does not fill on the very next bar is canceled. GTC orders work until
 *     filled or canceled. Within one step, orders are handled in
 *     submission order.
 *   - Fees: fee_per_share for equities and per contract for options;
 *     crypto_fee_bps of the notional for crypto.
 *   - Notional orders (market only; crypto, fractional equity) become
 *     qty = notional / fill price at fill time; a notional sell never sells
 *     more than the position.
 *   - A sell larger than the position (less what open sells already hold)
 *     is rejected ("insufficient qty available for order (requested: X,
 *     available: Y)"); there is no shorting. A buy whose estimated cost
 *     exceeds buying power (cash less the estimates of open buys) is
 *     rejected ("insufficient buying power"). Estimates: market orders at
 *     the last price plus slippage, limit orders at the limit, options at
 *     the current ask, plus fees. A market buy that gaps above its estimate
 *     still fills, and cash may go below zero.
 *   - Orders mirror Alpaca's rules: options in whole contracts, day only;
 *     crypto gtc or ioc; client_order_id unique forever. Ids are
 *     "sim-00000001" onwards. close_all cancels working orders, then sends
 *     a market sell for every position (filled on the next bar).
 *   - Options: contracts are generated around the underlying (an equity
 *     series): every Friday whose session close is still ahead, up to 60
 *     calendar days out (and max_dte); strikes within +-15% of the last
 *     price on a grid of 0.50 below $25, 1 below $200, 5 below $1000, 10
 *     above. Expiry is session_close on the expiry date; T in years =
 *     (expiry - now) / 365 days. Priced with Black-Scholes from the
 *     underlying's price, the configured implied volatility and rate;
 *     bid/ask = model price -/+ half the spread. Buys fill at the ask,
 *     sells at the bid, both computed from the underlying's next bar open
 *     (a limit fills only when that quote is at or better than the limit).
 *     Only listed contracts can be bought. Multiplier 100. Positions are
 *     marked at the model price. Expired contracts settle in cash at
 *     intrinsic value at the underlying's last close at expiry.
 *   - Account: equity = cash + sum(qty * mark * multiplier); last_equity is
 *     the equity when the market-zone date last changed. Average entry
 *     prices exclude fees.
 *   - Market clock: open during [session_open, session_close] market-zone
 *     time on weekdays; there is no holiday calendar.
 *
 * The paper account (cash, positions, orders, replay position) lives in its
 * own SQLite file (sim.db_path), saved in one transaction after each step
 * and each accepted order, so a restart continues the same account;
 * hydra_sim_reset() starts over. ":memory:" (or "") keeps nothing
 * (backtests). Everything is deterministic: the same data, configuration
 * and orders give the same fills and account, byte for byte.
 */
#ifndef HYDRA_SIM_H
#define HYDRA_SIM_H

#include <stddef.h>

#include "broker.h"
#include "clock.h"
#include "config.h"
#include "series.h"

typedef struct hydra_sim hydra_sim;

/*
 * Creates the exchange over `series` (n of them; the sim takes ownership of
 * the array contents and frees them, on failure too, leaving the caller's
 * entries empty). `clock` must be a simulated clock; the sim sets it to the
 * replay start (cfg->start, the first bar, or the saved position of a
 * continued account) and advances it in hydra_sim_step(). The market zone
 * (hydra_tz_set) must be set first.
 */
int hydra_sim_open(const hydra_sim_cfg *cfg, hydra_series *series, size_t n, hydra_clock *clock,
                   hydra_sim **out, char *err, size_t errsz);
void hydra_sim_close(hydra_sim *sim);

/*
 * The broker interface over this exchange. Valid until hydra_sim_close; its
 * destroy does nothing (the sim is closed with hydra_sim_close).
 */
hydra_broker hydra_sim_broker(hydra_sim *sim);

/*
 * Advances the clock by bars_per_tick bars (skipping stretches where no
 * series has a bar), fills what the new bars allow, marks positions and
 * persists. Returns 0, or HYDRA_EEOF when every series is exhausted.
 */
int hydra_sim_step(hydra_sim *sim);

/* The series being replayed (for status and startup logs). */
const hydra_series *hydra_sim_series(const hydra_sim *sim, size_t *n);

/* Deletes the paper account in db_path so the next open starts fresh. */
int hydra_sim_reset(const char *db_path, char *err, size_t errsz);

/*
 * Replaces a working order as Alpaca's PATCH /v2/orders/{id} does: the old
 * order ends "replaced" with replaced_by naming a new order for the same
 * symbol, side and type with `qty` (and `limit_price` for a limit order)
 * under new_cid. The replacement link lives in memory only.
 */
int hydra_sim_replace(hydra_sim *sim, const char *cid, double qty, double limit_price,
                      const char *new_cid, hydra_order *out, hydra_broker_err *err);

/*
 * Black-Scholes price and delta of a European option (T in years). At or
 * after expiry (T <= 0): intrinsic value, delta 0 or +-1. NaN when an
 * argument is not finite or S or K is not positive.
 */
double hydra_bs_price(int is_call, double S, double K, double r, double sigma, double T);
double hydra_bs_delta(int is_call, double S, double K, double r, double sigma, double T);

#endif
