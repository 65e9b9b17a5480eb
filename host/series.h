/*
 * Data series: the bars the simulated exchange replays and backtests
 * run on.
 *
 * Real series come from CSV files in data/ (see data/README.md). The reader
 * handles both layouts found there (Date,Time,O,H,L,C,... and
 * Date,O,H,L,C,...; ISO "YYYY-MM-DDTHH:MM:SS.mmm" datetimes), CRLF line
 * ends, and a header that does not match the rows (the rows decide). A bad
 * row is an error naming the file and line: never a silent skip.
 *
 * A symbol with no real series may use a generated one: geometric Brownian
 * motion from a fixed seed, so every run sees the same prices. Generated
 * series are labelled as such wherever they are shown.
 */
#ifndef HYDRA_SERIES_H
#define HYDRA_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include <hydra/types.h>

typedef struct hydra_series {
    char symbol[48];
    char source[512];   /* "data/orcl-1995-2014.txt" or "generated: gbm seed=42 ..." */
    int generated;      /* 1 for a generated series */
    int daily;          /* 1 when the file has dates only (bars stamped at the session close) */
    hydra_bar *bars;    /* ascending t_ms; duplicates are kept in file order */
    size_t n, cap;
    int borrowed;       /* 1: bars belong to someone else; hydra_series_free leaves them */
    /*
     * Non-NULL when bars lie in a read-only mapping of a series cache file
     * (the whole file, map_len bytes): nothing is copied, and pages the
     * replay has passed can be handed back (hydra_series_release_before).
     */
    void *map;
    size_t map_len;
} hydra_series;

/*
 * Loads a CSV file. Timestamps are wall times in zone `tz` (NULL or "" =
 * the market zone); date-only rows are stamped at `daily_stamp_min` minutes
 * after local midnight (callers pass the session close, so a day's close is
 * never known before the day ends). Returns 0, or HYDRA_EIO / HYDRA_EINVAL with
 * "path:line: what is wrong" in err.
 */
int hydra_series_load_csv(const char *path, const char *symbol, const char *tz, int daily_stamp_min,
                          hydra_series *out, char *err, size_t errsz);

/*
 * A deterministic generated series: n bars of step_ms from t0_ms, geometric
 * Brownian motion with the given daily drift and volatility (percent), from
 * `seed`. The same arguments always give the same bars, on every machine.
 */
int hydra_series_generate(const char *symbol, uint64_t seed, double start_price,
                          double drift_pct_per_day, double vol_pct_per_day, int64_t t0_ms,
                          int64_t step_ms, size_t n, hydra_series *out);

/* Appends one bar (the series owns its array). */
int hydra_series_push(hydra_series *s, const hydra_bar *bar);

/*
 * Hands back the memory of bars[0 .. k) of a mapped series (whole pages
 * only): they stay readable (read again from the file if touched), but stop
 * counting in the process's resident memory. Nothing for a series in heap
 * memory. A replay calls it with bars well behind its cursor.
 */
void hydra_series_release_before(const hydra_series *s, size_t k);
/*
 * For a pass that reads a mapped series from end to end: called with each
 * bar index as the pass reaches it, and with n when it is done. Every
 * window of bars the pages behind are handed back, and at the end all of
 * them, so a pass over a million bars holds one window, not the file, and
 * passes over 500 short series one after the other hold one series, not
 * the 500 (the replay then reads each back from the page cache as it goes).
 */
#define HYDRA_SERIES_WINDOW 8192 /* bars: 384 KB */
static inline void hydra_series_passed(const hydra_series *s, size_t k)
{
    if (k == s->n || (s->n > HYDRA_SERIES_WINDOW && k % HYDRA_SERIES_WINDOW == 0))
        hydra_series_release_before(s, k);
}
void hydra_series_free(hydra_series *s);

/* Index of the last bar with t_ms <= t, or -1 if none. Binary search. */
long hydra_series_index_at(const hydra_series *s, int64_t t);
/*
 * The same answer, found by steps growing from bar `guess` (n: the last)
 * towards it: it reads the bars between the guess and about twice the
 * answer's distance from it, where a binary search of a mapped series
 * reads (and brings back into memory) pages all over the file.
 */
long hydra_series_index_near(const hydra_series *s, size_t guess, int64_t t);

#endif
