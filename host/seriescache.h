/*
 * A binary cache of parsed series, so a backtest over a large CSV file
 * parses it once. The cache file holds the bars exactly as the CSV reader
 * produced them, behind a header that names what they were made from: the
 * source file's size and modification time, the time zones and the daily
 * stamp minute, and a format version. Any difference means the cache is
 * stale and the CSV is read again (and the cache rewritten). Cache files
 * are written to a temporary name and renamed, so a reader never sees half
 * a file; a cache that cannot be written is not an error, only slower.
 */
#ifndef HYDRA_SERIESCACHE_H
#define HYDRA_SERIESCACHE_H

#include <stddef.h>

#include "series.h"

#define HYDRA_SERIES_CACHE_VERSION 1u

/* How a load was served, for reports and tests. */
typedef enum hydra_cache_outcome {
    HYDRA_CACHE_HIT = 1,     /* bars read from the cache file */
    HYDRA_CACHE_MISS = 2,    /* CSV parsed; the cache file was (re)written */
    HYDRA_CACHE_UNUSED = 3   /* CSV parsed; no cache directory, or writing it failed */
} hydra_cache_outcome;

/*
 * As hydra_series_load_csv, through a cache file in cache_dir (created if
 * missing; NULL or "" loads the CSV directly). The series' source is the CSV
 * path either way. *outcome (may be NULL) says how the bars were obtained.
 */
int hydra_series_load_cached(const char *path, const char *symbol, const char *tz,
                             int daily_stamp_min, const char *cache_dir, hydra_series *out,
                             hydra_cache_outcome *outcome, char *err, size_t errsz);

/*
 * The cache file's path for these arguments (what hydra_series_load_cached reads and
 * writes). The source is named by its real path, so every spelling of one file shares a cache.
 */
int hydra_series_cache_path(const char *path, const char *tz, int daily_stamp_min,
                            const char *cache_dir, char *out, size_t outsz);

#endif
