/*
 * MomentumBot: one stock (the bot's `ticker`), long only, whole shares.
 *
 * signal.mode selects the strategy:
 *
 *   placeholder_momentum_v1
 *     The seed's placeholder, kept by name: no signal and never an intent.
 *     Every on_tick logs one "placeholder" line so nobody mistakes it for
 *     a strategy. Open positions are still closed by the host's exits.
 *
 *   roc_trend_v1 (the reference signal)
 *     Params under signal.params (defaults in brackets):
 *       roc_bars       [10]   integer 1..1000: ROC lookback in bars
 *       trend_bars     [30]   integer 1..1000: moving-average length
 *       entry_roc_pct  [0.05] number 0..100: entry threshold, percent
 *       qty            [1]    integer 1..1000000: shares per entry
 *     With close = the last completed bar's close,
 *       ROC = (close / close[roc_bars bars earlier] - 1) * 100
 *       SMA = mean of the last trend_bars closes.
 *     Entry (on_tick): ROC > entry_roc_pct and close > SMA, the bot holds no
 *     shares of the ticker, trades_left_today > 0 and positions_open <
 *     max_concurrent_positions. It asks for one market buy of qty shares
 *     with the bot's default time in force, reduced so that the shares'
 *     risk (close * stop_loss_pct / 100 each, or the whole close when no
 *     stop is set) fits in max_open_risk - open_risk_used; no entry when
 *     not even one share fits.
 *     Exit (manage): while it holds shares, the momentum is gone when
 *     ROC < -entry_roc_pct or close < SMA; it asks for a market sell of
 *     every share it holds. The host's stop, take-profit and time exits
 *     apply on top of this.
 *     With fewer than max(roc_bars + 1, trend_bars) bars it does nothing.
 *     entry_timeout_min [0] integer 0..10080: on an ABI 1.1 host, manage asks
 *     to cancel any of the bot's limit entries still working this many
 *     minutes after it was sent (0: never).
 *
 * Unknown modes and out-of-range params make create fail with
 * HYDRA_BOT_BAD_CONFIG and a log line naming the problem.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hydra/plugin.h>

#include "../common/signals.h"

enum momentum_mode { MODE_PLACEHOLDER = 1, MODE_ROC_TREND = 2 };

struct hydra_bot {
    int64_t entry_timeout_ms; /* entry_timeout_min: cancel a limit entry unfilled this long; 0 = never */
    const hydra_host_api *api;
    hydra_host *host;
    enum momentum_mode mode;
    char bot_id[64];
    char symbol[48];
    uint32_t tif;
    uint32_t roc_bars;
    uint32_t trend_bars;
    double entry_roc_pct;
    double qty;
};

/* ROC and SMA for the ticker; 0 when both are available. */
static int momentum_measure(const hydra_bot *bot, const hydra_snapshot *snap, double *roc, double *sma,
                            double *close)
{
    const hydra_symbol_view *v = sig_find_symbol(snap, bot->symbol);
    if (sig_roc_pct(v, bot->roc_bars, roc) != 0 || sig_sma(v, bot->trend_bars, sma) != 0)
        return -1;
    *close = sig_last_close(v);
    return 0;
}

static int momentum_push(hydra_bot *bot, hydra_intent_buf *out, const hydra_intent *in)
{
    if (hydra_intent_push(out, in) != 0)
        sig_log(bot->api, bot->host, HYDRA_LOG_WARN, "intent_dropped",
                "bot %s: intent buffer full, %s %s not proposed", bot->bot_id,
                in->side == HYDRA_SIDE_BUY ? "buy" : "sell", in->symbol);
    return 0;
}

static int momentum_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                           hydra_bot **out)
{
    hydra_bot *bot = NULL;
    const char *id;
    int64_t roc_bars = 10, trend_bars = 30, qty = 1, timeout_min = 0;
    double entry = 0.05;

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
    bot->tif = cfg->default_tif;
    snprintf(bot->bot_id, sizeof bot->bot_id, "%s", id);

    if (cfg->n_symbols != 1 || cfg->symbols == NULL || cfg->symbols[0] == NULL ||
        strlen(cfg->symbols[0]) == 0 || strlen(cfg->symbols[0]) >= sizeof bot->symbol) {
        sig_log(api, host, HYDRA_LOG_ERROR, "bot_config_error",
                "bot %s: the momentum plugin trades exactly one ticker (got %u symbols)", id,
                (unsigned)cfg->n_symbols);
        goto fail;
    }
    memcpy(bot->symbol, cfg->symbols[0], strlen(cfg->symbols[0]) + 1);

    if (strcmp(cfg->signal_mode, "placeholder_momentum_v1") == 0) {
        bot->mode = MODE_PLACEHOLDER;
    } else if (strcmp(cfg->signal_mode, "roc_trend_v1") == 0) {
        bot->mode = MODE_ROC_TREND;
        if (sig_param_int(api, host, id, "roc_bars", 10, 1, 1000, &roc_bars) != 0 ||
            sig_param_int(api, host, id, "entry_timeout_min", 0, 0, 10080, &timeout_min) != 0 ||
            sig_param_int(api, host, id, "trend_bars", 30, 1, 1000, &trend_bars) != 0 ||
            sig_param_double(api, host, id, "entry_roc_pct", 0.05, 0.0, 100.0, &entry) != 0 ||
            sig_param_int(api, host, id, "qty", 1, 1, 1000000, &qty) != 0)
            goto fail;
    } else {
        sig_log(api, host, HYDRA_LOG_ERROR, "bot_config_error",
                "bot %s: unknown signal.mode \"%s\" (known: placeholder_momentum_v1, roc_trend_v1)",
                id, cfg->signal_mode);
        goto fail;
    }
    bot->roc_bars = (uint32_t)roc_bars;
    bot->entry_timeout_ms = timeout_min * 60000;
    bot->trend_bars = (uint32_t)trend_bars;
    bot->entry_roc_pct = entry;
    bot->qty = (double)qty;
    *out = bot;
    return HYDRA_BOT_OK;

fail:
    free(bot);
    return HYDRA_BOT_BAD_CONFIG;
}

static void momentum_destroy(hydra_bot *bot)
{
    free(bot);
}

static int momentum_manage(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    double held, roc, sma, close;
    hydra_intent in;

    if (bot == NULL || snap == NULL || bot->mode != MODE_ROC_TREND)
        return 0;
    sig_cancel_stale_entries(snap, bot->entry_timeout_ms, out);
    held = sig_position_qty(snap, bot->symbol);
    if (held <= 0.0 || momentum_measure(bot, snap, &roc, &sma, &close) != 0)
        return 0;
    if (!(roc < -bot->entry_roc_pct || close < sma))
        return 0;

    in = sig_intent(HYDRA_INTENT_EXIT, HYDRA_SIDE_SELL, HYDRA_ASSET_EQUITY);
    sig_set_symbol(&in, bot->symbol);
    in.type = HYDRA_ORDER_MARKET;
    in.tif = bot->tif;
    in.qty = held;
    if (roc < -bot->entry_roc_pct)
        snprintf(in.reason, sizeof in.reason, "momentum gone: roc%u %.2f%% < -%.2f%%",
                 (unsigned)bot->roc_bars, roc, bot->entry_roc_pct);
    else
        snprintf(in.reason, sizeof in.reason, "trend lost: close %.2f < sma%u %.2f", close,
                 (unsigned)bot->trend_bars, sma);
    return momentum_push(bot, out, &in);
}

static int momentum_on_tick(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    double roc, sma, close, risk_per_share, qty;
    hydra_intent in;

    if (bot == NULL || snap == NULL)
        return 0;
    if (bot->mode == MODE_PLACEHOLDER) {
        sig_log(bot->api, bot->host, HYDRA_LOG_INFO, "placeholder",
                "bot %s: placeholder_momentum_v1 is a placeholder mode: no signal for %s, no intents",
                bot->bot_id, bot->symbol);
        return 0;
    }

    if (sig_position_qty(snap, bot->symbol) > 0.0 || sig_entry_working(snap, bot->symbol) ||
        !sig_can_enter(snap->budget, 0))
        return 0;
    if (momentum_measure(bot, snap, &roc, &sma, &close) != 0)
        return 0;
    if (!(roc > bot->entry_roc_pct && close > sma))
        return 0;

    /* Propose a size the budget can carry; the host still caps it. */
    risk_per_share = snap->budget->stop_loss_pct > 0.0 ? close * snap->budget->stop_loss_pct / 100.0
                                                        : close;
    qty = floor(sig_risk_room(snap->budget) / risk_per_share);
    if (qty > bot->qty)
        qty = bot->qty;
    if (!(qty >= 1.0))
        return 0;

    in = sig_intent(HYDRA_INTENT_ENTRY, HYDRA_SIDE_BUY, HYDRA_ASSET_EQUITY);
    sig_set_symbol(&in, bot->symbol);
    in.type = HYDRA_ORDER_MARKET;
    in.tif = bot->tif;
    in.qty = qty;
    snprintf(in.reason, sizeof in.reason, "roc%u %.2f%% > %.2f%%, close %.2f > sma%u %.2f",
             (unsigned)bot->roc_bars, roc, bot->entry_roc_pct, close, (unsigned)bot->trend_bars, sma);
    return momentum_push(bot, out, &in);
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = "momentum",
    .version = "1.0.0",
    .description = "Stock momentum: rate of change over N bars with a moving-average trend filter",
    .asset_classes = HYDRA_ASSET_EQUITY,
    .create = momentum_create,
    .destroy = momentum_destroy,
    .manage = momentum_manage,
    .on_tick = momentum_on_tick,
    .on_fill = NULL,
};
