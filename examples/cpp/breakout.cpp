/*
 * Example bot in C++17: the Donchian channel breakout, long only.
 *
 * signal.mode "breakout"; params entry_bars (default 20), exit_bars (10),
 * qty (100). For every symbol the bot trades, on the last completed bar:
 *   - entry (on_tick): nothing held, no entry working, and the close is
 *     above the highest high of the entry_bars bars before it: a market buy
 *     of qty;
 *   - exit (manage): shares held, no exit working, and the close is below
 *     the lowest low of the exit_bars bars before it: a market sell of all.
 * Orders fill at the next bar's open (the simulated exchange's rule).
 *
 * Written with the SDK's optional C++ layer (hydra/plugin.hpp) and its
 * indicators (hydra/indicators.h); the host sees the same C ABI as from
 * any C bot. Exceptions stop at the layer's boundary and quarantine the bot.
 */
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>

#include <hydra/indicators.h>
#include <hydra/plugin.hpp>

namespace {

/* The host shows a bot the last 120 bars of each symbol; a channel needs one more for the close. */
constexpr int64_t max_window = 119;

class breakout {
public:
    breakout(uint32_t entry_bars, uint32_t exit_bars, double qty)
        : entry_bars_(entry_bars), exit_bars_(exit_bars), qty_(qty)
    {
    }

    static int create(hydra::host &host, const hydra_bot_config &cfg, std::unique_ptr<breakout> &out)
    {
        int64_t entry = 20, exit = 10, qty = 100;
        if (!host.param_int("entry_bars", 20, entry) || !host.param_int("exit_bars", 10, exit) ||
            !host.param_int("qty", 100, qty) || cfg.signal_mode == nullptr ||
            std::strcmp(cfg.signal_mode, "breakout") != 0 || entry < 1 || entry > max_window || exit < 1 ||
            exit > max_window || qty < 1 || cfg.n_symbols < 1) {
            host.log(HYDRA_LOG_ERROR, "bot_config_error",
                     "breakout: needs signal.mode breakout, symbols and integers "
                     "1 <= entry_bars, exit_bars <= 119, qty >= 1");
            return HYDRA_BOT_BAD_CONFIG;
        }
        out = std::make_unique<breakout>(static_cast<uint32_t>(entry), static_cast<uint32_t>(exit),
                                         static_cast<double>(qty));
        return HYDRA_BOT_OK;
    }

    int manage(const hydra_snapshot &snap, hydra::intents &out) const
    {
        for (uint32_t k = 0; k < snap.n_symbols; k++) {
            const hydra_symbol_view *v = snap.symbols[k];
            double held, close, floor;
            if (v == nullptr || v->symbol == nullptr)
                continue;
            held = hydra::position_qty(snap, v->symbol);
            if (!(held > 0.0) || hydra::has_working_order(snap, v->symbol, HYDRA_INTENT_EXIT) ||
                !channel(v, exit_bars_, hydra_series_lows, hydra_rolling_min, close, floor) ||
                !(close < floor))
                continue;
            char why[96];
            std::snprintf(why, sizeof why, "close %.2f below the %u-bar low %.2f", close,
                          static_cast<unsigned>(exit_bars_), floor);
            hydra_intent in = hydra::intents::make(HYDRA_INTENT_EXIT, HYDRA_SIDE_SELL,
                                                   HYDRA_ORDER_MARKET, HYDRA_ASSET_EQUITY);
            in.qty = held;
            out.push(in, v->symbol, why);
        }
        return HYDRA_BOT_OK;
    }

    int on_tick(const hydra_snapshot &snap, hydra::intents &out) const
    {
        for (uint32_t k = 0; k < snap.n_symbols; k++) {
            const hydra_symbol_view *v = snap.symbols[k];
            double close, ceiling;
            if (v == nullptr || v->symbol == nullptr || hydra::position_qty(snap, v->symbol) > 0.0 ||
                hydra::has_working_order(snap, v->symbol, HYDRA_INTENT_ENTRY) ||
                !channel(v, entry_bars_, hydra_series_highs, hydra_rolling_max, close, ceiling) ||
                !(close > ceiling))
                continue;
            char why[96];
            std::snprintf(why, sizeof why, "close %.2f above the %u-bar high %.2f", close,
                          static_cast<unsigned>(entry_bars_), ceiling);
            hydra_intent in = hydra::intents::make(HYDRA_INTENT_ENTRY, HYDRA_SIDE_BUY,
                                                   HYDRA_ORDER_MARKET, HYDRA_ASSET_EQUITY);
            in.qty = qty_;
            out.push(in, v->symbol, why);
        }
        return HYDRA_BOT_OK;
    }

private:
    using series_of = hydra_series (*)(const hydra_bar *, uint32_t);
    using rolling = int (*)(hydra_series, uint32_t, double *);

    static bool good_price(double x) { return std::isfinite(x) && x > 0.0; }

    /*
     * The last close and the channel edge (highest high or lowest low) of
     * the n bars before it. False with too few bars, or when the host has
     * no valid price for the symbol now: no order on a price it cannot see.
     */
    static bool channel(const hydra_symbol_view *v, uint32_t n, series_of field, rolling edge_of,
                        double &close, double &edge)
    {
        if (v->bars == nullptr || v->n_bars < n + 1 || !good_price(v->last_price))
            return false;
        hydra_series closes = hydra_series_closes(v->bars, v->n_bars);
        close = hydra_series_at(closes, v->n_bars - 1);
        return good_price(close) &&
               edge_of(hydra_series_drop(field(v->bars, v->n_bars), 1), n, &edge) == 0;
    }

    uint32_t entry_bars_, exit_bars_;
    double qty_;
};

} // namespace

HYDRA_CXX_PLUGIN(breakout, "breakout", "1.0.0",
                 "Example in C++: Donchian channel breakout, long only, market orders",
                 HYDRA_ASSET_EQUITY);
