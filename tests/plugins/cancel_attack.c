/*
 * A bot that tries to cancel orders that are not its own (ABI 1.1's
 * HYDRA_INTENT_CANCEL). The test drives it through its state, which it
 * reads on every on_tick:
 *
 *   cancel      client order ids, separated by spaces, to cancel now (any
 *               id: another bot's, a stranger's, a made-up one); cleared
 *               once pushed
 *   cancel_own  "1": cancel every working order the snapshot shows it
 *   overlong    "1": push a cancel whose client_order_id fills its buffer
 *               with no terminating NUL
 *   short_cancel "1": push a cancel in an intent the size of ABI 1.0's,
 *               which cannot carry a client_order_id
 *
 * Until told otherwise it places one limit buy of its first symbol 4%
 * below the market (it does not fill within a test's run), and writes the
 * client order id the snapshot shows for it to state key "own_cid".
 *
 * Where the test cannot reach its state (a backtest keeps it in memory),
 * signal.params say the same: cancel_ids (as "cancel", pushed on every
 * on_tick), cancel_own_after (on_tick calls after which it cancels its own
 * working orders; 0: never), bait_price (the limit of its buy; 0: 4%
 * below the market) and bait_qty (its size; default 0.0001).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hydra/plugin.h>

struct hydra_bot {
    const hydra_host_api *api;
    hydra_host *host;
    char symbol[48];
    int placed;
    char cancel_ids[512];
    int64_t cancel_own_after, calls;
    double bait_price, bait_qty;
};

static int ca_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                     hydra_bot **out)
{
    *out = NULL;
    if (cfg->n_symbols < 1)
        return HYDRA_BOT_BAD_CONFIG;
    hydra_bot *b = calloc(1, sizeof *b);
    if (b == NULL)
        return HYDRA_BOT_ERROR;
    b->api = api;
    b->host = host;
    snprintf(b->symbol, sizeof b->symbol, "%s", cfg->symbols[0]);
    if (api->param_string(host, "cancel_ids", b->cancel_ids, sizeof b->cancel_ids) != HYDRA_PARAM_OK)
        b->cancel_ids[0] = '\0';
    if (api->param_int(host, "cancel_own_after", &b->cancel_own_after) != HYDRA_PARAM_OK)
        b->cancel_own_after = 0;
    if (api->param_double(host, "bait_price", &b->bait_price) != HYDRA_PARAM_OK)
        b->bait_price = 0;
    if (api->param_double(host, "bait_qty", &b->bait_qty) != HYDRA_PARAM_OK || !(b->bait_qty > 0))
        b->bait_qty = 0.0001;
    *out = b;
    return HYDRA_BOT_OK;
}

static void ca_destroy(hydra_bot *b)
{
    free(b);
}

static int ca_manage(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    (void)b, (void)snap, (void)out;
    return HYDRA_BOT_OK;
}

static int flag(hydra_bot *b, const char *key)
{
    char v[8];
    return b->api->state_get(b->host, key, v, sizeof v) == 0 && strcmp(v, "1") == 0;
}

static void push_cancel(hydra_intent_buf *out, const char *cid, const char *why)
{
    hydra_intent in;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.kind = HYDRA_INTENT_CANCEL;
    snprintf(in.client_order_id, sizeof in.client_order_id, "%s", cid);
    snprintf(in.reason, sizeof in.reason, "%s", why);
    hydra_intent_push(out, &in);
}

static void push_entry(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    double px = 0;
    for (uint32_t i = 0; i < snap->n_symbols; i++)
        if (strcmp(snap->symbols[i]->symbol, b->symbol) == 0)
            px = snap->symbols[i]->last_price;
    if (!(px > 0))
        return;
    hydra_intent in;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    in.kind = HYDRA_INTENT_ENTRY;
    in.side = HYDRA_SIDE_BUY;
    in.type = HYDRA_ORDER_LIMIT;
    in.tif = HYDRA_TIF_GTC;
    snprintf(in.symbol, sizeof in.symbol, "%s", b->symbol);
    in.qty = b->bait_qty;
    in.limit_price = b->bait_price > 0 ? b->bait_price
                                       : (double)(long long)(px * 0.96); /* inside the host's 5% limit distance */
    snprintf(in.reason, sizeof in.reason, "resting bait");
    if (hydra_intent_push(out, &in) == 0)
        b->placed = 1;
}

static int ca_on_tick(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    if (!HYDRA_COVERS(snap, n_orders))
        return HYDRA_BOT_ERROR; /* this bot exists to exercise ABI 1.1 */
    char ids[1024];
    b->calls++;
    if (b->cancel_ids[0] != '\0')
        snprintf(ids, sizeof ids, "%s", b->cancel_ids);
    else if (b->api->state_get(b->host, "cancel", ids, sizeof ids) == 0 && ids[0] != '\0')
        b->api->state_set(b->host, "cancel", "");
    else
        ids[0] = '\0';
    char *save = NULL;
    for (char *id = strtok_r(ids, " ", &save); id != NULL; id = strtok_r(NULL, " ", &save))
        push_cancel(out, id, "cancel of an order that is not mine");
    if (flag(b, "cancel_own") || (b->cancel_own_after > 0 && b->calls > b->cancel_own_after)) {
        b->api->state_set(b->host, "cancel_own", "0");
        for (uint32_t i = 0; i < snap->n_orders; i++)
            push_cancel(out, snap->orders[i]->client_order_id, "cancel of my own order");
    }
    if (flag(b, "overlong")) {
        hydra_intent in;
        memset(&in, 0, sizeof in);
        in.struct_size = sizeof in;
        in.kind = HYDRA_INTENT_CANCEL;
        memset(in.client_order_id, 'x', sizeof in.client_order_id); /* no NUL anywhere */
        snprintf(in.reason, sizeof in.reason, "unterminated id");
        hydra_intent_push(out, &in);
    }
    if (flag(b, "short_cancel")) {
        hydra_intent in;
        memset(&in, 0, sizeof in);
        in.struct_size = (uint32_t)offsetof(hydra_intent, client_order_id);
        in.kind = HYDRA_INTENT_CANCEL;
        snprintf(in.reason, sizeof in.reason, "1.0-sized cancel");
        /* hydra_intent_push stamps the full size: write the slot as a 1.0 bot would. */
        if (out->count < out->capacity && out->item_size >= in.struct_size) {
            unsigned char *slot = (unsigned char *)out->items + (size_t)out->count * out->item_size;
            memset(slot, 0, out->item_size);
            memcpy(slot, &in, in.struct_size);
            out->count++;
        }
    }
    if (snap->n_orders > 0)
        b->api->state_set(b->host, "own_cid", snap->orders[0]->client_order_id);
    if (!b->placed && snap->n_orders == 0)
        push_entry(b, snap, out);
    return HYDRA_BOT_OK;
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = "cancel_attack",
    .version = "1.0.0",
    .description = "tries to cancel orders it does not own",
    .asset_classes = HYDRA_ASSET_CRYPTO | HYDRA_ASSET_EQUITY,
    .create = ca_create,
    .destroy = ca_destroy,
    .manage = ca_manage,
    .on_tick = ca_on_tick,
    .on_fill = NULL,
};
