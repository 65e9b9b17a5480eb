#include "exits.h"

#include <math.h>

#include "clock.h"

/*
 * Percent moves are compared with this slack so a price exactly at the
 * configured distance fires: (99.5 - 100) / 100 * 100 is not exactly -0.5
 * in floating point.
 */
#define PCT_EPS 1e-9
#define MINUTE_MS 60000LL

/* Percent change from the average entry price; v1 positions are long only. */
static int move_pct(const hydra_bot_position *pos, double price, double *pct)
{
    if (!isfinite(price) || price <= 0.0 || !isfinite(pos->avg_price) || pos->avg_price <= 0.0)
        return 0;
    *pct = (price - pos->avg_price) / pos->avg_price * 100.0;
    return 1;
}

static int stop_loss_fires(const hydra_bot_cfg *bot, int have_move, double pct)
{
    return have_move && bot->stop_loss_pct > 0.0 && pct <= -bot->stop_loss_pct + PCT_EPS;
}

static int take_profit_fires(const hydra_bot_cfg *bot, int have_move, double pct)
{
    return have_move && bot->take_profit_pct > 0.0 && pct >= bot->take_profit_pct - PCT_EPS;
}

/* A position whose open time is not known is not aged out; the other rules still apply. */
static int time_stop_fires(const hydra_bot_cfg *bot, const hydra_bot_position *pos, int64_t now_ms)
{
    return bot->time_stop_minutes > 0 && pos->opened_ms > 0 &&
           now_ms - pos->opened_ms >= (int64_t)bot->time_stop_minutes * MINUTE_MS;
}

/*
 * Only while the regular session is open and its close is known. A close
 * already in the past (a clock read late) is within any number of minutes,
 * so the rule fires.
 */
static int before_close_fires(const hydra_bot_cfg *bot, int64_t now_ms,
                              const hydra_market_clock *mclock)
{
    return bot->flatten_before_close_minutes > 0 && mclock != NULL && mclock->is_open &&
           mclock->next_close_ms > 0 &&
           mclock->next_close_ms - now_ms <= (int64_t)bot->flatten_before_close_minutes * MINUTE_MS;
}

/*
 * Positions are closed once the market-zone local minute is past
 * manage_until. A daily-bar bot's bar is the whole session, stamped at its
 * close, so its day has no minutes to manage until: the rule does not apply.
 */
static int manage_until_fires(const hydra_bot_cfg *bot, int64_t now_ms)
{
    hydra_local_time lt;
    if (bot->manage_until_min <= 0 || bot->bar_timeframe == HYDRA_BARS_DAY)
        return 0;
    hydra_local_from_utc(now_ms, &lt);
    return lt.minute_of_day > bot->manage_until_min;
}

hydra_exit_reason hydra_exit_check(const hydra_bot_cfg *bot, const hydra_bot_position *pos,
                                   double price, int64_t now_ms, const hydra_market_clock *mclock)
{
    double pct = 0.0;
    if (bot == NULL || pos == NULL || !(pos->qty > 0.0))
        return HYDRA_EXIT_NONE;
    int have_move = move_pct(pos, price, &pct);

    if (stop_loss_fires(bot, have_move, pct))
        return HYDRA_EXIT_STOP_LOSS;
    if (take_profit_fires(bot, have_move, pct))
        return HYDRA_EXIT_TAKE_PROFIT;
    if (time_stop_fires(bot, pos, now_ms))
        return HYDRA_EXIT_TIME_STOP;
    if (before_close_fires(bot, now_ms, mclock))
        return HYDRA_EXIT_BEFORE_CLOSE;
    if (manage_until_fires(bot, now_ms))
        return HYDRA_EXIT_MANAGE_UNTIL;
    return HYDRA_EXIT_NONE;
}

const char *hydra_exit_reason_name(hydra_exit_reason r)
{
    switch (r) {
    case HYDRA_EXIT_NONE:
        return "none";
    case HYDRA_EXIT_STOP_LOSS:
        return "stop_loss";
    case HYDRA_EXIT_TAKE_PROFIT:
        return "take_profit";
    case HYDRA_EXIT_TIME_STOP:
        return "time_stop";
    case HYDRA_EXIT_BEFORE_CLOSE:
        return "flatten_before_close";
    case HYDRA_EXIT_MANAGE_UNTIL:
        return "manage_until";
    }
    return "none";
}
