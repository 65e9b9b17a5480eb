/*
 * Writes the seed corpus of fuzz_wire: worker streams encoded by the
 * protocol's own encoders (host/wire.c), the ones hydra-worker and the
 * host send with. scripts/fuzz.sh runs it before every fuzzing run, so the
 * seeds follow the protocol when it changes; fuzz/corpus/wire/ keeps a
 * copy of its output.
 *
 *   fuzz_wire_seeds DIR    writes DIR/<name>.bin, one stream per file
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "wire.h"

static hydra_wire_out g_stream; /* the whole stream of one seed */
static hydra_wire_out g_msg;    /* one message */

static void begin(uint16_t type)
{
    hydra_wire_begin(&g_msg, type);
}

/* Appends the finished message to the stream. */
static void end(void)
{
    if (hydra_wire_finish(&g_msg) != 0) {
        fprintf(stderr, "fuzz_wire_seeds: cannot encode a message\n");
        exit(1);
    }
    hydra_wire_put_bytes(&g_stream, g_msg.p, g_msg.len);
}

static void save(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.bin", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || g_stream.failed || fwrite(g_stream.p, 1, g_stream.len, f) != g_stream.len ||
        fclose(f) != 0) {
        fprintf(stderr, "fuzz_wire_seeds: cannot write %s\n", path);
        exit(1);
    }
    g_stream.len = 0;
}

static hydra_intent intent(const char *symbol, uint32_t kind, uint32_t side, double qty,
                           double limit)
{
    hydra_intent it;
    memset(&it, 0, sizeof it);
    it.struct_size = sizeof it;
    it.kind = kind;
    it.side = side;
    it.type = limit > 0 ? HYDRA_ORDER_LIMIT : HYDRA_ORDER_MARKET;
    it.tif = HYDRA_TIF_DAY;
    it.asset_class = HYDRA_ASSET_EQUITY;
    snprintf(it.symbol, sizeof it.symbol, "%s", symbol);
    it.qty = qty;
    it.limit_price = limit;
    snprintf(it.reason, sizeof it.reason, "roc %.2f above threshold", 0.42);
    return it;
}

static const hydra_abi_version ABI = HYDRA_ABI_VERSION_INIT;

static void loaded(void)
{
    begin(HYDRA_WIRE_LOADED);
    hydra_wire_put_loaded(&g_msg, "momentum", "1.2.0", ABI, 1, "", 0);
    end();
}

static void result(uint32_t n)
{
    hydra_intent items[HYDRA_WIRE_MAX_INTENTS];
    for (uint32_t i = 0; i < n && i < HYDRA_WIRE_MAX_INTENTS; i++)
        items[i] = intent(i % 2 ? "MSFT" : "AAPL", i % 3 ? HYDRA_INTENT_ENTRY : HYDRA_INTENT_EXIT,
                          i % 2 ? HYDRA_SIDE_SELL : HYDRA_SIDE_BUY, 10 + i, i % 4 ? 0 : 187.25);
    begin(HYDRA_WIRE_RESULT);
    hydra_wire_put_result(&g_msg, 0, HYDRA_WIRE_BUFFER_OK, items, n);
    end();
}

/* A snapshot like the host's for a two-symbol bot holding one position, with a small chain. */
static void call(void)
{
    static hydra_bar bars[2][30];
    hydra_symbol_view sym[2];
    const hydra_symbol_view *sym_p[2];
    hydra_position_view pos = {sizeof pos, HYDRA_ASSET_EQUITY, "AAPL", 10, 180.5, 187.2, 67,
                               1136214000000LL};
    const hydra_position_view *pos_p[1] = {&pos};
    hydra_option_view opt[3];
    const hydra_option_view *opt_p[3];
    hydra_budget_view budget = {sizeof budget, 1000, 5000, 1805, -12.5, 4, 1, 2, 2.0};
    const char *names[2] = {"AAPL", "BTC/USD"};
    const char *occ[3] = {"AAPL260116C00190000", "AAPL260116P00180000", "AAPL260220C00200000"};

    for (int s = 0; s < 2; s++) {
        for (int k = 0; k < 30; k++) {
            double p = 180 + s * 40000 + k * 0.5;
            bars[s][k] = (hydra_bar){1136214000000LL + k * 60000LL, p, p + 1, p - 1, p + 0.25,
                                     1000 + k};
        }
        sym[s] = (hydra_symbol_view){sizeof sym[s], s ? HYDRA_ASSET_CRYPTO : HYDRA_ASSET_EQUITY,
                                     names[s], bars[s][29].close, bars[s][29].t_ms, bars[s], 30};
        sym_p[s] = &sym[s];
    }
    for (int i = 0; i < 3; i++) {
        opt[i] = (hydra_option_view){sizeof opt[i], i != 1, occ[i], "AAPL", 190 - 10 * (i == 1)
                                     + 10 * (i == 2), i == 2 ? 20260220 : 20260116, 11 + 35 * (i == 2),
                                     2.1, 2.3, 0.31, i == 1 ? -0.4 : 0.45, 100};
        opt_p[i] = &opt[i];
    }
    hydra_snapshot snap = {sizeof snap, 0, 42, 1136235600000LL, 20060102, 600, sym_p, 2, pos_p, 1,
                           opt_p, 3, &budget, NULL, 0};
    begin(HYDRA_WIRE_CALL);
    hydra_wire_put_u32(&g_msg, HYDRA_WIRE_CALL_ON_TICK);
    hydra_wire_put_snapshot(&g_msg, &snap);
    end();
}

static void load(void)
{
    static hydra_bot_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.bot_id, sizeof cfg.bot_id, "momentum_aapl");
    snprintf(cfg.plugin, sizeof cfg.plugin, "momentum");
    snprintf(cfg.signal_mode, sizeof cfg.signal_mode, "roc");
    cfg.asset_class = HYDRA_ASSET_EQUITY;
    cfg.tif = HYDRA_TIF_DAY;
    cfg.order_type = HYDRA_ORDER_MARKET;
    cfg.default_notional_usd = 1000;
    cfg.n_symbols = 1;
    snprintf(cfg.symbols[0], sizeof cfg.symbols[0], "AAPL");
    cfg.n_params = 2;
    cfg.params[0] = (hydra_param){"lookback", HYDRA_PARAM_INT, 20, 20, 0, "20"};
    cfg.params[1] = (hydra_param){"threshold_pct", HYDRA_PARAM_DOUBLE, 0, 0.4, 0, "0.4"};
    begin(HYDRA_WIRE_LOAD);
    hydra_wire_put_load(&g_msg, "plugins", &cfg);
    end();
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_wire_seeds DIR\n");
        return 2;
    }
    const char *dir = argv[1];

    loaded();
    save(dir, "loaded");

    begin(HYDRA_WIRE_LOADED);
    hydra_wire_put_load_refused(&g_msg, HYDRA_EPLUGIN,
                                "plugins/momentum.so: ABI version 2.0.0 is not compatible");
    end();
    save(dir, "load-refused");

    /* A worker that starts, then answers one on_tick with everything a bot may ask for. */
    loaded();
    begin(HYDRA_WIRE_LOG);
    hydra_wire_put_log(&g_msg, 1, "signal", "roc 0.42% over 20 bars");
    end();
    begin(HYDRA_WIRE_KV_GET);
    hydra_wire_put_kv_get(&g_msg, "last_entry_day", 64);
    end();
    begin(HYDRA_WIRE_KV_SET);
    hydra_wire_put_kv_set(&g_msg, "last_entry_day", "20060102");
    end();
    begin(HYDRA_WIRE_CHAIN_GET);
    hydra_wire_put_chain_get(&g_msg, "AAPL", 3, 64);
    end();
    result(2);
    save(dir, "session");

    begin(HYDRA_WIRE_LOG);
    hydra_wire_put_log(&g_msg, 3, "bot_error", "");
    end();
    save(dir, "log");

    begin(HYDRA_WIRE_KV_GET);
    hydra_wire_put_kv_get(&g_msg, "k", 8192);
    end();
    begin(HYDRA_WIRE_KV_SET);
    hydra_wire_put_kv_set(&g_msg, "k", "{\"entries\":3}");
    end();
    save(dir, "kv");

    begin(HYDRA_WIRE_CHAIN_GET);
    hydra_wire_put_chain_get(&g_msg, "SPY", 1, 4096);
    end();
    save(dir, "chain-get");

    result(0);
    save(dir, "result-empty");
    result(HYDRA_WIRE_MAX_INTENTS);
    save(dir, "result-full");
    begin(HYDRA_WIRE_RESULT);
    hydra_wire_put_result(&g_msg, -1, HYDRA_WIRE_BUFFER_CORRUPTED, NULL, 0);
    end();
    save(dir, "result-corrupted");

    /* What the host sends: the worker's decoders read these. */
    load();
    save(dir, "load");
    call();
    save(dir, "call");
    hydra_fill fill = {sizeof fill, HYDRA_SIDE_BUY, "AAPL", "hydra-1a2b-momentum_aapl-20060102-1",
                       10, 187.25, 1136235660000LL};
    begin(HYDRA_WIRE_FILL);
    hydra_wire_put_fill(&g_msg, &fill);
    end();
    save(dir, "fill");
    begin(HYDRA_WIRE_KV_REPLY);
    hydra_wire_put_i32(&g_msg, 0);
    hydra_wire_put_str(&g_msg, "20060102");
    end();
    save(dir, "kv-reply");
    {
        hydra_option_view v[2] = {
            {sizeof v[0], 1, "SPY260116C00480000", "SPY", 480, 20260116, 11, 3.1, 3.3, 0.2, 0.5, 100},
            {sizeof v[1], 0, "SPY260116P00470000", "SPY", 470, 20260116, 11, 2.0, 2.2, 0.22, -0.35,
             100}};
        begin(HYDRA_WIRE_CHAIN_REPLY);
        hydra_wire_put_chain_reply(&g_msg, 5, v, 2);
        end();
        save(dir, "chain-reply");
    }
    hydra_wire_out_free(&g_msg);
    hydra_wire_out_free(&g_stream);
    return 0;
}
