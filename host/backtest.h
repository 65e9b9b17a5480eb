/*
 * hydra-host backtest: the live decision path replayed over data, in
 * process, as fast as the data allows. backtest.c says what it shares with
 * the live tick and what it does not; report.c turns the result into
 * trades.csv, summary.json, summary.txt, equity.svg and report.html.
 */
#ifndef HYDRA_BACKTEST_H
#define HYDRA_BACKTEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

typedef struct hydra_backtest_options {
    char config_dir[HYDRA_PATH_LEN];
    char plugins_dir[HYDRA_PATH_LEN];
    char out_dir[HYDRA_PATH_LEN];   /* "" = write nothing (benchmarks) */
    char cache_dir[HYDRA_PATH_LEN]; /* binary series cache; "" = parse the CSV every run */
    char from[11], to[11];          /* "YYYY-MM-DD", market zone, inclusive; "" = the data's span */
    double cash;                    /* < 0: sim.initial_cash */
    double fee_per_share;           /* < 0: sim.fee_per_share */
    double slippage_bps;            /* < 0: sim.slippage_bps */
    int log_all;                    /* 1: <out>/decisions.jsonl, one line per decision */
    char only_bots[HYDRA_MAX_BOTS][64]; /* --bot: run only these (none = every enabled bot) */
    int n_only_bots;
    char only_symbols[HYDRA_MAX_SERIES][48]; /* --symbol: replay only these series (none = all) */
    int n_only_symbols;
    /* Called about every 65536 bars with bars done and bars in the span; may be NULL. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    /*
     * Called once with the loaded configuration, before anything reads it
     * (a sweep sets one bot's params and risk here). Non-zero fails the open
     * with the reason in err (exit code 2). May be NULL.
     */
    int (*configure)(void *ctx, hydra_config *cfg, char *err, size_t errsz);
    void *configure_ctx;
} hydra_backtest_options;

/* One round trip (or the part of one that a sell closed). */
typedef struct hydra_bt_trade {
    char bot_id[64];
    char symbol[48];
    int64_t entry_ms, exit_ms;
    double entry_price, exit_price; /* average fill prices, fees excluded */
    double qty;
    double pnl;                     /* after the fees of both sides */
    char exit_reason[32];           /* stop_loss, take_profit, ..., signal, halt, end_of_data */
} hydra_bt_trade;

/* A named count: a skip reason, or a gate that rejected or resized. */
#define HYDRA_BT_MAX_COUNTS 16
typedef struct hydra_bt_count {
    char name[48];
    uint64_t n;
} hydra_bt_count;

/*
 * What happened to one bot's ticks and orders: ticks on which on_tick was
 * not called, by the preflight's reason; intents the gates rejected and
 * entries they resized, by gate; orders sent. Reasons past the 16th of a
 * kind are counted under "other".
 */
typedef struct hydra_bt_bot_stats {
    uint64_t ticks;                 /* ticks replayed while the bot ran */
    hydra_bt_count skipped[HYDRA_BT_MAX_COUNTS];
    int n_skipped;
    hydra_bt_count rejected[HYDRA_BT_MAX_COUNTS];
    int n_rejected;
    hydra_bt_count resized[HYDRA_BT_MAX_COUNTS];
    int n_resized;
    uint64_t entries, exits;        /* orders sent */
    /* The bot's settings a warning may name. */
    int trade_start_min, trade_end_min, bar_timeframe, max_trades_per_day, max_concurrent;
} hydra_bt_bot_stats;

typedef struct hydra_bt_result {
    double initial_cash;
    int n_bots;
    char (*bot_ids)[64];
    hydra_bt_bot_stats *bot_stats;  /* n_bots */
    size_t n_days;                  /* trading days replayed */
    /*
     * The daily equity curve of the whole account and of each bot, kept
     * column by column so that a report reads a column where it lies:
     * n_days + 1 points, none without a day. Point 0 is the start, the
     * initial cash dated like the first day; point 1 + d is the equity at
     * the last bar of trading day d (market zone). hydra_bt_point_ms gives
     * a point's time. Each array is its own mapping (btrecord.c).
     */
    int *dates;                     /* yyyymmdd */
    int32_t *day_ms;                /* the day's last bar, ms after its date's midnight UTC */
    double **equity;                /* 1 + n_bots columns: total, then each bot's */
    size_t cap_points;              /* room in each array */
    int64_t midnight_ms;            /* the last day's date at 00:00 UTC, day_ms's origin */
    uint64_t *exposed_bars;         /* 1 + n_bots: bars with a position open */
    uint64_t bars;                  /* ticks replayed */
    uint64_t series_bars;           /* bars of all series stamped within the ticks' span */
    hydra_bt_trade *trades;
    size_t n_trades;
    int64_t load_us, replay_us;     /* data load (incl. cache) and replay, monotonic */
    uint64_t rows_loaded;
    char series_note[1024];         /* which files (or generated series) were replayed */
    /* The settings a warning may name as responsible, with their values. */
    double max_daily_loss_pct, max_notional_per_order, cash_reserve_pct;
    int max_orders_per_minute;
    /* The replayed series (the backtest's own, valid until it is closed): report prices. */
    const struct hydra_series *series;
    size_t n_series;
} hydra_bt_result;

/*
 * The time of point i of the equity curve (0 <= i <= n_days): the day's
 * last bar, and for point 0 a day before the first day's.
 */
int64_t hydra_bt_point_ms(const hydra_bt_result *r, size_t i);
/*
 * The same for a reader going in order, given point i - 1's time: a day
 * that follows the previous one costs an addition, not calendar arithmetic.
 */
int64_t hydra_bt_next_point_ms(const hydra_bt_result *r, size_t i, int64_t prev_ms);

typedef struct hydra_backtest hydra_backtest;

/*
 * Loads the configuration, the data (through the cache), the exchange (in
 * memory) and the bots (in process). Returns 0, or negative with the
 * reason in err; *exit_code is 2 for configuration and data problems.
 */
int hydra_backtest_open(const hydra_backtest_options *opt, hydra_backtest **out, char *err,
                        size_t errsz, int *exit_code);
/* Replays the span. Returns 0 or negative (err says why). */
int hydra_backtest_run(hydra_backtest *bt, char *err, size_t errsz);
const hydra_bt_result *hydra_backtest_result(const hydra_backtest *bt);
void hydra_backtest_close(hydra_backtest *bt);

/* The backtest command (backtest_cli.c): argv[0] is "backtest". Returns the exit status. */
int hydra_backtest_main(int argc, char **argv);
void hydra_backtest_usage(FILE *out);

/* ---- reports (report.c) ---- */

/* Metrics of one equity column (0 = total, 1 + i = bot i) and its trades. */
typedef struct hydra_bt_metrics {
    double start_equity, end_equity;
    double total_return;            /* fraction */
    double cagr;                    /* fraction a year, 365.25-day years; NaN under a day */
    double sharpe, sortino;         /* daily returns, annualised by sqrt(252), risk-free 0 */
    double max_drawdown;            /* fraction of the peak, >= 0 */
    int dd_peak_date, dd_trough_date; /* yyyymmdd; 0 when there is no drawdown */
    int trades, wins;
    double win_rate;                /* NaN without trades */
    double profit_factor;           /* gross profit / gross loss; INFINITY without losses */
    double exposure;                /* fraction of bars with a position open */
} hydra_bt_metrics;

/*
 * Metrics over `n` daily equity values (dates yyyymmdd) and the trades whose
 * bot_id matches (NULL = all). Pure: the tests call it on known series.
 */
void hydra_bt_compute_metrics(const int *dates, const double *equity, size_t n,
                              const hydra_bt_trade *trades, size_t n_trades, const char *bot_id,
                              uint64_t exposed_bars, uint64_t bars, hydra_bt_metrics *out);

/*
 * Writes trades.csv, summary.json, summary.txt, equity.svg and report.html
 * into dir, and the text summary to summary_out first (NULL: none): the
 * metrics of a column are computed once for all of them.
 */
int hydra_bt_write_reports(const hydra_bt_result *r, const char *dir, FILE *summary_out, char *err,
                           size_t errsz);
/* The text summary (what summary.txt holds), for stdout. */
void hydra_bt_print_summary(const hydra_bt_result *r, FILE *out);

#endif
