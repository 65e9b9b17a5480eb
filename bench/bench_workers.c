/*
 * Worker isolation costs, measured on the real engine and the real
 * simulated exchange (numbers in bench/README.md):
 *
 *   1. round trip of one manage() call through a worker, with a realistic
 *      snapshot (one symbol, 120 bars), median and p99 in microseconds;
 *   2. wall time per tick (host and workers together) with the shipped
 *      bots and with 200 extra momentum instances, isolated and in-process.
 *
 * usage: hydra-bench-workers [ticks]   (default 300)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "loop.h"
#include "sandbox.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s != NULL && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s != NULL)
        s[n] = '\0';
    fclose(f);
    return s;
}

/* Replaces every `from` with `to` (returns a new string, frees text). */
static char *replace(char *text, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), count = 0;
    for (const char *p = text; (p = strstr(p, from)) != NULL; p += fl)
        count++;
    char *out = malloc(strlen(text) + count * tl + 1), *w = out;
    const char *r = text;
    for (const char *p; (p = strstr(r, from)) != NULL; r = p + fl) {
        memcpy(w, r, (size_t)(p - r));
        w += p - r;
        memcpy(w, to, tl);
        w += tl;
    }
    strcpy(w, r);
    free(text);
    return out;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* A private copy of the shipped configuration in dir, plus `extra` momentum bots on FESX. */
static int make_config(const char *dir, int extra)
{
    char path[1200], repl[1200];
    snprintf(path, sizeof path, "%s/config", dir);
    mkdir(path, 0755);
    char *settings = slurp(HYDRA_SOURCE_DIR "/config/settings.yaml");
    char *bots = slurp(HYDRA_SOURCE_DIR "/config/bots.yaml");
    if (settings == NULL || bots == NULL)
        return -1;
    snprintf(repl, sizeof repl, "%s/", dir);
    settings = replace(settings, "./logs/", repl);
    settings = replace(settings, "./state/", repl);
    settings = replace(settings, "file: data/", "file: " HYDRA_SOURCE_DIR "/data/");
    /* Small buckets per bot so hundreds of bots all get budgets and run on_tick. */
    bots = replace(bots, "per_bot_min_pct_of_daily_risk: 5", "per_bot_min_pct_of_daily_risk: 0.01");
    size_t cap = (size_t)extra * 400 + 64;
    char *list = calloc(1, cap);
    size_t off = (size_t)snprintf(list, cap, "momentum_bots:\n");
    for (int i = 0; i < extra; i++)
        off += (size_t)snprintf(list + off, cap - off,
                                "  - {bot_id: bench_%03d, plugin: momentum, ticker: FESX, "
                                "session: {trade_start: \"06:00\", trade_end: \"12:55\", "
                                "manage_until: \"12:55\"}, signal: {mode: roc_trend_v1, "
                                "params: {roc_bars: %d, trend_bars: 30, entry_roc_pct: 0.05, qty: 1}}}\n",
                                i, 5 + i % 10);
    bots = replace(bots, "momentum_bots:\n", list);
    free(list);
    snprintf(path, sizeof path, "%s/config/settings.yaml", dir);
    int rc = write_text(path, settings);
    snprintf(path, sizeof path, "%s/config/bots.yaml", dir);
    if (rc == 0)
        rc = write_text(path, bots);
    free(settings);
    free(bots);
    return rc;
}

static int run_engine(const char *base, const char *name, int extra, int inprocess, int ticks)
{
    char dir[256], err[4096] = "";
    snprintf(dir, sizeof dir, "%s/%s", base, name);
    mkdir(dir, 0755);
    if (make_config(dir, extra) != 0) {
        fprintf(stderr, "cannot write configuration in %s\n", dir);
        return 1;
    }
    hydra_engine *e = calloc(1, sizeof *e);
    hydra_engine_options opt;
    memset(&opt, 0, sizeof opt);
    snprintf(opt.config_dir, sizeof opt.config_dir, "%s/config", dir);
    snprintf(opt.plugins_dir, sizeof opt.plugins_dir, "%s", HYDRA_PLUGIN_DIR);
    opt.quiet = 1;
    opt.force_inprocess = inprocess;
    int code;
    int64_t t0 = hydra_monotonic_us();
    if (hydra_engine_open(e, &opt, err, sizeof err, &code) != 0) {
        fprintf(stderr, "engine open failed: %s\n", err);
        return 1;
    }
    int64_t opened = hydra_monotonic_us() - t0;
    int64_t *took = calloc((size_t)ticks, sizeof *took);
    for (int i = 0; i < ticks; i++) {
        int64_t s = hydra_monotonic_us();
        if (hydra_engine_tick(e) != 0)
            break;
        took[i] = hydra_monotonic_us() - s;
    }
    int n_bots = e->n_slots;
    hydra_engine_close(e);
    free(e);
    /* The first ticks warm caches and the exchange; measure the steady state. */
    int skip = ticks / 10;
    qsort(took + skip, (size_t)(ticks - skip), sizeof *took, cmp_i64);
    int64_t sum = 0;
    for (int i = skip; i < ticks; i++)
        sum += took[i];
    int m = ticks - skip;
    printf("%-34s bots %3d  start %7.1f ms  tick mean %7.3f ms  median %7.3f ms  p99 %7.3f ms\n",
           name, n_bots, opened / 1000.0, sum / 1000.0 / m, took[skip + m / 2] / 1000.0,
           took[skip + m * 99 / 100] / 1000.0);
    free(took);
    return 0;
}

/* Worker limits as the host sets them, with the machine's sandbox (jail, Landlock, seccomp). */
static int bench_limits(hydra_sandbox_limits *lim)
{
    hydra_workers_cfg w = {.unsafe_allow_missing_namespaces = 0};
    char why[512];
    memset(lim, 0, sizeof *lim);
    lim->start_deadline_ms = 10000;
    lim->address_space_mb = 512;
    lim->cpu_seconds = 3600;
    lim->max_open_files = 64;
    snprintf(w.user, sizeof w.user, "nobody");
    if (hydra_worker_locate(NULL, lim->worker_path, sizeof lim->worker_path) != 0) {
        fprintf(stderr, "no worker at %s\n", lim->worker_path);
        return 1;
    }
    if (hydra_sandbox_configure(lim, &w, &lim->landlock_abi, why, sizeof why) != 0) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    return 0;
}

static hydra_bot_cfg *bench_bot(void)
{
    hydra_bot_cfg *cfg = calloc(1, sizeof *cfg);
    snprintf(cfg->bot_id, sizeof cfg->bot_id, "bench");
    snprintf(cfg->plugin, sizeof cfg->plugin, "momentum");
    snprintf(cfg->signal_mode, sizeof cfg->signal_mode, "roc_trend_v1");
    snprintf(cfg->symbols[0], sizeof cfg->symbols[0], "AAPL");
    cfg->n_symbols = 1;
    cfg->asset_class = HYDRA_ASSET_EQUITY;
    return cfg;
}

/* Start to LOADED: jail, exec, Landlock, seccomp, dlopen and create. */
static int worker_start(int starts)
{
    hydra_sandbox_limits lim;
    if (bench_limits(&lim) != 0)
        return 1;
    hydra_bot_cfg *cfg = bench_bot();
    hydra_bot_runner *r = calloc(1, sizeof *r);
    hydra_worker_peer peer = {NULL, "bench"};
    int64_t *us = calloc((size_t)starts, sizeof *us);
    char err[512];
    for (int i = 0; i < starts; i++) {
        int64_t t = hydra_monotonic_us();
        if (hydra_runner_load(r, 1, &lim, HYDRA_PLUGIN_DIR, cfg, &peer, err, sizeof err) != 0) {
            fprintf(stderr, "worker start failed: %s\n", err);
            return 1;
        }
        us[i] = hydra_monotonic_us() - t;
        hydra_runner_unload(r);
    }
    qsort(us, (size_t)starts, sizeof *us, cmp_i64);
    printf("worker start in its sandbox (namespaces %s, landlock ABI %d; %d starts): median %.2f ms, "
           "p99 %.2f ms, max %.2f ms\n",
           lim.namespaces ? "yes" : "no", lim.landlock_abi, starts, us[starts / 2] / 1000.0,
           us[starts * 99 / 100] / 1000.0, us[starts - 1] / 1000.0);
    free(us);
    free(r);
    free(cfg);
    return 0;
}

static int round_trip(int calls)
{
    hydra_sandbox_limits lim;
    if (bench_limits(&lim) != 0)
        return 1;
    hydra_bot_cfg *cfg = bench_bot();
    hydra_bot_runner *r = calloc(1, sizeof *r);
    hydra_worker_peer peer = {NULL, "bench"};
    char err[512];
    if (hydra_runner_load(r, 1, &lim, HYDRA_PLUGIN_DIR, cfg, &peer, err, sizeof err) != 0) {
        fprintf(stderr, "worker start failed: %s\n", err);
        return 1;
    }
    static hydra_bar bars[120];
    for (int i = 0; i < 120; i++)
        bars[i] = (hydra_bar){i * 60000LL, 100 + i * 0.01, 100.2 + i * 0.01, 99.8 + i * 0.01,
                              100 + i * 0.01, 1000};
    hydra_symbol_view sym = {sizeof sym, HYDRA_ASSET_EQUITY, "AAPL", 101.2, 7200000, bars, 120};
    const hydra_symbol_view *sym_p[1] = {&sym};
    hydra_budget_view budget = {.struct_size = sizeof budget, .max_daily_loss = 100,
                                .max_open_risk = 100, .trades_left_today = 3,
                                .max_concurrent_positions = 1};
    hydra_snapshot snap = {.struct_size = sizeof snap, .tick = 1, .now_ms = 7200000,
                           .symbols = sym_p, .n_symbols = 1, .budget = &budget};
    hydra_intent items[32];
    int64_t *us = calloc((size_t)calls, sizeof *us);
    for (int i = 0; i < calls; i++) {
        hydra_intent_buf buf = {sizeof buf, sizeof(hydra_intent), 32, 0, items};
        int32_t status;
        int64_t t = hydra_monotonic_us();
        if (hydra_runner_call(r, HYDRA_WIRE_CALL_ON_TICK, &snap, &buf, &peer, 1000, &status, err,
                              sizeof err) != 0) {
            fprintf(stderr, "call failed: %s\n", err);
            return 1;
        }
        us[i] = hydra_monotonic_us() - t;
    }
    hydra_runner_unload(r);
    qsort(us, (size_t)calls, sizeof *us, cmp_i64);
    printf("round trip through a worker (on_tick, 1 symbol, 120 bars, %d calls): median %lld us, "
           "p99 %lld us, max %lld us\n",
           calls, (long long)us[calls / 2], (long long)us[calls * 99 / 100],
           (long long)us[calls - 1]);
    free(us);
    free(r);
    free(cfg);
    return 0;
}

int main(int argc, char **argv)
{
    int ticks = argc > 1 ? atoi(argv[1]) : 300;
    char base[] = "/tmp/hydra-bench-XXXXXX";
    if (ticks < 20 || mkdtemp(base) == NULL)
        return 2;
    setenv("HYDRA_WORKER", HYDRA_WORKER_BIN, 1);
    int rc = worker_start(100);
    rc |= round_trip(20000);
    rc |= run_engine(base, "shipped-inprocess", 0, 1, ticks);
    rc |= run_engine(base, "shipped-process", 0, 0, ticks);
    rc |= run_engine(base, "shipped+200-momentum-inprocess", 200, 1, ticks);
    rc |= run_engine(base, "shipped+200-momentum-process", 200, 0, ticks);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", base);
    return rc;
}
