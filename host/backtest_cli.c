/*
 * hydra-host backtest [--config DIR] [--plugins DIR] [--from YYYY-MM-DD]
 *                     [--to YYYY-MM-DD] [--cash N] [--fee-per-share X]
 *                     [--slippage-bps X] [--out DIR] [--log all|trades]
 *                     [--cache DIR] [--bot ID]... [--symbol SYM]... [--quiet]
 *
 * Prints the summary on stdout and writes the reports to --out. A progress
 * bar goes to stderr when stderr is a terminal (and not --quiet).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backtest.h"
#include "clock.h"
#include "error.h"

void hydra_backtest_usage(FILE *out)
{
    fprintf(out,
            "usage: hydra-host backtest [--config DIR] [--plugins DIR] [--from YYYY-MM-DD]\n"
            "                           [--to YYYY-MM-DD] [--cash N] [--fee-per-share X]\n"
            "                           [--slippage-bps X] [--out DIR] [--log all|trades]\n"
            "                           [--cache DIR] [--bot ID]... [--symbol SYM]... [--quiet]\n"
            "Replays the configured series through the same gates, budgets and exits as\n"
            "live, bots in process, time from the data. Defaults: --config config/\n"
            "--plugins plugins/ --out backtest/ --log trades --cache state/cache; cash, fees\n"
            "and slippage from settings.yaml (sim). --bot (repeatable) runs only the named\n"
            "bots, even one bots.yaml disables; --symbol (repeatable) replays only the named\n"
            "series, and bots trade only those of their symbols.\n");
}

typedef struct progress {
    int64_t started_us;
} progress;

static void show_progress(void *ctx, uint64_t done, uint64_t total)
{
    progress *p = ctx;
    double secs = (double)(hydra_monotonic_us() - p->started_us) / 1e6;
    double rate = secs > 0 ? (double)done / secs : 0;
    double pct = total > 0 ? 100.0 * (double)done / (double)total : 100.0;
    if (pct > 100)
        pct = 100;
    double eta = rate > 0 && total > done ? (double)(total - done) / rate : 0;
    int filled = (int)(pct / 100.0 * 30);
    char bar[31];
    for (int i = 0; i < 30; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r[%s] %5.1f%%  %10.0f bars/s  ETA %5.1fs ", bar, pct, rate, eta);
    fflush(stderr);
}

static int parse_number(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < 0) {
        fprintf(stderr, "hydra-host backtest: --%s: expected a non-negative number, got \"%s\"\n",
                opt, s);
        return 2;
    }
    *out = v;
    return 0;
}

int hydra_backtest_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},  {"plugins", required_argument, NULL, 'p'},
        {"from", required_argument, NULL, 'f'},    {"to", required_argument, NULL, 't'},
        {"cash", required_argument, NULL, 'C'},    {"fee-per-share", required_argument, NULL, 'F'},
        {"slippage-bps", required_argument, NULL, 'S'}, {"out", required_argument, NULL, 'o'},
        {"log", required_argument, NULL, 'l'},     {"cache", required_argument, NULL, 'k'},
        {"quiet", no_argument, NULL, 'q'},         {"help", no_argument, NULL, 'h'},
        {"bot", required_argument, NULL, 'b'},     {"symbol", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    hydra_backtest_options opt;
    memset(&opt, 0, sizeof opt);
    snprintf(opt.config_dir, sizeof opt.config_dir, "config");
    snprintf(opt.plugins_dir, sizeof opt.plugins_dir, "plugins");
    snprintf(opt.out_dir, sizeof opt.out_dir, "backtest");
    snprintf(opt.cache_dir, sizeof opt.cache_dir, "state/cache");
    opt.cash = opt.fee_per_share = opt.slippage_bps = -1;
    int quiet = 0, ch, rc;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': snprintf(opt.config_dir, sizeof opt.config_dir, "%s", optarg); break;
        case 'p': snprintf(opt.plugins_dir, sizeof opt.plugins_dir, "%s", optarg); break;
        case 'f': snprintf(opt.from, sizeof opt.from, "%.10s", optarg); break;
        case 't': snprintf(opt.to, sizeof opt.to, "%.10s", optarg); break;
        case 'o': snprintf(opt.out_dir, sizeof opt.out_dir, "%s", optarg); break;
        case 'k': snprintf(opt.cache_dir, sizeof opt.cache_dir, "%s", optarg); break;
        case 'q': quiet = 1; break;
        case 'b':
            if (opt.n_only_bots == HYDRA_MAX_BOTS || strlen(optarg) >= sizeof opt.only_bots[0]) {
                fprintf(stderr, "hydra-host backtest: --bot %s: too many --bot or id too long\n",
                        optarg);
                return 2;
            }
            snprintf(opt.only_bots[opt.n_only_bots++], sizeof opt.only_bots[0], "%s", optarg);
            break;
        case 's':
            if (opt.n_only_symbols == HYDRA_MAX_SERIES ||
                strlen(optarg) >= sizeof opt.only_symbols[0]) {
                fprintf(stderr,
                        "hydra-host backtest: --symbol %s: too many --symbol or symbol too long\n",
                        optarg);
                return 2;
            }
            snprintf(opt.only_symbols[opt.n_only_symbols++], sizeof opt.only_symbols[0], "%s",
                     optarg);
            break;
        case 'C':
            if ((rc = parse_number("cash", optarg, &opt.cash)) != 0)
                return rc;
            break;
        case 'F':
            if ((rc = parse_number("fee-per-share", optarg, &opt.fee_per_share)) != 0)
                return rc;
            break;
        case 'S':
            if ((rc = parse_number("slippage-bps", optarg, &opt.slippage_bps)) != 0)
                return rc;
            break;
        case 'l':
            if (strcmp(optarg, "all") != 0 && strcmp(optarg, "trades") != 0) {
                fprintf(stderr, "hydra-host backtest: --log: expected all or trades, got \"%s\"\n",
                        optarg);
                return 2;
            }
            opt.log_all = strcmp(optarg, "all") == 0;
            break;
        case 'h': hydra_backtest_usage(stdout); return 0;
        default: hydra_backtest_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hydra-host backtest: unexpected argument \"%s\"\n", argv[optind]);
        hydra_backtest_usage(stderr);
        return 2;
    }
    if ((opt.from[0] && strlen(opt.from) != 10) || (opt.to[0] && strlen(opt.to) != 10)) {
        fprintf(stderr, "hydra-host backtest: --from/--to: expected YYYY-MM-DD\n");
        return 2;
    }
    progress p = {hydra_monotonic_us()};
    if (!quiet && isatty(STDERR_FILENO)) {
        opt.progress = show_progress;
        opt.progress_ctx = &p;
    }

    char err[4096] = "";
    int exit_code = 1;
    hydra_backtest *bt = NULL;
    rc = hydra_backtest_open(&opt, &bt, err, sizeof err, &exit_code);
    if (rc != 0) {
        fprintf(stderr, "hydra-host backtest: %s\n", err[0] ? err : hydra_strerror(rc));
        return exit_code;
    }
    p.started_us = hydra_monotonic_us();
    rc = hydra_backtest_run(bt, err, sizeof err);
    if (opt.progress != NULL)
        fputc('\n', stderr);
    if (rc == 0) {
        const hydra_bt_result *r = hydra_backtest_result(bt);
        rc = hydra_bt_write_reports(r, opt.out_dir, stdout, err, sizeof err);
        if (rc == 0)
            printf("Reports: %s/{summary.txt,summary.json,trades.csv,equity.svg,report.html}%s\n",
                   opt.out_dir, opt.log_all ? " and decisions.jsonl" : "");
    }
    if (rc != 0)
        fprintf(stderr, "hydra-host backtest: %s\n", err);
    hydra_backtest_close(bt);
    return rc == 0 ? 0 : 1;
}
