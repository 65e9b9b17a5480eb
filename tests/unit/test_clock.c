/*
 * The clock: market-zone conversions across the 2026 daylight-saving
 * changes in America/Los_Angeles, trade windows, trading-day keys, RFC 3339
 * parsing and formatting, zone-name checks and "HH:MM" parsing.
 *
 * Expected instants are written as UTC calendar times and turned into
 * milliseconds with timegm, which does not go through the code under test.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "error.h"
#include "testutil.h"

/* UTC calendar time -> ms since the epoch. */
static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (int64_t)timegm(&tm) * 1000;
}

static int minutes(const char *hhmm)
{
    int m = -1;
    assert_int_equal(hydra_parse_hhmm(hhmm, &m), 0);
    return m;
}

/*
 * Runs before anything sets the market zone: hydra_tz_name() says "UTC",
 * so conversions must be in UTC even when the environment names another
 * zone.
 */
static void test_zone_is_utc_until_set(void **state)
{
    (void)state;
    setenv("TZ", "America/New_York", 1);
    tzset();
    assert_string_equal(hydra_tz_name(), "UTC");

    hydra_local_time lt;
    hydra_local_from_utc(utc(2026, 1, 1, 0, 30, 0), &lt);
    assert_int_equal(lt.date, 20260101);
    assert_int_equal(lt.minute_of_day, 30);
    assert_int_equal(lt.utc_offset_min, 0);
    assert_int_equal(hydra_utc_from_local(2026, 7, 1, 12, 0, 0), utc(2026, 7, 1, 12, 0, 0));
}

static int set_los_angeles(void **state)
{
    (void)state;
    return hydra_tz_set("America/Los_Angeles");
}

static void test_window_on_spring_forward_day(void **state)
{
    (void)state;
    int start = minutes("06:35"), end = minutes("09:30");

    /* 2026-03-08: PDT (UTC-7) from 02:00 local, 10:00Z. */
    assert_true(hydra_in_window(utc(2026, 3, 8, 13, 35, 0), start, end));   /* 06:35 PDT */
    assert_false(hydra_in_window(utc(2026, 3, 8, 13, 34, 59), start, end)); /* 06:34 PDT */
    assert_true(hydra_in_window(utc(2026, 3, 8, 14, 31, 0), start, end));   /* 07:31 PDT */
    assert_true(hydra_in_window(utc(2026, 3, 8, 16, 30, 59), start, end));  /* 09:30:59 PDT */
    assert_false(hydra_in_window(utc(2026, 3, 8, 16, 31, 0), start, end));  /* 09:31 PDT */

    /* The day before is still PST (UTC-8): the same window is an hour later in UTC. */
    assert_false(hydra_in_window(utc(2026, 3, 7, 13, 35, 0), start, end)); /* 05:35 PST */
    assert_true(hydra_in_window(utc(2026, 3, 7, 14, 35, 0), start, end));  /* 06:35 PST */
    assert_true(hydra_in_window(utc(2026, 3, 7, 17, 30, 0), start, end));  /* 09:30 PST */
    assert_false(hydra_in_window(utc(2026, 3, 7, 17, 31, 0), start, end)); /* 09:31 PST */

    hydra_local_time lt;
    hydra_local_from_utc(utc(2026, 3, 8, 13, 35, 0), &lt);
    assert_int_equal(lt.utc_offset_min, -420);
    assert_int_equal(lt.minute_of_day, 6 * 60 + 35);
    assert_int_equal(lt.date, 20260308);
    assert_int_equal(lt.wday, 0);
    hydra_local_from_utc(utc(2026, 3, 8, 9, 59, 59), &lt); /* the last second of PST */
    assert_int_equal(lt.utc_offset_min, -480);
    assert_int_equal(lt.hour, 1);
    assert_int_equal(lt.second, 59);
    hydra_local_from_utc(utc(2026, 3, 8, 10, 0, 0), &lt); /* the clock jumps to 03:00 */
    assert_int_equal(lt.utc_offset_min, -420);
    assert_int_equal(lt.hour, 3);
}

static void test_window_on_fall_back_day(void **state)
{
    (void)state;
    int start = minutes("06:35"), end = minutes("09:30");

    /* 2026-11-01: PST (UTC-8) from 02:00 PDT, 09:00Z. */
    assert_false(hydra_in_window(utc(2026, 11, 1, 13, 35, 0), start, end)); /* 05:35 PST */
    assert_true(hydra_in_window(utc(2026, 11, 1, 14, 35, 0), start, end));  /* 06:35 PST */
    assert_true(hydra_in_window(utc(2026, 11, 1, 17, 30, 0), start, end));  /* 09:30 PST */
    assert_false(hydra_in_window(utc(2026, 11, 1, 17, 31, 0), start, end)); /* 09:31 PST */

    /* The day before is still PDT. */
    assert_true(hydra_in_window(utc(2026, 10, 31, 13, 35, 0), start, end));  /* 06:35 PDT */
    assert_false(hydra_in_window(utc(2026, 10, 31, 16, 31, 0), start, end)); /* 09:31 PDT */

    /* 01:30 happens twice; read from UTC, each instant has its own offset. */
    hydra_local_time lt;
    hydra_local_from_utc(utc(2026, 11, 1, 8, 30, 0), &lt);
    assert_int_equal(lt.minute_of_day, 90);
    assert_int_equal(lt.utc_offset_min, -420);
    hydra_local_from_utc(utc(2026, 11, 1, 9, 30, 0), &lt);
    assert_int_equal(lt.minute_of_day, 90);
    assert_int_equal(lt.utc_offset_min, -480);
}

static void test_utc_from_local_gap_and_overlap(void **state)
{
    (void)state;
    /* Spring forward: 02:00..02:59 does not exist; 02:30 maps forward to 03:30 PDT. */
    assert_int_equal(hydra_utc_from_local(2026, 3, 8, 2, 30, 0), utc(2026, 3, 8, 10, 30, 0));
    assert_int_equal(hydra_utc_from_local(2026, 3, 8, 3, 30, 0), utc(2026, 3, 8, 10, 30, 0));
    assert_int_equal(hydra_utc_from_local(2026, 3, 8, 1, 59, 0), utc(2026, 3, 8, 9, 59, 0));
    assert_int_equal(hydra_utc_from_local(2026, 3, 8, 6, 35, 0), utc(2026, 3, 8, 13, 35, 0));

    /* Fall back: 01:00..01:59 happens twice; 01:30 is the first time, PDT. */
    assert_int_equal(hydra_utc_from_local(2026, 11, 1, 1, 30, 0), utc(2026, 11, 1, 8, 30, 0));
    assert_int_equal(hydra_utc_from_local(2026, 11, 1, 0, 59, 0), utc(2026, 11, 1, 7, 59, 0));
    assert_int_equal(hydra_utc_from_local(2026, 11, 1, 2, 0, 0), utc(2026, 11, 1, 10, 0, 0));
    assert_int_equal(hydra_utc_from_local(2026, 11, 1, 6, 35, 0), utc(2026, 11, 1, 14, 35, 0));

    /*
     * Europe/Dublin marks winter (GMT) as its daylight-saving time and
     * summer (IST) as standard, so "read the gap as standard time" would go
     * backwards there; the gap must still map forward and the overlap to
     * its first occurrence.
     */
    assert_int_equal(hydra_utc_from_zone("Europe/Dublin", 2026, 3, 29, 1, 30, 0),
                     utc(2026, 3, 29, 1, 30, 0)); /* 02:30 IST */
    assert_int_equal(hydra_utc_from_zone("Europe/Dublin", 2026, 10, 25, 1, 30, 0),
                     utc(2026, 10, 25, 0, 30, 0)); /* 01:30 IST, the first one */
    assert_int_equal(hydra_utc_from_zone("Europe/Dublin", 2026, 1, 15, 9, 0, 0),
                     utc(2026, 1, 15, 9, 0, 0));
}

/*
 * Every quarter hour of 2026 in zones with ordinary, inverted (Dublin),
 * half-hour (Lord Howe) and no (Tokyo) daylight saving: a wall time read
 * from an instant converts back to that instant, except the repeated
 * fall-back times, which convert to their first occurrence.
 */
static void test_utc_from_local_round_trips_all_year(void **state)
{
    (void)state;
    static const struct {
        const char *zone;
        int repeated;  /* quarter hours that occur twice in 2026 */
        int64_t shift; /* how far back the first occurrence is, ms */
    } zones[] = {
        {"America/Los_Angeles", 4, 3600000},
        {"Europe/Dublin", 4, 3600000},
        {"Europe/Berlin", 4, 3600000},
        {"Australia/Lord_Howe", 2, 1800000},
        {"Asia/Tokyo", 0, 0},
        {"UTC", 0, 0},
    };
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        assert_int_equal(hydra_tz_set(zones[z].zone), 0);
        int repeated = 0;
        for (int64_t t = utc(2026, 1, 1, 0, 0, 0); t < utc(2027, 1, 1, 0, 0, 0); t += 900000) {
            hydra_local_time lt;
            hydra_local_from_utc(t, &lt);
            if (lt.days != (long)hydra_days_from_date(lt.date))
                fail_msg("%s: day number %ld for %d", zones[z].zone, lt.days, lt.date);
            int64_t back =
                hydra_utc_from_local(lt.year, lt.month, lt.day, lt.hour, lt.minute, lt.second);
            if (back == t)
                continue;
            if (back != t - zones[z].shift)
                fail_msg("%s: %04d-%02d-%02d %02d:%02d from %lld gave %lld", zones[z].zone, lt.year,
                         lt.month, lt.day, lt.hour, lt.minute, (long long)t, (long long)back);
            repeated++;
        }
        if (repeated != zones[z].repeated)
            fail_msg("%s: %d repeated quarter hours, want %d", zones[z].zone, repeated,
                     zones[z].repeated);
    }
    assert_int_equal(hydra_tz_set("America/Los_Angeles"), 0);
}

/*
 * Loading a 5,000-row daily file converts 5,000 wall times. In a zone
 * without daylight saving, mktime with a DST hint took about 30 us a call;
 * 10,000 calls must finish in well under a second even under sanitizers.
 */
static void test_utc_from_local_is_fast_without_dst(void **state)
{
    (void)state;
    assert_int_equal(hydra_tz_set("UTC"), 0);
    int64_t start = hydra_monotonic_us();
    int64_t sum = 0;
    for (int i = 0; i < 10000; i++)
        sum += hydra_utc_from_local(1995 + i % 20, 1 + i % 12, 1 + i % 28, 9, 30, 0) / 1000;
    int64_t took = hydra_monotonic_us() - start;
    assert_int_equal(hydra_tz_set("America/Los_Angeles"), 0);
    assert_true(sum != 0);
    print_message("10000 conversions in UTC: %lld us\n", (long long)took);
    assert_true(took < 150000);
}

/*
 * hydra_local_from_utc remembers each UTC hour's offset; every field must
 * still equal what localtime_r says, in zones with DST, half-hour and
 * quarter-hour offsets, across transitions, day ends and year ends, and
 * before 1970.
 */
static void test_local_from_utc_matches_localtime(void **state)
{
    (void)state;
    static const char *zones[] = {"America/Los_Angeles", "Europe/Berlin", "Australia/Lord_Howe",
                                  "Asia/Kathmandu", "UTC", "Europe/Dublin"};
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        assert_int_equal(hydra_tz_set(zones[z]), 0);
        /* Every 7 minutes 13 seconds from 1969 to 2027: odd steps land on every minute. */
        for (int64_t t = -31536000000LL; t < 1830000000000LL; t += (7 * 60 + 13) * 1000LL * 97) {
            for (int64_t k = 0; k < 3; k++) {
                int64_t ms = t + k * 433000;
                hydra_local_time lt;
                hydra_local_from_utc(ms, &lt);
                time_t secs = (time_t)(ms / 1000);
                struct tm tm;
                localtime_r(&secs, &tm);
                assert_int_equal(lt.year, tm.tm_year + 1900);
                assert_int_equal(lt.month, tm.tm_mon + 1);
                assert_int_equal(lt.day, tm.tm_mday);
                assert_int_equal(lt.hour, tm.tm_hour);
                assert_int_equal(lt.minute, tm.tm_min);
                assert_int_equal(lt.second, tm.tm_sec);
                assert_int_equal(lt.wday, tm.tm_wday);
                assert_int_equal(lt.utc_offset_min, (int)(tm.tm_gmtoff / 60));
            }
        }
        /* Every minute of the days around this zone's 2024 transitions. */
        for (int64_t t = 1709251200000LL; t < 1709251200000LL + 40LL * 86400000; t += 60000) {
            hydra_local_time lt;
            hydra_local_from_utc(t, &lt);
            time_t secs = (time_t)(t / 1000);
            struct tm tm;
            localtime_r(&secs, &tm);
            assert_int_equal(lt.minute_of_day, tm.tm_hour * 60 + tm.tm_min);
            assert_int_equal(lt.date, (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday);
        }
    }
    hydra_tz_set("America/Los_Angeles");
}

static void test_utc_from_zone_leaves_market_zone(void **state)
{
    (void)state;
    assert_int_equal(hydra_utc_from_zone("Europe/Berlin", 2006, 1, 2, 9, 1, 0),
                     utc(2006, 1, 2, 8, 1, 0));
    assert_int_equal(hydra_utc_from_zone("Europe/Berlin", 2006, 7, 3, 9, 1, 0),
                     utc(2006, 7, 3, 7, 1, 0));
    assert_int_equal(hydra_utc_from_zone(NULL, 2026, 3, 8, 6, 35, 0), utc(2026, 3, 8, 13, 35, 0));
    assert_int_equal(hydra_utc_from_zone("", 2026, 3, 8, 6, 35, 0), utc(2026, 3, 8, 13, 35, 0));

    /* The market zone is Los Angeles again afterwards. */
    assert_string_equal(hydra_tz_name(), "America/Los_Angeles");
    hydra_local_time lt;
    hydra_local_from_utc(utc(2026, 3, 8, 13, 35, 0), &lt);
    assert_int_equal(lt.utc_offset_min, -420);
    assert_int_equal(hydra_utc_from_local(2026, 3, 8, 6, 35, 0), utc(2026, 3, 8, 13, 35, 0));
}

static void test_day_key_around_midnight(void **state)
{
    (void)state;
    char key[16];
    hydra_day_key(utc(2026, 11, 21, 7, 30, 0), key, sizeof key); /* 23:30 PST on the 20th */
    assert_string_equal(key, "2026-11-20");
    hydra_day_key(utc(2026, 11, 21, 7, 59, 59) + 999, key, sizeof key);
    assert_string_equal(key, "2026-11-20");
    hydra_day_key(utc(2026, 11, 21, 8, 0, 0), key, sizeof key); /* 00:00 PST */
    assert_string_equal(key, "2026-11-21");
    hydra_day_key(utc(2026, 7, 1, 6, 59, 0), key, sizeof key); /* 23:59 PDT */
    assert_string_equal(key, "2026-06-30");
    hydra_day_key(utc(2026, 7, 1, 7, 0, 0), key, sizeof key);
    assert_string_equal(key, "2026-07-01");
    hydra_day_key(utc(2026, 1, 1, 7, 59, 0), key, sizeof key); /* new year comes later here */
    assert_string_equal(key, "2025-12-31");
}

static void test_rfc3339_parses(void **state)
{
    (void)state;
    int64_t t = 0;
    /* The Alpaca examples: nanoseconds are cut to milliseconds, offsets applied. */
    assert_int_equal(hydra_parse_rfc3339("2022-05-16T16:32:24.14373588-04:00", &t), 0);
    assert_int_equal(t, utc(2022, 5, 16, 20, 32, 24) + 143);
    assert_int_equal(hydra_parse_rfc3339("2022-04-19T17:45:05.024916716Z", &t), 0);
    assert_int_equal(t, utc(2022, 4, 19, 17, 45, 5) + 24);

    static const struct {
        const char *text;
        int ms;
    } fractions[] = {
        {"2022-04-19T17:45:05Z", 0},
        {"2022-04-19T17:45:05.5Z", 500},
        {"2022-04-19T17:45:05.02Z", 20},
        {"2022-04-19T17:45:05.024Z", 24},
        {"2022-04-19T17:45:05.0249Z", 24},
        {"2022-04-19T17:45:05.99999Z", 999},
        {"2022-04-19T17:45:05.000001Z", 0},
        {"2022-04-19T17:45:05.1234567Z", 123},
        {"2022-04-19T17:45:05.12345678Z", 123},
        {"2022-04-19T17:45:05.123456789Z", 123},
    };
    for (size_t i = 0; i < sizeof fractions / sizeof fractions[0]; i++) {
        t = -1;
        assert_int_equal(hydra_parse_rfc3339(fractions[i].text, &t), 0);
        assert_int_equal(t, utc(2022, 4, 19, 17, 45, 5) + fractions[i].ms);
    }

    assert_int_equal(hydra_parse_rfc3339("2022-04-19T23:15:05+05:30", &t), 0);
    assert_int_equal(t, utc(2022, 4, 19, 17, 45, 5));
    assert_int_equal(hydra_parse_rfc3339("2022-04-19T17:45:05-00:00", &t), 0);
    assert_int_equal(t, utc(2022, 4, 19, 17, 45, 5));
    assert_int_equal(hydra_parse_rfc3339("2022-04-20T00:45:05+07:00", &t), 0);
    assert_int_equal(t, utc(2022, 4, 19, 17, 45, 5));
    assert_int_equal(hydra_parse_rfc3339("2022-04-19t17:45:05z", &t), 0);
    assert_int_equal(t, utc(2022, 4, 19, 17, 45, 5));
    assert_int_equal(hydra_parse_rfc3339("2022-04-19 17:45:05Z", &t), 0);
    assert_int_equal(t, utc(2022, 4, 19, 17, 45, 5));
    assert_int_equal(hydra_parse_rfc3339("2024-02-29T12:00:00Z", &t), 0);
    assert_int_equal(t, utc(2024, 2, 29, 12, 0, 0));
    assert_int_equal(hydra_parse_rfc3339("1969-12-31T23:59:59.999Z", &t), 0);
    assert_int_equal(t, -1);
}

static void test_rfc3339_rejects_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2022-04-19",
        "2022-04-19T17:45:05",             /* no zone */
        "2022-04-19T17:45Z",               /* no seconds */
        "2022-04-19T17:45:05.Z",           /* a point without digits */
        "2022-04-19T17:45:05.1234567890Z", /* ten fractional digits */
        "2022-04-19T17:45:05+0530",        /* offset without a colon */
        "2022-04-19T17:45:05+05",
        "2022-04-19T17:45:05+24:00",
        "2022-04-19T17:45:05+05:60",
        "2022-04-19T17:45:05ZZ",
        "2022-04-19T17:45:05Z ",
        " 2022-04-19T17:45:05Z",
        "2022-4-19T17:45:05Z",
        "2022-04-19X17:45:05Z",
        "2022-13-01T00:00:00Z",
        "2022-00-10T00:00:00Z",
        "2022-04-00T00:00:00Z",
        "2022-04-31T00:00:00Z", /* April has 30 days */
        "2023-02-29T00:00:00Z", /* not a leap year */
        "1900-02-29T00:00:00Z",
        "2022-04-19T24:00:00Z",
        "2022-04-19T17:60:00Z",
        "2022-04-19T17:45:61Z",
        "2022-04-19T17:45:05.12a4Z",
        "20220419T174505Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t = 42;
        if (hydra_parse_rfc3339(bad[i], &t) != HYDRA_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(t, 42);
    }
    int64_t t = 42;
    assert_int_equal(hydra_parse_rfc3339(NULL, &t), HYDRA_EINVAL);
}

static void test_format_utc(void **state)
{
    (void)state;
    char buf[32];
    hydra_format_utc(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    hydra_format_utc(utc(2022, 5, 16, 20, 32, 24) + 143, buf, sizeof buf);
    assert_string_equal(buf, "2022-05-16T20:32:24.143Z");
    hydra_format_utc(utc(2026, 11, 21, 13, 4, 5) + 7, buf, sizeof buf);
    assert_string_equal(buf, "2026-11-21T13:04:05.007Z");
    hydra_format_utc(-1, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");

    /* 25 bytes is enough, as the header says; a shorter buffer is cut, never overrun. */
    char exact[25];
    hydra_format_utc(utc(2026, 3, 8, 13, 35, 0) + 999, exact, sizeof exact);
    assert_string_equal(exact, "2026-03-08T13:35:00.999Z");
    char small[12];
    memset(small, 'x', sizeof small);
    hydra_format_utc(0, small, 11);
    assert_string_equal(small, "1970-01-01");
    assert_int_equal(small[11], 'x');

    /* The same text as gmtime_r and snprintf, at seeded random instants from 1900 to 2200. */
    uint64_t x = 0x2545F4914F6CDD1DULL;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t ms = (int64_t)(x % 9467280000000ULL) - 2208988800000LL;
        time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
        struct tm tm;
        char want[96];
        assert_non_null(gmtime_r(&secs, &tm));
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(ms - (int64_t)secs * 1000));
        hydra_format_utc(ms, buf, sizeof buf);
        assert_string_equal(buf, want);
    }

    /* Formatting and parsing agree. */
    static const int64_t samples[] = {0, 1, 999, 1000, 1652733144143LL, 1795246200000LL, -86400001};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        int64_t back = 0;
        hydra_format_utc(samples[i], buf, sizeof buf);
        assert_int_equal(hydra_parse_rfc3339(buf, &back), 0);
        assert_int_equal(back, samples[i]);
    }
}

/*
 * The conversion's shortcuts (the last instant, the last day, an hour's
 * offset) against the C library's own localtime_r, in zones with odd
 * offsets and half-hour daylight saving: a walk in 7-minute steps across
 * two years (every transition in them) and seeded random instants from 1970
 * to 2100, in both directions.
 */
static void check_local_against_libc(int64_t secs)
{
    hydra_local_time lt;
    struct tm tm;
    time_t t = (time_t)secs;
    hydra_local_from_utc(secs * 1000 + 250, &lt);
    assert_non_null(localtime_r(&t, &tm));
    if (lt.year != tm.tm_year + 1900 || lt.month != tm.tm_mon + 1 || lt.day != tm.tm_mday ||
        lt.hour != tm.tm_hour || lt.minute != tm.tm_min || lt.second != tm.tm_sec ||
        lt.wday != tm.tm_wday || lt.utc_offset_min != (int)(tm.tm_gmtoff / 60) ||
        lt.minute_of_day != tm.tm_hour * 60 + tm.tm_min ||
        lt.date != (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday)
        fail_msg("%s at %lld: got %04d-%02d-%02d %02d:%02d:%02d (%+d min), libc "
                 "%04d-%02d-%02d %02d:%02d:%02d (%+ld min)",
                 hydra_tz_name(), (long long)secs, lt.year, lt.month, lt.day, lt.hour,
                 lt.minute, lt.second, lt.utc_offset_min, tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_gmtoff / 60);
}

static void test_local_time_matches_libc(void **state)
{
    static const char *zones[] = {"America/Los_Angeles", "America/New_York", "Europe/Berlin",
                                  "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham",
                                  "America/St_Johns", "UTC"};
    char saved[64];
    (void)state;
    snprintf(saved, sizeof saved, "%s", hydra_tz_name());
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        assert_int_equal(hydra_tz_set(zones[z]), 0);
        int64_t start = utc(2025, 1, 1, 0, 0, 0) / 1000;
        for (int64_t s = start; s < start + 2 * 366 * 86400; s += 7 * 60 + 1)
            check_local_against_libc(s);
        uint64_t x = 0x9E3779B97F4A7C15ULL ^ z;
        for (int i = 0; i < 20000; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            check_local_against_libc((int64_t)(x % 4102444800ULL));
        }
    }
    assert_int_equal(hydra_tz_set(saved), 0);
}

/*
 * A daily series converts one instant a local day: every day from 1890 to
 * 2110 (the century years 1900 and 2100 are not leap years, 2000 is),
 * month and year ends included, must match localtime_r.
 */
static void test_local_time_day_by_day(void **state)
{
    static const char *zones[] = {"America/Los_Angeles", "UTC", "Pacific/Chatham"};
    char saved[64];
    (void)state;
    snprintf(saved, sizeof saved, "%s", hydra_tz_name());
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        assert_int_equal(hydra_tz_set(zones[z]), 0);
        int64_t start = utc(1890, 1, 1, 20, 0, 0) / 1000, end = utc(2110, 12, 31, 0, 0, 0) / 1000;
        for (int64_t s = start; s < end; s += 86400)
            check_local_against_libc(s);
    }
    assert_int_equal(hydra_tz_set(saved), 0);
}

static void test_tz_valid(void **state)
{
    (void)state;
    assert_true(hydra_tz_valid("America/Los_Angeles"));
    assert_true(hydra_tz_valid("Europe/Berlin"));
    assert_true(hydra_tz_valid("UTC"));
    assert_true(hydra_tz_valid("Etc/GMT+5"));

    static const char *const bad[] = {
        "",
        "Not/AZone",
        "../etc/passwd",
        "/etc/passwd",
        "America/../../etc/passwd",
        "America/../Europe/Berlin",
        "America",             /* a directory */
        "America/Los Angeles", /* a space */
        "America/Los_Angeles\n",
        "Europe/Berlin;rm -rf",
        "zone.tab",
        "America/Los_Angeles/",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (hydra_tz_valid(bad[i]))
            fail_msg("accepted zone \"%s\"", bad[i]);
    assert_false(hydra_tz_valid(NULL));

    /* A file that exists in the zone directory but is not a TZif file is not a zone. */
    char dir[256], sub[300], file[320], fake[320];
    assert_non_null(tu_mkdtemp(dir, sizeof dir));
    snprintf(sub, sizeof sub, "%s/Fake", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(file, sizeof file, "%s/Text", sub);
    snprintf(fake, sizeof fake, "%s/Zone", sub);
    assert_int_equal(tu_write_file(file, "not a zone file\n"), 0);
    assert_int_equal(tu_write_file(fake, "TZif2 and the rest of a zone file"), 0);
    const char *old = getenv("TZDIR");
    char saved[256] = "";
    if (old != NULL)
        snprintf(saved, sizeof saved, "%s", old);
    setenv("TZDIR", dir, 1);
    int text_ok = hydra_tz_valid("Fake/Text");
    int zone_ok = hydra_tz_valid("Fake/Zone");
    if (old != NULL)
        setenv("TZDIR", saved, 1);
    else
        unsetenv("TZDIR");
    tu_rmtree(dir);
    assert_false(text_ok);
    assert_true(zone_ok);

    /* A refused zone leaves the market zone as it was. */
    assert_int_equal(hydra_tz_set("Not/AZone"), HYDRA_EINVAL);
    assert_int_equal(hydra_tz_set("../etc/passwd"), HYDRA_EINVAL);
    assert_string_equal(hydra_tz_name(), "America/Los_Angeles");
    assert_int_equal(hydra_utc_from_local(2026, 3, 8, 6, 35, 0), utc(2026, 3, 8, 13, 35, 0));
}

static void test_parse_hhmm(void **state)
{
    (void)state;
    int m = -1;
    assert_int_equal(hydra_parse_hhmm("00:00", &m), 0);
    assert_int_equal(m, 0);
    assert_int_equal(hydra_parse_hhmm("23:59", &m), 0);
    assert_int_equal(m, 1439);
    assert_int_equal(hydra_parse_hhmm("09:30", &m), 0);
    assert_int_equal(m, 570);
    assert_int_equal(hydra_parse_hhmm("12:00", &m), 0);
    assert_int_equal(m, 720);

    static const char *const bad[] = {"24:00",    "23:60", "99:99",  "9:30",  "09:3",  "09-30",
                                      "0930",     "",      "09:30 ", " 9:30", "+9:30", "ab:cd",
                                      "09:30:00", "-1:00", "09:+5",  "０9:30"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = 4242;
        if (hydra_parse_hhmm(bad[i], &m) != HYDRA_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(m, 4242);
    }
    assert_int_equal(hydra_parse_hhmm(NULL, &m), HYDRA_EINVAL);
}

static void test_clocks(void **state)
{
    (void)state;
    hydra_clock sim, wall;
    hydra_clock_init_sim(&sim, 1000);
    assert_int_equal(hydra_clock_now_ms(&sim), 1000);
    assert_int_equal(hydra_clock_set(&sim, utc(2026, 3, 8, 13, 35, 0)), 0);
    assert_int_equal(hydra_clock_now_ms(&sim), utc(2026, 3, 8, 13, 35, 0));

    hydra_clock_init_wall(&wall);
    assert_int_equal(hydra_clock_set(&wall, 5), -1);
    int64_t now = hydra_clock_now_ms(&wall);
    assert_true(now > utc(2020, 1, 1, 0, 0, 0));
    assert_true(now != 5);

    int64_t a = hydra_monotonic_us();
    usleep(2000);
    int64_t b = hydra_monotonic_us();
    assert_true(b - a >= 2000);
    assert_true(hydra_monotonic_ms() >= a / 1000);
}

int main(void)
{
    /* This group must run first: it checks the state before any zone is set. */
    const struct CMUnitTest before_set[] = {
        cmocka_unit_test(test_zone_is_utc_until_set),
    };
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_on_spring_forward_day),
        cmocka_unit_test(test_window_on_fall_back_day),
        cmocka_unit_test(test_utc_from_local_gap_and_overlap),
        cmocka_unit_test(test_utc_from_local_round_trips_all_year),
        cmocka_unit_test(test_utc_from_local_is_fast_without_dst),
        cmocka_unit_test(test_local_from_utc_matches_localtime),
        cmocka_unit_test(test_utc_from_zone_leaves_market_zone),
        cmocka_unit_test(test_day_key_around_midnight),
        cmocka_unit_test(test_rfc3339_parses),
        cmocka_unit_test(test_rfc3339_rejects_malformed),
        cmocka_unit_test(test_format_utc),
        cmocka_unit_test(test_local_time_matches_libc),
        cmocka_unit_test(test_local_time_day_by_day),
        cmocka_unit_test(test_tz_valid),
        cmocka_unit_test(test_parse_hhmm),
        cmocka_unit_test(test_clocks),
    };
    int failed = cmocka_run_group_tests_name("clock before a zone is set", before_set, NULL, NULL);
    failed +=
        cmocka_run_group_tests_name("clock in America/Los_Angeles", tests, set_los_angeles, NULL);
    return failed;
}
