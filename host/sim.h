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
 *   - Fees: fee_per_share for equities and per contract for options.
 *     Crypto pays crypto_fee_bps in the asset received, as Alpaca does: a
 *     buy of q coins adds q * (1 - bps/10000) to the position (the order's
 *     fee_qty says how much was taken) and costs the full q * price; a sell
 *     pays the fee in dollars out of the proceeds.
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
 *   - Stop orders (hydra-exchange only): a stop buy triggers on the first
 *     later bar whose high >= stop and fills there at max(open, stop) plus
 *     slippage; a stop sell on low <= stop at min(open, stop) less
 *     slippage. A stop_limit triggers the same way and then is a limit: on
 *     the trigger bar it fills at the trigger price max(open, stop) (buy) /
 *     min(open, stop) (sell) only when that price is at or better than the
 *     limit; later bars follow the limit rule. A trailing_stop sell keeps the
 *     high-water mark hwm (the last price at submission, then each bar's
 *     high); its stop is hwm - trail_price or hwm * (1 - trail_percent/100),
 *     and a bar whose low reaches the stop standing before that bar fills it
 *     like a stop; a buy mirrors it with the low-water mark and lows.
 *   - opg: refused while the session is open or within two minutes before
 *     it (and until three hours after the close); fills at the open of the
 *     first bar at or after the next session open, no slippage (the opening
 *     auction); a limit opg whose limit that open does not reach is canceled.
 *     cls: refused from ten minutes before the close until three hours after;
 *     fills at the close of the last bar stamped at or before its session's
 *     close (known when a later bar arrives; a bar stamped at the close is the
 *     last), no slippage; a limit cls not met there is canceled. fok acts as
 *     ioc: the sim fills whole orders only.
 *   - Orders mirror Alpaca's rules: options in whole contracts, market or
 *     limit, day only; crypto gtc, ioc or fok, market, limit or stop_limit;
 *     client_order_id unique forever (up to 128 characters). Ids are UUIDs
 *     from the submission number and a random salt kept with the account
 *     (salt 0 in memory, so backtests stay byte-identical). close_all
 *     cancels working orders, then sends a market sell for every position
 *     (filled on the next bar).
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

/*
 * From now on, an order that has stopped working is forgotten at the second
 * change of trading day after it stopped (its client has had a whole day of
 * ticks to read its end): by id, by client id and in lists it is then
 * unknown. For a backtest's exchange, which nobody else asks, so that a
 * long replay does not keep every order it ever took. Not for an exchange
 * that serves clients or keeps a file.
 */
void hydra_sim_forget_closed_orders(hydra_sim *sim);

/* The series being replayed (for status and startup logs). */
const hydra_series *hydra_sim_series(const hydra_sim *sim, size_t *n);

/*
 * What hydra-exchange serves beyond the broker interface: Alpaca's other
 * order types and times in force, orders by id, single cancels and closes,
 * and the account events a real account shows (the fault rules).
 */
enum { HYDRA_ORDER_STOP = 3, HYDRA_ORDER_STOP_LIMIT = 4, HYDRA_ORDER_TRAILING_STOP = 5 };
enum { HYDRA_TIF_OPG = 4, HYDRA_TIF_CLS = 5, HYDRA_TIF_FOK = 6 };

typedef struct hydra_sim_order_ext {
    double stop_price;    /* stop, stop_limit; trailing_stop: the stop standing now */
    double trail_price;   /* trailing_stop: one of these two */
    double trail_percent;
    double hwm;           /* trailing_stop: high (sell) or low (buy) water mark */
    int extended_hours;
    int64_t canceled_ms, expired_ms, replaced_ms;
    char replaced_by[64]; /* the replacing order's id, once replaced */
    char replaces[64];    /* the order this one replaced */
} hydra_sim_order_ext;

/*
 * Submits with the fields only the exchange takes (ext may be NULL; its
 * stop_price, trail_price, trail_percent and extended_hours are read).
 * Otherwise as the broker's submit. xout (may be NULL) gets the order's ext.
 */
int hydra_sim_submit_ext(hydra_sim *sim, const hydra_order_request *req,
                         const hydra_sim_order_ext *ext, hydra_order *out,
                         hydra_sim_order_ext *xout, hydra_broker_err *err);

/* Every order ever accepted, in submission order: the count, and the i-th. */
size_t hydra_sim_order_count(const hydra_sim *sim);
int hydra_sim_order_at(const hydra_sim *sim, size_t i, hydra_order *o, hydra_sim_order_ext *x);

/* The order with this broker id (HYDRA_ENOTFOUND when none). */
int hydra_sim_order_by_id(const hydra_sim *sim, const char *id, hydra_order *o,
                          hydra_sim_order_ext *x);

/*
 * Ends a working order as `status` (HYDRA_BOS_CANCELED or _EXPIRED), by
 * the client or, as a fault, by the exchange. HYDRA_ENOTFOUND when no order
 * has the id; HYDRA_EREJECTED (422) when it no longer works.
 */
int hydra_sim_end_order(hydra_sim *sim, const char *id, int status, hydra_broker_err *err);

/*
 * Sells (or for a short, buys) qty of a position at market, or all of it
 * when qty <= 0; working orders on the symbol are left alone.
 * HYDRA_ENOTFOUND without a position; the new order in *out.
 */
int hydra_sim_close_position(hydra_sim *sim, const char *symbol, double qty, hydra_order *out,
                             hydra_broker_err *err);

/*
 * Faults a real account shows. replace: the working order `id` becomes
 * replaced by a new working order with qty (0: the same) and a new
 * client_order_id; *out gets the new order. partial_cancel: fills
 * `fraction` of a working order at the last price, then cancels the rest.
 * adjust_position: adds qty (negative takes away: a fee in coin) of a
 * symbol at `price` (0: the last price) without touching cash, as a
 * transfer or a position opened elsewhere would.
 */
int hydra_sim_replace(hydra_sim *sim, const char *id, double qty, hydra_order *out,
                      hydra_broker_err *err);
int hydra_sim_partial_cancel(hydra_sim *sim, const char *id, double fraction,
                             hydra_broker_err *err);
int hydra_sim_adjust_position(hydra_sim *sim, const char *symbol, double qty, double price,
                              hydra_broker_err *err);

/* Deletes the paper account in db_path so the next open starts fresh. */
int hydra_sim_reset(const char *db_path, char *err, size_t errsz);

/*
 * Replaces a working order as Alpaca's PATCH /v2/orders/{id} does: the old
 * order ends "replaced" with replaced_by naming a new order for the same
 * symbol, side and type with `qty` (and `limit_price` for a limit order)
 * under new_cid. The replacement link lives in memory only.
 */
int hydra_sim_replace_by_cid(hydra_sim *sim, const char *cid, double qty, double limit_price,
                      const char *new_cid, hydra_order *out, hydra_broker_err *err);

/*
 * Black-Scholes price and delta of a European option (T in years). At or
 * after expiry (T <= 0): intrinsic value, delta 0 or +-1. NaN when an
 * argument is not finite or S or K is not positive.
 */
double hydra_bs_price(int is_call, double S, double K, double r, double sigma, double T);
double hydra_bs_delta(int is_call, double S, double K, double r, double sigma, double T);

#endif
