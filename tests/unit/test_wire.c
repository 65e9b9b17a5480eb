/*
 * The worker protocol's messages that the host decodes from a worker:
 * LOADED and the requests a bot makes during a call (LOG, KV_GET, KV_SET,
 * CHAIN_GET). Each must decode to what was encoded, and every body that is
 * cut short, carries a byte too many, or holds a string too long for the
 * host's field must be refused with a reason, never half-read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "wire.h"

/* Which decoder a body goes through. */
enum kind { K_LOADED, K_LOG, K_KV_GET, K_KV_SET, K_CHAIN_GET };

static int decode(enum kind k, const unsigned char *p, size_t len, char *why, size_t whysz)
{
    hydra_wire_in in;
    hydra_wire_loaded l;
    const char *a, *b;
    int32_t level;
    uint64_t u64;
    uint32_t r, c;
    hydra_wire_in_init(&in, p, len);
    switch (k) {
    case K_LOADED: return hydra_wire_get_loaded(&in, &l, why, whysz);
    case K_LOG: return hydra_wire_get_log(&in, &level, &a, &b, why, whysz);
    case K_KV_GET: return hydra_wire_get_kv_get(&in, &a, &u64, why, whysz);
    case K_KV_SET: return hydra_wire_get_kv_set(&in, &a, &b, why, whysz);
    case K_CHAIN_GET: return hydra_wire_get_chain_get(&in, &a, &r, &c, why, whysz);
    }
    return -1;
}

/*
 * The body of the finished message in o decodes; every shorter prefix and
 * the body with one more byte are refused with HYDRA_EPROTO and a reason.
 * Each candidate is copied into a buffer of exactly its size, so ASan sees
 * any read past it.
 */
static void assert_exact(enum kind k, const hydra_wire_out *o)
{
    const unsigned char *body = o->p + HYDRA_WIRE_HEADER_SIZE;
    size_t len = o->len - HYDRA_WIRE_HEADER_SIZE;
    for (size_t n = 0; n <= len + 1; n++) {
        unsigned char *copy = malloc(n > 0 ? n : 1);
        char why[200] = "";
        assert_non_null(copy);
        memcpy(copy, body, n <= len ? n : len);
        if (n > len)
            copy[len] = 0;
        int rc = decode(k, copy, n, why, sizeof why);
        if (n == len) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, HYDRA_EPROTO);
            assert_true(why[0] != '\0');
        }
        free(copy);
    }
}

static void test_loaded_round_trip(void **state)
{
    (void)state;
    hydra_wire_out o = {0};
    hydra_abi_version abi = {1, 4, 2};
    hydra_wire_begin(&o, HYDRA_WIRE_LOADED);
    hydra_wire_put_loaded(&o, "momentum", "1.2.0", abi, 1, "seccomp on", 1);
    assert_int_equal(hydra_wire_finish(&o), 0);

    hydra_wire_in in;
    hydra_wire_loaded l;
    char why[200] = "";
    hydra_wire_in_init(&in, o.p + HYDRA_WIRE_HEADER_SIZE, o.len - HYDRA_WIRE_HEADER_SIZE);
    assert_int_equal(hydra_wire_get_loaded(&in, &l, why, sizeof why), 0);
    assert_int_equal(l.status, 0);
    assert_string_equal(l.error, "");
    assert_string_equal(l.name, "momentum");
    assert_string_equal(l.version, "1.2.0");
    assert_int_equal(l.abi.major, 1);
    assert_int_equal(l.abi.minor, 4);
    assert_int_equal(l.abi.patch, 2);
    assert_int_equal(l.seccomp, 1);
    assert_string_equal(l.seccomp_note, "seccomp on");
    assert_int_equal(l.asks_chain, 1);
    assert_exact(K_LOADED, &o);

    hydra_wire_begin(&o, HYDRA_WIRE_LOADED);
    hydra_wire_put_load_refused(&o, HYDRA_EPLUGIN, "plugins/x.so: plugin name is empty");
    assert_int_equal(hydra_wire_finish(&o), 0);
    hydra_wire_in_init(&in, o.p + HYDRA_WIRE_HEADER_SIZE, o.len - HYDRA_WIRE_HEADER_SIZE);
    assert_int_equal(hydra_wire_get_loaded(&in, &l, why, sizeof why), 0);
    assert_int_equal(l.status, HYDRA_EPLUGIN);
    assert_string_equal(l.error, "plugins/x.so: plugin name is empty");
    assert_exact(K_LOADED, &o);
    hydra_wire_out_free(&o);
}

/* A name the host cannot hold whole is refused, never cut to fit. */
static void test_loaded_refuses_long_strings(void **state)
{
    (void)state;
    char name[65], version[33], note[161];
    hydra_abi_version abi = {1, 0, 0};
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    memset(version, 'v', sizeof version - 1);
    version[sizeof version - 1] = '\0';
    memset(note, 's', sizeof note - 1);
    note[sizeof note - 1] = '\0';
    const char *names[3] = {name, "ok", "ok"}, *versions[3] = {"1", version, "1"},
               *notes[3] = {"", "", note};
    for (int i = 0; i < 3; i++) {
        hydra_wire_out o = {0};
        hydra_wire_in in;
        hydra_wire_loaded l;
        char why[200] = "";
        hydra_wire_begin(&o, HYDRA_WIRE_LOADED);
        hydra_wire_put_loaded(&o, names[i], versions[i], abi, 0, notes[i], 0);
        assert_int_equal(hydra_wire_finish(&o), 0);
        hydra_wire_in_init(&in, o.p + HYDRA_WIRE_HEADER_SIZE, o.len - HYDRA_WIRE_HEADER_SIZE);
        assert_int_equal(hydra_wire_get_loaded(&in, &l, why, sizeof why), HYDRA_EPROTO);
        assert_string_equal(why, "LOADED body is malformed or truncated");
        hydra_wire_out_free(&o);
    }
}

static void test_requests_round_trip(void **state)
{
    (void)state;
    hydra_wire_out o = {0};
    hydra_wire_in in;
    char why[200] = "";
    const char *a, *b;

    int32_t level;
    hydra_wire_begin(&o, HYDRA_WIRE_LOG);
    hydra_wire_put_log(&o, 2, "signal", "roc 0.42%");
    assert_int_equal(hydra_wire_finish(&o), 0);
    hydra_wire_in_init(&in, o.p + HYDRA_WIRE_HEADER_SIZE, o.len - HYDRA_WIRE_HEADER_SIZE);
    assert_int_equal(hydra_wire_get_log(&in, &level, &a, &b, why, sizeof why), 0);
    assert_int_equal(level, 2);
    assert_string_equal(a, "signal");
    assert_string_equal(b, "roc 0.42%");
    assert_exact(K_LOG, &o);

    uint64_t bufsz;
    hydra_wire_begin(&o, HYDRA_WIRE_KV_GET);
    hydra_wire_put_kv_get(&o, "last_day", 8192);
    assert_int_equal(hydra_wire_finish(&o), 0);
    hydra_wire_in_init(&in, o.p + HYDRA_WIRE_HEADER_SIZE, o.len - HYDRA_WIRE_HEADER_SIZE);
    assert_int_equal(hydra_wire_get_kv_get(&in, &a, &bufsz, why, sizeof why), 0);
    assert_string_equal(a, "last_day");
    assert_int_equal(bufsz, 8192);
    assert_exact(K_KV_GET, &o);

    hydra_wire_begin(&o, HYDRA_WIRE_KV_SET);
    hydra_wire_put_kv_set(&o, "last_day", "20060102");
    assert_int_equal(hydra_wire_finish(&o), 0);
    hydra_wire_in_init(&in, o.p + HYDRA_WIRE_HEADER_SIZE, o.len - HYDRA_WIRE_HEADER_SIZE);
    assert_int_equal(hydra_wire_get_kv_set(&in, &a, &b, why, sizeof why), 0);
    assert_string_equal(a, "last_day");
    assert_string_equal(b, "20060102");
    assert_exact(K_KV_SET, &o);

    uint32_t rights, cap;
    hydra_wire_begin(&o, HYDRA_WIRE_CHAIN_GET);
    hydra_wire_put_chain_get(&o, "SPY", 3, 64);
    assert_int_equal(hydra_wire_finish(&o), 0);
    hydra_wire_in_init(&in, o.p + HYDRA_WIRE_HEADER_SIZE, o.len - HYDRA_WIRE_HEADER_SIZE);
    assert_int_equal(hydra_wire_get_chain_get(&in, &a, &rights, &cap, why, sizeof why), 0);
    assert_string_equal(a, "SPY");
    assert_int_equal(rights, 3);
    assert_int_equal(cap, 64);
    assert_exact(K_CHAIN_GET, &o);
    hydra_wire_out_free(&o);
}

/* A string whose length field does not end on its only NUL is refused. */
static void test_requests_refuse_bad_strings(void **state)
{
    (void)state;
    /* KV_SET key "ab" with the NUL in the middle, then a good value. */
    static const unsigned char inner_nul[] = {3, 0, 0, 0, 'a', 0, 'b', 2, 0, 0, 0, 'v', 0};
    /* LOG event whose length claims more bytes than the body has. */
    static const unsigned char too_long[] = {1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 'e', 0};
    /* CHAIN_GET underlying of length 0 (the NUL is always counted). */
    static const unsigned char zero_len[] = {0, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0};
    char why[200] = "";
    assert_int_equal(decode(K_KV_SET, inner_nul, sizeof inner_nul, why, sizeof why), HYDRA_EPROTO);
    assert_string_equal(why, "KV_SET body is malformed or truncated");
    assert_int_equal(decode(K_LOG, too_long, sizeof too_long, why, sizeof why), HYDRA_EPROTO);
    assert_string_equal(why, "LOG body is malformed or truncated");
    assert_int_equal(decode(K_CHAIN_GET, zero_len, sizeof zero_len, why, sizeof why),
                     HYDRA_EPROTO);
    assert_string_equal(why, "CHAIN_GET body is malformed or truncated");
}

/*
 * ABI 1.1 over the wire (version 3): the bot's working orders reach the
 * worker's snapshot and a cancel's client_order_id comes back; a 1.0-sized
 * snapshot carries no orders; a peer of the previous version is refused.
 */
static void test_orders_and_cancel_round_trip(void **state)
{
    (void)state;
    hydra_budget_view budget = {.struct_size = sizeof budget, .trades_left_today = 3};
    hydra_order_view ov = {sizeof ov, HYDRA_INTENT_ENTRY, HYDRA_SIDE_BUY, HYDRA_ORDER_LIMIT,
                           HYDRA_ASSET_EQUITY, HYDRA_ORDER_VIEW_OPEN, "hy-1-2-mom-20260105-1", "AAPL",
                           5.0, 2.0, 101.25, 1767600000000};
    const hydra_order_view *ovp[1] = {&ov};
    hydra_snapshot snap = {.struct_size = sizeof snap, .tick = 7, .budget = &budget,
                           .orders = ovp, .n_orders = 1};
    hydra_wire_out o = {0};
    hydra_wire_begin(&o, HYDRA_WIRE_CALL);
    hydra_wire_put_snapshot(&o, &snap);
    assert_int_equal(hydra_wire_finish(&o), 0);
    hydra_wire_snapshot *ws = hydra_wire_snapshot_new();
    assert_non_null(ws);
    hydra_wire_in in;
    char why[200] = "";
    hydra_wire_in_init(&in, o.p + HYDRA_WIRE_HEADER_SIZE, o.len - HYDRA_WIRE_HEADER_SIZE);
    assert_int_equal(hydra_wire_get_snapshot(&in, ws, why, sizeof why), 0);
    assert_int_equal(ws->snap.n_orders, 1);
    const hydra_order_view *got = ws->snap.orders[0];
    assert_string_equal(got->client_order_id, "hy-1-2-mom-20260105-1");
    assert_string_equal(got->symbol, "AAPL");
    assert_int_equal(got->state, HYDRA_ORDER_VIEW_OPEN);
    assert_int_equal(got->type, HYDRA_ORDER_LIMIT);
    assert_true(got->qty == 5.0 && got->filled_qty == 2.0 && got->limit_price == 101.25);
    assert_true(got->submitted_ms == 1767600000000);
    hydra_wire_out_free(&o);

    /* A host offering a 1.0-sized snapshot: the orders are not read, none are sent. */
    snap.struct_size = (uint32_t)offsetof(hydra_snapshot, orders);
    memset(&o, 0, sizeof o);
    hydra_wire_begin(&o, HYDRA_WIRE_CALL);
    hydra_wire_put_snapshot(&o, &snap);
    assert_int_equal(hydra_wire_finish(&o), 0);
    hydra_wire_in_init(&in, o.p + HYDRA_WIRE_HEADER_SIZE, o.len - HYDRA_WIRE_HEADER_SIZE);
    assert_int_equal(hydra_wire_get_snapshot(&in, ws, why, sizeof why), 0);
    assert_int_equal(ws->snap.n_orders, 0);
    hydra_wire_out_free(&o);
    free(ws);

    hydra_intent cancel;
    memset(&cancel, 0, sizeof cancel);
    cancel.struct_size = sizeof cancel;
    cancel.kind = HYDRA_INTENT_CANCEL;
    snprintf(cancel.client_order_id, sizeof cancel.client_order_id, "hy-1-2-mom-20260105-1");
    memset(&o, 0, sizeof o);
    hydra_wire_begin(&o, HYDRA_WIRE_RESULT);
    hydra_wire_put_result(&o, 0, HYDRA_WIRE_BUFFER_OK, &cancel, 1);
    assert_int_equal(hydra_wire_finish(&o), 0);
    hydra_intent back[2];
    int32_t status;
    uint32_t bs, n;
    hydra_wire_in_init(&in, o.p + HYDRA_WIRE_HEADER_SIZE, o.len - HYDRA_WIRE_HEADER_SIZE);
    assert_int_equal(hydra_wire_get_result(&in, &status, &bs, back, 2, &n, why, sizeof why), 0);
    assert_int_equal(n, 1);
    assert_int_equal(back[0].kind, HYDRA_INTENT_CANCEL);
    assert_string_equal(back[0].client_order_id, "hy-1-2-mom-20260105-1");
    hydra_wire_out_free(&o);

    hydra_wire_header h = {HYDRA_WIRE_MAGIC, 2, HYDRA_WIRE_CALL, 0};
    assert_int_equal(hydra_wire_check_header(&h, why, sizeof why), HYDRA_EPROTO);
    assert_non_null(strstr(why, "version 2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loaded_round_trip),
        cmocka_unit_test(test_loaded_refuses_long_strings),
        cmocka_unit_test(test_requests_round_trip),
        cmocka_unit_test(test_requests_refuse_bad_strings),
        cmocka_unit_test(test_orders_and_cancel_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
