/*
 * The pure parts of the backtest reports, apart from the writers in
 * report.c so the tests can pin them: axis ticks, monthly returns, the
 * downsampling of long curves, exact decimal numbers, and the SVG charts
 * report.html and equity.svg are drawn with.
 */
#ifndef HYDRA_REPORT_H
#define HYDRA_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * "Nice" value ticks covering [lo, hi]: a step of 1, 2 or 5 times a power
 * of ten, chosen so that at most max_ticks ticks fall inside the range
 * (and as many as possible). Writes the ticks inside [lo, hi] in ascending
 * order to out (room for max_ticks + 1) and returns how many; *step gets
 * the step. lo == hi is widened by one step of the value's own scale.
 */
int hydra_report_nice_ticks(double lo, double hi, int max_ticks, double *out, double *step);

/*
 * Calendar ticks for a time axis from t0 to t1 (ms since the epoch, UTC
 * dates): the first day of every 1, 2, 5, 10, 20, 50... years, or of every
 * 1, 2, 3 or 6 months, or every 1, 2, 7 or 14 days, whichever is the finest
 * with at most max_ticks ticks inside the range. Writes the ticks' dates
 * (yyyymmdd) to out (room for max_ticks + 1) and returns how many; *unit
 * gets 'y', 'm' or 'd', so a label can say "2004", "2004-06" or
 * "2004-06-29".
 */
int hydra_report_date_ticks(int64_t t0_ms, int64_t t1_ms, int max_ticks, int *out, char *unit);

/* Midnight UTC of a yyyymmdd date, in ms since the epoch. */
int64_t hydra_report_ms_of_date(int yyyymmdd);

/* One calendar year of returns, fractions; NaN for a month without data. */
typedef struct hydra_report_year {
    int year;
    double month[12];
    double total;
} hydra_report_year;

/*
 * Monthly returns of a daily equity curve: point 0 is the start (the
 * initial cash, dated like the first day), each later point a day's
 * closing equity. A month's return is its last equity over the last
 * equity before it, less one (the first month against the start); a
 * year's total is the same over the year, so it is the product of its
 * months. Writes one row per calendar year with data, ascending, to out
 * (room for cap) and returns how many rows there are in all (may exceed
 * cap: the rows past cap are not written).
 */
size_t hydra_report_monthly_returns(const int *dates, const double *equity, size_t n,
                                    hydra_report_year *out, size_t cap);

/*
 * The indices of the points to draw of a curve of n points: every point
 * when n <= 2 * buckets + 2, else the first, the last and, for each of
 * `buckets` equal slices, its lowest and its highest point in the order
 * they occur, so every peak and trough stays on the chart. idx has room
 * for 2 * buckets + 2. Returns how many.
 */
size_t hydra_report_downsample(const double *y, size_t n, size_t buckets, size_t *idx);

/*
 * snprintf(buf, sz, "%.*f", decimals, x), the same text, for 0 <= decimals
 * <= 8 (others go to snprintf): reports print hundreds of thousands of
 * numbers, and the C library's conversion was their largest cost.
 */
const char *hydra_report_fixed(char *buf, size_t sz, double x, int decimals);

/*
 * x with the fewest decimals (at most 8) that show it as "%.8f" would:
 * 11.5115 not 11.511500, 10 not 10.000000; never "-0". buf >= 40 bytes.
 */
const char *hydra_report_exact(char *buf, size_t sz, double x);

/* ---- SVG charts ---- */

/*
 * A curve of a chart: n points of (t_ms, value), drawn downsampled. The
 * points are read where they lie (a column of the backtest's equity rows,
 * the closes of a series' bars), not copied: a million-day run would need
 * the room. With `lead`, point 0 is (lead_t, lead_y) and point i the
 * arrays' i - 1 (the initial cash in front of the daily equity).
 */
typedef struct hydra_report_curve {
    const int64_t *t; /* ms since the epoch; NULL = evenly spaced from t0 to t1 */
    const double *y;
    size_t n;                  /* points, the lead included */
    size_t t_stride, y_stride; /* bytes from one point to the next; 0 = 8, an array */
    int lead;
    int64_t lead_t;
    double lead_y;
    const char *id; /* element id, or NULL */
    const char *color;
    int fill_down; /* 1: filled from the top of the panel (a drawdown) */
    /*
     * 1: the points are a reduction of a longer curve (hydra_report_reducer)
     * and lo, hi its lowest and highest values, which set the value axis.
     */
    int reduced;
    double lo, hi;
} hydra_report_curve;

/* Markers of one kind (entries or exits) on a price chart: every one is drawn. */
typedef struct hydra_report_marks {
    const int64_t *t;
    const double *y;
    size_t n;
    const char *cls;    /* "entries" or "exits": the class of the polyline holding them */
    const char *marker; /* id of the <marker> drawn at each point; id + "-s" when dense */
} hydra_report_marks;

/* The template report.c fills to write report.html (report.html, built in). */
extern const char hydra_report_page[];
extern const size_t hydra_report_page_len;

/*
 * A curve reduced while it is read once, point by point in order: it keeps
 * the points a chart draws of it (those hydra_report_downsample picks for
 * the chart's width) and its lowest and highest values. The chart drawn
 * from the reduction is the chart drawn from the whole curve, and the
 * whole curve never needs to be in memory: a drawdown computed as it is
 * read, the closes of a million bars read from a mapped file a window at
 * a time.
 */
typedef struct hydra_report_reducer {
    size_t n, buckets; /* points expected; one bucket a pixel column */
    size_t seen;
    size_t bucket, end; /* the current bucket and its end (exclusive) */
    int fresh;          /* the next point opens the bucket */
    size_t lo_i, hi_i;  /* the bucket's lowest and highest point so far */
    int64_t lo_t, hi_t;
    double lo_y, hi_y;
    double min, max; /* over every point, as the chart takes them */
    int64_t *t;
    double *y;
    size_t kept;
} hydra_report_reducer;

/* For a curve of n points in a chart `width` units wide. Returns 0 or HYDRA_ENOMEM. */
int hydra_report_reduce_begin(hydra_report_reducer *rd, size_t n, double width);
/* The curve's next point. */
void hydra_report_reduce_add(hydra_report_reducer *rd, int64_t t_ms, double y);
/* Sets c's points, range and `reduced` to the reduction, valid until rd is freed. */
void hydra_report_reduce_curve(const hydra_report_reducer *rd, hydra_report_curve *c);
void hydra_report_reduce_free(hydra_report_reducer *rd);

/* One panel: curves over one value axis, optionally formatted as percent. */
typedef struct hydra_report_panel {
    const char *title;
    double height;
    int percent;   /* axis labels as percent of the value (a fraction) */
    int from_zero; /* the axis includes 0 */
    const hydra_report_curve *curves;
    int n_curves;
    const hydra_report_marks *marks;
    int n_marks;
} hydra_report_panel;

/*
 * Writes one <svg> of panels stacked over a shared time axis from t0 to
 * t1, width `width` user units (the page scales it), nice value ticks on
 * each panel and date ticks under the last one. id names the <svg>.
 */
void hydra_report_chart(FILE *f, const char *id, double width, int64_t t0, int64_t t1,
                        const hydra_report_panel *panels, int n_panels);

#endif
