/*
 * Time for every decision.
 *
 * All engine time is UTC milliseconds since the Unix epoch (int64_t). The
 * clock is either the wall clock (live) or a settable simulated clock that
 * the simulated exchange advances bar by bar (sim and backtest), so trade
 * windows are evaluated in the data's time.
 *
 * Local-time questions (trade windows, the trading day) are answered in the
 * market time zone set with hydra_tz_set(): one IANA zone per process, the
 * settings' system.timezone. Conversions go through the C library's tz
 * database (localtime_r/mktime with TZ set), so they are right across
 * daylight-saving changes.
 */
#ifndef HYDRA_CLOCK_H
#define HYDRA_CLOCK_H

#include <stdint.h>

typedef struct hydra_clock {
    int simulated;      /* 0: wall clock; 1: now_ms is what hydra_clock_set stored */
    int64_t sim_now_ms; /* current simulated time */
} hydra_clock;

/* A wall clock (simulated = 0). */
void hydra_clock_init_wall(hydra_clock *c);
/* A simulated clock starting at start_ms. */
void hydra_clock_init_sim(hydra_clock *c, int64_t start_ms);
/* Current time, UTC ms. */
int64_t hydra_clock_now_ms(const hydra_clock *c);
/* Sets a simulated clock; ignored (returns -1) for a wall clock. */
int hydra_clock_set(hydra_clock *c, int64_t now_ms);

/* Monotonic milliseconds for measuring durations and health windows. */
int64_t hydra_monotonic_ms(void);
/* Monotonic microseconds, for benchmarks and per-call deadlines. */
int64_t hydra_monotonic_us(void);

/* 1 if `iana` names a zone in the system tz database (e.g. "America/Los_Angeles"). */
int hydra_tz_valid(const char *iana);
/* Makes `iana` the process's market zone. Returns 0 or HYDRA_EINVAL. */
int hydra_tz_set(const char *iana);
/* The current market zone name ("UTC" until set). */
const char *hydra_tz_name(void);
/* A number that changes whenever the market zone does (1 after the first hydra_tz_set). */
unsigned hydra_tz_generation(void);

/* A broken-down local time in the market zone. */
typedef struct hydra_local_time {
    int year, month, day;    /* 2026, 1..12, 1..31 */
    int hour, minute, second;
    int wday;                /* 0 = Sunday */
    int minute_of_day;       /* hour * 60 + minute */
    int date;                /* yyyymmdd */
    int utc_offset_min;      /* e.g. -480 for PST, -420 for PDT */
    long days;               /* the local date as days since 1970-01-01 */
} hydra_local_time;

/* UTC ms -> market-zone local time. */
void hydra_local_from_utc(int64_t utc_ms, hydra_local_time *out);
/* Its date (yyyymmdd) and its date's day number alone: the replay asks for them every bar. */
int hydra_local_date(int64_t utc_ms);
long hydra_local_days(int64_t utc_ms);
/*
 * Market-zone wall time -> UTC ms. A time skipped by a spring-forward change
 * maps forward (02:30 -> 03:30); a repeated fall-back time maps to its first
 * occurrence.
 */
int64_t hydra_utc_from_local(int year, int month, int day, int hour, int minute, int second);
/* The same for a minute of a local day given as days since 1970-01-01 (no date arithmetic). */
int64_t hydra_utc_from_local_day(long days, int minute_of_day);
/* The same conversion in another zone (used to load data stamped in an exchange's zone). */
int64_t hydra_utc_from_zone(const char *iana, int year, int month, int day, int hour, int minute,
                            int second);

/* The trading day key: market-zone date as "YYYY-MM-DD" (buf >= 11 bytes). */
void hydra_day_key(int64_t utc_ms, char *buf, unsigned bufsz);

/* Days since 1970-01-01 of a civil date yyyymmdd (proleptic Gregorian, no time zone). */
int64_t hydra_days_from_date(int yyyymmdd);
/* Calendar days from one yyyymmdd date to another. */
int hydra_days_between(int from_yyyymmdd, int to_yyyymmdd);

/* Parses "HH:MM" (00:00..23:59) into minutes of day. Returns 0 or HYDRA_EINVAL. */
int hydra_parse_hhmm(const char *s, int *minute_of_day);

/* 1 if the market-zone local time of utc_ms is within [start_min, end_min], inclusive. */
int hydra_in_window(int64_t utc_ms, int start_min, int end_min);

/* RFC 3339 UTC with milliseconds: "2026-11-21T13:04:05.123Z" (buf >= 25 bytes). */
void hydra_format_utc(int64_t utc_ms, char *buf, unsigned bufsz);
/* "YYYY-MM-DD HH:MM:SS" in the market zone. */
void hydra_format_local(int64_t utc_ms, char *buf, unsigned bufsz);
/*
 * Parses RFC 3339 ("2022-05-16T16:32:24.14373588-04:00", "...Z", 0 to 9
 * fractional digits) into UTC ms. Returns 0 or HYDRA_EINVAL.
 */
int hydra_parse_rfc3339(const char *s, int64_t *utc_ms);

#endif
