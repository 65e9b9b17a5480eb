/*
 * Hydra plugin ABI, version 1.
 *
 * A bot is a shared object that exports exactly one symbol,
 * `hydra_plugin_entry`, a const struct hydra_plugin whose first field is the
 * ABI version the bot was built against. The host reads and checks that
 * version before it calls any plugin code: the same major version is
 * compatible, a different major is refused.
 *
 * Rules that keep old bots working with newer hosts (and the reverse):
 *   - Every struct that crosses the boundary starts with `struct_size`. The
 *     reader reads only the fields the size covers; a field beyond it has
 *     its documented default (0 / NULL).
 *   - Minor versions only append fields to the end of sized structs and
 *     functions to the end of hydra_host_api. Call a function added after
 *     1.0 only when HYDRA_HAS(api, fn) is true.
 *   - Arrays in the snapshot are arrays of pointers, so each element carries
 *     its own struct_size.
 *
 * Threads: the host calls every plugin function from one thread at a time
 * ([host-thread]). A bot instance is never called concurrently with itself.
 * Different instances of the same plugin may run in different processes.
 *
 * Bots never touch the broker. A bot reads a snapshot and writes intents into
 * a host-owned buffer; the host gates, journals and sends orders.
 */
#ifndef HYDRA_PLUGIN_H
#define HYDRA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HYDRA_ABI_MAJOR 1u
#define HYDRA_ABI_MINOR 0u
#define HYDRA_ABI_PATCH 0u

/* The name of the one symbol a plugin exports. */
#define HYDRA_PLUGIN_ENTRY_SYMBOL "hydra_plugin_entry"

typedef struct hydra_abi_version {
    uint32_t major;
    uint32_t minor;
    uint32_t patch;
} hydra_abi_version;

#define HYDRA_ABI_VERSION_INIT {HYDRA_ABI_MAJOR, HYDRA_ABI_MINOR, HYDRA_ABI_PATCH}

/* Same major version: compatible. Minor versions only append. */
static inline int hydra_version_is_compatible(hydra_abi_version host, hydra_abi_version plugin)
{
    return host.major == plugin.major;
}

/*
 * True when the sized struct `s` is large enough to hold `field`. Use before
 * reading any field marked "since 1.N" with N > 0 (a host or bot built
 * against an older minor sends a smaller struct).
 */
#define HYDRA_COVERS(s, field)                                                                     \
    ((s) != NULL && (s)->struct_size >= offsetof(__typeof__(*(s)), field) + sizeof((s)->field))

/*
 * True when the sized struct `s` covers the pointer `field` and the slot is
 * not NULL. Use before calling any host API function marked "since 1.N"
 * with N > 0.
 */
#define HYDRA_HAS(s, field) (HYDRA_COVERS(s, field) && (s)->field != NULL)

/* Return codes of plugin callbacks. Anything negative quarantines the bot. */
enum hydra_status {
    HYDRA_BOT_OK = 0,
    HYDRA_BOT_ERROR = -1,      /* generic failure; the host logs and quarantines */
    HYDRA_BOT_BAD_CONFIG = -2  /* create: the bot's params are missing or invalid */
};

/* ------------------------------------------------------------------------ */
/* What the host shows a bot: the snapshot                                    */
/* ------------------------------------------------------------------------ */

/* One symbol the bot declared, with its latest price and recent bars. */
typedef struct hydra_symbol_view {
    uint32_t struct_size;
    uint32_t asset_class;    /* enum hydra_asset_class */
    const char *symbol;      /* "AAPL", "BTC/USD" */
    double last_price;       /* > 0 and finite when the host has a price */
    int64_t last_time_ms;    /* time of last_price, UTC ms */
    const hydra_bar *bars;   /* completed bars, oldest first; may be NULL when n_bars is 0 */
    uint32_t n_bars;
} hydra_symbol_view;

/* One open position attributed to this bot by the host's order journal. */
typedef struct hydra_position_view {
    uint32_t struct_size;
    uint32_t asset_class;
    const char *symbol;
    double qty;              /* > 0 long; v1 bots do not short */
    double avg_entry_price;
    double current_price;
    double unrealized_pl;
    int64_t opened_ms;       /* time of the first fill, UTC ms */
} hydra_position_view;

/*
 * One option contract, already filtered by the bot's chain_rules (DTE, delta):
 * in the snapshot, or from the hydra.options-chain/1 extension.
 */
typedef struct hydra_option_view {
    uint32_t struct_size;
    uint32_t is_call;        /* 1 call, 0 put */
    const char *symbol;      /* OCC symbol, e.g. "SPY260116C00480000" */
    const char *underlying;  /* "SPY" */
    double strike;
    int32_t expiry_yyyymmdd; /* 20260116 */
    int32_t dte;             /* calendar days to expiry in the market time zone */
    double bid;
    double ask;
    double iv;               /* implied volatility, annualised fraction */
    double delta;            /* -1 .. 1 */
    uint32_t multiplier;     /* shares per contract, usually 100 */
} hydra_option_view;

/* The bot's risk budget for today, written by the host's PortfolioBot. */
typedef struct hydra_budget_view {
    uint32_t struct_size;
    double max_daily_loss;        /* dollars */
    double max_open_risk;         /* dollars at risk across open positions */
    double open_risk_used;        /* dollars at risk now */
    double realized_pnl_today;    /* dollars, negative for a loss */
    uint32_t trades_left_today;
    uint32_t positions_open;
    uint32_t max_concurrent_positions;
    double stop_loss_pct;         /* the bot's host-enforced stop, percent; 0 = none */
} hydra_budget_view;

/*
 * Everything a bot may know on one call. Read-only. Valid during the call
 * only: copy what you want to keep. All pointers are non-NULL when their
 * count is non-zero.
 */
typedef struct hydra_snapshot {
    uint32_t struct_size;
    uint32_t _reserved;
    uint64_t tick;                 /* tick number since host start, 1-based */
    int64_t now_ms;                /* engine clock, UTC ms (data time in sim and backtest) */
    int32_t local_date;            /* market-zone date, yyyymmdd */
    int32_t local_minute;          /* market-zone minute of day, 0..1439 */
    const hydra_symbol_view *const *symbols;
    uint32_t n_symbols;
    const hydra_position_view *const *positions;
    uint32_t n_positions;
    const hydra_option_view *const *options; /* empty for a bot that took hydra.options-chain/1 */
    uint32_t n_options;
    const hydra_budget_view *budget; /* never NULL */
} hydra_snapshot;

/* ------------------------------------------------------------------------ */
/* What a bot asks for: intents                                               */
/* ------------------------------------------------------------------------ */

enum hydra_intent_kind {
    HYDRA_INTENT_ENTRY = 1, /* open or add to a position (on_tick only) */
    HYDRA_INTENT_EXIT = 2   /* reduce or close a position (manage or on_tick) */
};

/*
 * A request for an order. The host checks it against every gate, sizes it
 * down to the budget if needed, journals it and only then sends it.
 * Exactly one of qty and notional is > 0.
 */
typedef struct hydra_intent {
    uint32_t struct_size;
    uint32_t kind;          /* enum hydra_intent_kind */
    uint32_t side;          /* enum hydra_side */
    uint32_t type;          /* enum hydra_order_type */
    uint32_t tif;           /* enum hydra_tif; 0 = the bot's configured default */
    uint32_t asset_class;   /* enum hydra_asset_class */
    char symbol[48];        /* NUL-terminated; must be a declared symbol or an option from the snapshot */
    double qty;             /* shares, coins or contracts */
    double notional;        /* dollars (crypto and fractional equity) */
    double limit_price;     /* required for HYDRA_ORDER_LIMIT */
    char reason[96];        /* short human reason; logged with the decision */
} hydra_intent;

/*
 * A host-owned intent buffer. Items are item_size bytes apart (the host's
 * sizeof(hydra_intent), which may be larger than the plugin's). A bot adds
 * intents with hydra_intent_push(), which never writes past capacity.
 */
typedef struct hydra_intent_buf {
    uint32_t struct_size;
    uint32_t item_size;
    uint32_t capacity;
    uint32_t count;
    void *items;
} hydra_intent_buf;

/* Appends a copy of *in. Returns 0, or -1 when the buffer is full or an argument is NULL. */
static inline int hydra_intent_push(hydra_intent_buf *buf, const hydra_intent *in)
{
    unsigned char *slot;
    size_t n;
    uint32_t written;
    if (buf == NULL || in == NULL || buf->items == NULL || buf->count >= buf->capacity ||
        buf->item_size < sizeof(uint32_t))
        return -1;
    slot = (unsigned char *)buf->items + (size_t)buf->count * buf->item_size;
    n = sizeof(*in) < buf->item_size ? sizeof(*in) : buf->item_size;
    memset(slot, 0, buf->item_size);
    memcpy(slot, in, n);
    written = (uint32_t)n;
    memcpy(slot, &written, sizeof written); /* struct_size = bytes the plugin knew */
    buf->count++;
    return 0;
}

/* A fill of one of this bot's orders. Valid during the on_fill call only. */
typedef struct hydra_fill {
    uint32_t struct_size;
    uint32_t side;
    const char *symbol;
    const char *client_order_id;
    double qty;
    double price;
    int64_t t_ms;
} hydra_fill;

/* ------------------------------------------------------------------------ */
/* What the host offers a bot: the host API                                   */
/* ------------------------------------------------------------------------ */

/* The host's handle for one bot instance. Opaque; valid from create to destroy. */
typedef struct hydra_host hydra_host;

enum hydra_param_status {
    HYDRA_PARAM_OK = 0,
    HYDRA_PARAM_MISSING = -1, /* no such key under signal.params */
    HYDRA_PARAM_TYPE = -2,    /* present but not convertible to the asked type */
    HYDRA_PARAM_SPACE = -3,   /* string longer than the caller's buffer */
    /*
     * state_set only: the bot's state quota (settings.yaml quotas.state_max_keys,
     * quotas.state_max_bytes) would be exceeded; nothing was stored. Free
     * space by overwriting keys with shorter values. Older hosts do not
     * return it.
     */
    HYDRA_STATE_QUOTA = -4
};

/*
 * Functions the host provides. All [host-thread]: call them only from inside
 * a callback (create, manage, on_tick, on_fill, destroy), on the thread that
 * made the call. String arguments are copied before the function returns.
 */
typedef struct hydra_host_api {
    uint32_t struct_size;
    hydra_abi_version abi; /* the host's ABI version */

    /*
     * Writes one line to the host's JSONL log with the bot's id and tick:
     * event "bot_log", the bot's event name in field "bot_event", the text
     * in "message". At most the host's quota of lines and bytes per tick
     * are kept (settings.yaml quotas.log_*); the rest are dropped and
     * counted, and a bot that keeps flooding is quarantined.
     */
    void (*log)(hydra_host *host, int level, const char *event, const char *message);

    /*
     * Bot-scoped persistent key-value state (SQLite in the host). Survives
     * restarts and hot swaps. Keys up to 128 bytes, values up to 4096 bytes,
     * and per bot at most the host's quota of keys and bytes (key + value).
     * state_get copies a NUL-terminated value into buf and returns 0,
     * HYDRA_PARAM_MISSING if unset, HYDRA_PARAM_SPACE if bufsz is too small.
     * state_set returns 0 or negative on failure (the value was not stored):
     * HYDRA_PARAM_SPACE for a key or value over its limit, HYDRA_STATE_QUOTA
     * when the write would pass the bot's quota.
     */
    int (*state_get)(hydra_host *host, const char *key, char *buf, size_t bufsz);
    int (*state_set)(hydra_host *host, const char *key, const char *value);

    /* Typed access to the bot's `signal.params` map in bots.yaml. */
    int (*param_double)(hydra_host *host, const char *key, double *out);
    int (*param_int)(hydra_host *host, const char *key, int64_t *out);
    int (*param_bool)(hydra_host *host, const char *key, int *out);
    int (*param_string)(hydra_host *host, const char *key, char *buf, size_t bufsz);

    /*
     * Optional host capabilities by versioned id, e.g. HYDRA_EXT_OPTIONS_CHAIN.
     * Returns NULL when the host does not offer it. The returned table
     * lives as long as the bot instance.
     */
    const void *(*get_extension)(hydra_host *host, const char *id);
} hydra_host_api;

/* ------------------------------------------------------------------------ */
/* Extensions                                                                 */
/* ------------------------------------------------------------------------ */

/*
 * "hydra.options-chain/1": option contracts on request.
 *
 * Pricing a chain (every admitted contract with its greeks) costs far more
 * than the rest of a tick, and a bot needs it only when its signal fires.
 * A bot that takes this extension during create is therefore no longer
 * given the chain in its snapshots (n_options stays 0): it asks for the
 * contracts of one underlying when it wants to buy. A host that does not
 * offer the extension returns NULL, and the bot reads snap->options as a
 * 1.0 bot does; write bots that work both ways.
 */
#define HYDRA_EXT_OPTIONS_CHAIN "hydra.options-chain/1"

/* Which contracts a chain request wants (flags). */
enum hydra_chain_rights {
    HYDRA_CHAIN_CALLS = 1,
    HYDRA_CHAIN_PUTS = 2
};

typedef struct hydra_ext_options_chain {
    uint32_t struct_size;
    /*
     * The contracts on `underlying` (one of the bot's declared symbols) of
     * the kinds in `rights` that the bot's chain_rules admit at the
     * snapshot's time, priced now: exactly the contracts the snapshot would
     * have carried. Writes up to `cap` pointers into out, in the exchange's
     * order, and returns how many contracts are admitted (more than cap
     * means the list was cut at cap). Returns negative when the chain
     * cannot be read now; the host has logged why, and the bot must not
     * buy on a chain it could not see. Callable from manage and on_tick.
     * The views stay valid until the next chain call or the end of the
     * callback, whichever comes first.
     */
    int (*chain)(hydra_host *host, const char *underlying, uint32_t rights,
                 const hydra_option_view **out, uint32_t cap);
} hydra_ext_options_chain;

/* The bot's static configuration. Valid during create only: copy what you keep. */
typedef struct hydra_bot_config {
    uint32_t struct_size;
    uint32_t asset_classes;        /* what this instance trades */
    const char *bot_id;            /* "mom_AAPL" */
    const char *signal_mode;       /* "roc_trend_v1", "placeholder_momentum_v1", ... */
    const char *const *symbols;    /* declared symbols (ticker, tickers or pairs) */
    uint32_t n_symbols;
    uint32_t default_tif;          /* enum hydra_tif from the bot's execution settings */
    uint32_t default_order_type;   /* enum hydra_order_type */
    uint32_t use_notional;         /* 1: size entries in dollars */
    double default_notional_usd;   /* from execution.default_notional_usd; 0 if unset */
} hydra_bot_config;

/* ------------------------------------------------------------------------ */
/* What a plugin exports: the entry                                           */
/* ------------------------------------------------------------------------ */

/* Opaque per-instance state, defined by the plugin. */
typedef struct hydra_bot hydra_bot;

typedef struct hydra_plugin {
    hydra_abi_version abi;  /* MUST be first: HYDRA_ABI_VERSION_INIT */
    uint32_t struct_size;   /* sizeof(hydra_plugin) as the plugin saw it */

    const char *name;        /* short id, e.g. "momentum" */
    const char *version;     /* the bot's own version, e.g. "1.0.0" */
    const char *description; /* one line */
    uint32_t asset_classes;  /* enum hydra_asset_class flags the plugin can trade */

    /*
     * Required. Builds one bot instance. On success stores it in *out and
     * returns 0. On failure returns negative and leaves *out NULL; a message
     * may be logged through api->log. api and host stay valid until destroy.
     */
    int (*create)(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                  hydra_bot **out);

    /* Required. Frees the instance. Never fails. */
    void (*destroy)(hydra_bot *bot);

    /*
     * Required. Called every tick for every loaded bot, whatever its gates.
     * May push HYDRA_INTENT_EXIT intents only. Returns 0 or negative.
     */
    int (*manage)(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out);

    /*
     * Required. Called only when the bot's preflight passes. May push entry
     * and exit intents. Returns 0 or negative.
     */
    int (*on_tick)(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out);

    /* Optional (may be NULL). Told about each fill of this bot's orders. */
    void (*on_fill)(hydra_bot *bot, const hydra_fill *fill);
} hydra_plugin;

/*
 * Declare the entry in a plugin like this:
 *
 *   HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
 *       .abi = HYDRA_ABI_VERSION_INIT, .struct_size = sizeof(hydra_plugin), ...
 *   };
 */
#if defined(__GNUC__)
#define HYDRA_EXPORT __attribute__((visibility("default")))
#else
#define HYDRA_EXPORT
#endif

#ifdef __cplusplus
}
#endif

#endif
