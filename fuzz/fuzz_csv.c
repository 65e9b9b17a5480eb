/*
 * Fuzz target: the CSV reader of market data (host/series.c).
 *
 * An input is the whole file. It is written to one memory file (memfd) that
 * is reused for every input and read back through its /proc/self/fd path by
 * hydra_series_load_csv, the entry point the simulated exchange and the
 * backtest use, so nothing is left on disk whatever happens. The market
 * zone is America/New_York, which has daylight-saving days of 23 and 25
 * hours; date-only rows open at 09:30.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "series.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int g_fd = -1;
static char g_path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_fd < 0) {
        if (hydra_tz_set("America/New_York") != 0)
            abort();
        if ((g_fd = memfd_create("hydra-fuzz-csv", MFD_CLOEXEC)) < 0)
            abort();
        snprintf(g_path, sizeof g_path, "/proc/self/fd/%d", g_fd);
    }
    if (ftruncate(g_fd, 0) != 0)
        abort();
    for (size_t off = 0; off < size;) {
        ssize_t n = pwrite(g_fd, data + off, size - off, (off_t)off);
        if (n <= 0)
            abort();
        off += (size_t)n;
    }

    hydra_series s;
    char err[512];
    int rc = hydra_series_load_csv(g_path, "FUZZ", NULL, 9 * 60 + 30, &s, err, sizeof err);
    if (rc == 0) {
        if (s.n == 0)
            abort(); /* an accepted file has at least one bar */
        for (size_t i = 1; i < s.n; i++)
            if (s.bars[i].t_ms < s.bars[i - 1].t_ms)
                abort(); /* the reader promises ascending times */
        if (hydra_series_index_at(&s, s.bars[s.n - 1].t_ms) != (long)s.n - 1 ||
            (s.bars[0].t_ms > INT64_MIN && hydra_series_index_at(&s, s.bars[0].t_ms - 1) != -1))
            abort();
        hydra_series_free(&s);
    } else if (err[0] == '\0') {
        abort(); /* a refused file always says why */
    }
    return 0;
}
