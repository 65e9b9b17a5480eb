/*
 * hydra-bench-log DIR [LINES] [MAX_BYTES]: what size rotation costs the
 * thread that writes lines. Writes LINES lines of a tick_summary's size to
 * DIR/app.jsonl with rotation at MAX_BYTES and compression on, and prints
 * the median, p99 and max time of one hydra_log_pack, for lines that
 * rotated the file and for the rest, then how long the background
 * compression took to finish after the last line.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, int64_t *v, size_t n)
{
    if (n == 0) {
        printf("%-16s none\n", what);
        return;
    }
    qsort(v, n, sizeof *v, cmp64);
    printf("%-16s %8zu lines  median %7.1f us  p99 %8.1f us  max %8.1f us\n", what, n,
           v[n / 2] / 1e3, v[n * 99 / 100] / 1e3, v[n - 1] / 1e3);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: hydra-bench-log DIR [LINES] [MAX_BYTES]\n");
        return 2;
    }
    long lines = argc > 2 ? atol(argv[2]) : 1000000;
    long max = argc > 3 ? atol(argv[3]) : 16L * 1024 * 1024;
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/app.jsonl", argv[1]);
    hydra_log *lg = NULL;
    if (hydra_log_open(path, 1000, &lg, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    hydra_log_set_rotation(lg, max, 1);
    int64_t *plain = malloc((size_t)lines * sizeof *plain), *rot = malloc(65536 * sizeof *rot);
    size_t np = 0, nr = 0;
    for (long i = 0; i < lines; i++) {
        hydra_log_set_tick(lg, (uint64_t)i + 1);
        int64_t a = now_ns();
        hydra_log_pack(lg, HYDRA_LOG_INFO, "tick_summary", NULL, "{s:f,s:f,s:i,s:i,s:i,s:b,s:I}",
                       "equity", 100000.0 + i, "cash", 50000.0, "positions", 2, "open_orders", 1,
                       "orders_sent", 0, "halted", 0, "took_us", (json_int_t)600);
        int64_t d = now_ns() - a;
        /* A line that rotated the file is the only line in the new one. */
        struct stat sb;
        if (i > 0 && stat(path, &sb) == 0 && sb.st_size < 300 && nr < 65536)
            rot[nr++] = d;
        else
            plain[np++] = d;
    }
    int64_t w0 = now_ns();
    uint64_t done = 0, failed = 0;
    hydra_log_compress_wait(lg, &done, &failed);
    double wait_ms = (now_ns() - w0) / 1e6;
    report("plain line", plain, np);
    report("rotating line", rot, nr);
    printf("files compressed %llu, failed %llu; compression finished %.1f ms after the last line\n",
           (unsigned long long)done, (unsigned long long)failed, wait_ms);
    hydra_log_close(lg);
    free(plain);
    free(rot);
    return 0;
}
