#define _GNU_SOURCE
#include "series.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"

/* Files in data/ have at most 8 columns; anything wider is not a bar file. */
enum { MAX_FIELDS = 16 };

/* The largest file the reader accepts; the biggest shipped file is 1.8 MB. */
#define MAX_FILE_BYTES ((size_t)1 << 30)

#define MS_PER_DAY 86400000LL

static void set_err(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errsz, const char *fmt, ...)
{
    if (err == NULL || errsz == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

int hydra_series_push(hydra_series *s, const hydra_bar *bar)
{
    if (s->map != NULL) { /* a mapped series is read-only: copy it out first */
        hydra_bar *bars = malloc((s->n + 1) * sizeof *bars);
        if (bars == NULL)
            return HYDRA_ENOMEM;
        memcpy(bars, s->bars, s->n * sizeof *bars);
        munmap(s->map, s->map_len);
        s->map = NULL;
        s->map_len = 0;
        s->bars = bars;
        s->cap = s->n + 1;
        s->borrowed = 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        if (cap > SIZE_MAX / sizeof *s->bars)
            return HYDRA_ENOMEM;
        hydra_bar *bars = realloc(s->bars, cap * sizeof *bars);
        if (bars == NULL)
            return HYDRA_ENOMEM;
        s->bars = bars;
        s->cap = cap;
    }
    s->bars[s->n++] = *bar;
    return 0;
}

void hydra_series_free(hydra_series *s)
{
    if (s == NULL)
        return;
    if (s->borrowed)
        ; /* someone else's bars */
    else if (s->map != NULL)
        munmap(s->map, s->map_len);
    else
        free(s->bars);
    memset(s, 0, sizeof *s);
}

void hydra_series_release_before(const hydra_series *s, size_t k)
{
    if (s->map == NULL || k == 0 || k > s->n)
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)s->map;
    uintptr_t hi = (uintptr_t)&s->bars[k] & ~(page - 1);
    if (hi > lo)
        madvise(s->map, hi - lo, MADV_DONTNEED);
}

/* The last bar stamped <= t, knowing that bars[0..lo) are and bars[hi..n) are not. */
static long bisect(const hydra_series *s, size_t lo, size_t hi, int64_t t)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->bars[mid].t_ms <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

long hydra_series_index_at(const hydra_series *s, int64_t t)
{
    return bisect(s, 0, s->n, t);
}

long hydra_series_index_near(const hydra_series *s, size_t guess, int64_t t)
{
    if (s->n == 0)
        return -1;
    if (guess >= s->n)
        guess = s->n - 1;
    /* Steps of 1, 2, 4... from the guess towards the answer, then a bisection of the last step. */
    size_t step = 1;
    if (s->bars[guess].t_ms <= t) {
        size_t lo = guess + 1;
        for (;; step *= 2) {
            size_t p = guess + step;
            if (p >= s->n)
                return bisect(s, lo, s->n, t);
            if (s->bars[p].t_ms > t)
                return bisect(s, lo, p, t);
            lo = p + 1;
        }
    }
    size_t hi = guess;
    for (;; step *= 2) {
        if (step > guess)
            return bisect(s, 0, hi, t);
        size_t p = guess - step;
        if (s->bars[p].t_ms <= t)
            return bisect(s, p + 1, hi, t);
        hi = p;
    }
}

/* ---- Reading the CSV files ---------------------------------------------------------------- */

/* A wall time as written in a file, before it is placed in a time zone. */
struct stamp {
    int y, mo, d, h, mi, s, ms;
};

/* How the columns of a file are laid out, decided by its first data row. */
struct layout {
    int nfields;                /* every row must have exactly this many */
    int datetime;               /* 1: column 0 is "YYYY-MM-DDTHH:MM:SS.mmm" */
    int has_time;               /* 1: column 1 is "HH:MM[:SS]" */
    int open;                   /* index of Open; High, Low and Close follow it */
    int volume;                 /* index of Volume, or -1 when the file has none */
    char names[MAX_FIELDS][32]; /* column names used in messages ("" = unnamed) */
};

/* Where a row came from, for messages. */
struct row_ctx {
    const char *path;
    long line;
    char *err;
    size_t errsz;
};

static void row_err(const struct row_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void row_err(const struct row_ctx *c, const char *fmt, ...)
{
    if (c->err == NULL || c->errsz == 0)
        return;
    int k = snprintf(c->err, c->errsz, "%s:%ld: ", c->path, c->line);
    if (k < 0 || (size_t)k >= c->errsz)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + k, c->errsz - (size_t)k, fmt, ap);
    va_end(ap);
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int mo)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return mo == 2 && is_leap(y) ? 29 : days[mo - 1];
}

/* Reads exactly n decimal digits. */
static int take_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9')
            return -1;
        v = v * 10 + (ch - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* "YYYY-MM-DD", a real calendar date. */
static int parse_date(const char **p, struct stamp *st)
{
    if (take_digits(p, 4, &st->y) || *(*p)++ != '-' || take_digits(p, 2, &st->mo) ||
        *(*p)++ != '-' || take_digits(p, 2, &st->d))
        return -1;
    if (st->y < 1900 || st->mo < 1 || st->mo > 12 || st->d < 1 ||
        st->d > days_in_month(st->y, st->mo))
        return -1;
    return 0;
}

/* "HH:MM", "HH:MM:SS" or, when frac is allowed, "HH:MM:SS.f" with 1 to 9 digits (ms kept). */
static int parse_time(const char **p, struct stamp *st, int frac)
{
    st->s = 0;
    st->ms = 0;
    if (take_digits(p, 2, &st->h) || *(*p)++ != ':' || take_digits(p, 2, &st->mi))
        return -1;
    if (**p == ':') {
        (*p)++;
        if (take_digits(p, 2, &st->s))
            return -1;
        if (frac && **p == '.') {
            (*p)++;
            int digits = 0;
            while (**p >= '0' && **p <= '9') {
                if (digits < 3)
                    st->ms = st->ms * 10 + (**p - '0');
                digits++;
                (*p)++;
            }
            if (digits == 0 || digits > 9)
                return -1;
            for (int i = digits; i < 3; i++)
                st->ms *= 10;
        }
    }
    return st->h > 23 || st->mi > 59 || st->s > 59 ? -1 : 0;
}

/* The timestamp as the file wrote it, for messages: date, then minutes, seconds and ms if used. */
static void format_stamp(const struct stamp *st, int daily, char *buf, size_t bufsz)
{
    int k = snprintf(buf, bufsz, "%04d-%02d-%02d", st->y, st->mo, st->d);
    if (daily || k < 0 || (size_t)k >= bufsz)
        return;
    int m = snprintf(buf + k, bufsz - (size_t)k, " %02d:%02d", st->h, st->mi);
    if (m < 0 || (size_t)(k + m) >= bufsz || (st->s == 0 && st->ms == 0))
        return;
    k += m;
    if (st->ms == 0)
        snprintf(buf + k, bufsz - (size_t)k, ":%02d", st->s);
    else
        snprintf(buf + k, bufsz - (size_t)k, ":%02d.%03d", st->s, st->ms);
}

/*
 * Splits a line at commas in place (each comma becomes a NUL, and so does
 * the line end), so every field is a C string for strtod. Returns the
 * number of fields, which may exceed max; only the first max are stored.
 */
static int split_fields(char *line, const char *end, char **fields, int max)
{
    int n = 0;
    char *start = line;
    for (char *p = line;; p++) {
        if (p == end || *p == ',') {
            if (n < max)
                fields[n] = start;
            n++;
            int last = p == end;
            *p = '\0';
            if (last)
                break;
            start = p + 1;
        }
    }
    return n;
}

/* Copies a header name without surrounding blanks. */
static void copy_name(char *dst, size_t dstsz, const char *src)
{
    while (*src == ' ' || *src == '\t')
        src++;
    size_t len = strlen(src);
    while (len > 0 && (src[len - 1] == ' ' || src[len - 1] == '\t'))
        len--;
    if (len >= dstsz)
        len = dstsz - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/*
 * Decides the layout from the first data row. The header is only trusted
 * for column names when it has as many fields as the row: the 1-minute
 * file's header leaves out its Time column, and the rows are what matter.
 */
static int detect_layout(char **row, int nrow, char **head, int nhead, struct layout *lay,
                         const struct row_ctx *c)
{
    memset(lay, 0, sizeof *lay);
    if (nrow > MAX_FIELDS) {
        row_err(c, "%d fields, at most %d are supported", nrow, MAX_FIELDS);
        return -1;
    }
    /* "2015-09-23T20:57:42.146": something after the date in the first field. */
    if (strlen(row[0]) > 10 && (row[0][10] == 'T' || row[0][10] == ' '))
        lay->datetime = 1;
    else if (nrow > 1 && strchr(row[1], ':') != NULL)
        lay->has_time = 1;
    lay->nfields = nrow;
    lay->open = lay->has_time ? 2 : 1;
    if (nrow < lay->open + 4) {
        row_err(c, "expected at least %d fields (%s, Open, High, Low, Close), got %d",
                lay->open + 4, lay->has_time ? "Date, Time" : "Date", nrow);
        return -1;
    }

    static const char *const prices[4] = {"Open", "High", "Low", "Close"};
    snprintf(lay->names[0], sizeof lay->names[0], "%s", lay->datetime ? "Datetime" : "Date");
    if (lay->has_time)
        snprintf(lay->names[1], sizeof lay->names[1], "Time");
    for (int i = 0; i < 4; i++)
        snprintf(lay->names[lay->open + i], sizeof lay->names[0], "%s", prices[i]);

    /* Columns after Close: named by a matching header, else the first is Volume. */
    lay->volume = -1;
    int header_fits = head != NULL && nhead == nrow;
    for (int i = lay->open + 4; i < nrow; i++) {
        if (header_fits) {
            copy_name(lay->names[i], sizeof lay->names[i], head[i]);
            if (lay->volume < 0 && strcasecmp(lay->names[i], "Volume") == 0)
                lay->volume = i;
        }
    }
    if (lay->volume < 0 && nrow > lay->open + 4)
        lay->volume = lay->open + 4;
    if (lay->volume >= 0)
        snprintf(lay->names[lay->volume], sizeof lay->names[0], "Volume");
    return 0;
}

/* " (Name)" for a named column, "" otherwise. */
static const char *paren_name(const struct layout *lay, int i, char *buf, size_t bufsz)
{
    if (lay->names[i][0] == '\0')
        return "";
    snprintf(buf, bufsz, " (%s)", lay->names[i]);
    return buf;
}

/*
 * The common case, "-123.4567" with at most 15 digits, without strtod:
 * the digits form an integer below 2^53 and 10^k (k <= 15) is exact, so one
 * IEEE division gives the correctly rounded value, the same double strtod
 * returns. It makes loading the 1-minute file about twice as fast.
 * Anything else (exponents, long mantissas) returns 0 and goes to strtod.
 */
static int plain_decimal(const char *s, double *out)
{
    static const double pow10[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    int neg = *s == '-';
    if (neg)
        s++;
    uint64_t m = 0;
    int digits = 0, frac = -1;
    for (; *s != '\0'; s++) {
        if (*s >= '0' && *s <= '9') {
            m = m * 10 + (uint64_t)(*s - '0');
            if (++digits > 15)
                return 0;
            if (frac >= 0)
                frac++;
        } else if (*s == '.' && frac < 0) {
            frac = 0;
        } else {
            return 0;
        }
    }
    if (digits == 0)
        return 0;
    double v = (double)m / pow10[frac > 0 ? frac : 0];
    *out = neg ? -v : v;
    return 1;
}

static int parse_number(const char *s, double *out, const struct layout *lay, int i,
                        const struct row_ctx *c)
{
    char name[48];
    char *end = NULL;
    double v = 0.0;
    /* strtod would skip leading blanks; a field with blanks around it is malformed. */
    int ok = s[0] != '\0' && s[0] != ' ' && s[0] != '\t';
    if (ok && !plain_decimal(s, &v)) {
        v = strtod(s, &end);
        ok = end != s && *end == '\0';
    }
    if (!ok) {
        row_err(c, "field %d%s is not a number: \"%.40s\"", i + 1,
                paren_name(lay, i, name, sizeof name), s);
        return -1;
    }
    if (!isfinite(v)) {
        row_err(c, "field %d%s is not finite: \"%.40s\"", i + 1,
                paren_name(lay, i, name, sizeof name), s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Reads the wall time of one row. */
static int parse_stamp(char **f, const struct layout *lay, struct stamp *st,
                       const struct row_ctx *c)
{
    const char *p = f[0];
    memset(st, 0, sizeof *st);
    if (lay->datetime) {
        int ok = parse_date(&p, st) == 0 && (*p == 'T' || *p == ' ');
        if (ok) {
            p++;
            ok = parse_time(&p, st, 1) == 0 && *p == '\0';
        }
        if (!ok) {
            row_err(c, "field 1 (Datetime) is not a date and time: \"%.40s\"", f[0]);
            return -1;
        }
        return 0;
    }
    if (parse_date(&p, st) || *p != '\0') {
        row_err(c, "field 1 (Date) is not a date: \"%.40s\"", f[0]);
        return -1;
    }
    if (lay->has_time) {
        p = f[1];
        if (parse_time(&p, st, 0) || *p != '\0') {
            row_err(c, "field 2 (Time) is not a time: \"%.40s\"", f[1]);
            return -1;
        }
    }
    return 0;
}

/* Every number parses and the bar is a possible bar. */
static int parse_bar(char **f, const struct layout *lay, hydra_bar *bar, const struct row_ctx *c)
{
    double v[MAX_FIELDS] = {0};
    int first = lay->has_time ? 2 : 1;
    for (int i = first; i < lay->nfields; i++)
        if (parse_number(f[i], &v[i], lay, i, c))
            return -1;
    bar->open = v[lay->open];
    bar->high = v[lay->open + 1];
    bar->low = v[lay->open + 2];
    bar->close = v[lay->open + 3];
    bar->volume = lay->volume >= 0 ? v[lay->volume] : 0.0;

    double top = fmax(bar->open, bar->close), bottom = fmin(bar->open, bar->close);
    if (!(bar->low > 0)) {
        row_err(c, "low %g is not positive", bar->low);
        return -1;
    }
    if (bar->high < bar->low) {
        row_err(c, "high %g is below low %g", bar->high, bar->low);
        return -1;
    }
    if (bar->high < top) {
        row_err(c, "high %g is below max(open, close) %g", bar->high, top);
        return -1;
    }
    if (bar->low > bottom) {
        row_err(c, "low %g is above min(open, close) %g", bar->low, bottom);
        return -1;
    }
    if (bar->volume < 0) {
        row_err(c, "volume %g is negative", bar->volume);
        return -1;
    }
    return 0;
}

static void next_day(int *y, int *mo, int *d)
{
    if (++*d > days_in_month(*y, *mo)) {
        *d = 1;
        if (++*mo > 12) {
            *mo = 1;
            ++*y;
        }
    }
}

/*
 * Converts wall times in one zone to UTC. A conversion in a zone other than
 * the market zone switches the process zone and back, which reloads the
 * zone file, so it is done twice per calendar day (its midnight and the
 * next) rather than once per row: a day exactly 24 hours long has no offset
 * change, and every time in it is its midnight plus the time of day. Days
 * with a change (23 or 25 hours) convert each row on its own.
 */
struct zone_days {
    const char *tz; /* NULL = the market zone */
    int date;       /* yyyymmdd of the cached day, 0 = none yet */
    int uniform;    /* 1 when that day is exactly 24 hours long */
    int64_t midnight;
};

static int64_t zone_utc(struct zone_days *z, const struct stamp *st)
{
    int date = st->y * 10000 + st->mo * 100 + st->d;
    if (date != z->date) {
        int y = st->y, mo = st->mo, d = st->d;
        z->midnight = hydra_utc_from_zone(z->tz, y, mo, d, 0, 0, 0);
        next_day(&y, &mo, &d);
        int64_t next = hydra_utc_from_zone(z->tz, y, mo, d, 0, 0, 0);
        z->uniform = next - z->midnight == MS_PER_DAY;
        z->date = date;
    }
    if (z->uniform)
        return z->midnight + ((int64_t)(st->h * 60 + st->mi) * 60 + st->s) * 1000 + st->ms;
    return hydra_utc_from_zone(z->tz, st->y, st->mo, st->d, st->h, st->mi, st->s) + st->ms;
}

/* Reads the whole file into one NUL-terminated buffer. */
static int read_file(const char *path, char **data, size_t *len, char *err, size_t errsz)
{
    int rc = HYDRA_EIO;
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        set_err(err, errsz, "%s: cannot open: %s", path, strerror(errno));
        return HYDRA_EIO;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        set_err(err, errsz, "%s: not a regular file", path);
        goto fail;
    }
    if ((uint64_t)st.st_size > MAX_FILE_BYTES) {
        set_err(err, errsz, "%s: %lld bytes, more than the %zu the reader accepts", path,
                (long long)st.st_size, MAX_FILE_BYTES);
        goto fail;
    }
    size_t size = (size_t)st.st_size;
    buf = malloc(size + 1);
    if (buf == NULL) {
        rc = HYDRA_ENOMEM;
        set_err(err, errsz, "%s: out of memory for %zu bytes", path, size);
        goto fail;
    }
    if (fread(buf, 1, size, f) != size) {
        set_err(err, errsz, "%s: cannot read: %s", path,
                ferror(f) ? strerror(errno) : "file shrank while reading");
        goto fail;
    }
    fclose(f);
    buf[size] = '\0';
    *data = buf;
    *len = size;
    return 0;

fail:
    free(buf);
    fclose(f);
    return rc;
}

/* Number of lines in the buffer, to size the bar array once. */
static size_t count_lines(const char *p, const char *end)
{
    size_t n = 1;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

int hydra_series_load_csv(const char *path, const char *symbol, const char *tz, int daily_stamp_min,
                          hydra_series *out, char *err, size_t errsz)
{
    char *data = NULL;
    size_t len = 0;
    hydra_series s;
    memset(&s, 0, sizeof s);
    memset(out, 0, sizeof *out);
    set_err(err, errsz, "%s", "");
    if (path == NULL || path[0] == '\0') {
        set_err(err, errsz, "series file: empty path");
        return HYDRA_EINVAL;
    }
    if (daily_stamp_min < 0 || daily_stamp_min >= 24 * 60) {
        set_err(err, errsz, "%s: daily open %d minutes is outside 0..1439", path, daily_stamp_min);
        return HYDRA_EINVAL;
    }
    if (tz != NULL && tz[0] != '\0' && !hydra_tz_valid(tz)) {
        set_err(err, errsz, "%s: unknown time zone \"%.64s\"", path, tz);
        return HYDRA_EINVAL;
    }
    int rc = read_file(path, &data, &len, err, errsz);
    if (rc != 0)
        return rc;

    snprintf(s.symbol, sizeof s.symbol, "%s", symbol != NULL ? symbol : "");
    snprintf(s.source, sizeof s.source, "%s", path);
    rc = HYDRA_EINVAL;
    if (len == 0) {
        set_err(err, errsz, "%s: empty file", path);
        goto fail;
    }

    char *end = data + len;
    size_t nlines = count_lines(data, end);
    s.bars = malloc(nlines * sizeof *s.bars);
    if (s.bars == NULL) {
        rc = HYDRA_ENOMEM;
        set_err(err, errsz, "%s: out of memory for %zu bars", path, nlines);
        goto fail;
    }
    s.cap = nlines;

    struct row_ctx c = {path, 0, err, errsz};
    struct layout lay;
    struct zone_days zone = {tz != NULL && tz[0] != '\0' ? tz : NULL, 0, 0, 0};
    char *head[MAX_FIELDS], *f[MAX_FIELDS];
    int nhead = 0, have_layout = 0, seen_content = 0;
    int64_t prev_t = INT64_MIN;
    char *p = data;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3; /* a UTF-8 byte order mark, as some spreadsheets write */
    while (p < end) {
        c.line++;
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl != NULL ? nl : end;
        char *next = nl != NULL ? nl + 1 : end;
        if (eol > p && eol[-1] == '\r')
            eol--;
        if (eol == p) {
            row_err(&c, "empty line");
            goto fail;
        }

        /*
         * Lines starting with '#' before the header are comments: a fetched
         * file's provenance (where, when, which feed). Anywhere else a '#'
         * line is a bad row like any other.
         */
        if (!seen_content && *p == '#') {
            p = next;
            continue;
        }
        /* A first line that does not start with a digit is the header. */
        int first = !seen_content;
        seen_content = 1;
        if (first && (*p < '0' || *p > '9')) {
            nhead = split_fields(p, eol, head, MAX_FIELDS);
            p = next;
            continue;
        }

        int n = split_fields(p, eol, f, MAX_FIELDS);
        if (!have_layout) {
            if (detect_layout(f, n, nhead > 0 ? head : NULL, nhead, &lay, &c))
                goto fail;
            s.daily = !lay.datetime && !lay.has_time;
            have_layout = 1;
        } else if (n != lay.nfields) {
            row_err(&c, "expected %d fields, got %d", lay.nfields, n);
            goto fail;
        }

        struct stamp st;
        hydra_bar bar;
        if (parse_stamp(f, &lay, &st, &c) || parse_bar(f, &lay, &bar, &c))
            goto fail;
        if (s.daily)
            bar.t_ms = hydra_utc_from_zone(zone.tz, st.y, st.mo, st.d, daily_stamp_min / 60,
                                           daily_stamp_min % 60, 0);
        else
            bar.t_ms = zone_utc(&zone, &st);
        if (bar.t_ms < prev_t) {
            char when[40];
            format_stamp(&st, s.daily, when, sizeof when);
            row_err(&c, "timestamp %s is before the previous row", when);
            goto fail;
        }
        prev_t = bar.t_ms;
        if (hydra_series_push(&s, &bar) != 0) {
            rc = HYDRA_ENOMEM;
            set_err(err, errsz, "%s: out of memory after %zu bars", path, s.n);
            goto fail;
        }
        p = next;
    }
    if (s.n == 0) {
        set_err(err, errsz, "%s: header only, no data rows", path);
        goto fail;
    }

    free(data);
    *out = s;
    return 0;

fail:
    free(data);
    hydra_series_free(&s);
    return rc;
}

/* ---- Generated series --------------------------------------------------------------------- */

/*
 * The generator uses only integer operations and IEEE basic arithmetic
 * (+, -, *, /, sqrt, ldexp), never the C library's exp/log/cos, whose last
 * bit may differ between libm versions and CPUs. That is what makes a
 * generated series identical on every machine. series.c is compiled with
 * -ffp-contract=off so no multiply-add is fused differently either.
 */

/* splitmix64: a tiny, well-mixed generator whose whole state is one integer. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1): the top 53 bits, exactly representable. */
static double uniform01(uint64_t *state)
{
    return (double)(splitmix64(state) >> 11) * 0x1.0p-53;
}

/*
 * A standard normal draw as the sum of 12 uniforms minus 6 (mean 0,
 * variance 1). Its tails stop at 6 sigma, which a price simulation does not
 * miss, and it needs no transcendental function.
 */
static double normal01(uint64_t *state)
{
    double sum = 0.0;
    for (int i = 0; i < 12; i++)
        sum += uniform01(state);
    return sum - 6.0;
}

/* e^x from basic arithmetic: x = k ln 2 + r with |r| <= ln 2 / 2, e^r by its Taylor series. */
static double det_exp(double x)
{
    const double ln2 = 0x1.62e42fefa39efp-1;
    if (x > 709.0)
        return HUGE_VAL;
    if (x < -745.0)
        return 0.0;
    double k = nearbyint(x / ln2);
    double r = x - k * ln2;
    double term = 1.0, sum = 1.0;
    for (int i = 1; i <= 20; i++) {
        term = term * r / i;
        sum += term;
    }
    return ldexp(sum, (int)k);
}

int hydra_series_generate(const char *symbol, uint64_t seed, double start_price,
                          double drift_pct_per_day, double vol_pct_per_day, int64_t t0_ms,
                          int64_t step_ms, size_t n, hydra_series *out)
{
    hydra_series s;
    memset(&s, 0, sizeof s);
    memset(out, 0, sizeof *out);
    if (!isfinite(start_price) || start_price <= 0 || !isfinite(drift_pct_per_day) ||
        fabs(drift_pct_per_day) > 100 || !isfinite(vol_pct_per_day) || vol_pct_per_day < 0 ||
        vol_pct_per_day > 100 || step_ms <= 0 || n == 0 ||
        (uint64_t)(n - 1) > (uint64_t)(INT64_MAX - (t0_ms > 0 ? t0_ms : 0)) / (uint64_t)step_ms)
        return HYDRA_EINVAL;

    snprintf(s.symbol, sizeof s.symbol, "%s", symbol != NULL ? symbol : "");
    snprintf(s.source, sizeof s.source, "generated: gbm seed=%llu start=%g vol=%g%%/day",
             (unsigned long long)seed, start_price, vol_pct_per_day);
    s.generated = 1;
    s.bars = malloc(n * sizeof *s.bars);
    if (s.bars == NULL)
        return HYDRA_ENOMEM;
    s.cap = n;

    /* Drift and volatility are per day; a step of step_ms is dt days of it. */
    double dt = (double)step_ms / (double)MS_PER_DAY;
    double mu = drift_pct_per_day / 100.0, sigma = vol_pct_per_day / 100.0;
    double step_sigma = sigma * sqrt(dt);
    double step_mean = (mu - 0.5 * sigma * sigma) * dt;
    uint64_t state = seed;
    double close = start_price;
    for (size_t i = 0; i < n; i++) {
        hydra_bar bar;
        bar.t_ms = t0_ms + (int64_t)i * step_ms;
        bar.open = close;
        bar.close = bar.open * det_exp(step_mean + step_sigma * normal01(&state));
        /* Wicks reach up to half a step's sigma beyond the body on each side. */
        double up = 0.5 * step_sigma * uniform01(&state);
        double down = 0.5 * step_sigma * uniform01(&state);
        bar.high = fmax(bar.open, bar.close) * det_exp(up);
        bar.low = fmin(bar.open, bar.close) * det_exp(-down);
        bar.volume = (double)(100 + splitmix64(&state) % 9900);
        /* Extreme volatility over long steps can leave the range of a double. */
        if (!(bar.low > 0) || !isfinite(bar.high))
            goto fail;
        close = bar.close;
        s.bars[s.n++] = bar;
    }
    *out = s;
    return 0;

fail:
    hydra_series_free(&s);
    return HYDRA_EINVAL;
}
