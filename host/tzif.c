/*
 * TZif reader (RFC 8536): the 64-bit transition table of a version 2+ file
 * (or the 32-bit one of a version 1 file) and the POSIX TZ rule in its
 * footer, which gives the transitions after the table's last, in every
 * later year.
 */
#define _GNU_SOURCE
#include "tzif.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "error.h"

#define MAX_TZIF_BYTES (1 << 20)

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct tz_header {
    char version;
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} tz_header;

static int read_header(const unsigned char *p, size_t left, tz_header *h)
{
    if (left < 44 || memcmp(p, "TZif", 4) != 0)
        return -1;
    h->version = (char)p[4];
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    if (h->typecnt == 0 || h->typecnt > 256 || h->timecnt > 1000000 || h->charcnt > 100000 ||
        h->leapcnt > 100000 || (h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
        (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
        return -1;
    return 0;
}

static size_t block_size(const tz_header *h, size_t tsize)
{
    return (size_t)h->timecnt * tsize + h->timecnt + (size_t)h->typecnt * 6 + h->charcnt +
           (size_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

/* ---- the POSIX TZ string ---- */

static const char *parse_name(const char *p)
{
    if (*p == '<') {
        const char *q = strchr(p, '>');
        return q != NULL && q - p >= 4 ? q + 1 : NULL;
    }
    const char *q = p;
    while (isalpha((unsigned char)*q))
        q++;
    return q - p >= 3 ? q : NULL;
}

/* [+-]h[h][:mm[:ss]] into seconds; hours up to max_h. */
static const char *parse_hms(const char *p, int max_h, int32_t *out)
{
    int sign = 1, h = 0, m = 0, s = 0, digits = 0;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    while (isdigit((unsigned char)*p) && digits < 3) {
        h = h * 10 + (*p++ - '0');
        digits++;
    }
    if (digits == 0 || h > max_h)
        return NULL;
    if (*p == ':') {
        p++;
        if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
            return NULL;
        m = (p[0] - '0') * 10 + (p[1] - '0');
        p += 2;
        if (*p == ':') {
            p++;
            if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
                return NULL;
            s = (p[0] - '0') * 10 + (p[1] - '0');
            p += 2;
        }
    }
    if (m > 59 || s > 59)
        return NULL;
    *out = sign * (h * 3600 + m * 60 + s);
    return p;
}

static const char *parse_int(const char *p, int lo, int hi, int *out)
{
    int v = 0, digits = 0;
    while (isdigit((unsigned char)*p) && digits < 4) {
        v = v * 10 + (*p++ - '0');
        digits++;
    }
    if (digits == 0 || v < lo || v > hi)
        return NULL;
    *out = v;
    return p;
}

static const char *parse_rule(const char *p, hydra_tz_rule *r)
{
    memset(r, 0, sizeof *r);
    r->time_s = 2 * 3600; /* the default: 02:00 local */
    if (*p == 'M') {
        r->kind = 0;
        if ((p = parse_int(p + 1, 1, 12, &r->month)) == NULL || *p++ != '.' ||
            (p = parse_int(p, 1, 5, &r->week)) == NULL || *p++ != '.' ||
            (p = parse_int(p, 0, 6, &r->wday)) == NULL)
            return NULL;
    } else if (*p == 'J') {
        r->kind = 1;
        if ((p = parse_int(p + 1, 1, 365, &r->day)) == NULL)
            return NULL;
    } else {
        r->kind = 2;
        if ((p = parse_int(p, 0, 365, &r->day)) == NULL)
            return NULL;
    }
    if (*p == '/' && (p = parse_hms(p + 1, 167, &r->time_s)) == NULL)
        return NULL;
    return p;
}

/* "PST8PDT,M3.2.0,M11.1.0": offsets east of UTC (the string's are west). */
static int parse_posix(const char *s, hydra_tzif *z)
{
    int32_t off;
    const char *p = parse_name(s);
    if (p == NULL || (p = parse_hms(p, 24, &off)) == NULL)
        return -1;
    z->std_off = -off;
    z->has_rule = 1;
    if (*p == '\0')
        return 0;
    if ((p = parse_name(p)) == NULL)
        return -1;
    z->has_dst = 1;
    z->dst_off = z->std_off + 3600;
    if (*p != ',' && *p != '\0') {
        if ((p = parse_hms(p, 24, &off)) == NULL)
            return -1;
        z->dst_off = -off;
    }
    if (*p == '\0') { /* no rule given: POSIX leaves it to the system; the US rule */
        p = ",M3.2.0,M11.1.0";
    }
    if (*p++ != ',' || (p = parse_rule(p, &z->start)) == NULL || *p++ != ',' ||
        (p = parse_rule(p, &z->end)) == NULL || *p != '\0')
        return -1;
    return 0;
}

/* ---- loading ---- */

void hydra_tzif_free(hydra_tzif *z)
{
    free(z->at);
    free(z->utoff_at);
    memset(z, 0, sizeof *z);
}

int hydra_tzif_parse(const unsigned char *buf, size_t len, hydra_tzif *z, char *err, size_t errsz)
{
    memset(z, 0, sizeof *z);
    tz_header h;
    if (read_header(buf, len, &h) != 0) {
        snprintf(err, errsz, "not a TZif file or a header out of range");
        return HYDRA_EINVAL;
    }
    size_t tsize = 4;
    const unsigned char *p = buf + 44, *end = buf + len;
    if (h.version >= '2') {
        size_t skip = block_size(&h, 4);
        if ((size_t)(end - p) < skip || read_header(p + skip, (size_t)(end - p) - skip, &h) != 0) {
            snprintf(err, errsz, "truncated TZif file (version 1 block or second header)");
            return HYDRA_EINVAL;
        }
        p += skip + 44;
        tsize = 8;
    }
    if (h.leapcnt != 0) {
        snprintf(err, errsz, "TZif file with leap seconds (a right/ zone) is not supported");
        return HYDRA_EINVAL;
    }
    if ((size_t)(end - p) < block_size(&h, tsize)) {
        snprintf(err, errsz, "truncated TZif data block");
        return HYDRA_EINVAL;
    }
    const unsigned char *times = p, *idx = p + (size_t)h.timecnt * tsize,
                        *types = idx + h.timecnt;
    z->n = h.timecnt;
    z->at = malloc((z->n + 1) * sizeof *z->at);
    z->utoff_at = malloc((z->n + 1) * sizeof *z->utoff_at);
    if (z->at == NULL || z->utoff_at == NULL) {
        hydra_tzif_free(z);
        return HYDRA_ENOMEM;
    }
    for (size_t i = 0; i < z->n; i++) {
        z->at[i] = tsize == 8 ? be64(times + i * 8) : (int32_t)be32(times + i * 4);
        if (idx[i] >= h.typecnt || (i > 0 && z->at[i] <= z->at[i - 1])) {
            snprintf(err, errsz, "TZif transition %zu out of order or of an unknown type", i);
            hydra_tzif_free(z);
            return HYDRA_EINVAL;
        }
        z->utoff_at[i] = (int32_t)be32(types + (size_t)idx[i] * 6);
    }
    z->utoff_before = (int32_t)be32(types);
    if (tsize == 8) {
        const char *foot = (const char *)(p + block_size(&h, 8));
        size_t left = (size_t)((const char *)end - foot);
        if (left >= 2 && foot[0] == '\n') {
            const char *nl = memchr(foot + 1, '\n', left - 1);
            char rule[128];
            size_t rl = nl != NULL ? (size_t)(nl - foot - 1) : 0;
            if (nl != NULL && rl > 0 && rl < sizeof rule) {
                memcpy(rule, foot + 1, rl);
                rule[rl] = '\0';
                if (parse_posix(rule, z) != 0) {
                    snprintf(err, errsz, "TZif footer rule \"%s\" cannot be read", rule);
                    hydra_tzif_free(z);
                    return HYDRA_EINVAL;
                }
            }
        }
    }
    return 0;
}

int hydra_tzif_load(const char *iana, hydra_tzif *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    if (!hydra_tz_valid(iana)) {
        snprintf(err, errsz, "%s: not a zone in the tz database", iana != NULL ? iana : "(null)");
        return HYDRA_EINVAL;
    }
    const char *dir = getenv("TZDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/usr/share/zoneinfo";
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, iana);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return HYDRA_EIO;
    }
    unsigned char *buf = malloc(MAX_TZIF_BYTES);
    size_t len = buf != NULL ? fread(buf, 1, MAX_TZIF_BYTES, f) : 0;
    fclose(f);
    if (buf == NULL)
        return HYDRA_ENOMEM;
    char why[200];
    int rc = hydra_tzif_parse(buf, len, out, why, sizeof why);
    if (rc != 0)
        snprintf(err, errsz, "%s: %s", path, why);
    free(buf);
    return rc;
}

/* ---- offsets ---- */

static int leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of the day a rule names in year y. */
static int64_t rule_day(const hydra_tz_rule *r, int64_t y)
{
    int64_t jan1 = hydra_days_from_date((int)(y * 10000 + 101));
    if (r->kind == 1)
        return jan1 + r->day - 1 + (leap(y) && r->day >= 60);
    if (r->kind == 2)
        return jan1 + r->day;
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t first = hydra_days_from_date((int)(y * 10000 + r->month * 100 + 1));
    int64_t wd = ((first + 4) % 7 + 7) % 7; /* 1970-01-01 was a Thursday */
    int64_t d = (r->wday - wd + 7) % 7 + (int64_t)(r->week - 1) * 7;
    int days = dim[r->month - 1] + (r->month == 2 && leap(y));
    while (d >= days)
        d -= 7;
    return first + d;
}

static int64_t floor_div64(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The year (proleptic Gregorian) holding day `days` since 1970-01-01. */
static int64_t year_of_days(int64_t days)
{
    int64_t y = 1970 + floor_div64(days * 400, 146097);
    while (hydra_days_from_date((int)((y + 1) * 10000 + 101)) <= days)
        y++;
    while (hydra_days_from_date((int)(y * 10000 + 101)) > days)
        y--;
    return y;
}

/* The footer rule's offset at t and its span, no earlier than `floor`. */
static int32_t rule_offset(const hydra_tzif *z, int64_t t, int64_t floor_t, int64_t *from,
                           int64_t *until)
{
    if (!z->has_dst) {
        *from = floor_t;
        *until = INT64_MAX;
        return z->std_off;
    }
    int64_t y = year_of_days(floor_div64(t + z->std_off, 86400));
    int64_t ev[6];
    int32_t off[6];
    int n = 0;
    for (int64_t yy = y - 1; yy <= y + 1; yy++) {
        ev[n] = rule_day(&z->start, yy) * 86400 + z->start.time_s - z->std_off;
        off[n++] = z->dst_off;
        ev[n] = rule_day(&z->end, yy) * 86400 + z->end.time_s - z->dst_off;
        off[n++] = z->std_off;
    }
    /* Six events: sort them (insertion sort) and find the last at or before t. */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && ev[j] < ev[j - 1]; j--) {
            int64_t a = ev[j];
            ev[j] = ev[j - 1];
            ev[j - 1] = a;
            int32_t b = off[j];
            off[j] = off[j - 1];
            off[j - 1] = b;
        }
    int k = -1;
    for (int i = 0; i < n; i++)
        if (ev[i] <= t)
            k = i;
    /* t is at least a year after ev[0], so k >= 0. */
    *from = k >= 0 && ev[k] > floor_t ? ev[k] : floor_t;
    *until = k + 1 < n ? ev[k + 1] : INT64_MAX;
    return k >= 0 ? off[k] : z->std_off;
}

static int32_t offset_uncached(const hydra_tzif *z, int64_t t, int64_t *from, int64_t *until);

int32_t hydra_tzif_offset(hydra_tzif *z, int64_t t, int64_t *from, int64_t *until)
{
    for (unsigned i = 0; i < z->n_recent; i++)
        if (t >= z->recent[i].from && t < z->recent[i].until) {
            *from = z->recent[i].from;
            *until = z->recent[i].until;
            return z->recent[i].off;
        }
    int32_t off = offset_uncached(z, t, from, until);
    unsigned k = z->next_recent;
    z->recent[k].from = *from;
    z->recent[k].until = *until;
    z->recent[k].off = off;
    z->next_recent = (k + 1) % 4;
    if (z->n_recent < 4)
        z->n_recent++;
    return off;
}

static int32_t offset_uncached(const hydra_tzif *z, int64_t t, int64_t *from, int64_t *until)
{
    if (z->n == 0 || t < z->at[0]) {
        if (z->n == 0 && z->has_rule)
            return rule_offset(z, t, INT64_MIN, from, until);
        *from = INT64_MIN;
        *until = z->n > 0 ? z->at[0] : INT64_MAX;
        return z->utoff_before;
    }
    size_t lo = 0, hi = z->n; /* the last i with at[i] <= t is in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    if (lo + 1 < z->n) {
        *from = z->at[lo];
        *until = z->at[lo + 1];
        return z->utoff_at[lo];
    }
    if (!z->has_rule) {
        *from = z->at[lo];
        *until = INT64_MAX;
        return z->utoff_at[lo];
    }
    return rule_offset(z, t, z->at[lo], from, until);
}
