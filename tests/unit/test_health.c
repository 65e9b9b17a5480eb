/*
 * Health monitor: API failures in a sliding window, price staleness, log
 * health, and the reasons the host logs when it halts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "health.h"

/* The shipped settings: 5 failures in 60 s, prices stale after 15 s. */
static void init_shipped(hydra_health *h)
{
    hydra_health_init(h, 5, 60, 15);
}

static void test_fresh_monitor_is_ok(void **state)
{
    (void)state;
    hydra_health h;
    char reason[128];
    init_shipped(&h);
    assert_int_equal(hydra_health_check(&h, 5000000, reason, sizeof reason), HYDRA_HEALTH_OK);
    assert_string_equal(reason, "ok");
    assert_int_equal(hydra_health_failures_in_window(&h, 5000000), 0);
}

static void test_failures_below_threshold_are_ok(void **state)
{
    (void)state;
    hydra_health h;
    char reason[128];
    init_shipped(&h);
    for (int i = 0; i < 4; i++)
        hydra_health_record_api_failure(&h, 1000 + i * 1000);
    assert_int_equal(hydra_health_failures_in_window(&h, 10000), 4);
    assert_int_equal(hydra_health_check(&h, 10000, reason, sizeof reason), HYDRA_HEALTH_OK);
}

static void test_failures_at_threshold_halt(void **state)
{
    (void)state;
    hydra_health h;
    char reason[128];
    init_shipped(&h);
    for (int i = 0; i < 5; i++)
        hydra_health_record_api_failure(&h, 1000 + i * 1000);
    assert_int_equal(hydra_health_check(&h, 10000, reason, sizeof reason),
                     HYDRA_HEALTH_API_FAILURES);
    assert_string_equal(reason, "api failures 5 in 60s window");
}

/* A failure exactly window seconds old still counts; one millisecond later it has left. */
static void test_window_expiry_boundary(void **state)
{
    (void)state;
    hydra_health h;
    char reason[128];
    init_shipped(&h);
    for (int i = 0; i < 5; i++)
        hydra_health_record_api_failure(&h, 1000 + i * 1000); /* 1000 .. 5000 */

    assert_int_equal(hydra_health_failures_in_window(&h, 61000), 5);
    assert_int_equal(hydra_health_check(&h, 61000, reason, sizeof reason),
                     HYDRA_HEALTH_API_FAILURES);

    assert_int_equal(hydra_health_failures_in_window(&h, 61001), 4);
    assert_int_equal(hydra_health_check(&h, 61001, reason, sizeof reason), HYDRA_HEALTH_OK);

    assert_int_equal(hydra_health_failures_in_window(&h, 65001), 0);
}

/* The ring keeps the newest failures; the oldest are overwritten first. */
static void test_ring_overwrites_oldest(void **state)
{
    (void)state;
    hydra_health h;
    init_shipped(&h);
    /* 300 failures, one per second: only the newest 256 are kept. */
    for (int i = 0; i < 300; i++)
        hydra_health_record_api_failure(&h, 1000 + (int64_t)i * 1000);
    assert_int_equal((int)h.n_failures, HYDRA_HEALTH_MAX_FAILURES);
    /* At t = 300 s the window [240 s, 300 s] holds failures 239..299 in ms terms: 61. */
    assert_int_equal(hydra_health_failures_in_window(&h, 300000), 61);
    /* A huge window sees exactly what the ring kept. */
    hydra_health wide;
    hydra_health_init(&wide, 5, 100000, 15);
    for (int i = 0; i < 300; i++)
        hydra_health_record_api_failure(&wide, 1000 + (int64_t)i * 1000);
    assert_int_equal(hydra_health_failures_in_window(&wide, 300000), HYDRA_HEALTH_MAX_FAILURES);
}

/* A threshold the ring could never reach is clamped to its capacity; below one becomes one. */
static void test_threshold_clamped(void **state)
{
    (void)state;
    hydra_health h;
    char reason[128];
    hydra_health_init(&h, 1000, 1000, 15);
    assert_int_equal(h.max_api_failures, HYDRA_HEALTH_MAX_FAILURES);
    for (int i = 0; i < 400; i++)
        hydra_health_record_api_failure(&h, 1000 + i);
    assert_int_equal(hydra_health_check(&h, 2000, reason, sizeof reason),
                     HYDRA_HEALTH_API_FAILURES);
    assert_string_equal(reason, "api failures 256 in 1000s window");

    hydra_health_init(&h, 0, 60, 15);
    assert_int_equal(h.max_api_failures, 1);
    assert_int_equal(hydra_health_check(&h, 2000, reason, sizeof reason), HYDRA_HEALTH_OK);
    hydra_health_record_api_failure(&h, 1500);
    assert_int_equal(hydra_health_check(&h, 2000, reason, sizeof reason),
                     HYDRA_HEALTH_API_FAILURES);
}

static void test_no_snapshot_is_not_stale(void **state)
{
    (void)state;
    hydra_health h;
    char reason[128];
    init_shipped(&h);
    assert_int_equal(hydra_health_check(&h, INT64_C(86400000), reason, sizeof reason),
                     HYDRA_HEALTH_OK);
}

static void test_staleness_boundary(void **state)
{
    (void)state;
    hydra_health h;
    char reason[128];
    init_shipped(&h);
    hydra_health_record_prices(&h, 1000);
    /* Exactly 15 s old is still fresh. */
    assert_int_equal(hydra_health_check(&h, 16000, reason, sizeof reason), HYDRA_HEALTH_OK);
    assert_int_equal(hydra_health_check(&h, 16001, reason, sizeof reason), HYDRA_HEALTH_STALE);
    assert_string_equal(reason, "stale price data 15.0s");
    assert_int_equal(hydra_health_check(&h, 18200, reason, sizeof reason), HYDRA_HEALTH_STALE);
    assert_string_equal(reason, "stale price data 17.2s");
    /* A new snapshot makes it fresh again. */
    hydra_health_record_prices(&h, 18000);
    assert_int_equal(hydra_health_check(&h, 18200, reason, sizeof reason), HYDRA_HEALTH_OK);
}

static void test_log_not_writable(void **state)
{
    (void)state;
    hydra_health h;
    char reason[128];
    init_shipped(&h);
    hydra_health_set_log_ok(&h, 0);
    assert_int_equal(hydra_health_check(&h, 1000, reason, sizeof reason), HYDRA_HEALTH_LOG);
    assert_string_equal(reason, "log not writable");
    hydra_health_set_log_ok(&h, 1);
    assert_int_equal(hydra_health_check(&h, 1000, reason, sizeof reason), HYDRA_HEALTH_OK);
}

/* Several problems at once: the first in the documented order is reported. */
static void test_first_problem_reported(void **state)
{
    (void)state;
    hydra_health h;
    char reason[128];
    init_shipped(&h);
    hydra_health_set_log_ok(&h, 0);
    hydra_health_record_prices(&h, 1000);
    assert_int_equal(hydra_health_check(&h, 30000, reason, sizeof reason), HYDRA_HEALTH_STALE);
    for (int i = 0; i < 5; i++)
        hydra_health_record_api_failure(&h, 20000);
    assert_int_equal(hydra_health_check(&h, 30000, reason, sizeof reason),
                     HYDRA_HEALTH_API_FAILURES);
}

static void test_reset_forgets_failures_and_prices(void **state)
{
    (void)state;
    hydra_health h;
    char reason[128];
    init_shipped(&h);
    for (int i = 0; i < 5; i++)
        hydra_health_record_api_failure(&h, 1000);
    hydra_health_record_prices(&h, 1000);
    assert_int_not_equal(hydra_health_check(&h, 30000, reason, sizeof reason), HYDRA_HEALTH_OK);
    hydra_health_reset(&h);
    assert_int_equal(hydra_health_failures_in_window(&h, 30000), 0);
    assert_int_equal(hydra_health_check(&h, 30000, reason, sizeof reason), HYDRA_HEALTH_OK);
    /* The thresholds survive a reset. */
    assert_int_equal(h.max_api_failures, 5);
    assert_int_equal(h.window_ms, 60000);
    assert_int_equal(h.max_stale_ms, 15000);
}

/* A small reason buffer truncates; a NULL one is allowed. */
static void test_reason_buffer(void **state)
{
    (void)state;
    hydra_health h;
    char small[8];
    init_shipped(&h);
    hydra_health_set_log_ok(&h, 0);
    assert_int_equal(hydra_health_check(&h, 1000, small, sizeof small), HYDRA_HEALTH_LOG);
    assert_string_equal(small, "log not");
    assert_int_equal(hydra_health_check(&h, 1000, NULL, 0), HYDRA_HEALTH_LOG);
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(hydra_health_status_name(HYDRA_HEALTH_OK), "ok");
    assert_string_equal(hydra_health_status_name(HYDRA_HEALTH_API_FAILURES), "api_failures");
    assert_string_equal(hydra_health_status_name(HYDRA_HEALTH_STALE), "stale_prices");
    assert_string_equal(hydra_health_status_name(HYDRA_HEALTH_LOG), "log_not_writable");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_monitor_is_ok),
        cmocka_unit_test(test_failures_below_threshold_are_ok),
        cmocka_unit_test(test_failures_at_threshold_halt),
        cmocka_unit_test(test_window_expiry_boundary),
        cmocka_unit_test(test_ring_overwrites_oldest),
        cmocka_unit_test(test_threshold_clamped),
        cmocka_unit_test(test_no_snapshot_is_not_stale),
        cmocka_unit_test(test_staleness_boundary),
        cmocka_unit_test(test_log_not_writable),
        cmocka_unit_test(test_first_problem_reported),
        cmocka_unit_test(test_reset_forgets_failures_and_prices),
        cmocka_unit_test(test_reason_buffer),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
