/*
 * PortfolioBot: budgets per bot from buckets and guardrails, and the cash a
 * bot may spend after the reserve. Configurations are filled by hand with
 * the shipped values (config/bots.yaml, config/settings.yaml).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "portfolio.h"

#define NOW_MS INT64_C(1136210400000)
#define DAY "2006-01-02"

static hydra_bot_cfg *add_bot(hydra_config *cfg, const char *id, hydra_bot_kind kind,
                              hydra_bucket bucket, int enabled, int trades, int positions)
{
    hydra_bot_cfg *b = &cfg->bots[cfg->n_bots++];
    snprintf(b->bot_id, sizeof b->bot_id, "%s", id);
    b->kind = kind;
    b->bucket = bucket;
    b->enabled = enabled;
    b->max_trades_per_day = trades;
    b->max_concurrent_positions = positions;
    return b;
}

/* The shipped configuration: settings.yaml risk and bots.yaml portfoliobot and bots. */
static hydra_config *shipped_config(void)
{
    hydra_config *cfg = calloc(1, sizeof *cfg);
    assert_non_null(cfg);
    cfg->settings.global_max_daily_loss_pct = 1.0;
    cfg->portfolio.enabled = 1;
    cfg->portfolio.cash_reserve_pct = 30;
    cfg->portfolio.bucket_pct[HYDRA_BUCKET_MOMENTUM] = 25;
    cfg->portfolio.bucket_pct[HYDRA_BUCKET_OPTIONS] = 50;
    cfg->portfolio.bucket_pct[HYDRA_BUCKET_CRYPTO] = 25;
    cfg->portfolio.per_bot_min_pct = 5;
    cfg->portfolio.per_bot_max_pct = 25;
    add_bot(cfg, "mom_AAPL", HYDRA_BOT_MOMENTUM, HYDRA_BUCKET_MOMENTUM, 1, 3, 1);
    add_bot(cfg, "mom_TSLA", HYDRA_BOT_MOMENTUM, HYDRA_BUCKET_MOMENTUM, 0, 3, 1);
    add_bot(cfg, "opt_core", HYDRA_BOT_OPTIONS, HYDRA_BUCKET_OPTIONS, 1, 5, 3);
    add_bot(cfg, "crypto_core", HYDRA_BOT_CRYPTO, HYDRA_BUCKET_CRYPTO, 1, 6, 2);
    return cfg;
}

static const hydra_budget *find(const hydra_budget *b, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(b[i].bot_id, id) == 0)
            return &b[i];
    return NULL;
}

/*
 * Shipped values, equity 100000 and 1% daily loss: daily risk 1000.
 * Momentum bucket 250 for the one enabled bot, inside [50, 250]. Options
 * bucket 500 clamped to the 250 guardrail. Crypto bucket 250. Open risk is
 * twice the daily loss.
 */
static void test_shipped_budgets(void **state)
{
    (void)state;
    hydra_config *cfg = shipped_config();
    hydra_budget out[8];
    size_t n = 99;
    assert_int_equal(hydra_portfolio_compute(cfg, 100000.0, DAY, NOW_MS, out, 8, &n), HYDRA_OK);
    assert_int_equal(n, 3);

    /* Enabled bots only, in configuration order. */
    assert_string_equal(out[0].bot_id, "mom_AAPL");
    assert_string_equal(out[1].bot_id, "opt_core");
    assert_string_equal(out[2].bot_id, "crypto_core");
    assert_null(find(out, n, "mom_TSLA"));

    static const struct {
        const char *id;
        double daily, open;
        int trades, positions;
    } want[] = {
        {"mom_AAPL", 250.0, 500.0, 3, 1},
        {"opt_core", 250.0, 500.0, 5, 3},
        {"crypto_core", 250.0, 500.0, 6, 2},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const hydra_budget *b = find(out, n, want[i].id);
        assert_non_null(b);
        assert_float_equal(b->max_daily_loss, want[i].daily, 1e-9);
        assert_float_equal(b->max_open_risk, want[i].open, 1e-9);
        assert_int_equal(b->max_trades_per_day, want[i].trades);
        assert_int_equal(b->max_concurrent_positions, want[i].positions);
        assert_int_equal(b->allowed, 1);
        assert_int_equal(b->enabled, 1);
        assert_string_equal(b->day, DAY);
        assert_int_equal(b->updated_ms, NOW_MS);
    }
    free(cfg);
}

/* Raising the guardrail shows the options bucket was clamped, not simply halved. */
static void test_options_bucket_unclamped_with_wider_guardrail(void **state)
{
    (void)state;
    hydra_config *cfg = shipped_config();
    hydra_budget out[8];
    size_t n = 0;
    cfg->portfolio.per_bot_max_pct = 60;
    assert_int_equal(hydra_portfolio_compute(cfg, 100000.0, DAY, NOW_MS, out, 8, &n), HYDRA_OK);
    assert_float_equal(find(out, n, "opt_core")->max_daily_loss, 500.0, 1e-9);
    assert_float_equal(find(out, n, "opt_core")->max_open_risk, 1000.0, 1e-9);
    assert_float_equal(find(out, n, "mom_AAPL")->max_daily_loss, 250.0, 1e-9);
    free(cfg);
}

/* Enabled bots in one bucket share it equally; shares are clamped to the guardrails. */
static void test_bucket_shared_and_clamped(void **state)
{
    (void)state;
    static const struct {
        int momentum_bots;
        double each; /* max_daily_loss per momentum bot */
    } cases[] = {
        {1, 250.0}, /* 250 / 1 */
        {2, 125.0}, /* 250 / 2 */
        {4, 62.5},  /* 250 / 4 */
        {5, 50.0},  /* 250 / 5, exactly the minimum */
        {8, 50.0},  /* 250 / 8 = 31.25 raised to the 5% minimum */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        hydra_config *cfg = shipped_config();
        hydra_budget out[16];
        size_t n = 0;
        cfg->bots[0].enabled = 0; /* replace the shipped momentum bot */
        for (int i = 0; i < cases[c].momentum_bots; i++) {
            char id[16];
            snprintf(id, sizeof id, "mom_%d", i);
            add_bot(cfg, id, HYDRA_BOT_MOMENTUM, HYDRA_BUCKET_MOMENTUM, 1, 3, 1);
        }
        assert_int_equal(hydra_portfolio_compute(cfg, 100000.0, DAY, NOW_MS, out, 16, &n),
                         HYDRA_OK);
        assert_int_equal(n, 2 + (size_t)cases[c].momentum_bots);
        for (int i = 0; i < cases[c].momentum_bots; i++) {
            char id[16];
            snprintf(id, sizeof id, "mom_%d", i);
            const hydra_budget *b = find(out, n, id);
            assert_non_null(b);
            assert_float_equal(b->max_daily_loss, cases[c].each, 1e-9);
            assert_float_equal(b->max_open_risk, 2.0 * cases[c].each, 1e-9);
        }
        /* Other buckets are unaffected. */
        assert_float_equal(find(out, n, "crypto_core")->max_daily_loss, 250.0, 1e-9);
        free(cfg);
    }
}

/* A generic bot in the options bucket shares it with the options bot. */
static void test_generic_bot_shares_its_bucket(void **state)
{
    (void)state;
    hydra_config *cfg = shipped_config();
    hydra_budget out[8];
    size_t n = 0;
    add_bot(cfg, "my_bot", HYDRA_BOT_GENERIC, HYDRA_BUCKET_OPTIONS, 1, 2, 1);
    assert_int_equal(hydra_portfolio_compute(cfg, 100000.0, DAY, NOW_MS, out, 8, &n), HYDRA_OK);
    assert_int_equal(n, 4);
    assert_float_equal(find(out, n, "opt_core")->max_daily_loss, 250.0, 1e-9);
    assert_float_equal(find(out, n, "my_bot")->max_daily_loss, 250.0, 1e-9);
    assert_int_equal(find(out, n, "my_bot")->max_trades_per_day, 2);
    /* Three bots in the bucket: 500 / 3 each. */
    add_bot(cfg, "my_bot2", HYDRA_BOT_GENERIC, HYDRA_BUCKET_OPTIONS, 1, 2, 1);
    assert_int_equal(hydra_portfolio_compute(cfg, 100000.0, DAY, NOW_MS, out, 8, &n), HYDRA_OK);
    assert_float_equal(find(out, n, "my_bot2")->max_daily_loss, 500.0 / 3.0, 1e-9);
    free(cfg);
}

/* Budgets scale with day-start equity and the daily loss percentage. */
static void test_scales_with_equity_and_pct(void **state)
{
    (void)state;
    hydra_config *cfg = shipped_config();
    hydra_budget out[8];
    size_t n = 0;
    cfg->settings.global_max_daily_loss_pct = 2.0;
    /* daily risk = 250000 x 2% = 5000; momentum 1250, options 2500 -> 1250, crypto 1250. */
    assert_int_equal(hydra_portfolio_compute(cfg, 250000.0, DAY, NOW_MS, out, 8, &n), HYDRA_OK);
    assert_float_equal(find(out, n, "mom_AAPL")->max_daily_loss, 1250.0, 1e-9);
    assert_float_equal(find(out, n, "opt_core")->max_daily_loss, 1250.0, 1e-9);
    assert_float_equal(find(out, n, "crypto_core")->max_open_risk, 2500.0, 1e-9);
    free(cfg);
}

/* A bucket of 0% still gives each of its bots the guardrail minimum, as in the seed. */
static void test_empty_bucket_gets_minimum(void **state)
{
    (void)state;
    hydra_config *cfg = shipped_config();
    hydra_budget out[8];
    size_t n = 0;
    cfg->portfolio.bucket_pct[HYDRA_BUCKET_CRYPTO] = 0;
    assert_int_equal(hydra_portfolio_compute(cfg, 100000.0, DAY, NOW_MS, out, 8, &n), HYDRA_OK);
    assert_float_equal(find(out, n, "crypto_core")->max_daily_loss, 50.0, 1e-9);
    free(cfg);
}

static void test_no_enabled_bots(void **state)
{
    (void)state;
    hydra_config *cfg = shipped_config();
    size_t n = 99;
    for (int i = 0; i < cfg->n_bots; i++)
        cfg->bots[i].enabled = 0;
    assert_int_equal(hydra_portfolio_compute(cfg, 100000.0, DAY, NOW_MS, NULL, 0, &n), HYDRA_OK);
    assert_int_equal(n, 0);
    free(cfg);
}

/* Bad equity gives no budgets (bots refuse entries) rather than zero or NaN budgets. */
static void test_invalid_inputs(void **state)
{
    (void)state;
    hydra_config *cfg = shipped_config();
    hydra_budget out[8];
    size_t n;
    const double bad_equity[] = {0.0, -5.0, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad_equity / sizeof bad_equity[0]; i++) {
        n = 99;
        assert_int_equal(hydra_portfolio_compute(cfg, bad_equity[i], DAY, NOW_MS, out, 8, &n),
                         HYDRA_EINVAL);
        assert_int_equal(n, 0);
    }
    n = 99;
    assert_int_equal(hydra_portfolio_compute(NULL, 100000.0, DAY, NOW_MS, out, 8, &n),
                     HYDRA_EINVAL);
    assert_int_equal(n, 0);
    assert_int_equal(hydra_portfolio_compute(cfg, 100000.0, NULL, NOW_MS, out, 8, &n),
                     HYDRA_EINVAL);
    /* Three enabled bots do not fit in two slots: nothing is written. */
    memset(out, 0, sizeof out);
    n = 99;
    assert_int_equal(hydra_portfolio_compute(cfg, 100000.0, DAY, NOW_MS, out, 2, &n), HYDRA_EFULL);
    assert_int_equal(n, 0);
    assert_string_equal(out[0].bot_id, "");
    /* A bucket outside the three. */
    cfg->bots[0].bucket = (hydra_bucket)7;
    assert_int_equal(hydra_portfolio_compute(cfg, 100000.0, DAY, NOW_MS, out, 8, &n), HYDRA_EINVAL);
    free(cfg);
}

/*
 * A plan's row is hydra_portfolio_compute's row, and both are the seed's
 * arithmetic bit for bit: amount x (pct / 100), clamped, for percentages
 * whose pct / 100 and pct x 0.01 differ in the last bit, and equities
 * across many magnitudes. A row
 * for a disabled bot or a bad equity is refused and writes nothing.
 */
static double seed_dollars(double amount, double pct)
{
    double d = amount * (pct / 100.0);
    return d > 0.0 ? d : 0.0;
}

static void test_plan_rows_are_the_seeds_arithmetic(void **state)
{
    (void)state;
    hydra_config *cfg = shipped_config();
    cfg->settings.global_max_daily_loss_pct = 0.66;
    cfg->portfolio.bucket_pct[HYDRA_BUCKET_MOMENTUM] = 33.28;
    cfg->portfolio.bucket_pct[HYDRA_BUCKET_OPTIONS] = 12.345;
    cfg->portfolio.per_bot_min_pct = 0.13;
    cfg->portfolio.per_bot_max_pct = 29.72;
    add_bot(cfg, "mom_B", HYDRA_BOT_MOMENTUM, HYDRA_BUCKET_MOMENTUM, 1, 3, 1);
    hydra_portfolio_plan plan;
    assert_int_equal(hydra_portfolio_plan_make(cfg, &plan), HYDRA_OK);
    assert_int_equal(plan.n_enabled, 4);
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 2000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double equity = (double)(x >> 11) / 9007199254740992.0 * pow(10.0, i % 13);
        if (!(equity > 0))
            continue;
        hydra_budget all[8];
        size_t n = 0;
        assert_int_equal(hydra_portfolio_compute(cfg, equity, DAY, NOW_MS, all, 8, &n), HYDRA_OK);
        assert_int_equal(n, 4);
        size_t k = 0;
        for (int b = 0; b < cfg->n_bots; b++) {
            const hydra_bot_cfg *bot = &cfg->bots[b];
            if (!bot->enabled)
                continue;
            hydra_budget row;
            assert_int_equal(hydra_portfolio_row(&plan, bot, equity, DAY, NOW_MS, &row), HYDRA_OK);
            double daily = seed_dollars(equity, cfg->settings.global_max_daily_loss_pct);
            double lo = seed_dollars(daily, cfg->portfolio.per_bot_min_pct);
            double hi = seed_dollars(daily, cfg->portfolio.per_bot_max_pct);
            double share = seed_dollars(daily, cfg->portfolio.bucket_pct[bot->bucket]) /
                           (double)plan.enabled_in[bot->bucket];
            share = share < hi ? share : hi;
            share = share > lo ? share : lo;
            assert_true(row.max_daily_loss == share); /* exactly, not within a tolerance */
            assert_true(row.max_open_risk == 2.0 * share);
            assert_string_equal(row.bot_id, bot->bot_id);
            assert_string_equal(row.day, DAY);
            assert_true(all[k].max_daily_loss == row.max_daily_loss);
            assert_string_equal(all[k].bot_id, row.bot_id);
            k++;
        }
    }
    hydra_budget row, before;
    memset(&row, 0x5a, sizeof row);
    before = row;
    assert_int_equal(hydra_portfolio_row(&plan, &cfg->bots[1], 1000.0, DAY, NOW_MS, &row),
                     HYDRA_EINVAL); /* mom_TSLA is disabled */
    const double bad_equity[] = {0.0, -5.0, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad_equity / sizeof bad_equity[0]; i++)
        assert_int_equal(
            hydra_portfolio_row(&plan, &cfg->bots[0], bad_equity[i], DAY, NOW_MS, &row),
            HYDRA_EINVAL);
    assert_memory_equal(&row, &before, sizeof row);
    cfg->bots[0].bucket = (hydra_bucket)7;
    assert_int_equal(hydra_portfolio_plan_make(cfg, &plan), HYDRA_EINVAL);
    free(cfg);
}

/* Cash beyond cash_reserve_pct of equity, never negative, zero for anything not finite. */
static void test_spendable_cash(void **state)
{
    (void)state;
    hydra_portfolio_cfg p;
    memset(&p, 0, sizeof p);
    p.cash_reserve_pct = 30;
    static const struct {
        double cash, equity, want;
    } cases[] = {
        {100000.0, 100000.0, 70000.0},                           /* all cash: 30000 kept */
        {50000.0, 100000.0, 20000.0},  {30000.0, 100000.0, 0.0}, /* exactly the reserve */
        {20000.0, 100000.0, 0.0}, /* below the reserve: nothing, not negative */
        {-1000.0, 100000.0, 0.0},      {1000.0, -5000.0, 1000.0}, /* negative equity keeps no
                                                                     negative reserve */
        {NAN, 100000.0, 0.0},          {100000.0, NAN, 0.0},      {INFINITY, 100000.0, 0.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_float_equal(hydra_portfolio_spendable_cash(&p, cases[i].cash, cases[i].equity),
                           cases[i].want, 1e-9);
    p.cash_reserve_pct = 0;
    assert_float_equal(hydra_portfolio_spendable_cash(&p, 1234.5, 100000.0), 1234.5, 1e-9);
    assert_float_equal(hydra_portfolio_spendable_cash(NULL, 1234.5, 100000.0), 0.0, 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_budgets),
        cmocka_unit_test(test_options_bucket_unclamped_with_wider_guardrail),
        cmocka_unit_test(test_bucket_shared_and_clamped),
        cmocka_unit_test(test_generic_bot_shares_its_bucket),
        cmocka_unit_test(test_scales_with_equity_and_pct),
        cmocka_unit_test(test_empty_bucket_gets_minimum),
        cmocka_unit_test(test_no_enabled_bots),
        cmocka_unit_test(test_invalid_inputs),
        cmocka_unit_test(test_plan_rows_are_the_seeds_arithmetic),
        cmocka_unit_test(test_spendable_cash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
