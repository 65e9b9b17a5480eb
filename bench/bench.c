/*
 * hydra-bench: the numbers bench/README.md reports.
 *
 *   hydra-bench prepare <dir>   writes <dir>/bench-1m.csv (1,000,000 one-minute bars: the
 *                               real 1-minute file repeated, dates continuing week by week)
 *                               and <dir>/config/ running the three shipped bots on it
 *   hydra-bench prepare-daily <dir> <src>
 *                               writes <dir>/daily-1m.csv (1,000,000 daily bars: the real
 *                               ORCL rows repeated, one calendar day each, so the dates run
 *                               to the year 4733) and <dir>/config-daily-la/ and
 *                               config-daily-utc/ running the example SMA crossover on it
 *   hydra-bench prepare-universe <dir>
 *                               writes <dir>/universe/syn000.csv .. syn499.csv: 500
 *                               GENERATED daily series (geometric random walks, fixed
 *                               seeds; not market data), ten years of weekdays each, and
 *                               <dir>/config-universe/ running 32 SMA crossover bots over
 *                               them (16 symbols a bot)
 *   hydra-bench csv <dir>       CSV parse rate (rows/s), no cache
 *   hydra-bench replay <dir> <plugins> [config]
 *                               cached load rate, replay rate (bars/s), peak RSS; the
 *                               configuration <dir>/<config> (default config)
 *   hydra-bench live <dir> <plugins> <ticks> [inprocess]
 *                               time per live tick on the simulated exchange (us): mean,
 *                               median and p99; bots in worker processes as configured
 *                               (<dir>/config), or in the host (<dir>/config-inprocess)
 *
 * Each measurement runs in its own process so peak RSS belongs to one of them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backtest.h"
#include "clock.h"
#include "error.h"
#include "loop.h"
#include "series.h"
#include "seriescache.h"

#define BENCH_BARS 1000000

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* Writes <cfg>/bots.yaml: `from` with `isolation: inprocess` after every `plugin:` line. */
static int copy_with_inprocess(const char *from, const char *cfg)
{
    char path[1100], line[512];
    snprintf(path, sizeof path, "%s/bots.yaml", cfg);
    FILE *in = fopen(from, "r"), *out = fopen(path, "w");
    if (in == NULL || out == NULL)
        return -1;
    while (fgets(line, sizeof line, in) != NULL) {
        fputs(line, out);
        const char *p = line + strspn(line, " ");
        if (strncmp(p, "plugin: ", 8) == 0)
            fprintf(out, "%.*sisolation: inprocess\n", (int)(p - line), line);
    }
    fclose(in);
    return fclose(out);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int prepare(const char *dir, const char *src_root)
{
    char path[2048], cfg[1024], text[8192];
    mkdir(dir, 0755);
    hydra_tz_set("America/Los_Angeles");
    hydra_series s;
    char err[512];
    snprintf(path, sizeof path, "%s/data/2006-01-02-volume-min-001.txt", src_root);
    if (hydra_series_load_csv(path, "X", "Europe/Berlin", 0, &s, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    snprintf(path, sizeof path, "%s/bench-1m.csv", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return 1;
    fprintf(f, "Datetime,Open,High,Low,Close,Volume,OpenInterest\n");
    /* Whole weeks between repetitions keep weekdays on weekdays. */
    int64_t week = 7LL * 86400000, span = s.bars[s.n - 1].t_ms - s.bars[0].t_ms;
    int64_t shift = (span / week + 1) * week;
    for (size_t i = 0; i < BENCH_BARS; i++) {
        const hydra_bar *b = &s.bars[i % s.n];
        int64_t t = b->t_ms + (int64_t)(i / s.n) * shift;
        time_t secs = (time_t)(t / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        fprintf(f, "%04d-%02d-%02dT%02d:%02d:%02d.000,%.2f,%.2f,%.2f,%.2f,%.0f,0\n",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                b->open, b->high, b->low, b->close, b->volume);
    }
    fclose(f);
    hydra_series_free(&s);
    snprintf(cfg, sizeof cfg, "%s/config", dir);
    mkdir(cfg, 0755);
    snprintf(text, sizeof text,
             "system:\n  timezone: America/Los_Angeles\n  state_db_path: %s/state.db\n"
             "  log_path: %s/app.jsonl\n  kill_switch_path: %s/KILL\n"
             "broker: sim\nsim:\n  db_path: %s/paper.db\n  start: \"2006-01-02 00:00\"\n"
             "  tick_interval_ms: 0\n"
             "  series:\n"
             "    - {symbol: FESX, file: %s/bench-1m.csv, timezone: UTC}\n"
             "    - {symbol: ORCL, file: %s/bench-1m.csv, timezone: UTC}\n"
             "    - {symbol: BTC/USD, file: %s/bench-1m.csv, timezone: UTC}\n",
             dir, dir, dir, dir, dir, dir, dir);
    snprintf(path, sizeof path, "%s/settings.yaml", cfg);
    if (write_text(path, text) != 0)
        return 1;
    /* The shipped bots.yaml, each bot on the one series. */
    snprintf(path, sizeof path, "%s/config/bots.yaml", src_root);
    FILE *in = fopen(path, "r");
    if (in == NULL)
        return 1;
    size_t n = fread(text, 1, sizeof text - 1, in);
    fclose(in);
    text[n] = '\0';
    char *p;
    if ((p = strstr(text, "tickers: [ORCL, NVDA]")) != NULL)
        memcpy(p, "tickers: [ORCL]      ", 21);
    if ((p = strstr(text, "pairs: [\"BTC/USD\", \"ETH/USD\"]")) != NULL)
        memcpy(p, "pairs: [\"BTC/USD\"]           ", 29);
    snprintf(path, sizeof path, "%s/bots.yaml", cfg);
    if (write_text(path, text) != 0)
        return 1;
    /* The same, every bot in the host's process: the host's own cost per tick. */
    snprintf(cfg, sizeof cfg, "%s/config-inprocess", dir);
    mkdir(cfg, 0755);
    if (copy_with_inprocess(path, cfg) != 0)
        return 1;
    snprintf(path, sizeof path, "%s/config/settings.yaml", dir);
    char to[1100];
    snprintf(to, sizeof to, "%s/settings.yaml", cfg);
    FILE *a = fopen(path, "r"), *b = fopen(to, "w");
    if (a == NULL || b == NULL)
        return 1;
    int c;
    while ((c = fgetc(a)) != EOF)
        fputc(c, b);
    fclose(a);
    if (fclose(b) != 0)
        return 1;
    printf("prepared %s: %d bars\n", dir, BENCH_BARS);
    return 0;
}

#define DAILY_BARS 1000000

/* The example SMA crossover on one daily series, in zone `tz`. */
static int daily_config(const char *dir, const char *name, const char *tz)
{
    char cfg[1100], path[1200], text[4096];
    snprintf(cfg, sizeof cfg, "%s/%s", dir, name);
    mkdir(cfg, 0755);
    snprintf(text, sizeof text,
             "system:\n  timezone: %s\n  state_db_path: %s/state.db\n"
             "  log_path: %s/app.jsonl\n  kill_switch_path: %s/KILL\n"
             "risk:\n  global_max_daily_loss_pct: 50.0\n  max_notional_per_order: 1000000\n"
             "  max_equity_jump_pct: 50.0\n"
             "broker: sim\nsim:\n  db_path: %s/paper.db\n  slippage_bps: 0\n"
             "  fee_per_share: 0\n  series:\n"
             "    - {symbol: ORCL, file: %s/daily-1m.csv}\n",
             tz, dir, dir, dir, dir, dir);
    snprintf(path, sizeof path, "%s/settings.yaml", cfg);
    if (write_text(path, text) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/bots.yaml", cfg);
    return write_text(path,
                      "exitbot:\n  kill_conditions: {max_daily_loss_halt: false}\n"
                      "portfoliobot:\n  cash_reserve_pct: 0\n"
                      "  buckets: {momentum_bucket_pct_of_daily_risk: 100, "
                      "options_bucket_pct_of_daily_risk: 0, crypto_bucket_pct_of_daily_risk: 0}\n"
                      "  guardrails: {per_bot_min_pct_of_daily_risk: 5, "
                      "per_bot_max_pct_of_daily_risk: 100}\n"
                      "bots:\n"
                      "  - bot_id: sma_orcl\n    plugin: sma_cross\n    bucket: momentum\n"
                      "    asset_class: equity\n    symbols: [ORCL]\n    bar_timeframe: day\n"
                      "    isolation: inprocess\n"
                      "    signal: {mode: sma_cross, params: {fast: 10, slow: 30, qty: 100}}\n");
}

static int prepare_daily(const char *dir, const char *src_root)
{
    char path[2048], err[512];
    mkdir(dir, 0755);
    hydra_tz_set("UTC");
    hydra_series s;
    snprintf(path, sizeof path, "%s/data/orcl-1995-2014.txt", src_root);
    if (hydra_series_load_csv(path, "ORCL", "UTC", 0, &s, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    snprintf(path, sizeof path, "%s/daily-1m.csv", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return 1;
    fprintf(f, "Date,Open,High,Low,Close,Volume\n");
    /* One calendar day a row from the file's first date, the rows repeated in order. */
    int64_t day0 = s.bars[0].t_ms / 86400000;
    for (size_t i = 0; i < DAILY_BARS; i++) {
        const hydra_bar *b = &s.bars[i % s.n];
        time_t secs = (time_t)((day0 + (int64_t)i) * 86400);
        struct tm tm;
        gmtime_r(&secs, &tm);
        fprintf(f, "%04d-%02d-%02d,%.6f,%.6f,%.6f,%.6f,%.0f\n", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, b->open, b->high, b->low, b->close, b->volume);
    }
    if (fclose(f) != 0)
        return 1;
    hydra_series_free(&s);
    if (daily_config(dir, "config-daily-la", "America/Los_Angeles") != 0 ||
        daily_config(dir, "config-daily-utc", "UTC") != 0)
        return 1;
    printf("prepared %s: %d daily bars\n", dir, DAILY_BARS);
    return 0;
}

#define UNIVERSE_SYMBOLS 500
#define UNIVERSE_DAYS 3652 /* 2015-01-01 .. 2024-12-31, weekdays kept */

/* One generated series as a date-only CSV (weekdays), labelled as generated in its name and rows. */
static int universe_file(const char *path, int k)
{
    hydra_series s;
    int64_t t0 = (int64_t)16436 * 86400000; /* 2015-01-01 */
    if (hydra_series_generate("SYN", 1000 + (uint64_t)k, 20.0 + k % 180, 0.03, 1.8, t0, 86400000,
                              UNIVERSE_DAYS, &s) != 0)
        return -1;
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        hydra_series_free(&s);
        return -1;
    }
    fprintf(f, "Date,Open,High,Low,Close,Volume\n");
    for (size_t i = 0; i < s.n; i++) {
        time_t secs = (time_t)(s.bars[i].t_ms / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        if (tm.tm_wday == 0 || tm.tm_wday == 6)
            continue;
        const hydra_bar *b = &s.bars[i];
        fprintf(f, "%04d-%02d-%02d,%.4f,%.4f,%.4f,%.4f,%.0f\n", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, b->open, b->high, b->low, b->close, b->volume);
    }
    hydra_series_free(&s);
    return fclose(f) == 0 ? 0 : -1;
}

static int prepare_universe(const char *dir)
{
    char path[2048];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/universe", dir);
    mkdir(path, 0755);
    hydra_tz_set("UTC");
    size_t cap = 64 * 1024 + (size_t)UNIVERSE_SYMBOLS * 128, len = 0;
    char *series = malloc(cap), *bots = malloc(cap);
    if (series == NULL || bots == NULL)
        return 1;
    series[0] = bots[0] = '\0';
    for (int k = 0; k < UNIVERSE_SYMBOLS; k++) {
        snprintf(path, sizeof path, "%s/universe/syn%03d.csv", dir, k);
        if (universe_file(path, k) != 0) {
            fprintf(stderr, "cannot write %s\n", path);
            return 1;
        }
        len += (size_t)snprintf(series + len, cap - len, "    - {symbol: SYN%03d, file: %s}\n", k,
                                path);
    }
    len = 0;
    for (int b = 0; b * 16 < UNIVERSE_SYMBOLS; b++) {
        len += (size_t)snprintf(bots + len, cap - len,
                                "  - bot_id: sma_%02d\n    plugin: sma_cross\n    bucket: momentum\n"
                                "    asset_class: equity\n    bar_timeframe: day\n"
                                "    isolation: inprocess\n"
                                "    signal: {mode: sma_cross, params: {fast: 10, slow: 30, qty: 10}}\n"
                                "    symbols: [",
                                b);
        for (int k = b * 16; k < (b + 1) * 16 && k < UNIVERSE_SYMBOLS; k++)
            len += (size_t)snprintf(bots + len, cap - len, "%sSYN%03d", k > b * 16 ? ", " : "", k);
        len += (size_t)snprintf(bots + len, cap - len, "]\n");
    }
    char cfg[1100];
    snprintf(cfg, sizeof cfg, "%s/config-universe", dir);
    mkdir(cfg, 0755);
    size_t tcap = cap + 4096;
    char *text = malloc(tcap);
    if (text == NULL)
        return 1;
    snprintf(text, tcap,
             "system:\n  timezone: America/Los_Angeles\n  state_db_path: %s/state.db\n"
             "  log_path: %s/app.jsonl\n  kill_switch_path: %s/KILL\n"
             "risk:\n  global_max_daily_loss_pct: 50.0\n  max_notional_per_order: 1000000\n"
             "  max_equity_jump_pct: 50.0\n"
             "broker: sim\nsim:\n  db_path: %s/paper.db\n  slippage_bps: 0\n"
             "  fee_per_share: 0\n  initial_cash: 10000000\n  series:\n%s",
             dir, dir, dir, dir, series);
    snprintf(path, sizeof path, "%s/settings.yaml", cfg);
    int rc = write_text(path, text);
    snprintf(text, tcap,
             "exitbot:\n  kill_conditions: {max_daily_loss_halt: false}\n"
             "portfoliobot:\n  cash_reserve_pct: 0\n"
             "  buckets: {momentum_bucket_pct_of_daily_risk: 100, "
             "options_bucket_pct_of_daily_risk: 0, crypto_bucket_pct_of_daily_risk: 0}\n"
             "  guardrails: {per_bot_min_pct_of_daily_risk: 1, "
             "per_bot_max_pct_of_daily_risk: 100}\n"
             "bots:\n%s",
             bots);
    snprintf(path, sizeof path, "%s/bots.yaml", cfg);
    rc = rc != 0 ? rc : write_text(path, text);
    free(text);
    free(series);
    free(bots);
    if (rc != 0)
        return 1;
    printf("prepared %s: %d generated daily series, 10 years each\n", dir, UNIVERSE_SYMBOLS);
    return 0;
}

static int csv_rate(const char *dir)
{
    char path[1024], err[512];
    hydra_tz_set("America/Los_Angeles");
    snprintf(path, sizeof path, "%s/bench-1m.csv", dir);
    hydra_series s;
    int64_t t0 = hydra_monotonic_us();
    if (hydra_series_load_csv(path, "X", "UTC", 0, &s, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int64_t us = hydra_monotonic_us() - t0;
    printf("csv_parse rows=%zu us=%lld rows_per_s=%.0f\n", s.n, (long long)us, s.n / (us / 1e6));
    hydra_series_free(&s);
    return 0;
}

static int replay(const char *dir, const char *plugins, const char *config)
{
    hydra_backtest_options opt;
    memset(&opt, 0, sizeof opt);
    snprintf(opt.config_dir, sizeof opt.config_dir, "%s/%s", dir, config);
    snprintf(opt.plugins_dir, sizeof opt.plugins_dir, "%s", plugins);
    snprintf(opt.cache_dir, sizeof opt.cache_dir, "%s/cache%s", dir,
             strncmp(config, "config-daily", 12) == 0      ? "-daily"
             : strcmp(config, "config-universe") == 0 ? "-universe"
                                                      : "");
    opt.cash = opt.fee_per_share = opt.slippage_bps = -1;
    char err[2048];
    int code;
    hydra_backtest *bt;
    if (hydra_backtest_open(&opt, &bt, err, sizeof err, &code) != 0 ||
        hydra_backtest_run(bt, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    const hydra_bt_result *r = hydra_backtest_result(bt);
    printf("load rows=%llu us=%lld rows_per_s=%.0f\n", (unsigned long long)r->rows_loaded,
           (long long)r->load_us, r->rows_loaded / (r->load_us / 1e6));
    printf("replay ticks=%llu bars=%llu us=%lld bars_per_s=%.0f trades=%zu\n",
           (unsigned long long)r->bars, (unsigned long long)r->series_bars, (long long)r->replay_us,
           r->series_bars / (r->replay_us / 1e6), r->n_trades);
    hydra_backtest_close(bt);
    printf("peak_rss_kb=%ld\n", peak_rss_kb());
    return 0;
}

static int live(const char *dir, const char *plugins, long ticks, int inprocess)
{
    hydra_engine_options opt;
    memset(&opt, 0, sizeof opt);
    snprintf(opt.config_dir, sizeof opt.config_dir, "%s/%s", dir,
             inprocess ? "config-inprocess" : "config");
    snprintf(opt.plugins_dir, sizeof opt.plugins_dir, "%s", plugins);
    opt.interval_ms = 0;
    opt.quiet = 1;
    hydra_engine e;
    char err[2048];
    int code;
    char db[1100];
    snprintf(db, sizeof db, "%s/paper.db", dir);
    hydra_sim_reset(db, err, sizeof err);
    snprintf(db, sizeof db, "%s/state.db", dir);
    unlink(db);
    if (hydra_engine_open(&e, &opt, err, sizeof err, &code) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int64_t *each = calloc((size_t)(ticks > 0 ? ticks : 1), sizeof *each);
    if (each == NULL)
        return 1;
    int64_t t0 = hydra_monotonic_us();
    long n = 0;
    for (; n < ticks; n++) {
        int64_t a = hydra_monotonic_us();
        if (hydra_engine_tick(&e) != 0)
            break;
        each[n] = hydra_monotonic_us() - a;
    }
    int64_t us = hydra_monotonic_us() - t0;
    qsort(each, (size_t)n, sizeof *each, cmp_i64);
    printf("live %s ticks=%ld us=%lld us_per_tick=%.1f median=%lld p99=%lld\n",
           inprocess ? "inprocess" : "isolated", n, (long long)us, (double)us / n,
           n > 0 ? (long long)each[n / 2] : 0LL, n > 0 ? (long long)each[n * 99 / 100] : 0LL);
    free(each);
    hydra_engine_close(&e);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "prepare") == 0)
        return prepare(argv[2], argv[3]);
    if (argc >= 3 && strcmp(argv[1], "csv") == 0)
        return csv_rate(argv[2]);
    if (argc >= 4 && strcmp(argv[1], "prepare-daily") == 0)
        return prepare_daily(argv[2], argv[3]);
    if (argc >= 3 && strcmp(argv[1], "prepare-universe") == 0)
        return prepare_universe(argv[2]);
    if (argc >= 4 && strcmp(argv[1], "replay") == 0)
        return replay(argv[2], argv[3], argc >= 5 ? argv[4] : "config");
    if (argc >= 5 && strcmp(argv[1], "live") == 0)
        return live(argv[2], argv[3], atol(argv[4]),
                    argc >= 6 && strcmp(argv[5], "inprocess") == 0);
    fprintf(stderr, "usage: hydra-bench prepare DIR SRC | prepare-daily DIR SRC | prepare-universe DIR | "
                    "csv DIR | "
                    "replay DIR PLUGINS [CONFIG] | "
                    "live DIR PLUGINS TICKS [inprocess]\n");
    return 2;
}
