/*
 * A well-behaved test bot for hydra-conform, with hooks. Each deliberately
 * broken bot in this directory defines one or two hooks before including
 * this file, so it differs from a conforming bot in exactly the way its
 * name says and fails exactly the checks aimed at that fault.
 *
 * Behaviour (signal.mode template_v1, equities): buy 1 share of the first
 * symbol after an up bar when it holds none, has no entry working on it
 * and the budget allows; sell what it holds after a down bar.
 */
#ifndef HYDRA_TEST_CONFORM_BASE_H
#define HYDRA_TEST_CONFORM_BASE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hydra/plugin.h>

struct hydra_bot {
    const hydra_host_api *api;
    hydra_host *host;
    char symbol[48];
    int64_t last_now;
    uint64_t last_tick;
    double qty;
    int entries;
    int holding;
    void *scratch;
};

#ifndef CB_CREATE_EXTRA
#define CB_CREATE_EXTRA(bot, api, host) 0
#endif
#ifndef CB_DESTROY_EXTRA
#define CB_DESTROY_EXTRA(bot) ((void)0)
#endif
#ifndef CB_BEFORE_TICK
#define CB_BEFORE_TICK(bot, snap) ((void)0)
#endif
#ifndef CB_ENTRY_QTY
#define CB_ENTRY_QTY(bot, snap, v) ((bot)->qty)
#endif
#ifndef CB_PUSH
#define CB_PUSH(bot, out, in) hydra_intent_push((out), (in))
#endif
#ifndef CB_EXIT_SYMBOL
#define CB_EXIT_SYMBOL(bot) ((bot)->symbol)
#endif
#ifndef CB_MAY_ENTER
#define CB_MAY_ENTER(bot) 1
#endif
#ifndef CB_ENTERED
#define CB_ENTERED(bot) ((void)0)
#endif
#ifndef CB_REFUSE
/* A refused create frees what it took and leaves *out NULL. */
#define CB_REFUSE(bot, out) (free(bot), *(out) = NULL, HYDRA_BOT_BAD_CONFIG)
#endif
#ifndef CB_SEEN
#define CB_SEEN(bot, held) ((void)0)
#endif
#ifndef CB_EXPORTS
#define CB_EXPORTS
#endif

static const hydra_symbol_view *cb_view(const hydra_bot *bot, const hydra_snapshot *snap)
{
    uint32_t i;
    for (i = 0; i < snap->n_symbols; i++)
        if (strcmp(snap->symbols[i]->symbol, bot->symbol) == 0)
            return snap->symbols[i];
    return NULL;
}

static double cb_held(const hydra_bot *bot, const hydra_snapshot *snap)
{
    uint32_t i;
    for (i = 0; i < snap->n_positions; i++)
        if (strcmp(snap->positions[i]->symbol, bot->symbol) == 0)
            return snap->positions[i]->qty;
    return 0.0;
}

static int cb_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg, hydra_bot **out)
{
    hydra_bot *bot = calloc(1, sizeof *bot);
    *out = NULL;
    if (bot == NULL)
        return HYDRA_BOT_ERROR;
    if (strcmp(cfg->signal_mode, "template_v1") != 0 || cfg->n_symbols < 1 ||
        strlen(cfg->symbols[0]) >= sizeof bot->symbol) {
        api->log(host, HYDRA_LOG_ERROR, "bot_config_error", "needs signal.mode template_v1 and a symbol");
        return CB_REFUSE(bot, out);
    }
    bot->api = api;
    bot->host = host;
    bot->qty = 1.0;
    strcpy(bot->symbol, cfg->symbols[0]);
    if (CB_CREATE_EXTRA(bot, api, host) != 0) {
        free(bot);
        return HYDRA_BOT_ERROR;
    }
    *out = bot;
    return HYDRA_BOT_OK;
}

static void cb_destroy(hydra_bot *bot)
{
    CB_DESTROY_EXTRA(bot);
    free(bot);
}

/* The last two closes, when both are usable prices. */
static int cb_closes(const hydra_symbol_view *v, double *last, double *prev)
{
    if (v == NULL || v->n_bars < 2)
        return -1;
    *last = v->bars[v->n_bars - 1].close;
    *prev = v->bars[v->n_bars - 2].close;
    return *last > 0.0 && *prev > 0.0 && isfinite(*last) && isfinite(*prev) ? 0 : -1;
}

static int cb_manage(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    const hydra_symbol_view *v = cb_view(bot, snap);
    double held = cb_held(bot, snap), last, prev;
    hydra_intent in;

    CB_SEEN(bot, held);
    if (held <= 0.0 || cb_closes(v, &last, &prev) != 0 || !(last < prev))
        return 0;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.kind = HYDRA_INTENT_EXIT;
    in.side = HYDRA_SIDE_SELL;
    in.type = HYDRA_ORDER_MARKET;
    in.asset_class = HYDRA_ASSET_EQUITY;
    snprintf(in.symbol, sizeof in.symbol, "%s", CB_EXIT_SYMBOL(bot));
    in.qty = held;
    strcpy(in.reason, "down bar");
    CB_PUSH(bot, out, &in);
    return 0;
}

/* ABI 1.1: an entry of its own still working on the symbol (none on an older host). */
static int cb_entry_working(const hydra_bot *bot, const hydra_snapshot *snap)
{
    uint32_t i;
    if (!HYDRA_COVERS(snap, n_orders))
        return 0;
    for (i = 0; i < snap->n_orders; i++)
        if (snap->orders[i]->kind == HYDRA_INTENT_ENTRY && strcmp(snap->orders[i]->symbol, bot->symbol) == 0)
            return 1;
    return 0;
}

static int cb_on_tick(hydra_bot *bot, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    const hydra_symbol_view *v;
    double last, prev;
    hydra_intent in;

    CB_BEFORE_TICK(bot, snap);
    v = cb_view(bot, snap);
    if (cb_held(bot, snap) > 0.0 || cb_entry_working(bot, snap) || snap->budget->trades_left_today == 0 ||
        snap->budget->positions_open >= snap->budget->max_concurrent_positions || !CB_MAY_ENTER(bot))
        return 0;
    if (cb_closes(v, &last, &prev) != 0 || !(last > prev))
        return 0;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.kind = HYDRA_INTENT_ENTRY;
    in.side = HYDRA_SIDE_BUY;
    in.type = HYDRA_ORDER_MARKET;
    in.asset_class = HYDRA_ASSET_EQUITY;
    strcpy(in.symbol, bot->symbol);
    in.qty = CB_ENTRY_QTY(bot, snap, v);
    strcpy(in.reason, "up bar");
    if (CB_PUSH(bot, out, &in) == 0)
        CB_ENTERED(bot);
    return 0;
}

CB_EXPORTS

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = CB_NAME,
    .version = "1.0.0",
    .description = "hydra-conform test bot: " CB_NAME,
    .asset_classes = HYDRA_ASSET_EQUITY,
    .create = cb_create,
    .destroy = cb_destroy,
    .manage = cb_manage,
    .on_tick = cb_on_tick,
    .on_fill = NULL,
};

#endif
