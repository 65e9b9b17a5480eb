/*
 * Host-enforced exits: each rule fires at its boundary and not just before
 * it, a rule set to 0 never fires, and rules are checked in the documented
 * order. Times are market-zone local times in America/Los_Angeles.
 */
#define _GNU_SOURCE
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "clock.h"
#include "exits.h"

#define MIN_MS INT64_C(60000)

/* 2026-01-13, a Tuesday in PST (UTC-8). */
static int64_t at(int hour, int minute, int second)
{
    return hydra_utc_from_local(2026, 1, 13, hour, minute, second);
}

/* UTC wall time straight from the calendar, independent of the market zone. */
static int64_t utc(int year, int month, int day, int hour, int minute)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    return (int64_t)timegm(&tm) * 1000;
}

/* mom_AAPL from the shipped bots.yaml. */
static hydra_bot_cfg momentum_bot(void)
{
    hydra_bot_cfg b;
    memset(&b, 0, sizeof b);
    strcpy(b.bot_id, "mom_AAPL");
    b.stop_loss_pct = 0.50;
    b.take_profit_pct = 1.00;
    b.time_stop_minutes = 25;
    b.flatten_before_close_minutes = 0;
    b.trade_start_min = 6 * 60 + 35;
    b.trade_end_min = 9 * 60 + 30;
    b.manage_until_min = 12 * 60 + 55;
    return b;
}

/* A long position of 10 shares at 100.00 opened at 07:00 local. */
static hydra_bot_position position(void)
{
    hydra_bot_position p;
    memset(&p, 0, sizeof p);
    strcpy(p.bot_id, "mom_AAPL");
    strcpy(p.symbol, "AAPL");
    p.qty = 10;
    p.avg_price = 100.0;
    p.opened_ms = at(7, 0, 0);
    p.multiplier = 1;
    return p;
}

static int setup(void **state)
{
    (void)state;
    return hydra_tz_set("America/Los_Angeles");
}

static void test_stop_loss_boundary(void **state)
{
    (void)state;
    hydra_bot_cfg b = momentum_bot();
    hydra_bot_position p = position();
    int64_t now = at(7, 5, 0);
    assert_int_equal(hydra_exit_check(&b, &p, 99.50, now, NULL), HYDRA_EXIT_STOP_LOSS);
    assert_int_equal(hydra_exit_check(&b, &p, 99.00, now, NULL), HYDRA_EXIT_STOP_LOSS);
    assert_int_equal(hydra_exit_check(&b, &p, 99.51, now, NULL), HYDRA_EXIT_NONE);
    assert_int_equal(hydra_exit_check(&b, &p, 100.00, now, NULL), HYDRA_EXIT_NONE);
}

static void test_take_profit_boundary(void **state)
{
    (void)state;
    hydra_bot_cfg b = momentum_bot();
    hydra_bot_position p = position();
    int64_t now = at(7, 5, 0);
    assert_int_equal(hydra_exit_check(&b, &p, 101.00, now, NULL), HYDRA_EXIT_TAKE_PROFIT);
    assert_int_equal(hydra_exit_check(&b, &p, 105.00, now, NULL), HYDRA_EXIT_TAKE_PROFIT);
    assert_int_equal(hydra_exit_check(&b, &p, 100.99, now, NULL), HYDRA_EXIT_NONE);
}

/* Percent moves on an option premium: the stop is relative to the average price. */
static void test_percent_of_average_price(void **state)
{
    (void)state;
    hydra_bot_cfg b = momentum_bot();
    hydra_bot_position p = position();
    b.stop_loss_pct = 30.0;
    b.take_profit_pct = 40.0;
    p.avg_price = 2.50;
    p.multiplier = 100;
    int64_t now = at(7, 5, 0);
    assert_int_equal(hydra_exit_check(&b, &p, 1.75, now, NULL), HYDRA_EXIT_STOP_LOSS);
    assert_int_equal(hydra_exit_check(&b, &p, 1.76, now, NULL), HYDRA_EXIT_NONE);
    assert_int_equal(hydra_exit_check(&b, &p, 3.50, now, NULL), HYDRA_EXIT_TAKE_PROFIT);
    assert_int_equal(hydra_exit_check(&b, &p, 3.49, now, NULL), HYDRA_EXIT_NONE);
}

static void test_time_stop_boundary(void **state)
{
    (void)state;
    hydra_bot_cfg b = momentum_bot();
    hydra_bot_position p = position();
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, p.opened_ms + 25 * MIN_MS, NULL),
                     HYDRA_EXIT_TIME_STOP);
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, p.opened_ms + 25 * MIN_MS - 1, NULL),
                     HYDRA_EXIT_NONE);
    /* An unknown open time does not age a position out. */
    p.opened_ms = 0;
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, at(9, 0, 0), NULL), HYDRA_EXIT_NONE);
}

/* optionsbot: flatten 10 minutes before a 13:00 close. */
static void test_flatten_before_close_boundary(void **state)
{
    (void)state;
    hydra_bot_cfg b = momentum_bot();
    hydra_bot_position p = position();
    b.time_stop_minutes = 0;
    b.flatten_before_close_minutes = 10;
    b.manage_until_min = 0;
    hydra_market_clock mc = {.now_ms = at(12, 50, 0),
                             .is_open = 1,
                             .next_open_ms = at(6, 30, 0) + 24 * 60 * MIN_MS,
                             .next_close_ms = at(13, 0, 0)};
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, at(12, 50, 0), &mc), HYDRA_EXIT_BEFORE_CLOSE);
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, at(12, 50, 0) - 1, &mc), HYDRA_EXIT_NONE);
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, at(12, 40, 0), &mc), HYDRA_EXIT_NONE);
    /* A close already passed (clock read late) is within any distance. */
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, at(13, 2, 0), &mc), HYDRA_EXIT_BEFORE_CLOSE);
    /* Market closed, or no clock known: the rule has nothing to go by. */
    mc.is_open = 0;
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, at(12, 55, 0), &mc), HYDRA_EXIT_NONE);
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, at(12, 55, 0), NULL), HYDRA_EXIT_NONE);
}

/* manage_until 12:55: the whole minute 12:55 is still managed; 12:56 closes. */
static void test_manage_until_boundary(void **state)
{
    (void)state;
    hydra_bot_cfg b = momentum_bot();
    hydra_bot_position p = position();
    b.time_stop_minutes = 0;
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, at(12, 55, 59), NULL), HYDRA_EXIT_NONE);
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, at(12, 56, 0), NULL), HYDRA_EXIT_MANAGE_UNTIL);
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, at(15, 0, 0), NULL), HYDRA_EXIT_MANAGE_UNTIL);
    /* A daily-bar bot's bar is stamped at the close: manage_until does not cut its positions. */
    b.bar_timeframe = HYDRA_BARS_DAY;
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, at(15, 0, 0), NULL), HYDRA_EXIT_NONE);
    p.qty = 10;
    assert_int_equal(hydra_exit_check(&b, &p, 99.0, at(15, 0, 0), NULL), HYDRA_EXIT_STOP_LOSS);
    b.bar_timeframe = HYDRA_BARS_MINUTE;
    /* The crypto bot's 23:59 never passes within a day. */
    b.manage_until_min = 23 * 60 + 59;
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, at(23, 59, 59), NULL), HYDRA_EXIT_NONE);
}

/* Local minutes follow the market zone across daylight saving. */
static void test_manage_until_uses_market_zone(void **state)
{
    (void)state;
    hydra_bot_cfg b = momentum_bot();
    hydra_bot_position p = position();
    b.time_stop_minutes = 0;
    /* 19:56Z is 12:56 PDT in July but 11:56 PST in January. */
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, utc(2026, 7, 14, 19, 56), NULL),
                     HYDRA_EXIT_MANAGE_UNTIL);
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, utc(2026, 1, 13, 19, 56), NULL),
                     HYDRA_EXIT_NONE);
    /* 20:56Z in January is 12:56 PST. */
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, utc(2026, 1, 13, 20, 56), NULL),
                     HYDRA_EXIT_MANAGE_UNTIL);
}

/* 0 in a config field turns the rule off, however far the position has gone. */
static void test_zero_turns_rules_off(void **state)
{
    (void)state;
    hydra_bot_cfg b;
    hydra_bot_position p = position();
    memset(&b, 0, sizeof b);
    hydra_market_clock mc = {.now_ms = at(12, 59, 0), .is_open = 1, .next_close_ms = at(13, 0, 0)};
    assert_int_equal(hydra_exit_check(&b, &p, 50.0, at(12, 59, 0), &mc), HYDRA_EXIT_NONE);
    assert_int_equal(hydra_exit_check(&b, &p, 200.0, at(23, 59, 0), &mc), HYDRA_EXIT_NONE);
}

/* Without a usable price only the time rules can fire. */
static void test_bad_price_fires_only_time_rules(void **state)
{
    (void)state;
    hydra_bot_cfg b = momentum_bot();
    hydra_bot_position p = position();
    const double bad[] = {NAN, INFINITY, 0.0, -1.0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(hydra_exit_check(&b, &p, bad[i], at(7, 5, 0), NULL), HYDRA_EXIT_NONE);
        assert_int_equal(hydra_exit_check(&b, &p, bad[i], at(7, 25, 0), NULL),
                         HYDRA_EXIT_TIME_STOP);
    }
    /* A position without a usable average price has no percent move either. */
    p.avg_price = 0.0;
    assert_int_equal(hydra_exit_check(&b, &p, 50.0, at(7, 5, 0), NULL), HYDRA_EXIT_NONE);
}

/* When several rules fire, the first in the documented order is reported. */
static void test_rule_order(void **state)
{
    (void)state;
    hydra_bot_cfg b = momentum_bot();
    hydra_bot_position p = position();
    b.flatten_before_close_minutes = 10;
    hydra_market_clock mc = {.now_ms = at(12, 58, 0), .is_open = 1, .next_close_ms = at(13, 0, 0)};
    int64_t late = at(12, 58, 0); /* time stop, before close and manage_until all fire */
    assert_int_equal(hydra_exit_check(&b, &p, 99.0, late, &mc), HYDRA_EXIT_STOP_LOSS);
    assert_int_equal(hydra_exit_check(&b, &p, 102.0, late, &mc), HYDRA_EXIT_TAKE_PROFIT);
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, late, &mc), HYDRA_EXIT_TIME_STOP);
    b.time_stop_minutes = 0;
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, late, &mc), HYDRA_EXIT_BEFORE_CLOSE);
    b.flatten_before_close_minutes = 0;
    assert_int_equal(hydra_exit_check(&b, &p, 100.0, late, &mc), HYDRA_EXIT_MANAGE_UNTIL);
}

static void test_no_position(void **state)
{
    (void)state;
    hydra_bot_cfg b = momentum_bot();
    hydra_bot_position p = position();
    assert_int_equal(hydra_exit_check(&b, NULL, 50.0, at(15, 0, 0), NULL), HYDRA_EXIT_NONE);
    assert_int_equal(hydra_exit_check(NULL, &p, 50.0, at(15, 0, 0), NULL), HYDRA_EXIT_NONE);
    p.qty = 0;
    assert_int_equal(hydra_exit_check(&b, &p, 50.0, at(15, 0, 0), NULL), HYDRA_EXIT_NONE);
}

static void test_reason_names(void **state)
{
    (void)state;
    assert_string_equal(hydra_exit_reason_name(HYDRA_EXIT_NONE), "none");
    assert_string_equal(hydra_exit_reason_name(HYDRA_EXIT_STOP_LOSS), "stop_loss");
    assert_string_equal(hydra_exit_reason_name(HYDRA_EXIT_TAKE_PROFIT), "take_profit");
    assert_string_equal(hydra_exit_reason_name(HYDRA_EXIT_TIME_STOP), "time_stop");
    assert_string_equal(hydra_exit_reason_name(HYDRA_EXIT_BEFORE_CLOSE), "flatten_before_close");
    assert_string_equal(hydra_exit_reason_name(HYDRA_EXIT_MANAGE_UNTIL), "manage_until");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_loss_boundary),
        cmocka_unit_test(test_take_profit_boundary),
        cmocka_unit_test(test_percent_of_average_price),
        cmocka_unit_test(test_time_stop_boundary),
        cmocka_unit_test(test_flatten_before_close_boundary),
        cmocka_unit_test(test_manage_until_boundary),
        cmocka_unit_test(test_manage_until_uses_market_zone),
        cmocka_unit_test(test_zero_turns_rules_off),
        cmocka_unit_test(test_bad_price_fires_only_time_rules),
        cmocka_unit_test(test_rule_order),
        cmocka_unit_test(test_no_position),
        cmocka_unit_test(test_reason_names),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
