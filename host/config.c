/*
 * Configuration: settings.yaml and bots.yaml into hydra_config.
 *
 * Each file is loaded as one libyaml document and walked against tables
 * that name every key, its type, its range and where its value lands in the
 * typed structs. Nothing stops at the first problem: every error goes into
 * the caller's hydra_diag with file, line, column and key path, so an
 * operator can fix a configuration in one pass.
 *
 * Message shapes, used everywhere:
 *   <file>:<line>:<col>: <key path>: expected <what>, got <value>
 *   <file>:<line>:<col>: <parent path>: unknown key "<key>"
 *   <file>:<line>:<col>: <parent path>: duplicate key "<key>"
 *   <file>:<line>:<col>: <path>: missing required key "<key>"
 *   <file>:<line>:<col>: YAML syntax error: <libyaml's message>
 *   <file>: cannot read: <reason>
 * The key path is left out for the top level of a file.
 */
#define _GNU_SOURCE
#include "config.h"
#include "quota.h" /* HYDRA_STRIKES_MAX */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <yaml.h>

#include <hydra/types.h>

#include "clock.h"
#include "error.h"

/* ---- diagnostics --------------------------------------------------------- */

void hydra_diag_init(hydra_diag *d)
{
    d->lines = NULL;
    d->n = 0;
    d->cap = 0;
}

void hydra_diag_add(hydra_diag *d, const char *fmt, ...)
{
    char *line = NULL;
    va_list ap;
    va_start(ap, fmt);
    int rc = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (rc < 0)
        return;
    if (d->n == d->cap) {
        size_t cap = d->cap != 0 ? d->cap * 2 : 16;
        char **grown = realloc(d->lines, cap * sizeof *grown);
        if (grown == NULL) {
            free(line);
            return;
        }
        d->lines = grown;
        d->cap = cap;
    }
    d->lines[d->n++] = line;
}

void hydra_diag_print(const hydra_diag *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(out, "%s\n", d->lines[i]);
}

void hydra_diag_free(hydra_diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->lines[i]);
    free(d->lines);
    hydra_diag_init(d);
}

/* ---- defaults ------------------------------------------------------------ */

/*
 * Copies src into a fixed buffer and zeroes the rest of it, so two
 * configurations holding the same values compare equal byte for byte.
 */
static void set_str(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        n = size - 1;
    memset(dst, 0, size);
    memcpy(dst, src, n);
}

#define SET_STR(dst, src) set_str((dst), sizeof(dst), (src))

void hydra_config_defaults(hydra_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    SET_STR(cfg->dir, "config");

    hydra_settings *s = &cfg->settings;
    SET_STR(s->timezone, "America/Los_Angeles");
    SET_STR(s->log_path, "../logs/app.jsonl");
    SET_STR(s->state_db_path, "../state/trading_state.db");
    SET_STR(s->kill_switch_path, "../state/KILL_SWITCH");
    s->log_keep_files = 14;
    s->loop_interval_seconds = 5;
    s->fail_closed = 1;
    s->allow_budget_fallback = 0;
    s->global_cooldown_minutes = 390;
    s->allow_live = 0;
    s->global_max_daily_loss_pct = 1.0;
    s->max_orders_per_minute = 10;
    s->max_notional_per_order = 5000;
    s->max_limit_distance_pct = 5.0;
    s->max_equity_jump_pct = 10.0;
    s->max_price_staleness_seconds = 15;
    s->max_api_failures_in_window = 5;
    s->api_failure_window_seconds = 60;
    SET_STR(s->broker, "sim");

    hydra_workers_cfg *w = &s->workers;
    SET_STR(w->worker_path, "");
    w->call_deadline_ms = 0;
    w->start_deadline_ms = 10000;
    w->address_space_mb = 512;
    w->cpu_seconds = 3600;
    w->max_open_files = 64;
    w->restarts_per_day = 5;
    w->restart_backoff_ms = 1000;
    SET_STR(w->user, "nobody");
    w->unsafe_allow_missing_namespaces = 0;
    w->unsafe_allow_missing_landlock = 0;
    w->deadline_misses_to_quarantine = 3;
    w->deadline_window_ticks = 20;

    hydra_quotas_cfg *q = &s->quotas;
    q->log_lines_per_tick = 100;
    q->log_bytes_per_tick = 32768;
    q->log_throttled_ticks_to_quarantine = 5;
    q->log_throttle_window_ticks = 60;
    q->state_max_keys = 1000;
    q->state_max_bytes = 1048576;
    s->state_quick_check_every_ticks = 240;

    hydra_http_cfg *h = &s->http;
    h->enabled = 0;
    SET_STR(h->bind, "127.0.0.1");
    h->port = 9464;
    h->allow_remote = 0;

    s->logging.max_bytes = 256L * 1024 * 1024;
    s->logging.keep = 0; /* system.log_keep_files */
    s->logging.level = HYDRA_LOG_DEBUG;
    s->state.retention_days = 90;

    hydra_notify_cfg *nc = &s->notify;
    nc->enabled = 0;
    nc->format = HYDRA_NOTIFY_WEBHOOK;
    SET_STR(nc->url, "");
    nc->queue = 256;
    nc->timeout_ms = 5000;
    nc->fills = 1;
    nc->daily_summary = 1;

    hydra_sim_cfg *sim = &s->sim;
    SET_STR(sim->db_path, "../state/paper_exchange.db");
    /* No start means the replay begins at the first bar of the data. */
    SET_STR(sim->start, "");
    sim->bar_seconds = 60;
    sim->bars_per_tick = 1;
    sim->tick_interval_ms = 250;
    sim->initial_cash = 100000;
    sim->slippage_bps = 2;
    sim->fee_per_share = 0.005;
    sim->crypto_fee_bps = 25;
    sim->option_iv = 0.30;
    sim->option_rate = 0.04;
    sim->option_spread_pct = 2.0;
    SET_STR(sim->session_open, "06:30");
    SET_STR(sim->session_close, "13:00");
    /* Market data series are data, not tunables: none unless configured. */
    sim->n_series = 0;

    hydra_alpaca_cfg *a = &s->alpaca;
    SET_STR(a->trading_url, "https://paper-api.alpaca.markets");
    SET_STR(a->data_url, "https://data.alpaca.markets");
    SET_STR(a->stock_feed, "iex");
    a->connect_timeout_ms = 3000;
    a->timeout_ms = 10000;
    a->max_response_bytes = 8388608;
    a->use_broker_clock = 0;
    a->foreign_positions = HYDRA_FOREIGN_REFUSE;

    cfg->exitbot.enabled = 1;
    cfg->exitbot.cooloff_minutes = 390;
    cfg->exitbot.api_failure_halt = 1;
    cfg->exitbot.data_stale_halt = 1;
    cfg->exitbot.max_daily_loss_halt = 1;
    cfg->exitbot.anomaly_halt = 1;

    cfg->portfolio.enabled = 1;
    cfg->portfolio.cash_reserve_pct = 30;
    cfg->portfolio.bucket_pct[HYDRA_BUCKET_MOMENTUM] = 25;
    cfg->portfolio.bucket_pct[HYDRA_BUCKET_OPTIONS] = 50;
    cfg->portfolio.bucket_pct[HYDRA_BUCKET_CRYPTO] = 25;
    cfg->portfolio.per_bot_min_pct = 5;
    cfg->portfolio.per_bot_max_pct = 25;

    cfg->n_bots = 0;
}

/*
 * A bot's values before its keys are read. They sit next to
 * hydra_config_defaults() so every default is in one place: the seed's
 * ranks, sessions and risk limits for each section; exits off (0) unless
 * configured; market day orders (good-till-cancelled for crypto, which
 * trades around the clock).
 */
static void bot_defaults(hydra_bot_cfg *b, hydra_bot_kind kind)
{
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->enabled = 1;
    /* Bad bot code must not take the host down: bots run in worker processes unless told. */
    b->isolation_process = 1;
    b->trade_start_min = 6 * 60 + 35;
    b->trade_end_min = 9 * 60 + 30;
    b->manage_until_min = 12 * 60 + 55;
    b->max_trades_per_day = 3;
    b->max_concurrent_positions = 1;
    b->order_type = HYDRA_ORDER_MARKET;
    b->tif = HYDRA_TIF_DAY;
    b->use_notional = 0;
    switch (kind) {
    case HYDRA_BOT_MOMENTUM:
    case HYDRA_BOT_GENERIC:
        b->bucket = HYDRA_BUCKET_MOMENTUM;
        b->asset_class = HYDRA_ASSET_EQUITY;
        b->rank = 20;
        break;
    case HYDRA_BOT_OPTIONS:
        b->bucket = HYDRA_BUCKET_OPTIONS;
        b->asset_class = HYDRA_ASSET_OPTION;
        b->rank = 30;
        b->trade_start_min = 6 * 60 + 40;
        b->trade_end_min = 9 * 60 + 50;
        b->max_trades_per_day = 5;
        b->max_concurrent_positions = 3;
        b->dte_min = 7;
        b->dte_max = 45;
        b->delta_min = 0.25;
        b->delta_max = 0.60;
        break;
    case HYDRA_BOT_CRYPTO:
        b->bucket = HYDRA_BUCKET_CRYPTO;
        b->asset_class = HYDRA_ASSET_CRYPTO;
        b->rank = 25;
        b->tif = HYDRA_TIF_GTC;
        b->trade_start_min = 0;
        b->trade_end_min = 23 * 60 + 59;
        b->manage_until_min = 23 * 60 + 59;
        b->max_trades_per_day = 6;
        b->max_concurrent_positions = 2;
        break;
    }
}

/* ---- loading context and messages --------------------------------------- */

#define PATH_MAX_LEN 256
#define MAX_FIELDS 32

typedef struct load_ctx {
    const char *file;     /* the path as given, for messages */
    yaml_document_t *doc; /* the document being walked */
    hydra_diag *diag;
    hydra_config *cfg;
    int errors;        /* counted here too, so a message lost to ENOMEM still fails the load */
    unsigned kind_bit; /* 1 << kind of the bot being read, 0 outside bots */
    int bot_id_line[HYDRA_MAX_BOTS];
    int series_line[HYDRA_MAX_SERIES];
} load_ctx;

static void report(load_ctx *c, const yaml_node_t *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(load_ctx *c, const yaml_node_t *at, const char *path, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->errors++;
    size_t line = at->start_mark.line + 1, col = at->start_mark.column + 1;
    if (path[0] != '\0')
        hydra_diag_add(c->diag, "%s:%zu:%zu: %s: %s", c->file, line, col, path, msg);
    else
        hydra_diag_add(c->diag, "%s:%zu:%zu: %s", c->file, line, col, msg);
}

static const char *scalar_text(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* How a value is shown after "got": scalars quoted and escaped, others by kind. */
static void describe(const yaml_node_t *n, char *buf, size_t size)
{
    if (n->type == YAML_MAPPING_NODE) {
        snprintf(buf, size, "%s",
                 n->data.mapping.pairs.top == n->data.mapping.pairs.start ? "an empty mapping"
                                                                          : "a mapping");
        return;
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        snprintf(buf, size, "%s",
                 n->data.sequence.items.top == n->data.sequence.items.start ? "an empty sequence"
                                                                            : "a sequence");
        return;
    }
    /* Long values are cut so one message stays one readable line. */
    const unsigned char *s = n->data.scalar.value;
    size_t o = 0, shown = 0;
    buf[o++] = '"';
    for (; *s != '\0' && o + 8 < size; s++, shown++) {
        if (shown == 80) {
            o += (size_t)snprintf(buf + o, size - o, "...");
            break;
        }
        if (*s == '"' || *s == '\\')
            o += (size_t)snprintf(buf + o, size - o, "\\%c", *s);
        else if (*s < 0x20 || *s == 0x7f)
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", *s);
        else
            buf[o++] = (char)*s;
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

/* Reports "expected <what>, got <value>" at the value; returns -1 for the caller to pass on. */
static int expected(load_ctx *c, const yaml_node_t *n, const char *path, const char *what)
{
    char got[160];
    describe(n, got, sizeof got);
    report(c, n, path, "expected %s, got %s", what, got);
    return -1;
}

/*
 * A quoted scalar is a string in YAML, so `3` and `"3"` differ. When the
 * quoted text would have been valid, the message says so.
 */
static int expected_typed(load_ctx *c, const yaml_node_t *n, const char *path, const char *what,
                          int text_ok)
{
    if (!text_ok || is_plain(n))
        return expected(c, n, path, what);
    char buf[160];
    snprintf(buf, sizeof buf, "%s (without quotes)", what);
    return expected(c, n, path, buf);
}

/* Key paths are short; one cut at PATH_MAX_LEN ends in "..." and still shows where to look. */
static void mark_cut(char *out, int n)
{
    if (n >= PATH_MAX_LEN)
        memcpy(out + PATH_MAX_LEN - 4, "...", 4);
}

static void join(char *out, const char *parent, const char *key)
{
    if (parent[0] == '\0')
        mark_cut(out, snprintf(out, PATH_MAX_LEN, "%s", key));
    else
        mark_cut(out, snprintf(out, PATH_MAX_LEN, "%s.%s", parent, key));
}

static void join_index(char *out, const char *parent, size_t i)
{
    mark_cut(out, snprintf(out, PATH_MAX_LEN, "%s[%zu]", parent, i));
}

static yaml_node_t *node_at(load_ctx *c, int index)
{
    return yaml_document_get_node(c->doc, index);
}

/* ---- scalar parsing ------------------------------------------------------ */

/* A decimal integer: optional sign, then digits only. */
static int parse_ll(const char *s, long long *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    for (; *p != '\0'; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

/*
 * A finite decimal number: [+-]digits[.digits][e[+-]digits]. Stricter than
 * strtod, which would also take "nan", "inf" and hex floats.
 */
static int parse_num(const char *s, double *out)
{
    const char *p = s;
    int digits = 0;
    if (*p == '+' || *p == '-')
        p++;
    for (; isdigit((unsigned char)*p); p++)
        digits++;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            digits++;
    if (digits == 0)
        return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p != '\0')
        return -1;
    double v = strtod(s, NULL);
    if (!isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* ---- string validators --------------------------------------------------- */

static int valid_any(const char *s)
{
    (void)s;
    return 1;
}

static int valid_ipv4(const char *s)
{
    struct in_addr a;
    return inet_pton(AF_INET, s, &a) == 1;
}

static int valid_nonempty(const char *s)
{
    return s[0] != '\0';
}

static int valid_charset(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
            return 0;
    return 1;
}

/* Bot ids are embedded in client order ids (see orders.h), hence 32 at most. */
static int valid_bot_id(const char *s)
{
    return valid_charset(s, 32, "_-");
}

/* A plugin name becomes a file name under the plugins directory: no slashes, no dots. */
static int valid_plugin(const char *s)
{
    return valid_charset(s, HYDRA_ID_LEN - 1, "_-");
}

static int valid_symbol(const char *s)
{
    return valid_charset(s, HYDRA_SYMBOL_LEN - 1, "./_-");
}

static int valid_url(const char *s)
{
    return (strncmp(s, "https://", 8) == 0 && s[8] != '\0') ||
           (strncmp(s, "http://", 7) == 0 && s[7] != '\0');
}

static int valid_url_or_empty(const char *s)
{
    return s[0] == '\0' || valid_url(s);
}

static int valid_tz(const char *s)
{
    return hydra_tz_valid(s);
}

static int valid_tz_or_empty(const char *s)
{
    return s[0] == '\0' || hydra_tz_valid(s);
}

static int valid_hhmm(const char *s)
{
    int m;
    return hydra_parse_hhmm(s, &m) == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* "YYYY-MM-DD HH:MM", or empty. */
static int valid_datetime_or_empty(const char *s)
{
    if (s[0] == '\0')
        return 1;
    if (strlen(s) != 16 || s[4] != '-' || s[7] != '-' || s[10] != ' ')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return 0;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return 0;
    return valid_hhmm(s + 11);
}

/* ---- the key tables ------------------------------------------------------ */

typedef enum field_type {
    FT_BOOL,       /* int 0/1 */
    FT_INT,        /* int within range */
    FT_LONG,       /* long within range */
    FT_U64,        /* unsigned long long */
    FT_NUM,        /* double within range */
    FT_STR,        /* char[size], checked by valid() */
    FT_MINUTES,    /* "HH:MM" stored as int minutes of day */
    FT_CHOICE,     /* one of choices[], stored as int */
    FT_CHOICE_STR, /* one of choices[], stored as its name in char[size] */
    FT_SECTION,    /* nested mapping read with sub[] */
    FT_CUSTOM,     /* read by custom() */
    FT_DEFERRED    /* only recorded; the caller reads it later */
} field_type;

typedef struct range {
    const char *what;
    double lo, hi;
    int lo_open; /* 1: lo itself is out of range */
} range;

typedef struct choice {
    const char *name;
    int value;
} choice;

struct field;

typedef struct map_result {
    const struct field *tab;
    yaml_node_t *map;
    yaml_node_t *node[MAX_FIELDS]; /* value of each field of tab that was given */
    uint32_t bad;                  /* bit i: field i was given and rejected */
} map_result;

typedef void (*section_check)(load_ctx *c, const map_result *r, const char *path, void *base);
typedef int (*custom_reader)(load_ctx *c, yaml_node_t *v, const char *path, void *base);

typedef struct field {
    const char *key;
    field_type type;
    size_t off;                 /* from the base the table is read into */
    size_t size;                /* FT_STR, FT_CHOICE_STR: buffer size */
    const range *range;         /* FT_INT, FT_LONG, FT_NUM */
    int (*valid)(const char *); /* FT_STR */
    const char *what;           /* FT_STR: what a valid value is */
    const choice *choices;      /* FT_CHOICE, FT_CHOICE_STR */
    const struct field *sub;    /* FT_SECTION */
    section_check check;        /* FT_SECTION: cross-key rules after reading */
    custom_reader custom;       /* FT_CUSTOM */
    unsigned kinds;             /* bot keys: bit (1 << kind) per bot kind; 0 = every kind */
} field;

static const range R_POS_INT = {"a positive integer", 1, INT_MAX, 0};
static const range R_POSITIONS = {"an integer within 1..64", 1, HYDRA_MAX_BOT_POSITIONS, 0};
static const range R_NONNEG_INT = {"a non-negative integer", 0, INT_MAX, 0};
static const range R_POS_LONG = {"a positive integer", 1, (double)LONG_MAX, 0};
/* Ranks order bots within execution; 90 and 100 belong to PortfolioBot and ExitBot. */
static const range R_RANK = {"an integer within 0..89", 0, 89, 0};
static const range R_NUM = {"a number", -DBL_MAX, DBL_MAX, 0};
static const range R_POS_NUM = {"a positive number", 0, DBL_MAX, 1};
static const range R_NONNEG_NUM = {"a non-negative number", 0, DBL_MAX, 0};
static const range R_PCT = {"a number within 0..100", 0, 100, 0};
static const range R_UNIT = {"a number within 0..1", 0, 1, 0};
static const range R_STRIKES = {"an integer within 1..32", 1, HYDRA_STRIKES_MAX, 0};

static const choice C_BROKER[] = {{"sim", 0}, {"alpaca", 1}, {NULL, 0}};
static const choice C_ORDER_TYPE[] = {
    {"market", HYDRA_ORDER_MARKET}, {"limit", HYDRA_ORDER_LIMIT}, {NULL, 0}};
static const choice C_TIF[] = {
    {"day", HYDRA_TIF_DAY}, {"gtc", HYDRA_TIF_GTC}, {"ioc", HYDRA_TIF_IOC}, {NULL, 0}};
static const choice C_FOREIGN[] = {
    {"refuse", HYDRA_FOREIGN_REFUSE}, {"ignore", HYDRA_FOREIGN_IGNORE}, {NULL, 0}};
static const choice C_ISOLATION[] = {{"inprocess", 0}, {"process", 1}, {NULL, 0}};
static const choice C_TIMEFRAME[] = {{"minute", HYDRA_BARS_MINUTE}, {"day", HYDRA_BARS_DAY}, {NULL, 0}};
static const choice C_BUCKET[] = {{"momentum", HYDRA_BUCKET_MOMENTUM},
                                  {"options", HYDRA_BUCKET_OPTIONS},
                                  {"crypto", HYDRA_BUCKET_CRYPTO},
                                  {NULL, 0}};
static const choice C_ASSET[] = {{"equity", HYDRA_ASSET_EQUITY},
                                 {"crypto", HYDRA_ASSET_CRYPTO},
                                 {"option", HYDRA_ASSET_OPTION},
                                 {NULL, 0}};

#define K(kind) (1u << (kind))

/* clang-format off */
#define F_BOOL(k, T, m) {.key = k, .type = FT_BOOL, .off = offsetof(T, m)}
#define F_INT(k, T, m, r) {.key = k, .type = FT_INT, .off = offsetof(T, m), .range = &(r)}
#define F_NUM(k, T, m, r) {.key = k, .type = FT_NUM, .off = offsetof(T, m), .range = &(r)}
#define F_STR(k, T, m, v, w) {.key = k, .type = FT_STR, .off = offsetof(T, m), \
                              .size = sizeof(((T *)0)->m), .valid = v, .what = w}
#define F_MIN(k, T, m) {.key = k, .type = FT_MINUTES, .off = offsetof(T, m)}
#define F_CHOICE(k, T, m, c) {.key = k, .type = FT_CHOICE, .off = offsetof(T, m), .choices = c}
#define F_SECTION(k, off_, s, chk) {.key = k, .type = FT_SECTION, .off = off_, .sub = s, \
                                    .check = chk}
#define F_CUSTOM(k, fn) {.key = k, .type = FT_CUSTOM, .custom = fn}
#define F_END {.key = NULL}
/* clang-format on */

#define W_PATH "a non-empty path"
#define W_TZ "a time zone in the tz database"
#define W_HHMM "a time HH:MM (00:00..23:59)"

static void check_sim(load_ctx *c, const map_result *r, const char *path, void *base);
static void check_series(load_ctx *c, const map_result *r, const char *path, void *base);
static void check_guardrails(load_ctx *c, const map_result *r, const char *path, void *base);
static void check_http(load_ctx *c, const map_result *r, const char *path, void *base);
static void check_logging(load_ctx *c, const map_result *r, const char *path, void *base);
static void check_session(load_ctx *c, const map_result *r, const char *path, void *base);
static void check_execution(load_ctx *c, const map_result *r, const char *path, void *base);
static void check_chain(load_ctx *c, const map_result *r, const char *path, void *base);
static int read_series(load_ctx *c, yaml_node_t *v, const char *path, void *base);
static int read_ticker(load_ctx *c, yaml_node_t *v, const char *path, void *base);
static int read_symbol_list(load_ctx *c, yaml_node_t *v, const char *path, void *base);
static int read_params(load_ctx *c, yaml_node_t *v, const char *path, void *base);

/* settings.yaml */

static const field SYSTEM_FIELDS[] = {
    F_STR("timezone", hydra_settings, timezone, valid_tz, W_TZ),
    F_STR("log_path", hydra_settings, log_path, valid_nonempty, W_PATH),
    F_STR("state_db_path", hydra_settings, state_db_path, valid_nonempty, W_PATH),
    F_STR("kill_switch_path", hydra_settings, kill_switch_path, valid_nonempty, W_PATH),
    F_INT("log_keep_files", hydra_settings, log_keep_files, R_POS_INT),
    F_END,
};

static const field RUNNER_FIELDS[] = {
    F_INT("loop_interval_seconds", hydra_settings, loop_interval_seconds, R_POS_INT),
    F_END,
};

static const field SAFETY_FIELDS[] = {
    F_BOOL("fail_closed", hydra_settings, fail_closed),
    F_BOOL("allow_budget_fallback", hydra_settings, allow_budget_fallback),
    F_INT("global_cooldown_minutes", hydra_settings, global_cooldown_minutes, R_NONNEG_INT),
    F_BOOL("allow_live", hydra_settings, allow_live),
    /* 0 checks the state database's integrity at start only. */
    F_INT("state_quick_check_every_ticks", hydra_settings, state_quick_check_every_ticks,
          R_NONNEG_INT),
    F_END,
};

static const field RISK_FIELDS[] = {
    F_NUM("global_max_daily_loss_pct", hydra_settings, global_max_daily_loss_pct, R_PCT),
    F_INT("max_orders_per_minute", hydra_settings, max_orders_per_minute, R_POS_INT),
    F_NUM("max_notional_per_order", hydra_settings, max_notional_per_order, R_POS_NUM),
    F_NUM("max_limit_distance_pct", hydra_settings, max_limit_distance_pct, R_PCT),
    F_NUM("max_equity_jump_pct", hydra_settings, max_equity_jump_pct, R_PCT),
    F_END,
};

static const field HEALTH_FIELDS[] = {
    F_INT("max_price_staleness_seconds", hydra_settings, max_price_staleness_seconds, R_POS_INT),
    F_INT("max_api_failures_in_window", hydra_settings, max_api_failures_in_window, R_POS_INT),
    F_INT("api_failure_window_seconds", hydra_settings, api_failure_window_seconds, R_POS_INT),
    F_END,
};

/* Keys that only make sense for a generated series come last; see check_series. */
#define SERIES_FIRST_GENERATED_ONLY 4
static const field SERIES_FIELDS[] = {
    F_STR("symbol", hydra_sim_series_cfg, symbol, valid_symbol,
          "a symbol of 1 to 47 characters from A-Z a-z 0-9 . / _ -"),
    F_STR("file", hydra_sim_series_cfg, file, valid_nonempty, W_PATH),
    F_STR("timezone", hydra_sim_series_cfg, timezone, valid_tz_or_empty, W_TZ),
    F_BOOL("generated", hydra_sim_series_cfg, generated),
    {.key = "seed", .type = FT_U64, .off = offsetof(hydra_sim_series_cfg, seed)},
    F_NUM("start_price", hydra_sim_series_cfg, start_price, R_POS_NUM),
    F_NUM("drift_pct_per_day", hydra_sim_series_cfg, drift_pct_per_day, R_NUM),
    F_NUM("vol_pct_per_day", hydra_sim_series_cfg, vol_pct_per_day, R_NONNEG_NUM),
    F_END,
};

static const field SIM_FIELDS[] = {
    F_STR("db_path", hydra_sim_cfg, db_path, valid_nonempty, W_PATH),
    F_STR("start", hydra_sim_cfg, start, valid_datetime_or_empty,
          "a market-zone date and time YYYY-MM-DD HH:MM"),
    F_INT("bar_seconds", hydra_sim_cfg, bar_seconds, R_POS_INT),
    F_INT("bars_per_tick", hydra_sim_cfg, bars_per_tick, R_POS_INT),
    /* A pause of 0 replays as fast as the host can go. */
    F_INT("tick_interval_ms", hydra_sim_cfg, tick_interval_ms, R_NONNEG_INT),
    F_NUM("initial_cash", hydra_sim_cfg, initial_cash, R_POS_NUM),
    F_NUM("slippage_bps", hydra_sim_cfg, slippage_bps, R_NONNEG_NUM),
    F_NUM("fee_per_share", hydra_sim_cfg, fee_per_share, R_NONNEG_NUM),
    F_NUM("crypto_fee_bps", hydra_sim_cfg, crypto_fee_bps, R_NONNEG_NUM),
    F_NUM("option_iv", hydra_sim_cfg, option_iv, R_POS_NUM),
    F_NUM("option_rate", hydra_sim_cfg, option_rate, R_NUM),
    F_NUM("option_spread_pct", hydra_sim_cfg, option_spread_pct, R_PCT),
    F_STR("session_open", hydra_sim_cfg, session_open, valid_hhmm, W_HHMM),
    F_STR("session_close", hydra_sim_cfg, session_close, valid_hhmm, W_HHMM),
    F_CUSTOM("series", read_series),
    F_END,
};

static const field WORKERS_FIELDS[] = {
    F_STR("worker_path", hydra_workers_cfg, worker_path, valid_any, "a path"),
    /* 0 derives the deadline from the tick interval. */
    F_INT("call_deadline_ms", hydra_workers_cfg, call_deadline_ms, R_NONNEG_INT),
    F_INT("start_deadline_ms", hydra_workers_cfg, start_deadline_ms, R_POS_INT),
    F_INT("address_space_mb", hydra_workers_cfg, address_space_mb, R_POS_INT),
    F_INT("cpu_seconds", hydra_workers_cfg, cpu_seconds, R_POS_INT),
    F_INT("max_open_files", hydra_workers_cfg, max_open_files, R_POS_INT),
    F_INT("restarts_per_day", hydra_workers_cfg, restarts_per_day, R_NONNEG_INT),
    F_INT("restart_backoff_ms", hydra_workers_cfg, restart_backoff_ms, R_NONNEG_INT),
    F_STR("user", hydra_workers_cfg, user, valid_nonempty, "a user name"),
    F_BOOL("unsafe_allow_missing_namespaces", hydra_workers_cfg, unsafe_allow_missing_namespaces),
    F_BOOL("unsafe_allow_missing_landlock", hydra_workers_cfg, unsafe_allow_missing_landlock),
    F_INT("deadline_misses_to_quarantine", hydra_workers_cfg, deadline_misses_to_quarantine,
          R_STRIKES),
    F_INT("deadline_window_ticks", hydra_workers_cfg, deadline_window_ticks, R_POS_INT),
    F_END,
};

static const field QUOTAS_FIELDS[] = {
    F_INT("log_lines_per_tick", hydra_quotas_cfg, log_lines_per_tick, R_POS_INT),
    F_INT("log_bytes_per_tick", hydra_quotas_cfg, log_bytes_per_tick, R_POS_INT),
    F_INT("log_throttled_ticks_to_quarantine", hydra_quotas_cfg, log_throttled_ticks_to_quarantine,
          R_STRIKES),
    F_INT("log_throttle_window_ticks", hydra_quotas_cfg, log_throttle_window_ticks, R_POS_INT),
    F_INT("state_max_keys", hydra_quotas_cfg, state_max_keys, R_POS_INT),
    F_INT("state_max_bytes", hydra_quotas_cfg, state_max_bytes, R_POS_INT),
    F_END,
};

static const range R_PORT = {"a port number within 0..65535 (0 picks a free port)", 0, 65535, 0};

static const field HTTP_FIELDS[] = {
    F_BOOL("enabled", hydra_http_cfg, enabled),
    F_STR("bind", hydra_http_cfg, bind, valid_ipv4, "an IPv4 address such as 127.0.0.1"),
    F_INT("port", hydra_http_cfg, port, R_PORT),
    F_BOOL("allow_remote", hydra_http_cfg, allow_remote),
    F_END,
};

static const choice C_NOTIFY_FORMAT[] = {{"webhook", HYDRA_NOTIFY_WEBHOOK},
                                         {"slack", HYDRA_NOTIFY_SLACK},
                                         {"telegram", HYDRA_NOTIFY_TELEGRAM},
                                         {NULL, 0}};
static const range R_QUEUE = {"an integer within 1..65536", 1, 65536, 0};

static const field NOTIFY_FIELDS[] = {
    F_BOOL("enabled", hydra_notify_cfg, enabled),
    F_CHOICE("format", hydra_notify_cfg, format, C_NOTIFY_FORMAT),
    F_STR("url", hydra_notify_cfg, url, valid_url_or_empty, "an http:// or https:// URL, or \"\""),
    F_INT("queue", hydra_notify_cfg, queue, R_QUEUE),
    F_INT("timeout_ms", hydra_notify_cfg, timeout_ms, R_POS_INT),
    F_BOOL("fills", hydra_notify_cfg, fills),
    F_BOOL("daily_summary", hydra_notify_cfg, daily_summary),
    F_END,
};

static const field ALPACA_FIELDS[] = {
    F_STR("trading_url", hydra_alpaca_cfg, trading_url, valid_url, "an http:// or https:// URL"),
    F_STR("data_url", hydra_alpaca_cfg, data_url, valid_url, "an http:// or https:// URL"),
    F_STR("stock_feed", hydra_alpaca_cfg, stock_feed, valid_nonempty, "a non-empty string"),
    F_INT("connect_timeout_ms", hydra_alpaca_cfg, connect_timeout_ms, R_POS_INT),
    F_INT("timeout_ms", hydra_alpaca_cfg, timeout_ms, R_POS_INT),
    {.key = "max_response_bytes",
     .type = FT_LONG,
     .off = offsetof(hydra_alpaca_cfg, max_response_bytes),
     .range = &R_POS_LONG},
    F_BOOL("use_broker_clock", hydra_alpaca_cfg, use_broker_clock),
    F_CHOICE("foreign_positions", hydra_alpaca_cfg, foreign_positions, C_FOREIGN),
    F_END,
};

/* Smaller than a few lines would rotate every tick. */
static const range R_LOG_BYTES = {"0 (daily rotation only) or a size in bytes", 0,
                                  (double)LONG_MAX, 0};
static const range R_RETENTION = {"a number of days within 0..36500 (0 keeps everything)", 0, 36500,
                                  0};

static const choice C_LOG_LEVEL[] = {{"debug", HYDRA_LOG_DEBUG},
                                     {"info", HYDRA_LOG_INFO},
                                     {"warn", HYDRA_LOG_WARN},
                                     {"error", HYDRA_LOG_ERROR},
                                     {NULL, 0}};

static const field LOGGING_FIELDS[] = {
    {.key = "max_bytes",
     .type = FT_LONG,
     .off = offsetof(hydra_logging_cfg, max_bytes),
     .range = &R_LOG_BYTES},
    /* 0: system.log_keep_files says (the older key). */
    F_INT("keep", hydra_logging_cfg, keep, R_NONNEG_INT),
    F_CHOICE("level", hydra_logging_cfg, level, C_LOG_LEVEL),
    F_END,
};

static const field STATE_FIELDS[] = {
    F_INT("retention_days", hydra_state_cfg, retention_days, R_RETENTION),
    F_END,
};

static const field SETTINGS_FIELDS[] = {
    F_SECTION("system", 0, SYSTEM_FIELDS, NULL),
    F_SECTION("runner", 0, RUNNER_FIELDS, NULL),
    F_SECTION("safety", 0, SAFETY_FIELDS, NULL),
    F_SECTION("risk", 0, RISK_FIELDS, NULL),
    F_SECTION("health", 0, HEALTH_FIELDS, NULL),
    {.key = "broker",
     .type = FT_CHOICE_STR,
     .off = offsetof(hydra_settings, broker),
     .size = sizeof(((hydra_settings *)0)->broker),
     .choices = C_BROKER},
    F_SECTION("sim", offsetof(hydra_settings, sim), SIM_FIELDS, check_sim),
    F_SECTION("alpaca", offsetof(hydra_settings, alpaca), ALPACA_FIELDS, NULL),
    F_SECTION("workers", offsetof(hydra_settings, workers), WORKERS_FIELDS, NULL),
    F_SECTION("quotas", offsetof(hydra_settings, quotas), QUOTAS_FIELDS, NULL),
    F_SECTION("http", offsetof(hydra_settings, http), HTTP_FIELDS, check_http),
    F_SECTION("notify", offsetof(hydra_settings, notify), NOTIFY_FIELDS, NULL),
    F_SECTION("logging", offsetof(hydra_settings, logging), LOGGING_FIELDS, check_logging),
    F_SECTION("state", offsetof(hydra_settings, state), STATE_FIELDS, NULL),
    F_END,
};

/* bots.yaml */

static const field KILL_FIELDS[] = {
    F_BOOL("api_failure_halt", hydra_exitbot_cfg, api_failure_halt),
    F_BOOL("data_stale_halt", hydra_exitbot_cfg, data_stale_halt),
    F_BOOL("max_daily_loss_halt", hydra_exitbot_cfg, max_daily_loss_halt),
    F_BOOL("anomaly_halt", hydra_exitbot_cfg, anomaly_halt),
    F_END,
};

static const field EXITBOT_FIELDS[] = {
    F_BOOL("enabled", hydra_exitbot_cfg, enabled),
    /* A halt that clears at once is no halt. */
    F_INT("cooloff_minutes", hydra_exitbot_cfg, cooloff_minutes, R_POS_INT),
    F_SECTION("kill_conditions", 0, KILL_FIELDS, NULL),
    F_END,
};

static const field BUCKET_FIELDS[] = {
    F_NUM("momentum_bucket_pct_of_daily_risk", hydra_portfolio_cfg,
          bucket_pct[HYDRA_BUCKET_MOMENTUM], R_PCT),
    F_NUM("options_bucket_pct_of_daily_risk", hydra_portfolio_cfg, bucket_pct[HYDRA_BUCKET_OPTIONS],
          R_PCT),
    F_NUM("crypto_bucket_pct_of_daily_risk", hydra_portfolio_cfg, bucket_pct[HYDRA_BUCKET_CRYPTO],
          R_PCT),
    F_END,
};

static const field GUARDRAIL_FIELDS[] = {
    F_NUM("per_bot_min_pct_of_daily_risk", hydra_portfolio_cfg, per_bot_min_pct, R_PCT),
    F_NUM("per_bot_max_pct_of_daily_risk", hydra_portfolio_cfg, per_bot_max_pct, R_PCT),
    F_END,
};

static const field PORTFOLIO_FIELDS[] = {
    F_BOOL("enabled", hydra_portfolio_cfg, enabled),
    F_NUM("cash_reserve_pct", hydra_portfolio_cfg, cash_reserve_pct, R_PCT),
    F_SECTION("buckets", 0, BUCKET_FIELDS, NULL),
    F_SECTION("guardrails", 0, GUARDRAIL_FIELDS, check_guardrails),
    F_END,
};

static const field SESSION_FIELDS[] = {
    F_MIN("trade_start", hydra_bot_cfg, trade_start_min),
    F_MIN("trade_end", hydra_bot_cfg, trade_end_min),
    F_MIN("manage_until", hydra_bot_cfg, manage_until_min),
    F_END,
};

static const field BOT_RISK_FIELDS[] = {
    F_INT("max_trades_per_day", hydra_bot_cfg, max_trades_per_day, R_POS_INT),
    F_INT("max_concurrent_positions", hydra_bot_cfg, max_concurrent_positions, R_POSITIONS),
    F_END,
};

static const field EXITS_FIELDS[] = {
    F_NUM("stop_loss_pct", hydra_bot_cfg, stop_loss_pct, R_PCT),
    F_NUM("take_profit_pct", hydra_bot_cfg, take_profit_pct, R_PCT),
    F_INT("time_stop_minutes", hydra_bot_cfg, time_stop_minutes, R_NONNEG_INT),
    F_INT("flatten_before_close_minutes", hydra_bot_cfg, flatten_before_close_minutes,
          R_NONNEG_INT),
    F_END,
};

static const field EXECUTION_FIELDS[] = {
    F_CHOICE("order_type", hydra_bot_cfg, order_type, C_ORDER_TYPE),
    F_CHOICE("tif", hydra_bot_cfg, tif, C_TIF),
    F_BOOL("use_notional", hydra_bot_cfg, use_notional),
    F_NUM("default_notional_usd", hydra_bot_cfg, default_notional_usd, R_NONNEG_NUM),
    F_END,
};

static const field SIGNAL_FIELDS[] = {
    F_STR("mode", hydra_bot_cfg, signal_mode, valid_any, "a string"),
    F_CUSTOM("params", read_params),
    F_END,
};

static const field CHAIN_FIELDS[] = {
    F_INT("dte_min", hydra_bot_cfg, dte_min, R_NONNEG_INT),
    F_INT("dte_max", hydra_bot_cfg, dte_max, R_NONNEG_INT),
    F_NUM("delta_min", hydra_bot_cfg, delta_min, R_UNIT),
    F_NUM("delta_max", hydra_bot_cfg, delta_max, R_UNIT),
    F_END,
};

#define W_ID "an id of 1 to 32 characters from A-Z a-z 0-9 _ -"

static const field BOT_FIELDS[] = {
    F_STR("bot_id", hydra_bot_cfg, bot_id, valid_bot_id, W_ID),
    F_BOOL("enabled", hydra_bot_cfg, enabled),
    F_STR("plugin", hydra_bot_cfg, plugin, valid_plugin,
          "a plugin name of 1 to 63 characters from A-Z a-z 0-9 _ -"),
    F_INT("rank", hydra_bot_cfg, rank, R_RANK),
    F_CHOICE("isolation", hydra_bot_cfg, isolation_process, C_ISOLATION),
    F_CHOICE("bar_timeframe", hydra_bot_cfg, bar_timeframe, C_TIMEFRAME),
    {.key = "ticker", .type = FT_CUSTOM, .custom = read_ticker, .kinds = K(HYDRA_BOT_MOMENTUM)},
    {.key = "tickers",
     .type = FT_CUSTOM,
     .custom = read_symbol_list,
     .kinds = K(HYDRA_BOT_OPTIONS)},
    {.key = "pairs", .type = FT_CUSTOM, .custom = read_symbol_list, .kinds = K(HYDRA_BOT_CRYPTO)},
    {.key = "symbols",
     .type = FT_CUSTOM,
     .custom = read_symbol_list,
     .kinds = K(HYDRA_BOT_GENERIC)},
    {.key = "bucket",
     .type = FT_CHOICE,
     .off = offsetof(hydra_bot_cfg, bucket),
     .choices = C_BUCKET,
     .kinds = K(HYDRA_BOT_GENERIC)},
    {.key = "asset_class",
     .type = FT_CHOICE,
     .off = offsetof(hydra_bot_cfg, asset_class),
     .choices = C_ASSET,
     .kinds = K(HYDRA_BOT_GENERIC)},
    F_SECTION("session", 0, SESSION_FIELDS, check_session),
    F_SECTION("risk", 0, BOT_RISK_FIELDS, NULL),
    F_SECTION("exits", 0, EXITS_FIELDS, NULL),
    F_SECTION("execution", 0, EXECUTION_FIELDS, check_execution),
    F_SECTION("signal", 0, SIGNAL_FIELDS, NULL),
    {.key = "chain_rules",
     .type = FT_SECTION,
     .sub = CHAIN_FIELDS,
     .check = check_chain,
     .kinds = K(HYDRA_BOT_OPTIONS) | K(HYDRA_BOT_GENERIC)},
    F_END,
};

/* The bot sections are read after the whole top level, in this order, so the
 * order of cfg->bots does not depend on the order of sections in the file. */
static const field BOTS_FILE_FIELDS[] = {
    F_SECTION("exitbot", offsetof(hydra_config, exitbot), EXITBOT_FIELDS, NULL),
    F_SECTION("portfoliobot", offsetof(hydra_config, portfolio), PORTFOLIO_FIELDS, NULL),
    {.key = "momentum_bots", .type = FT_DEFERRED},
    {.key = "optionsbot", .type = FT_DEFERRED},
    {.key = "cryptobot", .type = FT_DEFERRED},
    {.key = "bots", .type = FT_DEFERRED},
    F_END,
};

/* FT_CHOICE stores an int; the enum and unsigned fields it fills must be int-sized. */
_Static_assert(sizeof(hydra_bucket) == sizeof(int), "hydra_bucket is not int-sized");
_Static_assert(sizeof(((hydra_bot_cfg *)0)->asset_class) == sizeof(int), "asset_class size");

#define TABLE_FITS(t) _Static_assert(sizeof(t) / sizeof((t)[0]) <= MAX_FIELDS + 1, #t " too long")
TABLE_FITS(SETTINGS_FIELDS);
TABLE_FITS(SIM_FIELDS);
TABLE_FITS(SERIES_FIELDS);
TABLE_FITS(BOT_FIELDS);
TABLE_FITS(BOTS_FILE_FIELDS);

/* ---- walking the tables -------------------------------------------------- */

static void choices_text(const choice *ch, char *buf, size_t size)
{
    size_t n = 0, o = 0;
    while (ch[n].name != NULL)
        n++;
    buf[0] = '\0';
    for (size_t i = 0; i < n && o < size; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        o += (size_t)snprintf(buf + o, size - o, "%s%s", sep, ch[i].name);
    }
}

static const char *choice_name(const choice *ch, int value)
{
    for (; ch->name != NULL; ch++)
        if (ch->value == value)
            return ch->name;
    return "";
}

static int read_map(load_ctx *c, yaml_node_t *map, const char *path, const field *tab, void *base,
                    map_result *r);

/* Reads one value into base according to f. Returns 0, or -1 after reporting. */
static int read_field(load_ctx *c, const field *f, yaml_node_t *v, const char *path, void *base)
{
    char *dst = (char *)base + f->off;
    const char *text = scalar_text(v);
    char what[256];

    switch (f->type) {
    case FT_BOOL: {
        int ok = text != NULL && (strcmp(text, "true") == 0 || strcmp(text, "false") == 0);
        if (!ok || !is_plain(v))
            return expected_typed(c, v, path, "true or false", ok);
        *(int *)(void *)dst = text[0] == 't';
        return 0;
    }
    case FT_INT:
    case FT_LONG: {
        long long x = 0;
        int ok = text != NULL && parse_ll(text, &x) == 0 && (double)x >= f->range->lo &&
                 (double)x <= f->range->hi && !(f->range->lo_open && (double)x == f->range->lo);
        if (!ok || !is_plain(v))
            return expected_typed(c, v, path, f->range->what, ok);
        if (f->type == FT_INT)
            *(int *)(void *)dst = (int)x;
        else
            *(long *)(void *)dst = (long)x;
        return 0;
    }
    case FT_U64: {
        int ok = text != NULL && isdigit((unsigned char)text[0]);
        for (const char *p = text; ok && *p != '\0'; p++)
            ok = isdigit((unsigned char)*p);
        unsigned long long x = 0;
        if (ok) {
            errno = 0;
            x = strtoull(text, NULL, 10);
            ok = errno != ERANGE;
        }
        if (!ok || !is_plain(v))
            return expected_typed(c, v, path, "a non-negative integer", ok);
        *(unsigned long long *)(void *)dst = x;
        return 0;
    }
    case FT_NUM: {
        double x = 0;
        int ok = text != NULL && parse_num(text, &x) == 0 && x >= f->range->lo &&
                 x <= f->range->hi && !(f->range->lo_open && x == f->range->lo);
        if (!ok || !is_plain(v))
            return expected_typed(c, v, path, f->range->what, ok);
        *(double *)(void *)dst = x;
        return 0;
    }
    case FT_STR:
        if (text == NULL || !f->valid(text))
            return expected(c, v, path, f->what);
        if (strlen(text) >= f->size) {
            snprintf(what, sizeof what, "%s of at most %zu characters", f->what, f->size - 1);
            return expected(c, v, path, what);
        }
        set_str(dst, f->size, text);
        return 0;
    case FT_MINUTES: {
        int m;
        if (text == NULL || hydra_parse_hhmm(text, &m) != 0)
            return expected(c, v, path, W_HHMM);
        *(int *)(void *)dst = m;
        return 0;
    }
    case FT_CHOICE:
    case FT_CHOICE_STR:
        for (const choice *ch = f->choices; text != NULL && ch->name != NULL; ch++) {
            if (strcmp(text, ch->name) != 0)
                continue;
            if (f->type == FT_CHOICE)
                *(int *)(void *)dst = ch->value;
            else
                set_str(dst, f->size, ch->name);
            return 0;
        }
        choices_text(f->choices, what, sizeof what);
        return expected(c, v, path, what);
    case FT_SECTION: {
        map_result r;
        if (read_map(c, v, path, f->sub, dst, &r) != 0)
            return -1;
        if (f->check != NULL)
            f->check(c, &r, path, dst);
        return 0;
    }
    case FT_CUSTOM:
        return f->custom(c, v, path, base);
    case FT_DEFERRED:
        return 0;
    }
    return 0;
}

static int field_applies(const load_ctx *c, const field *f)
{
    return f->kinds == 0 || (f->kinds & c->kind_bit) != 0;
}

/*
 * Reads a mapping against tab: every key must be in the table (and apply to
 * the bot kind being read), at most once. Values are read in document order
 * so messages come out in line order. r records which keys were given.
 */
static int read_map(load_ctx *c, yaml_node_t *map, const char *path, const field *tab, void *base,
                    map_result *r)
{
    memset(r, 0, sizeof *r);
    r->tab = tab;
    r->map = map;
    if (map->type != YAML_MAPPING_NODE)
        return expected(c, map, path, "a mapping");

    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node_at(c, p->key), *v = node_at(c, p->value);
        const char *key = scalar_text(k);
        if (key == NULL) {
            expected(c, k, path, "a string key");
            continue;
        }
        int i = 0;
        while (tab[i].key != NULL && !(strcmp(tab[i].key, key) == 0 && field_applies(c, &tab[i])))
            i++;
        if (tab[i].key == NULL) {
            report(c, k, path, "unknown key \"%s\"", key);
            continue;
        }
        if (r->node[i] != NULL) {
            report(c, k, path, "duplicate key \"%s\"", key);
            continue;
        }
        r->node[i] = v;
        char sub[PATH_MAX_LEN];
        join(sub, path, key);
        if (read_field(c, &tab[i], v, sub, base) != 0)
            r->bad |= 1u << i;
    }
    return 0;
}

/* The value given for key, or NULL; *bad says whether it was rejected. */
static yaml_node_t *given(const map_result *r, const char *key, int *bad)
{
    for (int i = 0; r->tab[i].key != NULL; i++) {
        if (strcmp(r->tab[i].key, key) == 0) {
            if (bad != NULL)
                *bad = (r->bad >> i) & 1u;
            return r->node[i];
        }
    }
    if (bad != NULL)
        *bad = 0;
    return NULL;
}

static void missing(load_ctx *c, const map_result *r, const char *path, const char *key)
{
    report(c, r->map, path, "missing required key \"%s\"", key);
}

/*
 * Two keys of one mapping that must be in order (lo before hi). When they
 * are not, the message lands on the blamed key's value if it was given,
 * else on the other's, and names the other key's effective value. A
 * rejected value was already reported, so the rule is not checked against
 * it.
 */
typedef struct order_rule {
    const char *lo_key, *hi_key;
    const char *noun;              /* "a time", "a number", "an integer" */
    const char *lo_word, *hi_word; /* "not after" / "not before" */
    int blame_hi;                  /* 1: the message prefers hi's value */
} order_rule;

static void check_order(load_ctx *c, const map_result *r, const char *path, const order_rule *rule,
                        int in_order, const char *lo_text, const char *hi_text)
{
    int lo_bad, hi_bad;
    yaml_node_t *lo = given(r, rule->lo_key, &lo_bad), *hi = given(r, rule->hi_key, &hi_bad);
    if (in_order || lo_bad || hi_bad)
        return;
    char what[256], kp[PATH_MAX_LEN];
    if (lo != NULL && (!rule->blame_hi || hi == NULL)) {
        snprintf(what, sizeof what, "%s %s %s (%s)", rule->noun, rule->lo_word, rule->hi_key,
                 hi_text);
        join(kp, path, rule->lo_key);
        expected(c, lo, kp, what);
    } else if (hi != NULL) {
        snprintf(what, sizeof what, "%s %s %s (%s)", rule->noun, rule->hi_word, rule->lo_key,
                 lo_text);
        join(kp, path, rule->hi_key);
        expected(c, hi, kp, what);
    } else {
        report(c, r->map, path, "expected %s %s %s", rule->lo_key, rule->lo_word, rule->hi_key);
    }
}

static void fmt_hhmm(char *buf, size_t size, int minutes)
{
    snprintf(buf, size, "%02d:%02d", (minutes / 60) % 100, minutes % 60);
}

/* ---- cross-key rules ----------------------------------------------------- */

static void check_sim(load_ctx *c, const map_result *r, const char *path, void *base)
{
    static const order_rule rule = {"session_open", "session_close", "a time",
                                    "before",       "after",         0};
    const hydra_sim_cfg *sim = base;
    int open = 0, close = 0;
    if (hydra_parse_hhmm(sim->session_open, &open) != 0 ||
        hydra_parse_hhmm(sim->session_close, &close) != 0)
        return;
    check_order(c, r, path, &rule, open < close, sim->session_open, sim->session_close);
}

/* Serving beyond loopback is a decision the operator writes down, never a default. */
/* A size limit of a few lines would rotate (and compress) a file every tick. */
static void check_logging(load_ctx *c, const map_result *r, const char *path, void *base)
{
    const hydra_logging_cfg *l = base;
    int bad = 0;
    yaml_node_t *mb = given(r, "max_bytes", &bad);
    if (mb == NULL || bad || l->max_bytes == 0 || l->max_bytes >= 65536)
        return;
    char kp[PATH_MAX_LEN];
    join(kp, path, "max_bytes");
    report(c, mb, kp, "%ld is too small: 0 (daily rotation only) or at least 65536 bytes",
           l->max_bytes);
}

static void check_http(load_ctx *c, const map_result *r, const char *path, void *base)
{
    const hydra_http_cfg *h = base;
    int bad = 0;
    yaml_node_t *bind = given(r, "bind", &bad);
    if (bind == NULL || bad || strcmp(h->bind, "127.0.0.1") == 0 || h->allow_remote)
        return;
    char kp[PATH_MAX_LEN];
    join(kp, path, "bind");
    report(c, bind, kp,
           "%s is not 127.0.0.1; serving other hosts needs http.allow_remote: true and "
           "HYDRA_HTTP_TOKEN in .env",
           h->bind);
}

static void check_guardrails(load_ctx *c, const map_result *r, const char *path, void *base)
{
    static const order_rule rule = {"per_bot_min_pct_of_daily_risk",
                                    "per_bot_max_pct_of_daily_risk",
                                    "a number",
                                    "not above",
                                    "not below",
                                    0};
    const hydra_portfolio_cfg *p = base;
    char lo[32], hi[32];
    snprintf(lo, sizeof lo, "%g", p->per_bot_min_pct);
    snprintf(hi, sizeof hi, "%g", p->per_bot_max_pct);
    check_order(c, r, path, &rule, p->per_bot_min_pct <= p->per_bot_max_pct, lo, hi);
}

static void check_session(load_ctx *c, const map_result *r, const char *path, void *base)
{
    static const order_rule start_end = {"trade_start", "trade_end",  "a time",
                                         "not after",   "not before", 0};
    static const order_rule end_manage = {"trade_end", "manage_until", "a time",
                                          "not after", "not before",   1};
    const hydra_bot_cfg *b = base;
    char start[8], end[8], manage[8];
    fmt_hhmm(start, sizeof start, b->trade_start_min);
    fmt_hhmm(end, sizeof end, b->trade_end_min);
    fmt_hhmm(manage, sizeof manage, b->manage_until_min);
    check_order(c, r, path, &start_end, b->trade_start_min <= b->trade_end_min, start, end);
    check_order(c, r, path, &end_manage, b->trade_end_min <= b->manage_until_min, end, manage);
}

static void check_execution(load_ctx *c, const map_result *r, const char *path, void *base)
{
    const hydra_bot_cfg *b = base;
    int bad;
    yaml_node_t *n = given(r, "default_notional_usd", &bad);
    if (!b->use_notional || b->default_notional_usd > 0 || bad)
        return;
    if (n != NULL) {
        char kp[PATH_MAX_LEN];
        join(kp, path, "default_notional_usd");
        expected(c, n, kp, "a positive number when use_notional is true");
    } else {
        report(c, r->map, path,
               "missing required key \"default_notional_usd\" (use_notional is true)");
    }
}

static void check_chain(load_ctx *c, const map_result *r, const char *path, void *base)
{
    static const order_rule dte = {"dte_min", "dte_max", "an integer", "not above", "not below", 0};
    static const order_rule delta = {"delta_min", "delta_max", "a number",
                                     "not above", "not below", 0};
    const hydra_bot_cfg *b = base;
    char lo[32], hi[32];
    snprintf(lo, sizeof lo, "%d", b->dte_min);
    snprintf(hi, sizeof hi, "%d", b->dte_max);
    check_order(c, r, path, &dte, b->dte_min <= b->dte_max, lo, hi);
    snprintf(lo, sizeof lo, "%g", b->delta_min);
    snprintf(hi, sizeof hi, "%g", b->delta_max);
    check_order(c, r, path, &delta, b->delta_min <= b->delta_max, lo, hi);
}

/* A series is either a data file or generated, and generator keys need generated: true. */
static void check_series(load_ctx *c, const map_result *r, const char *path, void *base)
{
    const hydra_sim_series_cfg *s = base;
    yaml_node_t *file = given(r, "file", NULL), *gen = given(r, "generated", NULL);
    if (given(r, "symbol", NULL) == NULL)
        missing(c, r, path, "symbol");
    if (file != NULL && s->generated)
        report(c, gen, path, "expected either file or generated: true, not both");
    else if (file == NULL && !s->generated)
        report(c, r->map, path, "missing required key \"file\" (or generated: true)");
    if (s->generated && given(r, "start_price", NULL) == NULL)
        missing(c, r, path, "start_price");
    if (s->generated)
        return;
    for (int i = SERIES_FIRST_GENERATED_ONLY; SERIES_FIELDS[i].key != NULL; i++) {
        if (r->node[i] == NULL)
            continue;
        char kp[PATH_MAX_LEN];
        join(kp, path, SERIES_FIELDS[i].key);
        report(c, r->node[i], kp, "only valid with generated: true");
    }
}

/* ---- lists and bots ------------------------------------------------------ */

static int read_series(load_ctx *c, yaml_node_t *v, const char *path, void *base)
{
    hydra_sim_cfg *sim = base;
    sim->n_series = 0;
    if (v->type != YAML_SEQUENCE_NODE)
        return expected(c, v, path, "a sequence");
    size_t count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (count > HYDRA_MAX_SERIES) {
        report(c, v, path, "expected at most %d series, got %zu", HYDRA_MAX_SERIES, count);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item = node_at(c, v->data.sequence.items.start[i]);
        char ip[PATH_MAX_LEN];
        join_index(ip, path, i);
        hydra_sim_series_cfg *s = &sim->series[sim->n_series];
        memset(s, 0, sizeof *s);
        map_result r;
        if (read_map(c, item, ip, SERIES_FIELDS, s, &r) != 0)
            continue;
        check_series(c, &r, ip, s);
        int bad;
        yaml_node_t *sym = given(&r, "symbol", &bad);
        c->series_line[sim->n_series] = 0;
        if (sym != NULL && !bad) {
            c->series_line[sim->n_series] = (int)sym->start_mark.line + 1;
            for (int j = 0; j < sim->n_series; j++) {
                if (strcmp(sim->series[j].symbol, s->symbol) != 0 || c->series_line[j] == 0)
                    continue;
                char kp[PATH_MAX_LEN];
                join(kp, ip, "symbol");
                report(c, sym, kp, "duplicate symbol \"%s\", first declared at line %d", s->symbol,
                       c->series_line[j]);
                break;
            }
        }
        sim->n_series++;
    }
    return 0;
}

static int add_symbol(load_ctx *c, yaml_node_t *v, const char *path, hydra_bot_cfg *b)
{
    const char *text = scalar_text(v);
    if (text == NULL || !valid_symbol(text))
        return expected(c, v, path, "a symbol of 1 to 47 characters from A-Z a-z 0-9 . / _ -");
    for (int i = 0; i < b->n_symbols; i++) {
        if (strcmp(b->symbols[i], text) == 0) {
            report(c, v, path, "duplicate symbol \"%s\"", text);
            return -1;
        }
    }
    SET_STR(b->symbols[b->n_symbols], text);
    b->n_symbols++;
    return 0;
}

static int read_ticker(load_ctx *c, yaml_node_t *v, const char *path, void *base)
{
    hydra_bot_cfg *b = base;
    b->n_symbols = 0;
    return add_symbol(c, v, path, b);
}

static int read_symbol_list(load_ctx *c, yaml_node_t *v, const char *path, void *base)
{
    hydra_bot_cfg *b = base;
    b->n_symbols = 0;
    if (v->type != YAML_SEQUENCE_NODE)
        return expected(c, v, path, "a sequence of symbols");
    size_t count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (count == 0)
        return expected(c, v, path, "a non-empty sequence of symbols");
    if (count > HYDRA_MAX_BOT_SYMBOLS) {
        report(c, v, path, "expected at most %d symbols, got %zu", HYDRA_MAX_BOT_SYMBOLS, count);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        char ip[PATH_MAX_LEN];
        join_index(ip, path, i);
        if (add_symbol(c, node_at(c, v->data.sequence.items.start[i]), ip, b) != 0)
            rc = -1;
    }
    return rc;
}

/* Types a plain scalar by its text; a quoted scalar is always a string. */
static void type_param(hydra_param *p, const yaml_node_t *v, const char *text)
{
    long long i;
    double d;
    SET_STR(p->s, text);
    p->type = HYDRA_PARAM_STRING;
    if (!is_plain(v))
        return;
    if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
        p->type = HYDRA_PARAM_BOOL;
        p->b = text[0] == 't';
    } else if (parse_ll(text, &i) == 0) {
        p->type = HYDRA_PARAM_INT;
        p->i = i;
        p->d = (double)i;
    } else if (parse_num(text, &d) == 0) {
        p->type = HYDRA_PARAM_DOUBLE;
        p->d = d;
    }
}

static int read_params(load_ctx *c, yaml_node_t *v, const char *path, void *base)
{
    hydra_bot_cfg *b = base;
    b->n_params = 0;
    if (v->type != YAML_MAPPING_NODE)
        return expected(c, v, path, "a mapping");
    int rc = 0;
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(c, p->key), *val = node_at(c, p->value);
        const char *key = scalar_text(k);
        if (key == NULL || key[0] == '\0' || strlen(key) >= HYDRA_ID_LEN) {
            rc = expected(c, k, path, "a parameter name of 1 to 63 characters");
            continue;
        }
        if (hydra_bot_param(b, key) != NULL) {
            report(c, k, path, "duplicate key \"%s\"", key);
            rc = -1;
            continue;
        }
        char kp[PATH_MAX_LEN];
        join(kp, path, key);
        const char *text = scalar_text(val);
        if (text == NULL) {
            rc = expected(c, val, kp, "a scalar");
            continue;
        }
        if (strlen(text) >= sizeof b->params[0].s) {
            rc = expected(c, val, kp, "a scalar of at most 255 characters");
            continue;
        }
        if (b->n_params == HYDRA_MAX_PARAMS) {
            report(c, k, path, "expected at most %d params", HYDRA_MAX_PARAMS);
            return -1;
        }
        hydra_param *prm = &b->params[b->n_params++];
        SET_STR(prm->key, key);
        type_param(prm, val, text);
    }
    return rc;
}

static void read_bot(load_ctx *c, yaml_node_t *node, const char *path, hydra_bot_kind kind)
{
    hydra_config *cfg = c->cfg;
    if (node->type != YAML_MAPPING_NODE) {
        expected(c, node, path, "a mapping");
        return;
    }
    if (cfg->n_bots == HYDRA_MAX_BOTS) {
        report(c, node, path, "more than %d bots", HYDRA_MAX_BOTS);
        return;
    }
    hydra_bot_cfg *b = &cfg->bots[cfg->n_bots];
    bot_defaults(b, kind);
    b->line = (int)node->start_mark.line + 1;

    map_result r;
    c->kind_bit = K(kind);
    read_map(c, node, path, BOT_FIELDS, b, &r);
    c->kind_bit = 0;

    static const char *const symbol_key[] = {
        [HYDRA_BOT_MOMENTUM] = "ticker",
        [HYDRA_BOT_OPTIONS] = "tickers",
        [HYDRA_BOT_CRYPTO] = "pairs",
        [HYDRA_BOT_GENERIC] = "symbols",
    };
    const char *required[] = {"bot_id", "plugin", "bucket", "asset_class", symbol_key[kind]};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        int generic_only = i == 2 || i == 3;
        if ((!generic_only || kind == HYDRA_BOT_GENERIC) && given(&r, required[i], NULL) == NULL)
            missing(c, &r, path, required[i]);
    }

    int bad;
    yaml_node_t *id = given(&r, "bot_id", &bad);
    c->bot_id_line[cfg->n_bots] = 0;
    if (id != NULL && !bad) {
        c->bot_id_line[cfg->n_bots] = (int)id->start_mark.line + 1;
        for (int j = 0; j < cfg->n_bots; j++) {
            if (c->bot_id_line[j] == 0 || strcmp(cfg->bots[j].bot_id, b->bot_id) != 0)
                continue;
            char kp[PATH_MAX_LEN];
            join(kp, path, "bot_id");
            report(c, id, kp, "duplicate bot_id \"%s\", first declared at line %d", b->bot_id,
                   c->bot_id_line[j]);
            break;
        }
    }
    cfg->n_bots++;
}

static void read_bot_list(load_ctx *c, yaml_node_t *v, const char *path, hydra_bot_kind kind)
{
    if (v->type != YAML_SEQUENCE_NODE) {
        expected(c, v, path, "a sequence");
        return;
    }
    size_t count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    for (size_t i = 0; i < count; i++) {
        char ip[PATH_MAX_LEN];
        join_index(ip, path, i);
        read_bot(c, node_at(c, v->data.sequence.items.start[i]), ip, kind);
    }
}

/* Reads the bot sections of bots.yaml in a fixed order: see BOTS_FILE_FIELDS. */
static void read_bot_sections(load_ctx *c, const map_result *r)
{
    yaml_node_t *n;
    if ((n = given(r, "momentum_bots", NULL)) != NULL)
        read_bot_list(c, n, "momentum_bots", HYDRA_BOT_MOMENTUM);
    if ((n = given(r, "optionsbot", NULL)) != NULL)
        read_bot(c, n, "optionsbot", HYDRA_BOT_OPTIONS);
    if ((n = given(r, "cryptobot", NULL)) != NULL)
        read_bot(c, n, "cryptobot", HYDRA_BOT_CRYPTO);
    if ((n = given(r, "bots", NULL)) != NULL)
        read_bot_list(c, n, "bots", HYDRA_BOT_GENERIC);
}

/* ---- files --------------------------------------------------------------- */

static void report_parser_error(load_ctx *c, const yaml_parser_t *p)
{
    c->errors++;
    const char *problem = p->problem != NULL ? p->problem : "malformed YAML";
    if (p->error == YAML_MEMORY_ERROR) {
        hydra_diag_add(c->diag, "%s: cannot read: out of memory", c->file);
    } else if (p->error == YAML_READER_ERROR) {
        hydra_diag_add(c->diag, "%s: YAML syntax error: %s at byte %zu", c->file, problem,
                       p->problem_offset);
    } else if (p->context != NULL) {
        hydra_diag_add(c->diag, "%s:%zu:%zu: YAML syntax error: %s (%s at line %zu)", c->file,
                       p->problem_mark.line + 1, p->problem_mark.column + 1, problem, p->context,
                       p->context_mark.line + 1);
    } else {
        hydra_diag_add(c->diag, "%s:%zu:%zu: YAML syntax error: %s", c->file,
                       p->problem_mark.line + 1, p->problem_mark.column + 1, problem);
    }
}

/*
 * Parses one YAML text (from f, or text[0..len) when f is NULL) and reads
 * its top level against tab into base. `name` is the file named in
 * messages. `after`, when set, runs while the document is still alive.
 * Problems are reported into c; the return value only says whether the
 * text could be parsed.
 */
static int load_yaml(load_ctx *c, const char *name, FILE *f, const char *text, size_t len,
                     const field *tab, void *base, void (*after)(load_ctx *, const map_result *))
{
    int rc = HYDRA_ECONFIG;
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    int have_doc = 0;

    c->file = name;
    if (!yaml_parser_initialize(&parser)) {
        c->errors++;
        hydra_diag_add(c->diag, "%s: cannot read: out of memory", name);
        return HYDRA_ENOMEM;
    }
    if (f != NULL)
        yaml_parser_set_input_file(&parser, f);
    else
        yaml_parser_set_input_string(&parser, (const unsigned char *)(text != NULL ? text : ""),
                                     text != NULL ? len : 0);
    if (!yaml_parser_load(&parser, &doc)) {
        report_parser_error(c, &parser);
        goto done;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root != NULL) {
        c->doc = &doc;
        map_result r;
        if (read_map(c, root, "", tab, base, &r) == 0 && after != NULL)
            after(c, &r);
        c->doc = NULL;
        /* A second document would be silently ignored; refuse it instead. */
        if (!yaml_parser_load(&parser, &extra)) {
            report_parser_error(c, &parser);
        } else {
            if (yaml_document_get_root_node(&extra) != NULL) {
                c->errors++;
                hydra_diag_add(c->diag, "%s:%zu:%zu: expected a single YAML document", name,
                               extra.start_mark.line + 1, extra.start_mark.column + 1);
            }
            yaml_document_delete(&extra);
        }
    }
    rc = 0;

done:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

/* Loads one file: a regular file that can be opened, then parsed as load_yaml does. */
static int load_file(load_ctx *c, const char *path, const field *tab, void *base,
                     void (*after)(load_ctx *, const map_result *))
{
    int rc;
    c->file = path;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        c->errors++;
        hydra_diag_add(c->diag, "%s: cannot read: %s", path, strerror(errno));
        return HYDRA_EIO;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        c->errors++;
        hydra_diag_add(c->diag, "%s: cannot read: not a regular file", path);
        rc = HYDRA_EIO;
    } else {
        rc = load_yaml(c, path, f, NULL, 0, tab, base, after);
    }
    fclose(f);
    return rc;
}

/* A loading context for one load into cfg (defaults first); NULL when out of memory. */
static load_ctx *begin_load(hydra_config *cfg, hydra_diag *diag)
{
    hydra_config_defaults(cfg);
    load_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->diag = diag;
    c->cfg = cfg;
    return c;
}

/* Ends a load: HYDRA_ECONFIG when anything was reported. */
static int end_load(load_ctx *c)
{
    int rc = c->errors != 0 ? HYDRA_ECONFIG : 0;
    free(c);
    return rc;
}

/*
 * A relative path in the configuration names a file relative to the
 * configuration's own directory, wherever hydra-host runs from: the same
 * files whatever the current directory (a service, a shell elsewhere).
 * "./" in front is dropped; absolute paths and ":memory:" stay as written.
 */
static int resolve_path(const char *dir, char *path, const char *file, const char *key,
                        hydra_diag *diag)
{
    if (path[0] == '\0' || path[0] == '/' || strcmp(path, ":memory:") == 0 || dir[0] == '\0')
        return 0;
    const char *rel = path;
    while (rel[0] == '.' && rel[1] == '/')
        rel += 2;
    size_t len = strlen(dir);
    const char *sep = dir[len - 1] == '/' ? "" : "/";
    char joined[2 * HYDRA_PATH_LEN];
    int n = snprintf(joined, sizeof joined, "%s%s%s", dir, sep, rel);
    if (n < 0 || (size_t)n >= HYDRA_PATH_LEN) {
        hydra_diag_add(diag,
                       "%s/%s: %s: \"%s\" relative to the configuration directory is longer "
                       "than %d characters",
                       dir, file, key, path, HYDRA_PATH_LEN - 1);
        return HYDRA_ECONFIG;
    }
    memcpy(path, joined, (size_t)n + 1);
    return 0;
}

static int resolve_paths(hydra_config *cfg, hydra_diag *diag)
{
    hydra_settings *s = &cfg->settings;
    const char *f = "settings.yaml";
    /*
     * Against the directory's absolute path, so the effective configuration
     * (check-config prints it) names the same files from any directory.
     */
    char d[HYDRA_PATH_LEN], cwd[HYDRA_PATH_LEN];
    if (cfg->dir[0] == '/' || cfg->dir[0] == '\0' || getcwd(cwd, sizeof cwd) == NULL)
        snprintf(d, sizeof d, "%s", cfg->dir);
    else if (snprintf(d, sizeof d, "%s/%s", cwd, cfg->dir) >= (int)sizeof d) {
        hydra_diag_add(diag, "%s: the configuration directory's absolute path is longer than %d "
                             "characters", cfg->dir, HYDRA_PATH_LEN - 1);
        return HYDRA_ECONFIG;
    }
    int rc = 0;
    rc |= resolve_path(d, s->log_path, f, "system.log_path", diag);
    rc |= resolve_path(d, s->state_db_path, f, "system.state_db_path", diag);
    rc |= resolve_path(d, s->kill_switch_path, f, "system.kill_switch_path", diag);
    rc |= resolve_path(d, s->sim.db_path, f, "sim.db_path", diag);
    rc |= resolve_path(d, s->workers.worker_path, f, "workers.worker_path", diag);
    for (int i = 0; i < s->sim.n_series; i++) {
        char key[64];
        snprintf(key, sizeof key, "sim.series[%d].file", i);
        rc |= resolve_path(d, s->sim.series[i].file, f, key, diag);
    }
    return rc != 0 ? HYDRA_ECONFIG : 0;
}

int hydra_config_load(const char *dir, hydra_config *cfg, hydra_diag *diag)
{
    if (dir == NULL || cfg == NULL || diag == NULL)
        return HYDRA_EINVAL;
    load_ctx *c = begin_load(cfg, diag);
    if (c == NULL)
        return HYDRA_ENOMEM;

    char path[HYDRA_PATH_LEN + 32];
    size_t len = strlen(dir);
    const char *sep = len > 0 && dir[len - 1] == '/' ? "" : "/";
    if (len >= HYDRA_PATH_LEN) {
        hydra_diag_add(diag, "%s: cannot read: directory path longer than %d characters", dir,
                       HYDRA_PATH_LEN - 1);
        free(c);
        return HYDRA_ECONFIG;
    }
    SET_STR(cfg->dir, dir);

    snprintf(path, sizeof path, "%s%ssettings.yaml", dir, sep);
    load_file(c, path, SETTINGS_FIELDS, &cfg->settings, NULL);
    snprintf(path, sizeof path, "%s%sbots.yaml", dir, sep);
    load_file(c, path, BOTS_FILE_FIELDS, cfg, read_bot_sections);
    int rc = end_load(c);
    return rc != 0 ? rc : resolve_paths(cfg, diag);
}

int hydra_config_load_text(const char *dir, const char *settings, size_t settings_len,
                           const char *bots, size_t bots_len, hydra_config *cfg, hydra_diag *diag)
{
    if (dir == NULL || cfg == NULL || diag == NULL)
        return HYDRA_EINVAL;
    load_ctx *c = begin_load(cfg, diag);
    if (c == NULL)
        return HYDRA_ENOMEM;

    char name[HYDRA_PATH_LEN + 32];
    size_t len = strlen(dir);
    const char *sep = len > 0 && dir[len - 1] == '/' ? "" : "/";
    if (len >= HYDRA_PATH_LEN) {
        hydra_diag_add(diag, "%s: directory path longer than %d characters", dir,
                       HYDRA_PATH_LEN - 1);
        free(c);
        return HYDRA_ECONFIG;
    }
    SET_STR(cfg->dir, dir);

    snprintf(name, sizeof name, "%s%ssettings.yaml", dir, sep);
    load_yaml(c, name, NULL, settings, settings_len, SETTINGS_FIELDS, &cfg->settings, NULL);
    snprintf(name, sizeof name, "%s%sbots.yaml", dir, sep);
    load_yaml(c, name, NULL, bots, bots_len, BOTS_FILE_FIELDS, cfg, read_bot_sections);
    int rc = end_load(c);
    return rc != 0 ? rc : resolve_paths(cfg, diag);
}

/* ---- lookups ------------------------------------------------------------- */

const hydra_bot_cfg *hydra_config_find_bot(const hydra_config *cfg, const char *bot_id)
{
    for (int i = 0; i < cfg->n_bots; i++)
        if (strcmp(cfg->bots[i].bot_id, bot_id) == 0)
            return &cfg->bots[i];
    return NULL;
}

const hydra_param *hydra_bot_param(const hydra_bot_cfg *bot, const char *key)
{
    for (int i = 0; i < bot->n_params; i++)
        if (strcmp(bot->params[i].key, key) == 0)
            return &bot->params[i];
    return NULL;
}

/* ---- printing ------------------------------------------------------------ */

/* A YAML double-quoted scalar: loads back as exactly s, whatever it holds. */
static void put_quoted(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\x%02x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* The shortest of %.15g and %.17g that reads back as the same double. */
static void put_num(FILE *out, double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof buf, "%.17g", v);
    fputs(buf, out);
}

static void kv_str(FILE *out, const char *ind, const char *key, const char *value)
{
    fprintf(out, "%s%s: ", ind, key);
    put_quoted(out, value);
    fputc('\n', out);
}

static void kv_num(FILE *out, const char *ind, const char *key, double value)
{
    fprintf(out, "%s%s: ", ind, key);
    put_num(out, value);
    fputc('\n', out);
}

static void kv_int(FILE *out, const char *ind, const char *key, long long value)
{
    fprintf(out, "%s%s: %lld\n", ind, key, value);
}

static void kv_bool(FILE *out, const char *ind, const char *key, int value)
{
    fprintf(out, "%s%s: %s\n", ind, key, value ? "true" : "false");
}

static void kv_hhmm(FILE *out, const char *ind, const char *key, int minutes)
{
    char buf[8];
    fmt_hhmm(buf, sizeof buf, minutes);
    kv_str(out, ind, key, buf);
}

static void put_symbols(FILE *out, const char *ind, const char *key, const hydra_bot_cfg *b)
{
    fprintf(out, "%s%s: [", ind, key);
    for (int i = 0; i < b->n_symbols; i++) {
        if (i > 0)
            fputs(", ", out);
        put_quoted(out, b->symbols[i]);
    }
    fputs("]\n", out);
}

/* Parameter names are printed bare when YAML would read them back unchanged. */
static void put_key(FILE *out, const char *key)
{
    int bare = isalpha((unsigned char)key[0]) || key[0] == '_';
    for (const char *p = key; bare && *p != '\0'; p++)
        bare = isalnum((unsigned char)*p) || *p == '_' || *p == '-';
    if (bare && strcmp(key, "true") != 0 && strcmp(key, "false") != 0)
        fputs(key, out);
    else
        put_quoted(out, key);
}

typedef enum print_style { AS_MOMENTUM, AS_OPTIONS, AS_CRYPTO, AS_GENERIC } print_style;

/* One bot. `first` prefixes the first line ("  - " in a list), `ind` the others. */
static void print_bot(FILE *out, const hydra_bot_cfg *b, print_style style, const char *first,
                      const char *ind)
{
    char sub[32];
    snprintf(sub, sizeof sub, "%s  ", ind);
    kv_str(out, first, "bot_id", b->bot_id);
    kv_bool(out, ind, "enabled", b->enabled);
    kv_str(out, ind, "plugin", b->plugin);
    kv_int(out, ind, "rank", b->rank);
    kv_str(out, ind, "isolation", choice_name(C_ISOLATION, b->isolation_process));
    if (!b->isolation_process)
        fprintf(out, "%s# inprocess: no sandbox; trust this bot as much as hydra-host itself\n",
                ind);
    kv_str(out, ind, "bar_timeframe", choice_name(C_TIMEFRAME, b->bar_timeframe));
    switch (style) {
    case AS_MOMENTUM:
        kv_str(out, ind, "ticker", b->n_symbols > 0 ? b->symbols[0] : "");
        break;
    case AS_OPTIONS:
        put_symbols(out, ind, "tickers", b);
        break;
    case AS_CRYPTO:
        put_symbols(out, ind, "pairs", b);
        break;
    case AS_GENERIC:
        kv_str(out, ind, "bucket", choice_name(C_BUCKET, (int)b->bucket));
        kv_str(out, ind, "asset_class", choice_name(C_ASSET, (int)b->asset_class));
        put_symbols(out, ind, "symbols", b);
        break;
    }
    fprintf(out, "%ssession:\n", ind);
    kv_hhmm(out, sub, "trade_start", b->trade_start_min);
    kv_hhmm(out, sub, "trade_end", b->trade_end_min);
    kv_hhmm(out, sub, "manage_until", b->manage_until_min);
    fprintf(out, "%srisk:\n", ind);
    kv_int(out, sub, "max_trades_per_day", b->max_trades_per_day);
    kv_int(out, sub, "max_concurrent_positions", b->max_concurrent_positions);
    fprintf(out, "%sexits:\n", ind);
    kv_num(out, sub, "stop_loss_pct", b->stop_loss_pct);
    kv_num(out, sub, "take_profit_pct", b->take_profit_pct);
    kv_int(out, sub, "time_stop_minutes", b->time_stop_minutes);
    kv_int(out, sub, "flatten_before_close_minutes", b->flatten_before_close_minutes);
    fprintf(out, "%sexecution:\n", ind);
    kv_str(out, sub, "order_type", choice_name(C_ORDER_TYPE, b->order_type));
    kv_str(out, sub, "tif", choice_name(C_TIF, b->tif));
    kv_bool(out, sub, "use_notional", b->use_notional);
    kv_num(out, sub, "default_notional_usd", b->default_notional_usd);
    fprintf(out, "%ssignal:\n", ind);
    kv_str(out, sub, "mode", b->signal_mode);
    fprintf(out, "%sparams:%s\n", sub, b->n_params == 0 ? " {}" : "");
    for (int i = 0; i < b->n_params; i++) {
        const hydra_param *p = &b->params[i];
        fprintf(out, "%s  ", sub);
        put_key(out, p->key);
        fputs(": ", out);
        /* The text is kept, so numbers print as written; strings stay quoted strings. */
        if (p->type == HYDRA_PARAM_STRING)
            put_quoted(out, p->s);
        else
            fputs(p->s, out);
        fputc('\n', out);
    }
    if (style == AS_OPTIONS || style == AS_GENERIC) {
        fprintf(out, "%schain_rules:\n", ind);
        kv_int(out, sub, "dte_min", b->dte_min);
        kv_int(out, sub, "dte_max", b->dte_max);
        kv_num(out, sub, "delta_min", b->delta_min);
        kv_num(out, sub, "delta_max", b->delta_max);
    }
}

static void print_settings(const hydra_settings *s, FILE *out)
{
    fputs("system:\n", out);
    kv_str(out, "  ", "timezone", s->timezone);
    kv_str(out, "  ", "log_path", s->log_path);
    kv_str(out, "  ", "state_db_path", s->state_db_path);
    kv_str(out, "  ", "kill_switch_path", s->kill_switch_path);
    kv_int(out, "  ", "log_keep_files", s->log_keep_files);
    fputs("runner:\n", out);
    kv_int(out, "  ", "loop_interval_seconds", s->loop_interval_seconds);
    fputs("safety:\n", out);
    kv_bool(out, "  ", "fail_closed", s->fail_closed);
    kv_bool(out, "  ", "allow_budget_fallback", s->allow_budget_fallback);
    kv_int(out, "  ", "global_cooldown_minutes", s->global_cooldown_minutes);
    kv_bool(out, "  ", "allow_live", s->allow_live);
    kv_int(out, "  ", "state_quick_check_every_ticks", s->state_quick_check_every_ticks);
    fputs("risk:\n", out);
    kv_num(out, "  ", "global_max_daily_loss_pct", s->global_max_daily_loss_pct);
    kv_int(out, "  ", "max_orders_per_minute", s->max_orders_per_minute);
    kv_num(out, "  ", "max_notional_per_order", s->max_notional_per_order);
    kv_num(out, "  ", "max_limit_distance_pct", s->max_limit_distance_pct);
    kv_num(out, "  ", "max_equity_jump_pct", s->max_equity_jump_pct);
    fputs("health:\n", out);
    kv_int(out, "  ", "max_price_staleness_seconds", s->max_price_staleness_seconds);
    kv_int(out, "  ", "max_api_failures_in_window", s->max_api_failures_in_window);
    kv_int(out, "  ", "api_failure_window_seconds", s->api_failure_window_seconds);
    kv_str(out, "", "broker", s->broker);

    const hydra_sim_cfg *sim = &s->sim;
    fputs("sim:\n", out);
    kv_str(out, "  ", "db_path", sim->db_path);
    kv_str(out, "  ", "start", sim->start);
    kv_int(out, "  ", "bar_seconds", sim->bar_seconds);
    kv_int(out, "  ", "bars_per_tick", sim->bars_per_tick);
    kv_int(out, "  ", "tick_interval_ms", sim->tick_interval_ms);
    kv_num(out, "  ", "initial_cash", sim->initial_cash);
    kv_num(out, "  ", "slippage_bps", sim->slippage_bps);
    kv_num(out, "  ", "fee_per_share", sim->fee_per_share);
    kv_num(out, "  ", "crypto_fee_bps", sim->crypto_fee_bps);
    kv_num(out, "  ", "option_iv", sim->option_iv);
    kv_num(out, "  ", "option_rate", sim->option_rate);
    kv_num(out, "  ", "option_spread_pct", sim->option_spread_pct);
    kv_str(out, "  ", "session_open", sim->session_open);
    kv_str(out, "  ", "session_close", sim->session_close);
    fprintf(out, "  series:%s\n", sim->n_series == 0 ? " []" : "");
    for (int i = 0; i < sim->n_series; i++) {
        const hydra_sim_series_cfg *se = &sim->series[i];
        kv_str(out, "    - ", "symbol", se->symbol);
        if (!se->generated)
            kv_str(out, "      ", "file", se->file);
        if (se->timezone[0] != '\0')
            kv_str(out, "      ", "timezone", se->timezone);
        if (se->generated) {
            kv_bool(out, "      ", "generated", 1);
            fprintf(out, "      seed: %llu\n", se->seed);
            kv_num(out, "      ", "start_price", se->start_price);
            kv_num(out, "      ", "drift_pct_per_day", se->drift_pct_per_day);
            kv_num(out, "      ", "vol_pct_per_day", se->vol_pct_per_day);
        }
    }

    const hydra_alpaca_cfg *a = &s->alpaca;
    fputs("alpaca:\n", out);
    kv_str(out, "  ", "trading_url", a->trading_url);
    kv_str(out, "  ", "data_url", a->data_url);
    kv_str(out, "  ", "stock_feed", a->stock_feed);
    kv_int(out, "  ", "connect_timeout_ms", a->connect_timeout_ms);
    kv_int(out, "  ", "timeout_ms", a->timeout_ms);
    kv_int(out, "  ", "max_response_bytes", a->max_response_bytes);
    kv_bool(out, "  ", "use_broker_clock", a->use_broker_clock);
    kv_str(out, "  ", "foreign_positions",
           a->foreign_positions == HYDRA_FOREIGN_IGNORE ? "ignore" : "refuse");

    const hydra_workers_cfg *w = &s->workers;
    fputs("workers:\n", out);
    kv_str(out, "  ", "worker_path", w->worker_path);
    kv_int(out, "  ", "call_deadline_ms", w->call_deadline_ms);
    kv_int(out, "  ", "start_deadline_ms", w->start_deadline_ms);
    kv_int(out, "  ", "address_space_mb", w->address_space_mb);
    kv_int(out, "  ", "cpu_seconds", w->cpu_seconds);
    kv_int(out, "  ", "max_open_files", w->max_open_files);
    kv_int(out, "  ", "restarts_per_day", w->restarts_per_day);
    kv_int(out, "  ", "restart_backoff_ms", w->restart_backoff_ms);
    kv_str(out, "  ", "user", w->user);
    kv_bool(out, "  ", "unsafe_allow_missing_namespaces", w->unsafe_allow_missing_namespaces);
    kv_bool(out, "  ", "unsafe_allow_missing_landlock", w->unsafe_allow_missing_landlock);
    kv_int(out, "  ", "deadline_misses_to_quarantine", w->deadline_misses_to_quarantine);
    kv_int(out, "  ", "deadline_window_ticks", w->deadline_window_ticks);

    const hydra_quotas_cfg *q = &s->quotas;
    fputs("quotas:\n", out);
    kv_int(out, "  ", "log_lines_per_tick", q->log_lines_per_tick);
    kv_int(out, "  ", "log_bytes_per_tick", q->log_bytes_per_tick);
    kv_int(out, "  ", "log_throttled_ticks_to_quarantine", q->log_throttled_ticks_to_quarantine);
    kv_int(out, "  ", "log_throttle_window_ticks", q->log_throttle_window_ticks);
    kv_int(out, "  ", "state_max_keys", q->state_max_keys);
    kv_int(out, "  ", "state_max_bytes", q->state_max_bytes);
    const hydra_http_cfg *h = &s->http;
    fputs("http:\n", out);
    kv_bool(out, "  ", "enabled", h->enabled);
    kv_str(out, "  ", "bind", h->bind);
    kv_int(out, "  ", "port", h->port);
    kv_bool(out, "  ", "allow_remote", h->allow_remote);
    const hydra_notify_cfg *nc = &s->notify;
    static const char *const formats[] = {"webhook", "slack", "telegram"};
    fputs("notify:\n", out);
    kv_bool(out, "  ", "enabled", nc->enabled);
    kv_str(out, "  ", "format", formats[nc->format >= 0 && nc->format <= 2 ? nc->format : 0]);
    kv_str(out, "  ", "url", nc->url);
    kv_int(out, "  ", "queue", nc->queue);
    kv_int(out, "  ", "timeout_ms", nc->timeout_ms);
    kv_bool(out, "  ", "fills", nc->fills);
    kv_bool(out, "  ", "daily_summary", nc->daily_summary);
    fputs("logging:\n", out);
    fprintf(out, "  max_bytes: %ld\n", s->logging.max_bytes);
    kv_int(out, "  ", "keep", s->logging.keep);
    for (const choice *c = C_LOG_LEVEL; c->name != NULL; c++)
        if (c->value == s->logging.level)
            kv_str(out, "  ", "level", c->name);
    fputs("state:\n", out);
    kv_int(out, "  ", "retention_days", s->state.retention_days);
}

int hydra_settings_log_keep(const hydra_settings *s)
{
    return s->logging.keep > 0 ? s->logging.keep : s->log_keep_files;
}

static void print_bots(const hydra_config *cfg, FILE *out)
{
    const hydra_exitbot_cfg *e = &cfg->exitbot;
    fputs("exitbot:\n", out);
    kv_bool(out, "  ", "enabled", e->enabled);
    kv_int(out, "  ", "cooloff_minutes", e->cooloff_minutes);
    fputs("  kill_conditions:\n", out);
    kv_bool(out, "    ", "api_failure_halt", e->api_failure_halt);
    kv_bool(out, "    ", "data_stale_halt", e->data_stale_halt);
    kv_bool(out, "    ", "max_daily_loss_halt", e->max_daily_loss_halt);
    kv_bool(out, "    ", "anomaly_halt", e->anomaly_halt);

    const hydra_portfolio_cfg *p = &cfg->portfolio;
    fputs("portfoliobot:\n", out);
    kv_bool(out, "  ", "enabled", p->enabled);
    kv_num(out, "  ", "cash_reserve_pct", p->cash_reserve_pct);
    fputs("  buckets:\n", out);
    kv_num(out, "    ", "momentum_bucket_pct_of_daily_risk", p->bucket_pct[HYDRA_BUCKET_MOMENTUM]);
    kv_num(out, "    ", "options_bucket_pct_of_daily_risk", p->bucket_pct[HYDRA_BUCKET_OPTIONS]);
    kv_num(out, "    ", "crypto_bucket_pct_of_daily_risk", p->bucket_pct[HYDRA_BUCKET_CRYPTO]);
    fputs("  guardrails:\n", out);
    kv_num(out, "    ", "per_bot_min_pct_of_daily_risk", p->per_bot_min_pct);
    kv_num(out, "    ", "per_bot_max_pct_of_daily_risk", p->per_bot_max_pct);

    /*
     * optionsbot and cryptobot hold one bot each. A configuration built in
     * code may hold more; the extra ones are printed under bots: with their
     * bucket and asset class, which is how a file would declare them.
     */
    const hydra_bot_cfg *opt = NULL, *cry = NULL;
    int n_mom = 0, n_generic = 0;
    for (int i = 0; i < cfg->n_bots; i++) {
        const hydra_bot_cfg *b = &cfg->bots[i];
        if (b->kind == HYDRA_BOT_MOMENTUM)
            n_mom++;
        else if (b->kind == HYDRA_BOT_OPTIONS && opt == NULL)
            opt = b;
        else if (b->kind == HYDRA_BOT_CRYPTO && cry == NULL)
            cry = b;
        else
            n_generic++;
    }
    fprintf(out, "momentum_bots:%s\n", n_mom == 0 ? " []" : "");
    for (int i = 0; i < cfg->n_bots; i++)
        if (cfg->bots[i].kind == HYDRA_BOT_MOMENTUM)
            print_bot(out, &cfg->bots[i], AS_MOMENTUM, "  - ", "    ");
    if (opt != NULL) {
        fputs("optionsbot:\n", out);
        print_bot(out, opt, AS_OPTIONS, "  ", "  ");
    }
    if (cry != NULL) {
        fputs("cryptobot:\n", out);
        print_bot(out, cry, AS_CRYPTO, "  ", "  ");
    }
    fprintf(out, "bots:%s\n", n_generic == 0 ? " []" : "");
    for (int i = 0; i < cfg->n_bots; i++) {
        const hydra_bot_cfg *b = &cfg->bots[i];
        if (b->kind != HYDRA_BOT_MOMENTUM && b != opt && b != cry)
            print_bot(out, b, AS_GENERIC, "  - ", "    ");
    }
}

void hydra_config_print(const hydra_config *cfg, FILE *out)
{
    fputs("# Effective configuration: settings.yaml, then bots.yaml after the \"---\" line.\n",
          out);
    fprintf(out, "# Loaded from ");
    put_quoted(out, cfg->dir);
    fputs(".\n", out);
    print_settings(&cfg->settings, out);
    fputs("---\n", out);
    print_bots(cfg, out);
}

int hydra_config_load_msg(const char *dir, hydra_config *cfg, char *err, size_t errsz)
{
    hydra_diag diag;
    hydra_diag_init(&diag);
    int rc = hydra_config_load(dir, cfg, &diag);
    size_t off = 0;
    if (errsz > 0)
        err[0] = '\0';
    for (size_t i = 0; rc != 0 && i < diag.n && off + 1 < errsz; i++)
        off += (size_t)snprintf(err + off, errsz - off, "%s%s", i ? "\n" : "", diag.lines[i]);
    hydra_diag_free(&diag);
    return rc;
}
