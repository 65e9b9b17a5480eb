/*
 * CryptoBot: crypto pairs (the bot's `pairs`), long only, sized in dollars.
 *
 * signal.mode selects the strategy:
 *
 *   placeholder_crypto_momo_v1
 *     The seed's placeholder, kept by name: no signal and never an intent.
 *     Every on_tick logs one "placeholder" line naming the pairs.
 *
 *   crypto_roc_v1 (the reference signal)
 *     Params under signal.params (defaults in brackets):
 *       roc_bars       [15]   integer 1..1000: ROC lookback in bars
 *       entry_roc_pct  [0.30] number 0..100: entry threshold, percent
 *     Sizing comes from the bot's execution settings: default_notional_usd
 *     (required, > 0), use_notional, order_type and tif.
 *     For each pair, in the configured order, with
 *       ROC = (close / close[roc_bars bars earlier] - 1) * 100
 *     on completed bars:
 *     Entry (on_tick): ROC > entry_roc_pct, the bot holds none of the pair
 *     (at most one position per pair), and the budget still has a trade
 *     today and a free position slot after the entries already proposed in
 *     this call. The size is default_notional_usd, reduced so its risk
 *     (notional * stop_loss_pct / 100, or the whole notional when no stop
 *     is set) fits the budget's remaining open risk; under one dollar it is
 *     skipped. With use_notional the intent carries the dollars; otherwise
 *     qty = dollars / price, rounded down to 1e-8 coin. With order_type
 *     limit the price is last * 1.001 rounded up to the tick (a cent, or
 *     1/100 cent below one dollar), a marketable limit; otherwise market.
 *     "last" is the snapshot's last price, or the last close when the host
 *     has no price.
 *     entry_timeout_min [0] integer 0..10080: on an ABI 1.1 host, manage asks
 *     to cancel any of the bot's limit entries still working this many
 *     minutes after it was sent (0: never).
 *     Exit (manage): while it holds a pair and ROC < -entry_roc_pct, it
 *     asks to sell all of it (limit at last * 0.999 rounded down, or
 *     market, following order_type).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hydra/plugin.h>

#include "../common/signals.h"

#define CRYPTO_MAX_PAIRS 16

enum crypto_mode { MODE_PLACEHOLDER = 1, MODE_ROC = 2 };

struct hydra_bot {
    int64_t entry_timeout_ms; /* entry_timeout_min: cancel a limit entry unfilled this long; 0 = never */
    const hydra_host_api *api;
    hydra_host *host;
    enum crypto_mode mode;
    char bot_id[64];
    char pairs[CRYPTO_MAX_PAIRS][48];
    uint32_t n_pairs;
    uint32_t order_type;
    uint32_t tif;
    int use_notional;
    double notional_usd;
    uint32_t roc_bars;
    double entry_roc_pct;
};

/* The price the order is built around: the latest trade, else the last close. */
static double crypto_last(const hydra_symbol_view *v)
{
    if (v == NULL)
        return 0.0;
    if (sig_good_price(v->last_price))
        return v->last_price;
    return sig_last_close(v);
}

static void crypto_push(hydra_bot *bot, hydra_intent_buf *out, const hydra_intent *in)
{
    if (hydra_intent_push(out, in) != 0)
        sig_log(bot->api, bot->host, HYDRA_LOG_WARN, "intent_dropped",
                "bot %s: intent buffer full, %s %s not proposed", bot->bot_id,
                in->side == HYDRA_SIDE_BUY ? "buy" : "sell", in->symbol);
}

static int crypto_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                         hydra_bot **out)
{
    hydra_bot *bot = NULL;
    const char *id;
    int64_t roc_bars = 15, timeout_min = 0;
    double entry = 0.30;
    uint32_t i;

    if (out == NULL)
        return HYDRA_BOT_ERROR;
    *out = NULL;
    if (api == NULL || cfg == NULL || cfg->bot_id == NULL || cfg->signal_mode == NULL)
        return HYDRA_BOT_ERROR;
    id = cfg->bot_id;

    bot = calloc(1, sizeof *bot);
    if (bot == NULL)
        return HYDRA_BOT_ERROR;
    bot->api = api;
    bot->host = host;
    snprintf(bot->bot_id, sizeof bot->bot_id, "%s", id);
    bot->order_type = cfg->default_order_type == HYDRA_ORDER_LIMIT ? HYDRA_ORDER_LIMIT
                                                                   : HYDRA_ORDER_MARKET;
    bot->tif = cfg->default_tif;
    bot->use_notional = cfg->use_notional != 0;
    bot->notional_usd = cfg->default_notional_usd;

    if (cfg->n_symbols == 0 || cfg->n_symbols > CRYPTO_MAX_PAIRS || cfg->symbols == NULL) {
        sig_log(api, host, HYDRA_LOG_ERROR, "bot_config_error",
                "bot %s: the crypto plugin needs 1 to %d pairs (got %u)", id, CRYPTO_MAX_PAIRS,
                (unsigned)cfg->n_symbols);
        goto fail;
    }
    for (i = 0; i < cfg->n_symbols; i++) {
        const char *s = cfg->symbols[i];
        if (s == NULL || s[0] == '\0' || strlen(s) >= sizeof bot->pairs[i]) {
            sig_log(api, host, HYDRA_LOG_ERROR, "bot_config_error",
                    "bot %s: pair %u is empty or too long", id, (unsigned)i);
            goto fail;
        }
        memcpy(bot->pairs[i], s, strlen(s) + 1);
    }
    bot->n_pairs = cfg->n_symbols;

    if (strcmp(cfg->signal_mode, "placeholder_crypto_momo_v1") == 0) {
        bot->mode = MODE_PLACEHOLDER;
    } else if (strcmp(cfg->signal_mode, "crypto_roc_v1") == 0) {
        bot->mode = MODE_ROC;
        if (sig_param_int(api, host, id, "roc_bars", 15, 1, 1000, &roc_bars) != 0 ||
            sig_param_int(api, host, id, "entry_timeout_min", 0, 0, 10080, &timeout_min) != 0 ||
            sig_param_double(api, host, id, "entry_roc_pct", 0.30, 0.0, 100.0, &entry) != 0)
            goto fail;
        if (!(isfinite(bot->notional_usd) && bot->notional_usd >= 1.0)) {
            sig_log(api, host, HYDRA_LOG_ERROR, "bot_config_error",
                    "bot %s: crypto_roc_v1 needs execution.default_notional_usd of at least 1", id);
            goto fail;
        }
    } else {
        sig_log(api, host, HYDRA_LOG_ERROR, "bot_config_error",
                "bot %s: unknown signal.mode \"%s\" (known: placeholder_crypto_momo_v1, crypto_roc_v1)",
                id, cfg->signal_mode);
        goto fail;
    }
    bot->roc_bars = (uint32_t)roc_bars;
    bot->entry_timeout_ms = timeout_min * 60000;
    bot->entry_roc_pct = entry;
    *out = bot;
    return HYDRA_BOT_OK;

fail:
    free(bot);
    return HYDRA_BOT_BAD_CONFIG;
}

static void crypto_destroy(hydra_bot *bot)
{
    free(bot);
}

static int crypto_manage(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    uint32_t i;
    if (bot == NULL || snap == NULL || bot->mode != MODE_ROC)
        return 0;
    sig_cancel_stale_entries(snap, bot->entry_timeout_ms, out);
    for (i = 0; i < bot->n_pairs; i++) {
        const hydra_symbol_view *v = sig_find_symbol(snap, bot->pairs[i]);
        double held = sig_position_qty(snap, bot->pairs[i]);
        double roc, last = crypto_last(v);
        hydra_intent in;

        if (held <= 0.0 || sig_roc_pct(v, bot->roc_bars, &roc) != 0 || !(roc < -bot->entry_roc_pct))
            continue;
        in = sig_intent(HYDRA_INTENT_EXIT, HYDRA_SIDE_SELL, HYDRA_ASSET_CRYPTO);
        sig_set_symbol(&in, bot->pairs[i]);
        in.tif = bot->tif;
        in.qty = held;
        in.type = HYDRA_ORDER_MARKET;
        if (bot->order_type == HYDRA_ORDER_LIMIT && sig_good_price(last)) {
            in.type = HYDRA_ORDER_LIMIT;
            in.limit_price = sig_round_down(last * 0.999, sig_tick_for(last));
        }
        snprintf(in.reason, sizeof in.reason, "momentum gone: roc%u %.2f%% < -%.2f%%",
                 (unsigned)bot->roc_bars, roc, bot->entry_roc_pct);
        crypto_push(bot, out, &in);
    }
    return 0;
}

static void crypto_placeholder(hydra_bot *bot)
{
    char list[256];
    size_t used = 0;
    uint32_t i;
    list[0] = '\0';
    for (i = 0; i < bot->n_pairs && used < sizeof list; i++) {
        int n = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", bot->pairs[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    sig_log(bot->api, bot->host, HYDRA_LOG_INFO, "placeholder",
            "bot %s: placeholder_crypto_momo_v1 is a placeholder mode: no signal for %s, no intents",
            bot->bot_id, list);
}

static int crypto_on_tick(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    const hydra_budget_view *b;
    double stop_frac, room;
    uint32_t i, pending = 0;

    if (bot == NULL || snap == NULL)
        return 0;
    if (bot->mode == MODE_PLACEHOLDER) {
        crypto_placeholder(bot);
        return 0;
    }
    b = snap->budget;
    room = sig_risk_room(b);
    stop_frac = b != NULL && b->stop_loss_pct > 0.0 ? b->stop_loss_pct / 100.0 : 1.0;

    for (i = 0; i < bot->n_pairs && sig_can_enter(b, pending); i++) {
        const hydra_symbol_view *v = sig_find_symbol(snap, bot->pairs[i]);
        double roc, last = crypto_last(v), notional, price;
        hydra_intent in;

        if (sig_position_qty(snap, bot->pairs[i]) > 0.0 || sig_entry_working(snap, bot->pairs[i]) ||
            !sig_good_price(last))
            continue;
        if (sig_roc_pct(v, bot->roc_bars, &roc) != 0 || !(roc > bot->entry_roc_pct))
            continue;

        /* Propose a size the budget can carry; the host still caps it. */
        notional = bot->notional_usd;
        if (notional * stop_frac > room)
            notional = room / stop_frac;
        notional = floor(notional * 100.0 + 1e-6) / 100.0;
        if (notional < 1.0)
            continue;

        in = sig_intent(HYDRA_INTENT_ENTRY, HYDRA_SIDE_BUY, HYDRA_ASSET_CRYPTO);
        sig_set_symbol(&in, bot->pairs[i]);
        in.tif = bot->tif;
        in.type = bot->order_type;
        price = last;
        if (in.type == HYDRA_ORDER_LIMIT) {
            in.limit_price = sig_round_up(last * 1.001, sig_tick_for(last));
            price = in.limit_price;
        }
        if (bot->use_notional)
            in.notional = notional;
        else
            in.qty = floor(notional / price * 1e8) / 1e8;
        if (!(in.notional > 0.0 || in.qty > 0.0))
            continue;
        snprintf(in.reason, sizeof in.reason, "roc%u %.2f%% > %.2f%%, $%.2f at %s %.4f",
                 (unsigned)bot->roc_bars, roc, bot->entry_roc_pct, notional,
                 in.type == HYDRA_ORDER_LIMIT ? "limit" : "last", price);
        crypto_push(bot, out, &in);
        pending++;
        room -= notional * stop_frac;
    }
    return 0;
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = "crypto",
    .version = "1.0.0",
    .description = "Crypto momentum: rate of change per pair, sized by notional",
    .asset_classes = HYDRA_ASSET_CRYPTO,
    .create = crypto_create,
    .destroy = crypto_destroy,
    .manage = crypto_manage,
    .on_tick = crypto_on_tick,
    .on_fill = NULL,
};
