/*
 * The TZif reader against the C library: for several zones (both
 * hemispheres, half-hour offsets, Dublin's negative DST, a zone with no
 * DST) the offset at many instants from 1850 to 4800 equals localtime_r's,
 * including far past 2037 where only the footer rule decides, and every
 * instant of a returned span has that span's offset at its ends.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "clock.h"
#include "error.h"
#include "tzif.h"

static const char *ZONES[] = {"America/Los_Angeles", "America/New_York", "Europe/Berlin",
                              "Europe/Dublin",       "Australia/Sydney", "Asia/Kolkata",
                              "America/Sao_Paulo",   "Pacific/Chatham",  "UTC"};

static long libc_offset(const char *zone, int64_t t)
{
    setenv("TZ", zone, 1);
    tzset();
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    return tm.tm_gmtoff;
}

/* splitmix64: a fixed sequence of instants. */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void test_offsets_match_the_c_library(void **state)
{
    (void)state;
    const int64_t lo = -3786825600LL;  /* 1850-01-01 */
    const int64_t hi = 89754048000LL;  /* 4814-03-... */
    for (size_t zi = 0; zi < sizeof ZONES / sizeof ZONES[0]; zi++) {
        hydra_tzif z;
        char err[256];
        if (hydra_tzif_load(ZONES[zi], &z, err, sizeof err) != 0)
            fail_msg("%s: %s", ZONES[zi], err);
        uint64_t seed = 42 + zi;
        int checked = 0;
        for (int i = 0; i < 20000; i++) {
            int64_t t = lo + (int64_t)(next(&seed) % (uint64_t)(hi - lo));
            int64_t from, until;
            long mine = hydra_tzif_offset(&z, t, &from, &until);
            long theirs = libc_offset(ZONES[zi], t);
            if (mine != theirs)
                fail_msg("%s at %lld: %ld, the C library says %ld", ZONES[zi], (long long)t, mine,
                         theirs);
            assert_true(from <= t && t < until);
            /* The span's ends have its offset (where the C library can be asked). */
            if (from > lo)
                assert_int_equal(libc_offset(ZONES[zi], from), mine);
            if (until < hi)
                assert_int_equal(libc_offset(ZONES[zi], until - 1), mine);
            checked++;
        }
        /* Around every spring and autumn change of a few far years, second by second at the edges. */
        for (int64_t y = 2036; y <= 4700; y += 331) {
            int64_t t0 = (hydra_days_from_date((int)(y * 10000 + 101)) * 86400);
            for (int64_t t = t0; t < t0 + 366 * 86400; t += 3571) {
                int64_t from, until;
                long mine = hydra_tzif_offset(&z, t, &from, &until);
                assert_int_equal(mine, libc_offset(ZONES[zi], t));
                if (until < hi) {
                    int64_t f2, u2;
                    assert_int_equal(hydra_tzif_offset(&z, until, &f2, &u2),
                                     libc_offset(ZONES[zi], until));
                }
            }
        }
        print_message("%s: %d instants, %zu transitions, footer rule %s\n", ZONES[zi], checked, z.n,
                      z.has_rule ? "yes" : "no");
        hydra_tzif_free(&z);
    }
}

/* The engine's local time (clock.c, on the table) equals the C library's in 2500 too. */
static void test_local_time_far_future(void **state)
{
    (void)state;
    assert_int_equal(hydra_tz_set("America/Los_Angeles"), 0);
    int64_t t = (hydra_days_from_date(25000704) * 86400 + 20 * 3600) * 1000LL; /* 2500-07-04 20:00Z */
    hydra_local_time lt;
    hydra_local_from_utc(t, &lt);
    assert_int_equal(lt.date, 25000704);
    assert_int_equal(lt.hour, 13); /* PDT, UTC-7 */
    assert_int_equal(lt.utc_offset_min, -420);
    assert_int_equal(hydra_utc_from_local(2500, 7, 4, 13, 0, 0), t);
    t = (hydra_days_from_date(25001225) * 86400 + 20 * 3600) * 1000LL;
    hydra_local_from_utc(t, &lt);
    assert_int_equal(lt.hour, 12); /* PST, UTC-8 */
    assert_int_equal(hydra_utc_from_local(2500, 12, 25, 12, 0, 0), t);
}

static void test_malformed_files_are_refused(void **state)
{
    (void)state;
    hydra_tzif z;
    char err[256];
    unsigned char junk[64] = "TZif2";
    assert_int_equal(hydra_tzif_parse((const unsigned char *)"nope", 4, &z, err, sizeof err),
                     HYDRA_EINVAL);
    assert_int_equal(hydra_tzif_parse(junk, sizeof junk, &z, err, sizeof err), HYDRA_EINVAL);
    assert_int_equal(hydra_tzif_load("Not/AZone", &z, err, sizeof err), HYDRA_EINVAL);
    assert_non_null(strstr(err, "Not/AZone"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsets_match_the_c_library),
        cmocka_unit_test(test_local_time_far_future),
        cmocka_unit_test(test_malformed_files_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
