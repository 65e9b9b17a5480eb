/*
 * Chart arithmetic and SVG drawing for the backtest reports (report.h):
 * nice axis ticks, calendar ticks, monthly returns, downsampling and the
 * exact decimal form of a price. Nothing here reads the backtest itself.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "error.h"
#include "report.h"

#define DAY_MS 86400000LL

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return -floor_div(-a, b);
}

/* yyyymmdd of a count of days since 1970-01-01 (proleptic Gregorian). */
static int date_of_days(int64_t days)
{
    int64_t z = days + 719468, era = floor_div(z, 146097), doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1), m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int y = (int)(yoe + era * 400 + (m <= 2));
    return y * 10000 + m * 100 + d;
}

int64_t hydra_report_ms_of_date(int yyyymmdd)
{
    return hydra_days_from_date(yyyymmdd) * DAY_MS;
}

int hydra_report_nice_ticks(double lo, double hi, int max_ticks, double *out, double *step)
{
    if (max_ticks < 1)
        max_ticks = 1;
    if (hi < lo) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    if (hi - lo <= fabs(hi) * 1e-12) {
        double s = lo != 0 ? pow(10, floor(log10(fabs(lo)))) : 1;
        lo -= s;
        hi += s;
    }
    static const double mult[] = {1, 2, 5};
    double range = hi - lo, st = 0;
    int first = (int)floor(log10(range / max_ticks)) - 1;
    int64_t c0 = 0, count = 0;
    for (int k = first; k < first + 6 && st == 0; k++)
        for (int j = 0; j < 3; j++) {
            double s = mult[j] * pow(10, k);
            /* Tolerances keep 0.3 / 0.1 from counting as a tick short. */
            int64_t a = (int64_t)ceil(lo / s - 1e-9), b = (int64_t)floor(hi / s + 1e-9);
            if (b - a + 1 <= max_ticks) {
                st = s;
                c0 = a;
                count = b - a + 1;
                break;
            }
        }
    for (int64_t i = 0; i < count; i++) {
        double v = (double)(c0 + i) * st;
        out[i] = fabs(v) < st * 1e-9 ? 0 : v;
    }
    *step = st;
    return (int)count;
}

int hydra_report_date_ticks(int64_t t0_ms, int64_t t1_ms, int max_ticks, int *out, char *unit)
{
    if (max_ticks < 1)
        max_ticks = 1;
    if (t1_ms < t0_ms) {
        int64_t t = t0_ms;
        t0_ms = t1_ms;
        t1_ms = t;
    }
    /* The days whose midnight lies inside [t0, t1]. */
    int64_t d0 = ceil_div(t0_ms, DAY_MS), d1 = floor_div(t1_ms, DAY_MS);
    int n = 0;
    if (d1 < d0) {
        *unit = 'd';
        return 0;
    }
    static const int day_steps[] = {1, 2, 7, 14};
    for (int i = 0; i < 4; i++) {
        int k = day_steps[i];
        /* Steps of 7 and 14 fall on Mondays (1970-01-05 was one). */
        int64_t off = k >= 7 ? 3 : 0;
        int64_t a = ceil_div(d0 + off, k), b = floor_div(d1 + off, k);
        if (b - a + 1 <= max_ticks) {
            for (int64_t j = a; j <= b; j++)
                out[n++] = date_of_days(j * k - off);
            *unit = 'd';
            return n;
        }
    }
    int first = date_of_days(d0), last = date_of_days(d1);
    /* Months as y * 12 + (m - 1), from the first whose 1st is inside. */
    int64_t m0 = (int64_t)(first / 10000) * 12 + (first / 100 % 100 - 1) + (first % 100 != 1);
    int64_t m1 = (int64_t)(last / 10000) * 12 + (last / 100 % 100 - 1);
    static const int month_steps[] = {1, 2, 3, 6};
    for (int i = 0; i < 4; i++) {
        int k = month_steps[i];
        int64_t a = ceil_div(m0, k), b = floor_div(m1, k);
        if (b - a + 1 <= max_ticks) {
            for (int64_t j = a; j <= b; j++) {
                int64_t m = j * k;
                out[n++] =
                    (int)(floor_div(m, 12) * 10000 + (m - floor_div(m, 12) * 12 + 1) * 100 + 1);
            }
            *unit = 'm';
            return n;
        }
    }
    int64_t y0 = first / 10000 + (first % 10000 != 101), y1 = last / 10000;
    for (int64_t k = 1;; k *= 10) {
        static const int mult[] = {1, 2, 5};
        for (int i = 0; i < 3; i++) {
            int64_t s = k * mult[i];
            int64_t a = ceil_div(y0, s), b = floor_div(y1, s);
            if (b - a + 1 <= max_ticks) {
                for (int64_t j = a; j <= b; j++)
                    out[n++] = (int)(j * s * 10000 + 101);
                *unit = 'y';
                return n;
            }
        }
    }
}

size_t hydra_report_monthly_returns(const int *dates, const double *equity, size_t n,
                                    hydra_report_year *out, size_t cap)
{
    size_t rows = 0;
    if (n < 2)
        return 0;
    double month_base = equity[0], year_base = equity[0];
    for (size_t i = 1; i < n; i++) {
        int y = dates[i] / 10000, m = dates[i] / 100 % 100;
        int last_of_month = i + 1 == n || dates[i + 1] / 100 != dates[i] / 100;
        int last_of_year = i + 1 == n || dates[i + 1] / 10000 != y;
        int first_of_year = i == 1 || dates[i - 1] / 10000 != y;
        if (first_of_year) {
            if (rows < cap) {
                out[rows].year = y;
                for (int k = 0; k < 12; k++)
                    out[rows].month[k] = NAN;
                out[rows].total = NAN;
            }
            rows++;
        }
        hydra_report_year *row = rows <= cap ? &out[rows - 1] : NULL;
        if (last_of_month) {
            if (row != NULL && m >= 1 && m <= 12)
                row->month[m - 1] = equity[i] / month_base - 1;
            month_base = equity[i];
        }
        if (last_of_year) {
            if (row != NULL)
                row->total = equity[i] / year_base - 1;
            year_base = equity[i];
        }
    }
    return rows;
}

/* Value i of a curve. */
static double val(const hydra_report_curve *c, size_t i)
{
    if (c->lead) {
        if (i == 0)
            return c->lead_y;
        i--;
    }
    return *(const double *)((const char *)c->y + i * (c->y_stride ? c->y_stride : sizeof(double)));
}

static size_t downsample_curve(const hydra_report_curve *c, size_t buckets, size_t *idx)
{
    size_t k = 0, n = c->n;
    if (n <= 2 * buckets + 2) {
        for (size_t i = 0; i < n; i++)
            idx[k++] = i;
        return k;
    }
    idx[k++] = 0;
    for (size_t b = 0; b < buckets; b++) {
        size_t a = 1 + (n - 2) * b / buckets, e = 1 + (n - 2) * (b + 1) / buckets;
        if (a >= e)
            continue;
        size_t lo = a, hi = a;
        double vlo = val(c, a), vhi = vlo;
        for (size_t i = a + 1; i < e; i++) {
            double v = val(c, i);
            if (v < vlo) {
                lo = i;
                vlo = v;
            }
            if (v > vhi) {
                hi = i;
                vhi = v;
            }
        }
        idx[k++] = lo < hi ? lo : hi;
        if (lo != hi)
            idx[k++] = lo < hi ? hi : lo;
    }
    idx[k++] = n - 1;
    return k;
}

size_t hydra_report_downsample(const double *y, size_t n, size_t buckets, size_t *idx)
{
    hydra_report_curve c = {.y = y, .n = n};
    return downsample_curve(&c, buckets, idx);
}

__extension__ typedef unsigned __int128 u128;

/*
 * The exact decimal conversion printf does, for |x| < 2^53: x is m * 2^-k
 * with m < 2^53, so x * 10^d is m * 10^d (below 2^80) shifted right by k,
 * rounded to nearest with ties to even on the exact remainder, as glibc
 * rounds. Larger values, NaN and infinities go to snprintf.
 */
const char *hydra_report_fixed(char *buf, size_t sz, double x, int decimals)
{
    static const uint64_t pow10[9] = {1,      10,      100,      1000,     10000,
                                      100000, 1000000, 10000000, 100000000};
    if (!(fabs(x) < 9007199254740992.0) || decimals < 0 || decimals > 8 || sz < 32) {
        snprintf(buf, sz, "%.*f", decimals, x);
        return buf;
    }
    int e;
    double f = frexp(fabs(x), &e);           /* |x| = f * 2^e, f in [0.5, 1) or 0 */
    uint64_t m = (uint64_t)ldexp(f, 53);     /* exact: |x| = m * 2^(e - 53) */
    int k = 53 - e;                          /* >= 0, since |x| < 2^53 */
    u128 p = (u128)m * pow10[decimals], n = 0;
    if (k == 0) {
        n = p;
    } else if (k <= 100) { /* p < 2^80: beyond that shift the value rounds to 0 */
        n = p >> k;
        u128 rem = p - (n << k), half = (u128)1 << (k - 1);
        if (rem > half || (rem == half && (n & 1) != 0))
            n++;
    }
    char digits[48];
    int len = 0;
    uint64_t ip = (uint64_t)(n / pow10[decimals]), fp = (uint64_t)(n % pow10[decimals]);
    for (int i = 0; i < decimals; i++, fp /= 10)
        digits[len++] = (char)('0' + fp % 10);
    if (decimals > 0)
        digits[len++] = '.';
    do {
        digits[len++] = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip > 0);
    if (signbit(x))
        digits[len++] = '-';
    for (int i = 0; i < len; i++)
        buf[i] = digits[len - 1 - i];
    buf[len] = '\0';
    return buf;
}

const char *hydra_report_exact(char *buf, size_t sz, double x)
{
    if (!isfinite(x)) {
        snprintf(buf, sz, "%s", isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
        return buf;
    }
    hydra_report_fixed(buf, sz, x, 8);
    int len = (int)strlen(buf);
    if (len <= 0 || (size_t)len >= sz)
        return buf;
    char *dot = strchr(buf, '.');
    if (dot != NULL) {
        char *end = buf + len;
        while (end > dot + 1 && end[-1] == '0')
            end--;
        if (end == dot + 1)
            end = dot;
        *end = '\0';
    }
    if (strcmp(buf, "-0") == 0)
        snprintf(buf, sz, "0");
    return buf;
}

/* ---- drawing ---- */

/* " x,y" (the space unless first) with `decimals` decimals, as "%.*f,%.*f" prints it. */
static void put_point(FILE *f, int space, double x, double y, int decimals)
{
    char bx[48], by[48];
    if (space)
        fputc(' ', f);
    fputs(hydra_report_fixed(bx, sizeof bx, x, decimals), f);
    fputc(',', f);
    fputs(hydra_report_fixed(by, sizeof by, y, decimals), f);
}

#define CHART_L 80.0
#define CHART_R 20.0
#define CHART_T 30.0
#define PANEL_GAP 40.0

/* A value-axis label: decimals enough for the step, percent when asked. */
static void tick_label(char *buf, size_t sz, double v, double step, int percent)
{
    if (percent) {
        v *= 100;
        step *= 100;
    }
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 8)
        dec = 8;
    snprintf(buf, sz, "%.*f%s", dec, v, percent ? "%" : "");
    if (strncmp(buf, "-0", 2) == 0 && strspn(buf + 1, "0.%") == strlen(buf + 1))
        memmove(buf, buf + 1, strlen(buf));
}

static void date_label(char *buf, size_t sz, int d, char unit)
{
    if (unit == 'y')
        snprintf(buf, sz, "%d", d / 10000);
    else if (unit == 'm')
        snprintf(buf, sz, "%04d-%02d", d / 10000, d / 100 % 100);
    else
        snprintf(buf, sz, "%04d-%02d-%02d", d / 10000, d / 100 % 100, d % 100);
}

/* The plot's width inside a chart `width` units wide: one downsampling bucket a unit. */
static size_t buckets_of(double width)
{
    return (size_t)(width - CHART_L - CHART_R);
}

/* ---- reducing a long curve as it is read ---- */

static void reduce_keep(hydra_report_reducer *rd, int64_t t, double y)
{
    rd->t[rd->kept] = t;
    rd->y[rd->kept] = y;
    rd->kept++;
}

/* Where bucket b ends: buckets split points 1 .. n - 2 as downsample_curve splits them. */
static size_t bucket_end(const hydra_report_reducer *rd, size_t b)
{
    return 1 + (rd->n - 2) * (b + 1) / rd->buckets;
}

int hydra_report_reduce_begin(hydra_report_reducer *rd, size_t n, double width)
{
    memset(rd, 0, sizeof *rd);
    rd->n = n;
    rd->buckets = buckets_of(width);
    rd->min = INFINITY;
    rd->max = -INFINITY;
    rd->fresh = 1;
    size_t room = 2 * rd->buckets + 2;
    if (n < room)
        room = n;
    rd->t = malloc((room ? room : 1) * sizeof *rd->t);
    rd->y = malloc((room ? room : 1) * sizeof *rd->y);
    if (rd->t == NULL || rd->y == NULL) {
        hydra_report_reduce_free(rd);
        return HYDRA_ENOMEM;
    }
    if (rd->buckets > 0 && n > 2 * rd->buckets + 2)
        rd->end = bucket_end(rd, 0);
    return 0;
}

/*
 * downsample_curve's choice made point by point: the first and the last
 * point, and of each bucket its lowest and highest (the first of equals)
 * in the order they occur; every point when there are few.
 */
void hydra_report_reduce_add(hydra_report_reducer *rd, int64_t t, double y)
{
    size_t i = rd->seen++;
    if (i >= rd->n)
        return; /* more points than announced: there is no room for them */
    /* fmin/fmax without their calls: a NaN compares false and is skipped, as there. */
    if (y < rd->min)
        rd->min = y;
    if (y > rd->max)
        rd->max = y;
    if (rd->n <= 2 * rd->buckets + 2 || i == 0 || i + 1 == rd->n) {
        reduce_keep(rd, t, y);
        return;
    }
    if (rd->buckets == 0)
        return;
    if (rd->fresh) {
        rd->lo_i = rd->hi_i = i;
        rd->lo_t = rd->hi_t = t;
        rd->lo_y = rd->hi_y = y;
        rd->fresh = 0;
    } else {
        if (y < rd->lo_y) {
            rd->lo_i = i;
            rd->lo_t = t;
            rd->lo_y = y;
        }
        if (y > rd->hi_y) {
            rd->hi_i = i;
            rd->hi_t = t;
            rd->hi_y = y;
        }
    }
    if (i + 1 < rd->end)
        return;
    if (rd->lo_i < rd->hi_i) {
        reduce_keep(rd, rd->lo_t, rd->lo_y);
        reduce_keep(rd, rd->hi_t, rd->hi_y);
    } else {
        reduce_keep(rd, rd->hi_t, rd->hi_y);
        if (rd->lo_i != rd->hi_i)
            reduce_keep(rd, rd->lo_t, rd->lo_y);
    }
    rd->fresh = 1;
    /* The next bucket that holds a point (with this many points, every one does). */
    while (++rd->bucket < rd->buckets && (rd->end = bucket_end(rd, rd->bucket)) <= i + 1)
        ;
}

void hydra_report_reduce_curve(const hydra_report_reducer *rd, hydra_report_curve *c)
{
    c->t = rd->t;
    c->y = rd->y;
    c->n = rd->kept;
    c->t_stride = c->y_stride = 0;
    c->lead = 0;
    c->reduced = 1;
    c->lo = rd->min;
    c->hi = rd->max;
}

void hydra_report_reduce_free(hydra_report_reducer *rd)
{
    free(rd->t);
    free(rd->y);
    rd->t = NULL;
    rd->y = NULL;
}

static double x_of(int64_t t, int64_t t0, int64_t t1, double pw)
{
    return CHART_L + (t1 > t0 ? pw * (double)(t - t0) / (double)(t1 - t0) : 0);
}

static int64_t t_of(const hydra_report_curve *c, size_t i, int64_t t0, int64_t t1)
{
    if (c->t == NULL)
        return c->n > 1 ? t0 + (int64_t)((double)(t1 - t0) * (double)i / (double)(c->n - 1)) : t0;
    if (c->lead) {
        if (i == 0)
            return c->lead_t;
        i--;
    }
    return *(const int64_t *)((const char *)c->t +
                              i * (c->t_stride ? c->t_stride : sizeof(int64_t)));
}

void hydra_report_chart(FILE *f, const char *id, double width, int64_t t0, int64_t t1,
                        const hydra_report_panel *panels, int n_panels)
{
    double pw = width - CHART_L - CHART_R, height = CHART_T;
    for (int p = 0; p < n_panels; p++)
        height += panels[p].height + (p + 1 < n_panels ? PANEL_GAP : 0);
    height += 28;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\"%s%s%s width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
            id ? " id=\"" : "", id ? id : "", id ? "\"" : "", width, height, width, height);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n");
    /* Date gridlines through every panel, labels under the last. */
    int dates[64];
    char unit = 'd', label[48];
    int nd =
        hydra_report_date_ticks(t0, t1, (int)(pw / 90) < 63 ? (int)(pw / 90) : 63, dates, &unit);
    for (int k = 0; k < nd; k++) {
        double x = x_of(hydra_report_ms_of_date(dates[k]), t0, t1, pw);
        date_label(label, sizeof label, dates[k], unit);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#eeeeee\"/>"
                "<text class=\"xtick\" x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n",
                x, CHART_T, x, height - 28, x, height - 10, label);
    }
    /* One pixel column a bucket: a curve is drawn from at most two points a pixel. */
    size_t buckets = buckets_of(width);
    size_t *idx = malloc((2 * buckets + 2) * sizeof *idx);
    double top = CHART_T;
    for (int p = 0; p < n_panels && idx != NULL; p++) {
        const hydra_report_panel *pn = &panels[p];
        double lo = INFINITY, hi = -INFINITY, h = pn->height;
        for (int c = 0; c < pn->n_curves; c++) {
            const hydra_report_curve *cv = &pn->curves[c];
            if (cv->reduced) {
                lo = fmin(lo, cv->lo);
                hi = fmax(hi, cv->hi);
                continue;
            }
            for (size_t i = 0; i < cv->n; i++) {
                double v = val(cv, i);
                lo = fmin(lo, v);
                hi = fmax(hi, v);
            }
        }
        for (int c = 0; c < pn->n_marks; c++)
            for (size_t i = 0; i < pn->marks[c].n; i++) {
                lo = fmin(lo, pn->marks[c].y[i]);
                hi = fmax(hi, pn->marks[c].y[i]);
            }
        if (!(lo <= hi))
            lo = hi = 0;
        if (pn->from_zero) {
            lo = fmin(lo, 0);
            hi = fmax(hi, 0);
        }
        if (hi - lo < 1e-9 * fmax(1, fabs(hi))) {
            if (pn->percent && hi == 0)
                lo = -0.01;
            else {
                lo -= 1;
                hi += 1;
            }
        }
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"14\" font-weight=\"bold\">%s</text>\n",
                CHART_L, top - 12, pn->title);
        double ticks[32], step;
        int max_ticks = (int)(h / 36) < 2 ? 2 : (int)(h / 36) > 30 ? 30 : (int)(h / 36);
        int nt = hydra_report_nice_ticks(lo, hi, max_ticks, ticks, &step);
        for (int k = 0; k < nt; k++) {
            double y = top + h - h * (ticks[k] - lo) / (hi - lo);
            tick_label(label, sizeof label, ticks[k], step, pn->percent);
            fprintf(f,
                    "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#dddddd\"/>"
                    "<text class=\"ytick\" x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                    CHART_L, y, width - CHART_R, y, CHART_L - 6, y + 4, label);
        }
        fprintf(f,
                "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
                "stroke=\"#999999\"/>\n",
                CHART_L, top, pw, h);
        for (int c = 0; c < pn->n_curves; c++) {
            const hydra_report_curve *cv = &pn->curves[c];
            if (cv->n == 0)
                continue;
            size_t m = downsample_curve(cv, buckets, idx);
            if (cv->fill_down)
                fprintf(f,
                        "<polygon%s%s%s fill=\"%s\" fill-opacity=\"0.5\" stroke=\"%s\" "
                        "points=\"%.1f,%.1f",
                        cv->id ? " id=\"" : "", cv->id ? cv->id : "", cv->id ? "\"" : "", cv->color,
                        cv->color, x_of(t_of(cv, 0, t0, t1), t0, t1, pw), top);
            else
                fprintf(f,
                        "<polyline%s%s%s fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
                        "points=\"",
                        cv->id ? " id=\"" : "", cv->id ? cv->id : "", cv->id ? "\"" : "",
                        cv->color);
            for (size_t j = 0; j < m; j++) {
                size_t i = idx[j];
                double x = x_of(t_of(cv, i, t0, t1), t0, t1, pw);
                double y = top + h - h * (val(cv, i) - lo) / (hi - lo);
                put_point(f, j || cv->fill_down, x, y, 1);
            }
            if (cv->fill_down)
                fprintf(f, " %.1f,%.1f", x_of(t_of(cv, cv->n - 1, t0, t1), t0, t1, pw), top);
            fprintf(f, "\"/>\n");
        }
        /*
         * Markers: one polyline of every point, drawn only by its markers
         * (no stroke), so a trade costs a few bytes and none is dropped.
         */
        for (int c = 0; c < pn->n_marks; c++) {
            const hydra_report_marks *mk = &pn->marks[c];
            if (mk->n == 0)
                continue;
            /* More fills than pixel columns: the small marker, so the price still shows. */
            const char *sz = mk->n > (size_t)pw / 3 ? "-s" : "";
            fprintf(f,
                    "<polyline class=\"%s\" data-n=\"%zu\" fill=\"none\" stroke=\"none\" "
                    "marker-start=\"url(#%s%s)\" marker-mid=\"url(#%s%s)\" "
                    "marker-end=\"url(#%s%s)\" points=\"",
                    mk->cls, mk->n, mk->marker, sz, mk->marker, sz, mk->marker, sz);
            for (size_t i = 0; i < mk->n; i++)
                put_point(f, i > 0, x_of(mk->t[i], t0, t1, pw),
                          top + h - h * (mk->y[i] - lo) / (hi - lo), 0);
            fprintf(f, "\"/>\n");
        }
        top += h + PANEL_GAP;
    }
    free(idx);
    fprintf(f, "</svg>\n");
}
