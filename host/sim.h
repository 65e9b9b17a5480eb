/*
 * The embedded simulated exchange (broker "sim", the default).
 *
 * A stateful paper exchange inside the host. It replays market data series
 * with a simulated clock and fills orders by fixed, documented rules (see
 * the README, "Simulated exchange fill rules"):
 *
 *   - The clock moves from bar to bar. At clock time T the last price of a
 *     symbol is the close of its latest bar stamped <= T.
 *   - A market order submitted at T fills at the open of the symbol's next
 *     bar (stamped > T), plus slippage against the taker.
 *   - A limit buy fills on the first later bar whose low <= limit, at
 *     min(open, limit); a limit sell on the first bar whose high >= limit,
 *     at max(open, limit). Slippage does not apply to limit fills.
 *   - Fees: fee_per_share for equities and per contract for options;
 *     crypto_fee_bps of the notional for crypto.
 *   - Notional orders (crypto, fractional equity) become qty = notional /
 *     fill price at fill time.
 *   - A sell larger than the position (less what open sells already hold)
 *     is rejected ("insufficient qty available"); a buy whose estimated cost
 *     exceeds buying power (cash) is rejected ("insufficient buying power").
 *   - Options: contracts are generated around the underlying (strikes within
 *     +-15%, weekly Friday expiries out to 60 days), priced with
 *     Black-Scholes from the underlying's price, the configured implied
 *     volatility and rate; bid/ask = model price -/+ half the spread.
 *     Buys fill at the ask, sells at the bid, both computed from the
 *     underlying's next bar open. Multiplier 100. Expired contracts settle
 *     in cash at intrinsic value at the underlying's last price.
 *
 * The paper account (cash, positions, orders, replay position) lives in its
 * own SQLite file (sim.db_path), so a restart continues the same account;
 * hydra_sim_reset() starts over. ":memory:" keeps nothing (backtests).
 * Everything is deterministic: the same data, configuration and orders give
 * the same fills and account, byte for byte.
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
 * the array contents and frees them). `clock` must be a simulated clock; the
 * sim sets it to the replay start (cfg->start, the first bar, or the saved
 * position of a continued account) and advances it in hydra_sim_step().
 */
int hydra_sim_open(const hydra_sim_cfg *cfg, hydra_series *series, size_t n, hydra_clock *clock,
                   hydra_sim **out, char *err, size_t errsz);
void hydra_sim_close(hydra_sim *sim);

/* The broker interface over this exchange. Valid until hydra_sim_close. */
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

/* Black-Scholes price and delta of a European option (T in years). */
double hydra_bs_price(int is_call, double S, double K, double r, double sigma, double T);
double hydra_bs_delta(int is_call, double S, double K, double r, double sigma, double T);

#endif
