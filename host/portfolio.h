/*
 * PortfolioBot (rank 90): risk budgets per bot for the day.
 *
 * From the seed: daily risk = day-start equity x risk.global_max_daily_loss_pct.
 * Each bucket (momentum, options, crypto) gets its percentage of the daily
 * risk, shared equally by the enabled bots in it; each bot's share is
 * clamped to [per_bot_min_pct, per_bot_max_pct] of the daily risk (the seed
 * clamps momentum bots only; Hydra clamps every bot, so no single bot can
 * exceed the guardrail). max_open_risk = 2 x max_daily_loss (seed). Trade and
 * position limits come from each bot's risk section.
 */
#ifndef HYDRA_PORTFOLIO_H
#define HYDRA_PORTFOLIO_H

#include <stddef.h>

#include "config.h"
#include "state.h"

/*
 * What a configuration's budgets are made of, worked out once: the
 * percentages as fractions and how many enabled bots share each bucket.
 * A row is then a handful of multiplications, the very ones
 * hydra_portfolio_compute makes (which is a plan and its rows); a backtest
 * of daily bars, which rolls over every bar, keeps the plan.
 */
#define HYDRA_PORTFOLIO_BUCKETS 3
typedef struct hydra_portfolio_plan {
    double daily_frac;         /* risk.global_max_daily_loss_pct / 100 */
    double min_frac, max_frac; /* per_bot_min_pct, per_bot_max_pct / 100 */
    double bucket_frac[HYDRA_PORTFOLIO_BUCKETS];
    size_t enabled_in[HYDRA_PORTFOLIO_BUCKETS];
    size_t n_enabled;
} hydra_portfolio_plan;

/* HYDRA_EINVAL when an enabled bot names no known bucket. */
int hydra_portfolio_plan_make(const hydra_config *cfg, hydra_portfolio_plan *plan);

/*
 * The budget of bot (an enabled bot of the plan's configuration) for a day
 * that starts with this equity. HYDRA_EINVAL, and nothing written, for an
 * equity that is not a positive finite number.
 */
int hydra_portfolio_row(const hydra_portfolio_plan *plan, const hydra_bot_cfg *bot,
                        double day_start_equity, const char *day, int64_t now_ms,
                        hydra_budget *out);

/* The budgets for every enabled bot in cfg, in cfg order. Pure: no I/O. */
int hydra_portfolio_compute(const hydra_config *cfg, double day_start_equity, const char *day,
                            int64_t now_ms, hydra_budget *out, size_t cap, size_t *n);

/* Dollars available for new positions after keeping cash_reserve_pct of equity in cash. */
double hydra_portfolio_spendable_cash(const hydra_portfolio_cfg *p, double cash, double equity);

#endif
