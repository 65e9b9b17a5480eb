#include "portfolio.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static double dollars_from_pct(double amount, double pct)
{
    double d = amount * (pct / 100.0);
    return d > 0.0 ? d : 0.0;
}

/* dollars_from_pct with the percentage already a fraction: the same bits. */
static double dollars_from_frac(double amount, double frac)
{
    double d = amount * frac;
    return d > 0.0 ? d : 0.0;
}

/*
 * The seed's guardrail: max(per_min, min(per_max, share)). When a
 * misconfigured minimum exceeds the maximum the minimum wins, as in the seed.
 */
static double clamp_share(double share, double per_min, double per_max)
{
    double s = share < per_max ? share : per_max;
    return s > per_min ? s : per_min;
}

static void copy_bounded(char *dst, size_t dstsz, const char *src)
{
    size_t n = strnlen(src, dstsz - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int hydra_portfolio_plan_make(const hydra_config *cfg, hydra_portfolio_plan *plan)
{
    if (cfg == NULL || plan == NULL)
        return HYDRA_EINVAL;
    memset(plan, 0, sizeof *plan);
    for (int i = 0; i < cfg->n_bots; i++) {
        const hydra_bot_cfg *b = &cfg->bots[i];
        if (!b->enabled)
            continue;
        if ((int)b->bucket < 0 || (int)b->bucket >= HYDRA_PORTFOLIO_BUCKETS)
            return HYDRA_EINVAL;
        plan->enabled_in[b->bucket]++;
        plan->n_enabled++;
    }
    const hydra_portfolio_cfg *p = &cfg->portfolio;
    /* pct / 100.0 once: each row then multiplies by the very fraction compute used to. */
    plan->daily_frac = cfg->settings.global_max_daily_loss_pct / 100.0;
    plan->min_frac = p->per_bot_min_pct / 100.0;
    plan->max_frac = p->per_bot_max_pct / 100.0;
    for (int k = 0; k < HYDRA_PORTFOLIO_BUCKETS; k++)
        plan->bucket_frac[k] = p->bucket_pct[k] / 100.0;
    return HYDRA_OK;
}

int hydra_portfolio_row(const hydra_portfolio_plan *plan, const hydra_bot_cfg *b,
                        double day_start_equity, const char *day, int64_t now_ms, hydra_budget *o)
{
    /*
     * Equity that is not a positive finite number gives no budget at all
     * (the bot then refuses entries), never a budget of zero or NaN that a
     * later check might misread.
     */
    if (plan == NULL || b == NULL || day == NULL || o == NULL || !b->enabled ||
        (int)b->bucket < 0 || (int)b->bucket >= HYDRA_PORTFOLIO_BUCKETS ||
        plan->enabled_in[b->bucket] == 0)
        return HYDRA_EINVAL;
    if (!isfinite(day_start_equity) || day_start_equity <= 0.0)
        return HYDRA_EINVAL;
    double daily_risk = dollars_from_frac(day_start_equity, plan->daily_frac);
    double per_min = dollars_from_frac(daily_risk, plan->min_frac);
    double per_max = dollars_from_frac(daily_risk, plan->max_frac);
    double bucket = dollars_from_frac(daily_risk, plan->bucket_frac[b->bucket]);
    /*
     * The seed clamps only momentum bots to the guardrails and gives the
     * options and crypto bots their whole bucket. Hydra clamps every bot,
     * so no single bot, of any kind, can exceed per_bot_max_pct of the
     * daily risk.
     */
    double share = clamp_share(bucket / (double)plan->enabled_in[b->bucket], per_min, per_max);
    /*
     * Every member is set below; no memset (a `rep stos`) and bounded
     * copies, not snprintf: a backtest of daily bars rolls over every bar.
     * The whole fixed-size id and a terminator, without a length scan: the
     * bytes after the id's own terminator come along and are never read.
     */
    _Static_assert(sizeof o->bot_id == sizeof b->bot_id, "one bot id size");
    memcpy(o->bot_id, b->bot_id, sizeof o->bot_id);
    o->bot_id[sizeof o->bot_id - 1] = '\0';
    copy_bounded(o->day, sizeof o->day, day);
    o->max_daily_loss = share;
    o->max_open_risk = 2.0 * share; /* seed: twice the daily loss may be at risk at once */
    o->max_trades_per_day = b->max_trades_per_day;
    o->max_concurrent_positions = b->max_concurrent_positions;
    o->allowed = 1;
    o->enabled = 1;
    o->updated_ms = now_ms;
    return HYDRA_OK;
}

/*
 * Budgets are written only when every enabled bot fits in `out`: a partial
 * set would leave some bots silently without budgets.
 */
int hydra_portfolio_compute(const hydra_config *cfg, double day_start_equity, const char *day,
                            int64_t now_ms, hydra_budget *out, size_t cap, size_t *n)
{
    if (n != NULL)
        *n = 0;
    if (cfg == NULL || day == NULL || n == NULL || (out == NULL && cap > 0))
        return HYDRA_EINVAL;
    if (!isfinite(day_start_equity) || day_start_equity <= 0.0)
        return HYDRA_EINVAL;
    hydra_portfolio_plan plan;
    int rc = hydra_portfolio_plan_make(cfg, &plan);
    if (rc != HYDRA_OK)
        return rc;
    if (plan.n_enabled > cap)
        return HYDRA_EFULL;
    size_t k = 0;
    for (int i = 0; i < cfg->n_bots; i++) {
        if (!cfg->bots[i].enabled)
            continue;
        rc = hydra_portfolio_row(&plan, &cfg->bots[i], day_start_equity, day, now_ms, &out[k++]);
        if (rc != HYDRA_OK)
            return rc;
    }
    *n = k;
    return HYDRA_OK;
}

/*
 * Money that may be spent on new positions: cash beyond the reserve kept as
 * a percentage of equity. Any input that is not a finite number gives zero,
 * so a broken account read can never enlarge an order.
 */
double hydra_portfolio_spendable_cash(const hydra_portfolio_cfg *p, double cash, double equity)
{
    if (p == NULL || !isfinite(cash) || !isfinite(equity) || !isfinite(p->cash_reserve_pct))
        return 0.0;
    /* A negative equity must not turn the reserve into extra spending money. */
    double reserve = dollars_from_pct(equity, p->cash_reserve_pct);
    double spendable = cash - reserve;
    return spendable > 0.0 ? spendable : 0.0;
}
