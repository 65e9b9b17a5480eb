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

/* The budgets for every enabled bot in cfg, in cfg order. Pure: no I/O. */
int hydra_portfolio_compute(const hydra_config *cfg, double day_start_equity, const char *day,
                            int64_t now_ms, hydra_budget *out, size_t cap, size_t *n);

/* Dollars available for new positions after keeping cash_reserve_pct of equity in cash. */
double hydra_portfolio_spendable_cash(const hydra_portfolio_cfg *p, double cash, double equity);

#endif
