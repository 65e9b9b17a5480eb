#define _GNU_SOURCE
#include "clock.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "error.h"
#include "tzif.h"

static char g_tz_name[64] = "UTC";
static int g_tz_applied;
static unsigned g_tz_generation; /* changes with the zone: invalidates the offset cache */

/*
 * The market zone's transition table, read from its TZif file once per
 * zone (tzif.h). Conversions use it whenever it could be read; otherwise
 * (no file, an unreadable one) they fall back on the C library.
 */
static hydra_tzif g_tzif;
static int g_tzif_state; /* 0: not tried for this zone; 1: loaded; -1: unreadable */

static hydra_tzif *zone_table(void)
{
    if (g_tzif_state == 0) {
        char err[256];
        g_tzif_state = hydra_tzif_load(g_tz_name, &g_tzif, err, sizeof err) == 0 ? 1 : -1;
    }
    return g_tzif_state == 1 ? &g_tzif : NULL;
}

/*
 * The C library converts in the zone named by TZ, and with TZ unset it uses
 * the machine's zone (and glibc rereads /etc/localtime on every mktime).
 * The market zone is "UTC" until hydra_tz_set, so TZ must say so before
 * the first conversion.
 */
static void apply_zone(void)
{
    if (g_tz_applied)
        return;
    setenv("TZ", g_tz_name, 1);
    tzset();
    g_tz_applied = 1;
}

void hydra_clock_init_wall(hydra_clock *c)
{
    c->simulated = 0;
    c->sim_now_ms = 0;
}

void hydra_clock_init_sim(hydra_clock *c, int64_t start_ms)
{
    c->simulated = 1;
    c->sim_now_ms = start_ms;
}

int64_t hydra_clock_now_ms(const hydra_clock *c)
{
    if (c != NULL && c->simulated)
        return c->sim_now_ms;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int hydra_clock_set(hydra_clock *c, int64_t now_ms)
{
    if (c == NULL || !c->simulated)
        return -1;
    c->sim_now_ms = now_ms;
    return 0;
}

int64_t hydra_monotonic_ms(void)
{
    return hydra_monotonic_us() / 1000;
}

int64_t hydra_monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * A zone is valid when the tz database has a TZif file for it. The name is
 * checked first so it can never escape the database directory.
 */
int hydra_tz_valid(const char *iana)
{
    if (iana == NULL || iana[0] == '\0' || iana[0] == '/' || strlen(iana) >= 64 ||
        strstr(iana, "..") != NULL)
        return 0;
    for (const char *p = iana; *p; p++)
        if (!isalnum((unsigned char)*p) && strchr("/_-+", *p) == NULL)
            return 0;
    const char *dir = getenv("TZDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/usr/share/zoneinfo";
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, iana);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    char magic[4] = {0};
    size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return got == 4 && memcmp(magic, "TZif", 4) == 0;
}

int hydra_tz_set(const char *iana)
{
    if (!hydra_tz_valid(iana))
        return HYDRA_EINVAL;
    snprintf(g_tz_name, sizeof g_tz_name, "%s", iana);
    setenv("TZ", g_tz_name, 1);
    tzset();
    g_tz_applied = 1;
    g_tz_generation++;
    hydra_tzif_free(&g_tzif);
    g_tzif_state = 0;
    return 0;
}

const char *hydra_tz_name(void)
{
    return g_tz_name;
}

unsigned hydra_tz_generation(void)
{
    return g_tz_generation;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/*
 * The zone's offset from UTC for one UTC hour, remembered across calls.
 * The engine asks for local times many times per bar (trade windows, exits,
 * the trading day) and a backtest replays millions of bars, while
 * localtime_r costs far more than the arithmetic below. Offsets change only
 * at zone transitions; an hour whose first and last second have the same
 * offset has no transition inside (zones change at most once an hour), so
 * every instant in it converts with that offset. An hour with a transition
 * goes to localtime_r second by second. One process, one thread: the cache
 * is plain static state, like the zone itself.
 */
static struct {
    int valid;
    unsigned generation;
    int64_t from, until; /* UTC seconds [from, until) with one offset */
    int uniform;    /* one offset for the whole span */
    long offset;    /* seconds ahead of UTC */
    int offset_min; /* offset / 60, as hydra_local_time has it */
} g_offset_cache;

/* Civil date from days since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm). */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static void local_from_tm(const struct tm *tm, hydra_local_time *out)
{
    out->year = tm->tm_year + 1900;
    out->month = tm->tm_mon + 1;
    out->day = tm->tm_mday;
    out->hour = tm->tm_hour;
    out->minute = tm->tm_min;
    out->second = tm->tm_sec;
    out->wday = tm->tm_wday;
    out->minute_of_day = tm->tm_hour * 60 + tm->tm_min;
    out->date = out->year * 10000 + out->month * 100 + out->day;
    out->utc_offset_min = (int)(tm->tm_gmtoff / 60);
    out->days = (long)hydra_days_from_date(out->date);
}

/*
 * The last conversion, whole: one tick asks for the local time of the same
 * instant many times (every bot's window, its snapshot, the exits).
 */
static struct {
    int valid;
    unsigned generation;
    uint64_t ms; /* the converted second, in ms: instants [ms, ms + 1000) share it */
    hydra_local_time lt;
} g_last_local;

/*
 * The civil date of the last local day converted: a replay converts every
 * bar, hundreds a day, and the date is the costly part of a conversion.
 */
static struct {
    int valid;
    int64_t start; /* local seconds of the day's 00:00 */
    long days;     /* start / 86400 */
    int year, month, day, wday;
    int date;      /* yyyymmdd */
} g_last_day;

static void local_from_secs(int64_t secs, hydra_local_time *out);

/* Converts utc_ms into g_last_local (the miss path of local_of, kept out of its callers). */
static __attribute__((noinline)) void local_convert(int64_t utc_ms)
{
    /* An unsigned division where it is the same: the cheapest by a constant. */
    int64_t secs = utc_ms >= 0 ? (int64_t)((uint64_t)utc_ms / 1000u) : floor_div(utc_ms, 1000);
    local_from_secs(secs, &g_last_local.lt);
    g_last_local.valid = 1;
    g_last_local.generation = g_tz_generation;
    g_last_local.ms = (uint64_t)secs * 1000u; /* unsigned: the check below wraps the same way */
}

/*
 * The local time of utc_ms, converted or remembered; valid until the next
 * conversion. A hit is one range check on the millisecond (no division):
 * a replay asks about each bar's instant several times.
 */
static inline const hydra_local_time *local_of(int64_t utc_ms)
{
    if (!g_last_local.valid || (uint64_t)utc_ms - g_last_local.ms >= 1000 ||
        g_last_local.generation != g_tz_generation)
        local_convert(utc_ms);
    return &g_last_local.lt;
}

void hydra_local_from_utc(int64_t utc_ms, hydra_local_time *out)
{
    *out = *local_of(utc_ms);
}

int hydra_local_date(int64_t utc_ms)
{
    return local_of(utc_ms)->date;
}

long hydra_local_days(int64_t utc_ms)
{
    return local_of(utc_ms)->days;
}

/* Finds the zone's offset for the UTC hour holding secs: two localtime_r calls, once an hour. */
static void offset_cache_fill(int64_t secs)
{
    int64_t hour = floor_div(secs, 3600);
    time_t first = (time_t)(hour * 3600), last = first + 3599;
    struct tm a, b;
    localtime_r(&first, &a);
    localtime_r(&last, &b);
    g_offset_cache.valid = 1;
    g_offset_cache.generation = g_tz_generation;
    g_offset_cache.from = hour * 3600;
    g_offset_cache.until = hour * 3600 + 3600;
    g_offset_cache.uniform = a.tm_gmtoff == b.tm_gmtoff;
    g_offset_cache.offset = a.tm_gmtoff;
    g_offset_cache.offset_min = (int)(a.tm_gmtoff / 60);
}

static int days_in_month(int y, int mo);

/*
 * g_last_day becomes the day after it (a daily series steps a day at a
 * time): a counter, with the month and the year carried by hand.
 */
static inline void next_day(void)
{
    g_last_day.days++;
    g_last_day.start += 86400;
    g_last_day.wday = g_last_day.wday == 6 ? 0 : g_last_day.wday + 1;
    if (g_last_day.day < 28 ||
        g_last_day.day < days_in_month(g_last_day.year, g_last_day.month)) {
        g_last_day.day++;
        g_last_day.date++;
        return;
    }
    g_last_day.day = 1;
    if (g_last_day.month == 12) {
        g_last_day.month = 1;
        g_last_day.year++;
    } else {
        g_last_day.month++;
    }
    g_last_day.date = g_last_day.year * 10000 + g_last_day.month * 100 + 1;
}

/*
 * The civil date of the local day holding local seconds `local`, from the
 * calendar: a jump (the next day is next_day's).
 */
static __attribute__((noinline)) void day_fill(int64_t local)
{
    int64_t days = floor_div(local, 86400);
    civil_from_days(days, &g_last_day.year, &g_last_day.month, &g_last_day.day);
    int64_t wd = (days + 4) % 7; /* 1970-01-01 was a Thursday */
    g_last_day.wday = (int)(wd < 0 ? wd + 7 : wd);
    g_last_day.days = (long)days;
    g_last_day.start = days * 86400;
    g_last_day.date = g_last_day.year * 10000 + g_last_day.month * 100 + g_last_day.day;
    g_last_day.valid = 1;
}

/* An instant in an hour with a transition: localtime_r itself. */
static __attribute__((noinline)) void local_from_libc(int64_t secs, hydra_local_time *out)
{
    struct tm tm;
    time_t t = (time_t)secs;
    localtime_r(&t, &tm);
    local_from_tm(&tm, out);
}

/*
 * The offset for secs from the zone's table: the span it holds over is
 * remembered, so instants until the next transition cost one comparison.
 */
static void span_fill(hydra_tzif *z, int64_t secs)
{
    int64_t from, until;
    long off = hydra_tzif_offset(z, secs, &from, &until);
    g_offset_cache.valid = 1;
    g_offset_cache.generation = g_tz_generation;
    g_offset_cache.from = from;
    g_offset_cache.until = until;
    g_offset_cache.uniform = 1;
    g_offset_cache.offset = off;
    g_offset_cache.offset_min = (int)(off / 60);
}

/* The offset cache for secs, from the zone's table or else the C library. */
static __attribute__((noinline)) void offset_fill(int64_t secs)
{
    /* TZ must hold the market zone before the C library converts (offset_cache_fill). */
    apply_zone();
    hydra_tzif *z = zone_table();
    if (z != NULL)
        span_fill(z, secs);
    else
        offset_cache_fill(secs);
}

/*
 * The usual case is two range checks and the time of day: the offset's
 * span and the day's date are remembered, the next day is a counter
 * (next_day), and the slow paths
 * live in their own functions so this one stays small.
 */
static void local_from_secs(int64_t secs, hydra_local_time *out)
{
    if (!g_offset_cache.valid || g_offset_cache.generation != g_tz_generation ||
        secs < g_offset_cache.from || secs >= g_offset_cache.until)
        offset_fill(secs);
    if (!g_offset_cache.uniform) {
        local_from_libc(secs, out);
        return;
    }
    int64_t local = secs + g_offset_cache.offset;
    if (!g_last_day.valid || local < g_last_day.start || local >= g_last_day.start + 86400) {
        if (g_last_day.valid && local >= g_last_day.start + 86400 &&
            local < g_last_day.start + 2 * 86400)
            next_day();
        else
            day_fill(local);
    }
    /* Unsigned and from the minute of the day: the cheapest divisions by constants. */
    unsigned sod = (unsigned)(local - g_last_day.start); /* 0 .. 86399 */
    unsigned mod = sod / 60, hour = mod / 60;
    out->year = g_last_day.year;
    out->month = g_last_day.month;
    out->day = g_last_day.day;
    out->wday = g_last_day.wday;
    out->hour = (int)hour;
    out->minute = (int)(mod - hour * 60);
    out->second = (int)(sod - mod * 60);
    out->minute_of_day = (int)mod;
    out->date = g_last_day.date;
    out->utc_offset_min = g_offset_cache.offset_min;
    out->days = g_last_day.days;
}

/* Seconds the zone (the market zone's table, or the C library's TZ) is ahead of UTC at t. */
static long offset_in(hydra_tzif *z, time_t t)
{
    if (z != NULL) {
        int64_t from, until;
        return hydra_tzif_offset(z, (int64_t)t, &from, &until);
    }
    struct tm tm = {0};
    localtime_r(&t, &tm);
    return tm.tm_gmtoff;
}

/*
 * The market zone's offset span last used to convert a wall time (from the
 * zone's table): session times are asked for every day of a daily replay,
 * months inside one span. Valid for its zone generation only.
 */
static struct {
    unsigned generation;
    int valid;
    int64_t from, until; /* UTC seconds the offset holds over */
    long off;
} g_wall_span;

/* 1 when the remembered span holds from a day before wall time w to a day after. */
static inline int wall_span_holds(int64_t w)
{
    return g_wall_span.valid && g_wall_span.generation == g_tz_generation &&
           w - 86400 >= g_wall_span.from && w + 86400 < g_wall_span.until;
}

/*
 * The instant whose local time is `wall` (the wall time read as if it were
 * UTC). The instants with that local time are wall - offset
 * for an offset in force at that instant. Zones change offset at most once
 * around any wall time, so the offsets a day before and a day after are the
 * only candidates. This asks localtime_r only, never mktime with a DST
 * hint: the hint is wrong in zones whose winter time is flagged as DST
 * (Europe/Dublin), and glibc's mktime searches years for a DST time in
 * zones that have none, about 30 us a call.
 */
static int64_t utc_from_wall(hydra_tzif *z, time_t wall)
{
    if (z != NULL) {
        /*
         * The usual case: one offset holds from a day before the wall time
         * to a day after, so the instant is wall - offset. The market
         * zone's last span is remembered (its generation changes with the
         * zone): session times are asked for every day of a daily replay,
         * months inside one span.
         */
        int64_t w = (int64_t)wall;
        if (z == &g_tzif && wall_span_holds(w))
            return (w - g_wall_span.off) * 1000;
        int64_t from, until;
        long off = hydra_tzif_offset(z, w - 86400, &from, &until);
        if (z == &g_tzif) {
            g_wall_span.generation = g_tz_generation;
            g_wall_span.valid = 1;
            g_wall_span.from = from;
            g_wall_span.until = until;
            g_wall_span.off = off;
        }
        if (w + 86400 < until)
            return (w - off) * 1000;
    }
    long before = offset_in(z, wall - 86400), after = offset_in(z, wall + 86400);
    time_t t_before = wall - before, t_after = wall - after;
    int ok_before = offset_in(z, t_before) == before, ok_after = offset_in(z, t_after) == after;
    time_t t;
    if (ok_before && ok_after)
        t = t_before < t_after ? t_before : t_after; /* repeated: the first occurrence */
    else if (ok_before)
        t = t_before;
    else if (ok_after)
        t = t_after;
    else
        t = t_before; /* skipped: the old offset carries it past the gap (02:30 -> 03:30) */
    return (int64_t)t * 1000;
}

/* The same from a civil date and time. */
static int64_t utc_from_local_in(hydra_tzif *z, int year, int month, int day, int hour,
                                 int minute, int second)
{
    time_t wall; /* the wall time read as if it were UTC */
    if (month >= 1 && month <= 12 && year >= -9999 && year <= 200000) {
        /* timegm's arithmetic without its call (day, hour, ... may overflow, as there) */
        wall = (time_t)((hydra_days_from_date(year * 10000 + month * 100 + 1) + day - 1) * 86400 +
                        (int64_t)hour * 3600 + (int64_t)minute * 60 + second);
    } else {
        struct tm tm = {0};
        tm.tm_year = year - 1900;
        tm.tm_mon = month - 1;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = minute;
        tm.tm_sec = second;
        wall = timegm(&tm);
    }
    return utc_from_wall(z, wall);
}

int64_t hydra_utc_from_local(int year, int month, int day, int hour, int minute, int second)
{
    apply_zone();
    return utc_from_local_in(zone_table(), year, month, day, hour, minute, second);
}

/* hydra_utc_from_local_day past its usual answer (kept out of line so that one stays small). */
static __attribute__((noinline)) int64_t utc_from_local_day_slow(int64_t w)
{
    apply_zone();
    return utc_from_wall(zone_table(), (time_t)w);
}

int64_t hydra_utc_from_local_day(long days, int minute_of_day)
{
    int64_t w = (int64_t)days * 86400 + (int64_t)minute_of_day * 60;
    /*
     * utc_from_wall's usual answer before anything else: a span of this
     * generation was read from the zone's table, so the zone was applied
     * and its table loaded.
     */
    if (wall_span_holds(w))
        return (w - g_wall_span.off) * 1000;
    return utc_from_local_day_slow(w);
}

/* The last other zone a file was loaded in (load time only). */
static char g_other_name[64];
static hydra_tzif g_other;

int64_t hydra_utc_from_zone(const char *iana, int year, int month, int day, int hour, int minute,
                            int second)
{
    apply_zone();
    if (iana == NULL || iana[0] == '\0' || strcmp(iana, g_tz_name) == 0)
        return hydra_utc_from_local(year, month, day, hour, minute, second);
    if (strcmp(iana, g_other_name) != 0) {
        char err[256];
        hydra_tzif_free(&g_other);
        g_other_name[0] = '\0';
        if (hydra_tzif_load(iana, &g_other, err, sizeof err) == 0)
            snprintf(g_other_name, sizeof g_other_name, "%s", iana);
    }
    if (g_other_name[0] != '\0')
        return utc_from_local_in(&g_other, year, month, day, hour, minute, second);
    /* Load-time only: switch the process zone, convert, and switch back. */
    setenv("TZ", iana, 1);
    tzset();
    int64_t t = utc_from_local_in(NULL, year, month, day, hour, minute, second);
    setenv("TZ", g_tz_name, 1);
    tzset();
    return t;
}

void hydra_day_key(int64_t utc_ms, char *buf, unsigned bufsz)
{
    hydra_local_time lt;
    hydra_local_from_utc(utc_ms, &lt);
    snprintf(buf, bufsz, "%04d-%02d-%02d", lt.year, lt.month, lt.day);
}

int64_t hydra_days_from_date(int yyyymmdd)
{
    int64_t y = yyyymmdd / 10000, m = yyyymmdd / 100 % 100, d = yyyymmdd % 100;
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int hydra_days_between(int from_yyyymmdd, int to_yyyymmdd)
{
    return (int)(hydra_days_from_date(to_yyyymmdd) - hydra_days_from_date(from_yyyymmdd));
}

int hydra_parse_hhmm(const char *s, int *minute_of_day)
{
    if (s == NULL || strlen(s) != 5 || !isdigit((unsigned char)s[0]) ||
        !isdigit((unsigned char)s[1]) || s[2] != ':' || !isdigit((unsigned char)s[3]) ||
        !isdigit((unsigned char)s[4]))
        return HYDRA_EINVAL;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 23 || m > 59)
        return HYDRA_EINVAL;
    *minute_of_day = h * 60 + m;
    return 0;
}

int hydra_in_window(int64_t utc_ms, int start_min, int end_min)
{
    hydra_local_time lt;
    hydra_local_from_utc(utc_ms, &lt);
    return lt.minute_of_day >= start_min && lt.minute_of_day <= end_min;
}

/* Writes v as exactly `width` decimal digits (v >= 0 and < 10^width). */
static char *put_digits(char *p, int v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

void hydra_format_local(int64_t utc_ms, char *buf, unsigned bufsz)
{
    const hydra_local_time *lt = local_of(utc_ms);
    /* By hand in the usual case (a report stamps every trade twice); the same text as below. */
    if (bufsz >= 20 && lt->year >= 0 && lt->year <= 9999) {
        char *p = put_digits(buf, lt->year, 4);
        *p++ = '-';
        p = put_digits(p, lt->month, 2);
        *p++ = '-';
        p = put_digits(p, lt->day, 2);
        *p++ = ' ';
        p = put_digits(p, lt->hour, 2);
        *p++ = ':';
        p = put_digits(p, lt->minute, 2);
        *p++ = ':';
        p = put_digits(p, lt->second, 2);
        *p = '\0';
        return;
    }
    snprintf(buf, bufsz, "%04d-%02d-%02d %02d:%02d:%02d", lt->year, lt->month, lt->day, lt->hour,
             lt->minute, lt->second);
}

void hydra_format_utc(int64_t utc_ms, char *buf, unsigned bufsz)
{
    int64_t secs = floor_div(utc_ms, 1000);
    int ms = (int)(utc_ms - secs * 1000);
    int64_t days = floor_div(secs, 86400);
    int sod = (int)(secs - days * 86400);
    int y, mo, d;
    civil_from_days(days, &y, &mo, &d);
    /*
     * By hand in the usual case: every log line stamps its time this way,
     * and snprintf with seven fields cost more than the rest of the stamp.
     * Same text as the format below, which handles everything else.
     */
    if (bufsz >= 25 && y >= 0 && y <= 9999) {
        char *p = put_digits(buf, y, 4);
        *p++ = '-';
        p = put_digits(p, mo, 2);
        *p++ = '-';
        p = put_digits(p, d, 2);
        *p++ = 'T';
        p = put_digits(p, sod / 3600, 2);
        *p++ = ':';
        p = put_digits(p, sod / 60 % 60, 2);
        *p++ = ':';
        p = put_digits(p, sod % 60, 2);
        *p++ = '.';
        p = put_digits(p, ms, 3);
        *p++ = 'Z';
        *p = '\0';
        return;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, bufsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

static int take_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* timegm would quietly roll "02-30" over into March; a date must exist. */
static int days_in_month(int y, int mo)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return mo == 2 && leap ? 29 : days[mo - 1];
}

int hydra_parse_rfc3339(const char *s, int64_t *utc_ms)
{
    if (s == NULL)
        return HYDRA_EINVAL;
    const char *p = s;
    int y, mo, d, h, mi, sec;
    if (take_digits(&p, 4, &y) || *p++ != '-' || take_digits(&p, 2, &mo) || *p++ != '-' ||
        take_digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        return HYDRA_EINVAL;
    p++;
    if (take_digits(&p, 2, &h) || *p++ != ':' || take_digits(&p, 2, &mi) || *p++ != ':' ||
        take_digits(&p, 2, &sec))
        return HYDRA_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
        return HYDRA_EINVAL;
    int ms = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (isdigit((unsigned char)*p)) {
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (digits == 0 || digits > 9)
            return HYDRA_EINVAL;
        for (int i = digits; i < 3; i++)
            ms *= 10;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (take_digits(&p, 2, &oh) || *p++ != ':' || take_digits(&p, 2, &om) || oh > 23 || om > 59)
            return HYDRA_EINVAL;
        offset_min = sign * (oh * 60 + om);
    } else {
        return HYDRA_EINVAL;
    }
    if (*p != '\0')
        return HYDRA_EINVAL;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *utc_ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + ms;
    return 0;
}
