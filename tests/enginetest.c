#define _GNU_SOURCE
#include "enginetest.h"

#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "error.h"
#include "marketdata.h"
#include "orders.h"
#include "testutil.h"

/* Replaces every occurrence of `from` with `to` in a malloc'd string. */
static char *replace_all(char *text, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), count = 0;
    for (const char *p = text; (p = strstr(p, from)) != NULL; p += fl)
        count++;
    if (count == 0)
        return text;
    char *out = malloc(strlen(text) + count * (tl > fl ? tl - fl : 0) + 1);
    char *w = out;
    const char *r = text;
    for (const char *p; (p = strstr(r, from)) != NULL; r = p + fl) {
        memcpy(w, r, (size_t)(p - r));
        w += p - r;
        memcpy(w, to, tl);
        w += tl;
    }
    strcpy(w, r);
    free(text);
    return out;
}

static char *apply_edits(char *text, const char *edits)
{
    if (edits == NULL)
        return text;
    char *copy = strdup(edits);
    for (char *line = strtok(copy, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char *arrow = strstr(line, "=>");
        if (arrow == NULL)
            continue;
        *arrow = '\0';
        /* A literal "\n" inside an edit stands for a line break. */
        char *from = replace_all(strdup(line), "\\n", "\n");
        char *to = replace_all(strdup(arrow + 2), "\\n", "\n");
        text = replace_all(text, from, to);
        free(from);
        free(to);
    }
    free(copy);
    return text;
}

int et_make_config(const char *dir, const char *settings_edits, const char *bots_edits)
{
    char path[1024], repl[1024];
    snprintf(path, sizeof path, "%s/config", dir);
    if (mkdir(path, 0755) != 0)
        return -1;

    char *settings = tu_read_file(HYDRA_SOURCE_DIR "/tests/configs/shipped/settings.yaml", NULL);
    char *bots = tu_read_file(HYDRA_SOURCE_DIR "/tests/configs/shipped/bots.yaml", NULL);
    if (settings == NULL || bots == NULL)
        return -1;
    snprintf(repl, sizeof repl, "%s/", dir);
    settings = replace_all(settings, "../logs/", repl);
    settings = replace_all(settings, "../state/", repl);
    settings = replace_all(settings, "file: ../data/", "file: " HYDRA_SOURCE_DIR "/data/");
    settings = apply_edits(settings, settings_edits);
    bots = apply_edits(bots, bots_edits);

    snprintf(path, sizeof path, "%s/config/settings.yaml", dir);
    int rc = tu_write_file(path, settings);
    snprintf(path, sizeof path, "%s/config/bots.yaml", dir);
    if (rc == 0)
        rc = tu_write_file(path, bots);
    free(settings);
    free(bots);
    return rc;
}

int et_examples_config(const char *dir)
{
    char path[1024], repl[1024];
    char *settings = tu_read_file(HYDRA_SOURCE_DIR "/examples/config/settings.yaml", NULL);
    char *bots = tu_read_file(HYDRA_SOURCE_DIR "/examples/config/bots.yaml", NULL);
    int rc = -1;
    if (settings != NULL && bots != NULL) {
        snprintf(repl, sizeof repl, "%s/", dir);
        settings = replace_all(settings, "../../logs/", repl);
        settings = replace_all(settings, "../../state/", repl);
        settings = replace_all(settings, "file: ../../data/", "file: " HYDRA_SOURCE_DIR "/data/");
        snprintf(path, sizeof path, "%s/settings.yaml", dir);
        rc = tu_write_file(path, settings);
        snprintf(path, sizeof path, "%s/bots.yaml", dir);
        if (rc == 0)
            rc = tu_write_file(path, bots);
    }
    free(settings);
    free(bots);
    return rc;
}

hydra_backtest *et_examples_backtest(const char *dir, const char *bot_id, const char *symbol)
{
    hydra_backtest_options opt;
    memset(&opt, 0, sizeof opt);
    snprintf(opt.config_dir, sizeof opt.config_dir, "%s", dir);
    snprintf(opt.plugins_dir, sizeof opt.plugins_dir, "%s", HYDRA_EXAMPLES_DIR);
    opt.cash = opt.fee_per_share = opt.slippage_bps = -1;
    snprintf(opt.only_bots[opt.n_only_bots++], sizeof opt.only_bots[0], "%s", bot_id);
    snprintf(opt.only_symbols[opt.n_only_symbols++], sizeof opt.only_symbols[0], "%s", symbol);
    char err[2048] = "";
    int code = 0;
    hydra_backtest *bt = NULL;
    if (hydra_backtest_open(&opt, &bt, err, sizeof err, &code) != 0 ||
        hydra_backtest_run(bt, err, sizeof err) != 0)
        fail_msg("%s: %s", bot_id, err);
    return bt;
}

int et_host_run_bots(const char *dir, const char *plugins_dir, const char *bots_yaml, int ticks)
{
    /* et_make_config's edits are one per line, with a literal backslash-n for a line break. */
    char *entries = replace_all(strdup(bots_yaml), "\n", "\\n");
    size_t sz = strlen(entries) + 512;
    char *edits = malloc(sz);
    snprintf(edits, sz,
             "  - bot_id: mom_FESX\\n    enabled: true=>  - bot_id: mom_FESX\\n    enabled: false\n"
             "optionsbot:\\n  enabled: true=>optionsbot:\\n  enabled: false\n"
             "cryptobot:\\n  enabled: true=>cryptobot:\\n  enabled: false\n"
             "bots: []=>bots:\\n%s",
             entries);
    int rc = et_make_config(dir, NULL, edits);
    free(edits);
    free(entries);
    if (rc != 0)
        return -1;
    char cfgdir[600], nticks[16];
    snprintf(cfgdir, sizeof cfgdir, "%s/config", dir);
    snprintf(nticks, sizeof nticks, "%d", ticks);
    const char *argv[] = {HYDRA_HOST_BIN, "--config", cfgdir, "--plugins", plugins_dir, "--ticks",
                          nticks, "--interval-ms", "0", "--quiet", NULL};
    char *out = NULL;
    rc = tu_run(argv, NULL, 300, &out);
    if (rc != 0)
        print_error("hydra-host exited with %d:\n%s\n", rc, out ? out : "");
    free(out);
    return rc;
}

void et_assert_trades_in_worker(const char *plugins_dir, const char *bot_id, const char *plugin,
                                const char *mode, const char *params)
{
    char dir[256], log[512], yaml[1024];
    tu_mkdtemp(dir, sizeof dir);
    snprintf(yaml, sizeof yaml,
             "  - bot_id: %s\n    plugin: %s\n    bucket: momentum\n    asset_class: equity\n"
             "    isolation: process\n    symbols: [FESX]\n    signal:\n      mode: %s\n"
             "      params: %s\n",
             bot_id, plugin, mode, params);
    assert_int_equal(et_host_run_bots(dir, plugins_dir, yaml, 400), 0);
    snprintf(log, sizeof log, "%s/app.jsonl", dir);
    assert_int_equal(et_count_events(log, "bot_loaded", bot_id), 1);
    assert_true(et_count_events(log, "order_fill", bot_id) >= 2);
    assert_int_equal(et_count_events(log, "bot_quarantined", bot_id), 0);
    tu_rmtree(dir);
}

void et_options(hydra_engine_options *opt, const char *dir)
{
    memset(opt, 0, sizeof *opt);
    snprintf(opt->config_dir, sizeof opt->config_dir, "%s/config", dir);
    snprintf(opt->plugins_dir, sizeof opt->plugins_dir, "%s", HYDRA_TEST_PLUGIN_DIR);
    opt->interval_ms = 0;
    opt->quiet = 1;
    /* The test binaries live below the build tree's top; the worker sits at the top. */
    setenv("HYDRA_WORKER", HYDRA_WORKER_BIN, 1);
}

/* ---- the fault-injecting wrapper ---- */

static int roll(et_broker *w)
{
    if (w->faults.random_rate <= 0)
        return 0;
    /* splitmix64: reproducible from the seed. */
    unsigned long long z = (w->rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0 < w->faults.random_rate;
}

static int fault(et_broker *w, int code, hydra_broker_err *err, const char *call)
{
    if (code == 0 && roll(w))
        code = HYDRA_ETRANSIENT;
    if (code == 0)
        return 0;
    if (w->faults.message != NULL)
        return hydra_broker_fail(err, code, code == HYDRA_ETRANSIENT ? 503 : 422, "%s",
                                 w->faults.message);
    return hydra_broker_fail(err, code, code == HYDRA_ETRANSIENT ? 503 : 0, "injected fault in %s",
                             call);
}

static int w_account(void *ctx, hydra_account *out, hydra_broker_err *err)
{
    et_broker *w = ctx;
    int rc = fault(w, w->faults.account, err, "account");
    if (rc == 0)
        rc = w->inner.ops->account(w->inner.ctx, out, err);
    if (rc == 0 && w->faults.blocked)
        out->trading_blocked = 1;
    if (rc == 0 && w->faults.equity_scale > 0)
        out->equity *= w->faults.equity_scale;
    return rc;
}

static int w_positions(void *ctx, hydra_broker_position *out, size_t cap, size_t *n,
                       hydra_broker_err *err)
{
    et_broker *w = ctx;
    int rc = fault(w, 0, err, "positions");
    return rc ? rc : w->inner.ops->positions(w->inner.ctx, out, cap, n, err);
}

static int w_open_orders(void *ctx, hydra_order *out, size_t cap, size_t *n, hydra_broker_err *err)
{
    et_broker *w = ctx;
    return w->inner.ops->open_orders(w->inner.ctx, out, cap, n, err);
}

static int w_submit(void *ctx, const hydra_order_request *req, hydra_order *out,
                    hydra_broker_err *err)
{
    et_broker *w = ctx;
    int rc = fault(w, w->faults.submit, err, "submit");
    if (rc)
        return rc;
    if (w->n_submits < ET_MAX_SUBMITS) {
        et_submit *s = &w->submits[w->n_submits++];
        snprintf(s->cid, sizeof s->cid, "%s", req->client_order_id);
        snprintf(s->symbol, sizeof s->symbol, "%s", req->symbol);
        s->side = req->side;
        hydra_halt h = {0};
        s->halted = hydra_halt_get(w->engine->state, &h) != 0 || h.active;
        double price = req->limit_price > 0 ? req->limit_price
                                            : hydra_market_price(&w->engine->market, req->symbol);
        s->notional_estimate = req->notional > 0 ? req->notional
                                                 : req->qty * (isfinite(price) ? price : 0) *
                                                       (req->asset_class == HYDRA_ASSET_OPTION ? 100 : 1);
    }
    return w->inner.ops->submit(w->inner.ctx, req, out, err);
}

static int w_order(void *ctx, const char *cid, hydra_order *out, hydra_broker_err *err)
{
    et_broker *w = ctx;
    int rc = fault(w, w->faults.orders, err, "order_by_client_id");
    return rc ? rc : w->inner.ops->order_by_client_id(w->inner.ctx, cid, out, err);
}

static int w_cancel_all(void *ctx, hydra_broker_err *err)
{
    et_broker *w = ctx;
    w->n_account_wide++;
    return w->inner.ops->cancel_all(w->inner.ctx, err);
}

static int w_close_all(void *ctx, hydra_broker_err *err)
{
    et_broker *w = ctx;
    w->n_account_wide++;
    return w->inner.ops->close_all(w->inner.ctx, err);
}

static int w_prices(void *ctx, const char *const *symbols, size_t n, hydra_quote *out,
                    hydra_broker_err *err)
{
    et_broker *w = ctx;
    int rc = fault(w, w->faults.prices, err, "latest_prices");
    return rc ? rc : w->inner.ops->latest_prices(w->inner.ctx, symbols, n, out, err);
}

static int w_bars(void *ctx, const char *symbol, int tf, size_t limit, hydra_bar *out, size_t *n,
                  hydra_broker_err *err)
{
    et_broker *w = ctx;
    return w->inner.ops->bars(w->inner.ctx, symbol, tf, limit, out, n, err);
}

static int w_chain(void *ctx, const char *u, const hydra_chain_filter *filter,
                   hydra_option_quote *out, size_t cap, size_t *n, hydra_broker_err *err)
{
    et_broker *w = ctx;
    int rc = fault(w, w->faults.chain, err, "option_chain");
    if (rc != 0)
        return rc;
    w->n_chains++;
    return w->inner.ops->option_chain(w->inner.ctx, u, filter, out, cap, n, err);
}

static int w_clock(void *ctx, hydra_market_clock *out, hydra_broker_err *err)
{
    et_broker *w = ctx;
    return w->inner.ops->clock(w->inner.ctx, out, err);
}

static int w_calendar(void *ctx, int from, int to, hydra_session *out, size_t cap, size_t *n,
                      hydra_broker_err *err)
{
    et_broker *w = ctx;
    if (w->inner.ops->calendar == NULL) {
        *n = 0;
        return hydra_broker_fail(err, HYDRA_EREJECTED, 0, "the wrapped broker has no calendar");
    }
    return w->inner.ops->calendar(w->inner.ctx, from, to, out, cap, n, err);
}

static int w_order_by_id(void *ctx, const char *id, hydra_order *out, hydra_broker_err *err)
{
    et_broker *w = ctx;
    if (w->inner.ops->order_by_id == NULL)
        return hydra_broker_fail(err, HYDRA_ENOTFOUND, 0, "no order_by_id");
    int rc = fault(w, w->faults.orders, err, "order_by_id");
    return rc ? rc : w->inner.ops->order_by_id(w->inner.ctx, id, out, err);
}

static int w_cancel_order(void *ctx, const char *order_id, hydra_broker_err *err)
{
    et_broker *w = ctx;
    w->n_cancels++;
    return w->inner.ops->cancel_order(w->inner.ctx, order_id, err);
}

static const hydra_broker_ops wrapper_ops = {
    .name = "fault-injecting wrapper",
    .account = w_account,
    .positions = w_positions,
    .open_orders = w_open_orders,
    .submit = w_submit,
    .order_by_client_id = w_order,
    .cancel_all = w_cancel_all,
    .close_all = w_close_all,
    .cancel_order = w_cancel_order,
    .latest_prices = w_prices,
    .bars = w_bars,
    .option_chain = w_chain,
    .clock = w_clock,
    .destroy = NULL,
    .calendar = w_calendar,
    .order_by_id = w_order_by_id,
};

void et_wrap(et_broker *w, hydra_engine *e)
{
    w->inner = e->broker;
    w->engine = e;
    w->rng = w->faults.seed;
    e->broker.ops = &wrapper_ops;
    e->broker.ctx = w;
}

const char *et_cid_from_bot(const char *cid)
{
    const char *p = cid;
    for (int i = 0; i < 3 && p != NULL; i++) {
        p = strchr(p, '-');
        p = p != NULL ? p + 1 : NULL;
    }
    return p != NULL ? p : cid;
}

void et_stranger_order(hydra_broker *b, const char *cid, const char *symbol, double qty, double limit)
{
    hydra_order_request r;
    memset(&r, 0, sizeof r);
    snprintf(r.client_order_id, sizeof r.client_order_id, "%s", cid);
    snprintf(r.symbol, sizeof r.symbol, "%s", symbol);
    r.side = HYDRA_SIDE_BUY;
    r.type = HYDRA_ORDER_LIMIT;
    r.tif = HYDRA_TIF_GTC;
    r.qty = qty;
    r.limit_price = limit;
    hydra_order o;
    hydra_broker_err err = {0};
    if (b->ops->submit(b->ctx, &r, &o, &err) != 0)
        fail_msg("stranger order %s refused: %s", cid, err.msg);
}

hydra_bot_slot *et_slot(hydra_engine *e, const char *bot_id)
{
    for (int i = 0; i < e->n_slots; i++)
        if (strcmp(e->slots[i].cfg->bot_id, bot_id) == 0)
            return &e->slots[i];
    fail_msg("no bot %s", bot_id);
    return NULL;
}

void et_resting_buy(hydra_engine *e, const char *bot_id, const char *symbol, double qty,
                    const char *why, char *cid)
{
    double price = hydra_market_price(&e->market, symbol);
    assert_true(isfinite(price) && price > 0);
    hydra_intent in = {0};
    in.struct_size = sizeof in;
    in.kind = HYDRA_INTENT_ENTRY;
    in.side = HYDRA_SIDE_BUY;
    in.type = HYDRA_ORDER_LIMIT;
    in.tif = HYDRA_TIF_GTC;
    snprintf(in.symbol, sizeof in.symbol, "%s", symbol);
    in.qty = qty;
    in.limit_price = floor(price * 0.90);
    assert_int_equal(hydra_orders_submit(e, et_slot(e, bot_id), &in, why, cid), 0);
}

int et_broker_status(hydra_broker *b, const char *cid)
{
    hydra_order o;
    hydra_broker_err err = {0};
    if (b->ops->order_by_client_id(b->ctx, cid, &o, &err) != 0)
        return -1;
    return o.status;
}

int et_count_events(const char *log_path, const char *event, const char *bot_id)
{
    char *text = tu_read_file(log_path, NULL);
    if (text == NULL)
        return -1;
    int count = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        if (j == NULL) {
            count = -1000000; /* an unparsable line fails any count */
            break;
        }
        const char *ev = json_string_value(json_object_get(j, "event"));
        const char *bid = json_string_value(json_object_get(j, "bot_id"));
        if (ev != NULL && strcmp(ev, event) == 0 &&
            (bot_id == NULL || (bid != NULL && strcmp(bid, bot_id) == 0)))
            count++;
        json_decref(j);
    }
    free(text);
    return count;
}

/* ---- the common fixture ---- */

int et_setup(void **state)
{
    et_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_non_null(tu_mkdtemp(f->dir, sizeof f->dir));
    snprintf(f->log, sizeof f->log, "%s/app.jsonl", f->dir);
    snprintf(f->cfg, sizeof f->cfg, "%s/config", f->dir);
    f->w = calloc(1, sizeof *f->w);
    assert_non_null(f->w);
    *state = f;
    return 0;
}

int et_teardown(void **state)
{
    et_fixture *f = *state;
    if (f->open)
        hydra_engine_close(&f->e);
    tu_rmtree(f->dir);
    free(f->w);
    free(f);
    return 0;
}

int et_try_open(et_fixture *f, char *err, size_t errsz, int *code)
{
    hydra_engine_options opt;
    et_options(&opt, f->dir);
    int rc = hydra_engine_open(&f->e, &opt, err, errsz, code);
    f->open = rc == 0;
    return rc;
}

void et_open(et_fixture *f)
{
    char err[4096] = "";
    int code = -1;
    if (et_try_open(f, err, sizeof err, &code) != 0)
        fail_msg("engine open failed (exit %d): %s", code, err);
}

void et_close(et_fixture *f)
{
    hydra_engine_close(&f->e);
    f->open = 0;
}

void et_ticks(et_fixture *f, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(hydra_engine_tick(&f->e), 0);
}

hydra_halt et_current_halt(et_fixture *f)
{
    hydra_halt h;
    assert_int_equal(hydra_halt_get(f->e.state, &h), 0);
    return h;
}

/* ---- HTTP ---- */

typedef struct et_body {
    char *text;
    size_t len;
} et_body;

static size_t collect_body(char *p, size_t size, size_t n, void *ud)
{
    et_body *b = ud;
    char *t = realloc(b->text, b->len + size * n + 1);
    if (t == NULL)
        return 0;
    memcpy(t + b->len, p, size * n);
    b->len += size * n;
    t[b->len] = '\0';
    b->text = t;
    return size * n;
}

long et_http(const char *method, const char *url, const char *const *headers, const char *body,
             char **out, char *ctype, size_t ctsz)
{
    CURL *c = curl_easy_init();
    assert_non_null(c);
    et_body b = {0};
    struct curl_slist *hdr = NULL;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        hdr = curl_slist_append(hdr, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    long status = -1;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (ctype != NULL) {
        char *ct = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(ctype, ctsz, "%s", ct != NULL ? ct : "");
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    *out = b.text != NULL ? b.text : strdup("");
    return status;
}

/* ---- a host with a plugins directory of its own ---- */

void et_copy_plugin(const char *plugins, const char *from, const char *name)
{
    char to[768];
    snprintf(to, sizeof to, "%s/%s.so", plugins, name);
    assert_int_equal(tu_copy_file(from, to), 0);
}

void et_replace_plugin(const char *plugins, const char *from, const char *name)
{
    char tmp[768], to[768];
    snprintf(tmp, sizeof tmp, "%s/%s.so.new", plugins, name);
    snprintf(to, sizeof to, "%s/%s.so", plugins, name);
    assert_int_equal(tu_copy_file(from, tmp), 0);
    assert_int_equal(rename(tmp, to), 0);
}

void et_make_plugins(const char *dir, char *plugins, size_t plugins_sz, const char *const *pairs)
{
    snprintf(plugins, plugins_sz, "%s/plugins", dir);
    assert_int_equal(mkdir(plugins, 0755), 0);
    for (size_t i = 0; pairs[i] != NULL; i += 2) {
        assert_non_null(pairs[i + 1]);
        et_copy_plugin(plugins, pairs[i], pairs[i + 1]);
    }
}

void et_open_plugins(hydra_engine *e, const char *dir, const char *plugins, int force_inprocess)
{
    hydra_engine_options opt;
    et_options(&opt, dir);
    snprintf(opt.plugins_dir, sizeof opt.plugins_dir, "%s", plugins);
    opt.force_inprocess = force_inprocess;
    char err[4096] = "";
    int code = -1;
    if (hydra_engine_open(e, &opt, err, sizeof err, &code) != 0)
        fail_msg("engine open failed (exit %d): %s", code, err);
}

void et_engine_ticks(hydra_engine *e, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(hydra_engine_tick(e), 0);
}

int et_host_setup(void **state)
{
    setenv("HYDRA_WORKER", HYDRA_WORKER_BIN, 1);
    return et_setup(state);
}
