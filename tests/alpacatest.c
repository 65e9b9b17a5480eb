#define _GNU_SOURCE
#include "alpacatest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "state.h"
#include "testutil.h"

at_fixture *at_new(const char *key, const char *secret)
{
    at_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_non_null(tu_mkdtemp(f->dir, sizeof f->dir));
    snprintf(f->log, sizeof f->log, "%s/app.jsonl", f->dir);
    snprintf(f->state_db, sizeof f->state_db, "%s/trading_state.db", f->dir);
    f->key = key;
    f->secret = secret;
    f->w = calloc(1, sizeof *f->w);
    assert_non_null(f->w);
    setenv("ALPACA_KEY", key, 1);
    setenv("ALPACA_SECRET", secret, 1);
    unsetenv("ALPACA_PAPER");
    return f;
}

/* The recording wrapper has no destroy: hand the engine its own broker back so closing frees it. */
static void unwrap(at_fixture *f)
{
    if (f->w->inner.ops != NULL)
        f->e.broker = f->w->inner;
    f->w->inner.ops = NULL;
}

int at_teardown(void **state)
{
    at_fixture *f = *state;
    if (f->open) {
        unwrap(f);
        hydra_engine_close(&f->e);
    }
    if (f->ex != NULL)
        hydra_exchange_stop(f->ex);
    if (f->sim != NULL)
        hydra_sim_close(f->sim);
    free(f->xcfg);
    tu_rmtree(f->dir);
    free(f->w);
    free(f);
    return 0;
}

/* ---- the exchange, in-process ---- */

void at_start_exchange(at_fixture *f, int rate_limit)
{
    char xdir[512], cdir[600], err[1024] = "";
    snprintf(xdir, sizeof xdir, "%s/exchange", f->dir);
    assert_int_equal(mkdir(xdir, 0755), 0);
    assert_int_equal(et_make_config(xdir, NULL, NULL), 0);
    f->xcfg = calloc(1, sizeof *f->xcfg);
    assert_non_null(f->xcfg);
    hydra_diag d;
    hydra_diag_init(&d);
    snprintf(cdir, sizeof cdir, "%s/config", xdir);
    assert_int_equal(hydra_config_load(cdir, f->xcfg, &d), 0);
    hydra_diag_free(&d);
    hydra_tz_set(f->xcfg->settings.timezone);
    hydra_clock_init_sim(&f->xclock, 0);
    if (hydra_engine_open_sim(&f->xcfg->settings.sim, &f->xclock, &f->sim, err, sizeof err) != 0)
        fail_msg("exchange sim: %s", err);
    hydra_exchange_opts o = {f->key, f->secret, 0, rate_limit};
    if (hydra_exchange_start(f->sim, &f->xclock, &o, &f->ex, err, sizeof err) != 0)
        fail_msg("exchange: %s", err);
    f->port = hydra_exchange_port(f->ex);
}

/* ---- the host ---- */

void at_host_config(at_fixture *f, int timeout_ms, int call_deadline_ms, const char *settings_edits,
                    const char *bots_edits)
{
    char edits[2048];
    int n =
        snprintf(edits, sizeof edits,
                 "broker: sim =>broker: alpaca \n"
                 "trading_url: https://paper-api.alpaca.markets=>trading_url: http://127.0.0.1:%d\n"
                 "data_url: https://data.alpaca.markets=>data_url: http://127.0.0.1:%d\n"
                 "timeout_ms: 10000=>timeout_ms: %d\n"
                 "use_broker_clock: false=>use_broker_clock: true\n"
                 "call_deadline_ms: 0 =>call_deadline_ms: %d \n%s",
                 f->port, f->port, timeout_ms, call_deadline_ms,
                 settings_edits != NULL ? settings_edits : "");
    assert_true(n > 0 && (size_t)n < sizeof edits);
    assert_int_equal(et_make_config(f->dir, edits, bots_edits), 0);
}

int at_try_open(at_fixture *f, char *err, size_t errsz, int *code)
{
    hydra_engine_options opt;
    et_options(&opt, f->dir);
    err[0] = '\0';
    int rc = hydra_engine_open(&f->e, &opt, err, errsz, code);
    if (rc != 0)
        return rc;
    f->open = 1;
    memset(f->w, 0, sizeof *f->w);
    et_wrap(f->w, &f->e); /* records every submission and whether a halt was active */
    return 0;
}

void at_open(at_fixture *f)
{
    char err[4096] = "";
    int code = -1;
    if (at_try_open(f, err, sizeof err, &code) != 0)
        fail_msg("engine open failed (exit %d): %s", code, err);
}

void at_close(at_fixture *f)
{
    unwrap(f);
    hydra_engine_close(&f->e);
    f->open = 0;
}

void at_tick(at_fixture *f)
{
    hydra_exchange_step(f->ex, 1);
    assert_int_equal(hydra_engine_tick(&f->e), 0);
}

void at_ticks(at_fixture *f, int n)
{
    for (int i = 0; i < n; i++)
        at_tick(f);
}

hydra_halt at_current_halt(at_fixture *f)
{
    hydra_halt h;
    assert_int_equal(hydra_halt_get(f->e.state, &h), 0);
    return h;
}

/* ---- HTTP ---- */

json_t *at_request(at_fixture *f, const char *method, const char *path, const char *body,
                   int with_keys, long *status)
{
    char url[512], key[256], secret[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", f->port, path);
    snprintf(key, sizeof key, "APCA-API-KEY-ID: %s", f->key);
    snprintf(secret, sizeof secret, "APCA-API-SECRET-KEY: %s", f->secret);
    const char *const headers[] = {key, secret, NULL};
    char *text = NULL;
    *status = et_http(method, url, with_keys ? headers : NULL, body, &text, NULL, 0);
    json_t *out = json_loads(text, 0, NULL);
    free(text);
    return out;
}

json_t *at_try_control(at_fixture *f, const char *method, const char *path, const char *body)
{
    long status = 0;
    json_t *out = at_request(f, method, path, body, 0, &status);
    if (status != 200) {
        json_decref(out);
        return NULL;
    }
    return out;
}

json_t *at_control(at_fixture *f, const char *method, const char *path, const char *body)
{
    json_t *out = at_try_control(f, method, path, body);
    if (out == NULL)
        fail_msg("control %s %s: no answer (or not 200 with JSON)", method, path);
    return out;
}

void at_set_faults(at_fixture *f, const char *rules_json)
{
    json_decref(at_control(f, "POST", "/_hydra/faults", rules_json));
}

long at_stat_of(at_fixture *f, const char *key)
{
    json_t *s = at_control(f, "GET", "/_hydra/stats", NULL);
    long v = (long)json_integer_value(json_object_get(s, key));
    json_decref(s);
    return v;
}
