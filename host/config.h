/*
 * Configuration: config/settings.yaml and config/bots.yaml as typed structs.
 *
 * Parsing is strict. Unknown keys, wrong types, out-of-range values,
 * malformed times, unknown time zones, duplicate bot ids and impossible
 * sessions are errors; every error names file, line, column, key path and
 * what was expected, and all errors of a run are reported together:
 *
 *   config/bots.yaml:42:7: momentum_bots[1].risk.max_trades_per_day: expected a positive integer, got "three"
 *
 * Defaults live in one place, hydra_config_defaults(). A key that is absent
 * keeps its default; check-config prints the effective configuration.
 */
#ifndef HYDRA_CONFIG_H
#define HYDRA_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define HYDRA_MAX_BOTS 256
#define HYDRA_MAX_BOT_SYMBOLS 16
#define HYDRA_MAX_PARAMS 32
#define HYDRA_MAX_BOT_POSITIONS 64 /* risk.max_concurrent_positions at most */
#define HYDRA_MAX_SERIES 512
#define HYDRA_ID_LEN 64
#define HYDRA_SYMBOL_LEN 48
#define HYDRA_PATH_LEN 512

/* ---- settings.yaml -------------------------------------------------------- */

typedef struct hydra_sim_series_cfg {
    char symbol[HYDRA_SYMBOL_LEN]; /* "AAPL", "BTC/USD" */
    char file[HYDRA_PATH_LEN];     /* CSV under data/, relative to the repository root; "" if generated */
    char timezone[64];             /* zone the file's timestamps are in; "" = system.timezone */
    int generated;                 /* 1: deterministic generated series (no real data exists) */
    unsigned long long seed;       /* generated: random seed */
    double start_price;            /* generated: first price */
    double drift_pct_per_day;      /* generated: mean drift */
    double vol_pct_per_day;        /* generated: daily volatility */
} hydra_sim_series_cfg;

typedef struct hydra_sim_cfg {
    char db_path[HYDRA_PATH_LEN]; /* the paper exchange's own SQLite file */
    char start[32];               /* "YYYY-MM-DD HH:MM" market-zone replay start; "" = first bar */
    int bar_seconds;              /* simulated clock step per bar (default 60) */
    int bars_per_tick;            /* replay pace (default 1) */
    int tick_interval_ms;         /* wall-clock pause between ticks in a sim run (default 250) */
    double initial_cash;          /* paper account start (default 100000) */
    double slippage_bps;          /* added against the taker on every fill */
    double fee_per_share;         /* equities and options (per contract) */
    double crypto_fee_bps;
    double option_iv;             /* implied volatility for Black-Scholes (fraction) */
    double option_rate;           /* risk-free rate (fraction) */
    double option_spread_pct;     /* quoted spread around the model price, percent */
    char session_open[6];         /* regular session in the market zone, "06:30" */
    char session_close[6];        /* "13:00" */
    hydra_sim_series_cfg series[HYDRA_MAX_SERIES];
    int n_series;
} hydra_sim_cfg;

typedef struct hydra_alpaca_cfg {
    char trading_url[HYDRA_PATH_LEN]; /* default https://paper-api.alpaca.markets */
    char data_url[HYDRA_PATH_LEN];    /* default https://data.alpaca.markets */
    char stock_feed[16];              /* "iex" */
    int connect_timeout_ms;
    int timeout_ms;
    long max_response_bytes;
    int use_broker_clock;             /* 1: engine time is the broker's /v2/clock (the local exchange) */
    int foreign_positions;            /* HYDRA_FOREIGN_REFUSE (default) or HYDRA_FOREIGN_IGNORE */
} hydra_alpaca_cfg;

/* alpaca.foreign_positions: what to do with positions and orders Hydra did not create. */
enum { HYDRA_FOREIGN_REFUSE = 0, HYDRA_FOREIGN_IGNORE = 1 };

/* Worker processes for bots with `isolation: process` (settings.yaml `workers:`). */
typedef struct hydra_workers_cfg {
    char worker_path[HYDRA_PATH_LEN]; /* "" = $HYDRA_WORKER, else hydra-worker beside hydra-host */
    int call_deadline_ms;             /* 0 = a quarter of the tick interval, at least 100 ms */
    int start_deadline_ms;            /* exec, load and create (default 10000) */
    int address_space_mb;             /* RLIMIT_AS (default 512; not applied under ASan) */
    int cpu_seconds;                  /* RLIMIT_CPU over a worker's life (default 3600) */
    int max_open_files;               /* RLIMIT_NOFILE (default 64) */
    int restarts_per_day;             /* restarts after failures per bot and trading day (default 5) */
    int restart_backoff_ms;           /* first restart delay, doubling to 60 s (default 1000) */
    char user[64];                    /* who workers run as when the host is root (default nobody) */
    int unsafe_allow_missing_namespaces; /* 1: start workers without namespaces where the kernel has none */
    int unsafe_allow_missing_landlock;   /* 1: start workers without Landlock where the kernel has none */
    /* A missed deadline costs the bot that tick; this many within the window quarantine it. */
    int deadline_misses_to_quarantine;/* 1..32 (default 3) */
    int deadline_window_ticks;        /* the window, in ticks (default 20) */
} hydra_workers_cfg;

/*
 * What one bot may make the host write (settings.yaml `quotas:`), applied
 * by the host to every bot wherever it runs.
 */
typedef struct hydra_quotas_cfg {
    int log_lines_per_tick;           /* bot log lines kept per tick (default 100) */
    int log_bytes_per_tick;           /* bytes of event name + message per tick (default 32768) */
    int log_throttled_ticks_to_quarantine; /* 1..32 throttled ticks within the window (default 5) */
    int log_throttle_window_ticks;    /* the window, in ticks (default 60) */
    int state_max_keys;               /* bot state keys per bot (default 1000) */
    int state_max_bytes;              /* bytes of key + value per bot (default 1048576) */
} hydra_quotas_cfg;
/* The host's HTTP server (settings.yaml `http:`): /metrics. */
typedef struct hydra_http_cfg {
    int enabled;      /* default 0: nothing listens */
    char bind[64];    /* IPv4 address (default 127.0.0.1) */
    int port;         /* 0..65535; 0 picks a free port (logged) */
    int allow_remote; /* 1: bind may be other than 127.0.0.1 (needs HYDRA_HTTP_TOKEN) */
} hydra_http_cfg;

/* Notifications (settings.yaml `notify:`); secrets come from .env (notify.h). */
enum { HYDRA_NOTIFY_WEBHOOK = 0, HYDRA_NOTIFY_SLACK = 1, HYDRA_NOTIFY_TELEGRAM = 2 };
typedef struct hydra_notify_cfg {
    int enabled;        /* default 0 */
    int format;         /* HYDRA_NOTIFY_* (default webhook) */
    char url[512];      /* webhook: where to POST; telegram: API base ("" = api.telegram.org) */
    int queue;          /* messages waiting at most (default 256); more are dropped and counted */
    int timeout_ms;     /* per request (default 5000) */
    int fills;          /* notify every fill (default 1) */
    int daily_summary;  /* notify at each trading-day rollover (default 1) */
} hydra_notify_cfg;

/* The log's rotation (settings.yaml `logging:`). */
typedef struct hydra_logging_cfg {
    long max_bytes; /* rotate app.jsonl before it passes this size (default 256 MiB); 0 = daily only */
    int keep;       /* rotated files kept, compressed or not; 0 (default) = system.log_keep_files */
    int level;      /* lines below this level are not written: HYDRA_LOG_DEBUG (default) .. _ERROR */
} hydra_logging_cfg;

/* The state database's history (settings.yaml `state:`). */
typedef struct hydra_state_cfg {
    int retention_days; /* equity samples, closed orders, fills older than this are pruned; 0 = keep */
} hydra_state_cfg;

typedef struct hydra_settings {
    /* system */
    char timezone[64];               /* IANA zone, validated against the tz database */
    char log_path[HYDRA_PATH_LEN];
    char state_db_path[HYDRA_PATH_LEN];
    char kill_switch_path[HYDRA_PATH_LEN];
    int log_keep_files;              /* rotated daily log files kept */
    /* runner */
    int loop_interval_seconds;
    /* safety */
    int fail_closed;
    int allow_budget_fallback;
    int global_cooldown_minutes;
    int allow_live;
    int state_quick_check_every_ticks; /* PRAGMA quick_check every N ticks; 0 = at start only */
    /* risk */
    double global_max_daily_loss_pct;
    int max_orders_per_minute;
    double max_notional_per_order;   /* dollars */
    double max_limit_distance_pct;   /* limit price vs last price */
    double max_equity_jump_pct;      /* anomaly: equity change in one tick */
    /* health */
    int max_price_staleness_seconds;
    int max_api_failures_in_window;
    int api_failure_window_seconds;
    /* broker */
    char broker[16];                 /* "sim" (default) or "alpaca" */
    hydra_sim_cfg sim;
    hydra_alpaca_cfg alpaca;
    hydra_workers_cfg workers;
    hydra_quotas_cfg quotas;
    hydra_http_cfg http;
    hydra_notify_cfg notify;
    hydra_logging_cfg logging;
    hydra_state_cfg state;
} hydra_settings;

/* Rotated log files kept: logging.keep when given, else system.log_keep_files. */
int hydra_settings_log_keep(const hydra_settings *s);

/* ---- bots.yaml ----------------------------------------------------------- */

typedef enum hydra_bot_kind {
    HYDRA_BOT_MOMENTUM = 1, /* momentum_bots[] */
    HYDRA_BOT_OPTIONS = 2,  /* optionsbot */
    HYDRA_BOT_CRYPTO = 3,   /* cryptobot */
    HYDRA_BOT_GENERIC = 4   /* bots[] */
} hydra_bot_kind;

typedef enum hydra_bucket { HYDRA_BUCKET_MOMENTUM = 0, HYDRA_BUCKET_OPTIONS = 1, HYDRA_BUCKET_CRYPTO = 2 } hydra_bucket;

typedef enum hydra_param_type {
    HYDRA_PARAM_INT = 1,
    HYDRA_PARAM_DOUBLE = 2,
    HYDRA_PARAM_BOOL = 3,
    HYDRA_PARAM_STRING = 4
} hydra_param_type;

/* One scalar under signal.params. YAML plain scalars are typed by their text. */
typedef struct hydra_param {
    char key[HYDRA_ID_LEN];
    hydra_param_type type;
    long long i;
    double d;  /* also set for INT */
    int b;
    char s[256]; /* the scalar's text, for every type */
} hydra_param;

typedef enum hydra_bar_timeframe {
    HYDRA_BARS_MINUTE = 0, /* intraday bars: the session is clock minutes (the default) */
    HYDRA_BARS_DAY = 1     /* one bar a trading day */
} hydra_bar_timeframe;

typedef struct hydra_bot_cfg {
    char bot_id[HYDRA_ID_LEN];
    hydra_bot_kind kind;
    hydra_bucket bucket;                   /* PortfolioBot bucket; generic bots name it */
    char plugin[HYDRA_ID_LEN];             /* "momentum" -> <plugins dir>/momentum.so */
    int enabled;
    int rank;                              /* execution order, higher first (seed: mom 20, crypto 25, opt 30) */
    int isolation_process;                 /* 1: worker process (default); 0: in-process */
    char symbols[HYDRA_MAX_BOT_SYMBOLS][HYDRA_SYMBOL_LEN]; /* ticker / tickers / pairs */
    int n_symbols;
    unsigned asset_class;                  /* enum hydra_asset_class of the symbols */
    /* session, minutes of day in the market zone */
    int trade_start_min, trade_end_min, manage_until_min;
    /*
     * enum hydra_bar_timeframe: the bars the bot trades on. With daily bars
     * (stamped at the session close) the session is read in trading days:
     * every trading day is inside the trade window and manage_until never
     * flattens (a daily bar is the whole session).
     */
    int bar_timeframe;
    /* risk */
    int max_trades_per_day;
    int max_concurrent_positions;
    /* exits (0 = not used) */
    double stop_loss_pct, take_profit_pct;
    int time_stop_minutes;
    int flatten_before_close_minutes;
    /* execution */
    int order_type;                        /* enum hydra_order_type */
    int tif;                               /* enum hydra_tif */
    int use_notional;
    double default_notional_usd;
    /* signal */
    char signal_mode[HYDRA_ID_LEN];
    hydra_param params[HYDRA_MAX_PARAMS];
    int n_params;
    /* options chain rules (options bots) */
    int dte_min, dte_max;
    double delta_min, delta_max;
    /* where it was declared, for messages */
    int line;
} hydra_bot_cfg;

typedef struct hydra_exitbot_cfg {
    int enabled;
    int cooloff_minutes;
    int api_failure_halt, data_stale_halt, max_daily_loss_halt, anomaly_halt;
} hydra_exitbot_cfg;

typedef struct hydra_portfolio_cfg {
    int enabled;
    double cash_reserve_pct;
    double bucket_pct[3]; /* indexed by hydra_bucket: % of daily risk */
    double per_bot_min_pct, per_bot_max_pct;
} hydra_portfolio_cfg;

typedef struct hydra_config {
    char dir[HYDRA_PATH_LEN];       /* the config directory */
    hydra_settings settings;
    hydra_exitbot_cfg exitbot;
    hydra_portfolio_cfg portfolio;
    hydra_bot_cfg bots[HYDRA_MAX_BOTS];
    int n_bots;
} hydra_config;

/* Errors collected during a load; each line is one complete message. */
typedef struct hydra_diag {
    char **lines;
    size_t n, cap;
} hydra_diag;

void hydra_diag_init(hydra_diag *d);
/* printf-style; the message is copied. */
void hydra_diag_add(hydra_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hydra_diag_print(const hydra_diag *d, FILE *out);
void hydra_diag_free(hydra_diag *d);

/* Fills *cfg with every default (no file read). */
void hydra_config_defaults(hydra_config *cfg);

/*
 * Loads <dir>/settings.yaml and <dir>/bots.yaml into *cfg (defaults first).
 * Returns 0, or HYDRA_ECONFIG with every problem in *diag. A missing or
 * unreadable file is an error naming the path. hydra_config is large
 * (about 1 MB): allocate it on the heap.
 */
int hydra_config_load(const char *dir, hydra_config *cfg, hydra_diag *diag);

/*
 * The same from the two files' texts in memory (settings_len and bots_len
 * bytes, no terminator needed), parsed exactly as the files would be.
 * Messages name <dir>/settings.yaml and <dir>/bots.yaml, and cfg->dir is
 * dir, as if the texts had been read from there.
 */
int hydra_config_load_text(const char *dir, const char *settings, size_t settings_len,
                           const char *bots, size_t bots_len, hydra_config *cfg,
                           hydra_diag *diag);

/* The same, with every problem joined into err (one per line) for callers that report text. */
int hydra_config_load_msg(const char *dir, hydra_config *cfg, char *err, size_t errsz);

/* Prints the effective configuration as YAML (check-config). */
void hydra_config_print(const hydra_config *cfg, FILE *out);

/* The bot with this id, or NULL. */
const hydra_bot_cfg *hydra_config_find_bot(const hydra_config *cfg, const char *bot_id);

/* The param with this key, or NULL. */
const hydra_param *hydra_bot_param(const hydra_bot_cfg *bot, const char *key);

/* ---- credentials --------------------------------------------------------- */

typedef struct hydra_credentials {
    char key[256];
    char secret[256];
    int paper;        /* ALPACA_PAPER: 1 unless set to "false" */
    int have_keys;    /* both key and secret non-empty */
    char http_token[256]; /* HYDRA_HTTP_TOKEN: required when http binds beyond loopback */
    char slack_webhook_url[512];  /* HYDRA_SLACK_WEBHOOK_URL */
    char telegram_bot_token[256]; /* HYDRA_TELEGRAM_BOT_TOKEN */
    char telegram_chat_id[128];   /* HYDRA_TELEGRAM_CHAT_ID */
    char webhook_token[256];      /* HYDRA_WEBHOOK_TOKEN (optional bearer for notify.format webhook) */
} hydra_credentials;

/*
 * Reads ALPACA_KEY, ALPACA_SECRET, ALPACA_PAPER, HYDRA_HTTP_TOKEN from the environment, then
 * from env_file (KEY=value or KEY="value" lines) for anything not set in the
 * environment. A missing file is fine. Warns on `warn` (may be NULL) when
 * the file is readable by group or others. Never prints a value.
 */
int hydra_credentials_load(const char *env_file, hydra_credentials *out, FILE *warn);

#endif
