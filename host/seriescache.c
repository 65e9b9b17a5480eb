#define _GNU_SOURCE
#include "seriescache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"

enum { CACHE_PATH_LEN = 1024 };

static const char CACHE_MAGIC[8] = {'H', 'Y', 'D', 'R', 'A', 'B', 'C', '\0'};

/* The header in front of the bars. Fixed-size fields only, so the layout is the struct's. */
typedef struct cache_header {
    char magic[8];
    uint32_t version;
    uint32_t bar_size;       /* sizeof(hydra_bar): a different build layout is a stale cache */
    int64_t src_size;
    int64_t src_mtime_ns;
    int32_t daily_stamp_min;
    int32_t daily;
    char tz[64];             /* the series' zone as given ("" = market zone) */
    char market_zone[64];    /* the market zone when it was made */
    uint64_t n;
} cache_header;

/* The bars are read in place, right after the header. */
_Static_assert(sizeof(cache_header) % _Alignof(hydra_bar) == 0, "bars after the header are aligned");

/* FNV-1a: a stable name for the cache file of one (path, zone, stamp minute). */
static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h ^ 0xff; /* separates "ab"+"c" from "a"+"bc" */
}

int hydra_series_cache_path(const char *path, const char *tz, int daily_stamp_min,
                            const char *cache_dir, char *out, size_t outsz)
{
    if (path == NULL || cache_dir == NULL || cache_dir[0] == '\0')
        return HYDRA_EINVAL;
    char minute[16];
    snprintf(minute, sizeof minute, "%d", daily_stamp_min);
    /* The file itself, however it is spelled ("config/../data/x", "data/x"), has one cache. */
    char real[PATH_MAX];
    const char *key = realpath(path, real) != NULL ? real : path;
    uint64_t h = 14695981039346656037ULL;
    h = fnv1a(h, key);
    h = fnv1a(h, tz != NULL ? tz : "");
    h = fnv1a(h, hydra_tz_name());
    h = fnv1a(h, minute);
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    int n = snprintf(out, outsz, "%s/%.80s-%016llx.hbc", cache_dir, base, (unsigned long long)h);
    return n > 0 && (size_t)n < outsz ? 0 : HYDRA_EINVAL;
}

static void header_for(const struct stat *st, const char *tz, int daily_stamp_min, cache_header *h)
{
    memset(h, 0, sizeof *h);
    memcpy(h->magic, CACHE_MAGIC, sizeof h->magic);
    h->version = HYDRA_SERIES_CACHE_VERSION;
    h->bar_size = (uint32_t)sizeof(hydra_bar);
    h->src_size = (int64_t)st->st_size;
    h->src_mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
    h->daily_stamp_min = daily_stamp_min;
    snprintf(h->tz, sizeof h->tz, "%s", tz != NULL ? tz : "");
    snprintf(h->market_zone, sizeof h->market_zone, "%s", hydra_tz_name());
}

static int read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t r = read(fd, p, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return HYDRA_EIO;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return HYDRA_EIO;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Reads a cache file that matches `want`; 0 on a hit, negative when stale, absent or broken. */
static int cache_read(const char *cpath, const cache_header *want, hydra_series *s)
{
    int rc = HYDRA_ENOTFOUND;
    int fd = open(cpath, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rc;
    cache_header h;
    struct stat st;
    if (read_all(fd, &h, sizeof h) != 0 || fstat(fd, &st) != 0)
        goto fail;
    rc = HYDRA_EINVAL;
    if (memcmp(h.magic, want->magic, sizeof h.magic) != 0 || h.version != want->version ||
        h.bar_size != want->bar_size || h.src_size != want->src_size ||
        h.src_mtime_ns != want->src_mtime_ns || h.daily_stamp_min != want->daily_stamp_min ||
        strncmp(h.tz, want->tz, sizeof h.tz) != 0 ||
        strncmp(h.market_zone, want->market_zone, sizeof h.market_zone) != 0 || h.n == 0 ||
        h.n > (uint64_t)(SIZE_MAX / sizeof(hydra_bar)) ||
        (uint64_t)st.st_size != sizeof h + h.n * sizeof(hydra_bar))
        goto fail;
    /*
     * The bars are used where they lie: a private read-only mapping, not a
     * copy. cache_write replaces a cache by rename, so a mapped file is
     * never changed under a reader. A short series is read in at once; a
     * longer one is read a window at a time, its pages handed back behind
     * the reader (hydra_series_passed), so its size never counts in
     * resident memory at once. Either is handed back whole when the check
     * of its times ends: the replay reads it again as it goes.
     */
    size_t len = (size_t)st.st_size;
    int populate = h.n <= HYDRA_SERIES_WINDOW ? MAP_POPULATE : 0;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | populate, fd, 0);
    if (map == MAP_FAILED) {
        rc = HYDRA_ENOMEM;
        goto fail;
    }
    /* Read-only: hydra_series_push copies before it writes. */
    s->bars = (hydra_bar *)((const char *)map + sizeof h);
    s->map = map;
    s->map_len = len;
    s->n = s->cap = (size_t)h.n;
    s->daily = h.daily;
    /* The replay relies on ascending times: a damaged file must not reach it. */
    for (size_t i = 1; i < s->n; i++) {
        hydra_series_passed(s, i);
        if (s->bars[i].t_ms < s->bars[i - 1].t_ms) {
            munmap(map, len);
            memset(s, 0, sizeof *s);
            goto fail;
        }
    }
    hydra_series_passed(s, s->n);
    close(fd);
    return 0;
fail:
    close(fd);
    return rc;
}

static int cache_write(const char *cache_dir, const char *cpath, cache_header *h,
                       const hydra_series *s)
{
    char tmp[CACHE_PATH_LEN];
    if (mkdir(cache_dir, 0755) != 0 && errno != EEXIST)
        return HYDRA_EIO;
    int n = snprintf(tmp, sizeof tmp, "%s.%ld.tmp", cpath, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp)
        return HYDRA_EINVAL;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return HYDRA_EIO;
    h->n = s->n;
    h->daily = s->daily;
    int rc = write_all(fd, h, sizeof *h);
    if (rc == 0)
        rc = write_all(fd, s->bars, s->n * sizeof *s->bars);
    if (close(fd) != 0 && rc == 0)
        rc = HYDRA_EIO;
    if (rc == 0 && rename(tmp, cpath) != 0)
        rc = HYDRA_EIO;
    if (rc != 0)
        unlink(tmp);
    return rc;
}

int hydra_series_load_cached(const char *path, const char *symbol, const char *tz,
                             int daily_stamp_min, const char *cache_dir, hydra_series *out,
                             hydra_cache_outcome *outcome, char *err, size_t errsz)
{
    char cpath[CACHE_PATH_LEN];
    struct stat st;
    cache_header want;
    hydra_cache_outcome how = HYDRA_CACHE_UNUSED;
    int rc;
    if (outcome != NULL)
        *outcome = how;
    if (cache_dir == NULL || cache_dir[0] == '\0' || path == NULL || stat(path, &st) != 0 ||
        hydra_series_cache_path(path, tz, daily_stamp_min, cache_dir, cpath, sizeof cpath) != 0)
        return hydra_series_load_csv(path, symbol, tz, daily_stamp_min, out, err, errsz);

    header_for(&st, tz, daily_stamp_min, &want);
    memset(out, 0, sizeof *out);
    if (cache_read(cpath, &want, out) == 0) {
        snprintf(out->symbol, sizeof out->symbol, "%s", symbol != NULL ? symbol : "");
        snprintf(out->source, sizeof out->source, "%s", path);
        if (outcome != NULL)
            *outcome = HYDRA_CACHE_HIT;
        return 0;
    }
    rc = hydra_series_load_csv(path, symbol, tz, daily_stamp_min, out, err, errsz);
    if (rc != 0)
        return rc;
    if (cache_write(cache_dir, cpath, &want, out) == 0)
        how = HYDRA_CACHE_MISS;
    if (outcome != NULL)
        *outcome = how;
    return 0;
}
