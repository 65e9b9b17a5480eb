/*
 * Order identity and strangers with `broker: alpaca` against the local
 * exchange (hydra-exchange's server in-process on 127.0.0.1): an order id
 * taken by somebody else is never adopted, a fill beyond an order's size is
 * never booked, reset-paper leaves a real account's state alone, and
 * positions Hydra did not open are the operator's.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alpaca.h"
#include "alpaca_json.h"
#include "alpacatest.h"
#include "enginetest.h"
#include "error.h"
#include "exchange_server.h"
#include "orders.h"
#include "state.h"
#include "testutil.h"

#define FAKE_KEY "PKFAKETESTKEY00000002"
#define FAKE_SECRET "fake-test-secret-do-not-use-0000000002"

/* The operator's ETH after the exchange took its fee in coin (set by place_strangers). */
static double operator_eth;

/* ---- the host, with broker alpaca at the local exchange (tests/alpacatest.c) ---- */

static void start_exchange(at_fixture *f)
{
    at_start_exchange(f, 1000000);
}

static void make_host_config_bots(at_fixture *f, const char *extra_edits, const char *bots_edits)
{
    char edits[1024];
    snprintf(edits, sizeof edits, "connect_timeout_ms: 3000=>connect_timeout_ms: 300\n%s",
             extra_edits != NULL ? extra_edits : "");
    at_host_config(f, 2000, 5000, edits, bots_edits);
}

static void make_host_config(at_fixture *f, const char *extra_edits)
{
    make_host_config_bots(f, extra_edits, NULL);
}

static int setup(void **state)
{
    operator_eth = 0;
    *state = at_new(FAKE_KEY, FAKE_SECRET);
    return 0;
}

/* ---- HTTP, as another program sharing the account would use it ---- */

/* A request to the exchange; `alpaca` adds the account's keys. Returns the answer, *status set. */
static json_t *http(at_fixture *f, const char *method, const char *path, const char *body,
                    int alpaca, long *status)
{
    json_t *out = at_request(f, method, path, body, alpaca, status);
    if (*status < 0)
        fail_msg("%s %s: no answer", method, path);
    return out;
}

/* An order placed directly on the account by another program. */
static void place_foreign(at_fixture *f, const char *body)
{
    long status = 0;
    json_t *a = http(f, "POST", "/v2/orders", body, 1, &status);
    if (status != 200)
        fail_msg("foreign order refused (%ld): %s", status, body);
    json_decref(a);
}

/* What the account holds in symbol ("ETHUSD" for ETH/USD), asked over HTTP like any Alpaca client. */
static double broker_qty(at_fixture *f, const char *symbol)
{
    long status = 0;
    json_t *list = http(f, "GET", "/v2/positions", NULL, 1, &status);
    assert_int_equal(status, 200);
    double q = 0;
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        char sym[48];
        size_t k = 0;
        for (const char *c = json_string_value(json_object_get(p, "symbol")); *c && k < 47; c++)
            if (*c != '/')
                sym[k++] = *c;
        sym[k] = '\0';
        if (strcmp(sym, symbol) == 0)
            q = strtod(json_string_value(json_object_get(p, "qty")), NULL);
    }
    json_decref(list);
    return q;
}

/* The newest journal row (all bots), by reading the database as an operator would. */
static int newest_row(at_fixture *f, hydra_journal_order *out)
{
    hydra_journal_order rows[512];
    size_t n = 0;
    assert_int_equal(hydra_journal_list_open(f->e.state, rows, 512, &n), 0);
    if (n == 0)
        return 0;
    *out = rows[n - 1];
    return 1;
}

/* Why no order was seen: the host's last skip and failure, for the failure message. */
static void explain_no_order(at_fixture *f)
{
    char *log = tu_read_file(f->log, NULL);
    const char *skip = "", *error = "";
    for (char *l = log != NULL ? strtok(log, "\n") : NULL; l != NULL; l = strtok(NULL, "\n")) {
        if (strstr(l, "\"preflight_skip\"") != NULL)
            skip = l;
        if (strstr(l, "\"level\":\"error\"") != NULL || strstr(l, "\"broker_error\"") != NULL)
            error = l;
    }
    fail_msg("no working order seen; %d submitted; last skip: %.300s; last error: %.300s",
             et_count_events(f->log, "order_submitted", NULL), skip, error);
}

/* ---- order identity ---- */

/*
 * Another program holds the id this host will use for a bot's next order,
 * for a different symbol and side. The host's submission is refused with
 * 422 "client_order_id must be unique"; the order found under the id is not
 * the bot's: nothing of it is booked, the bot enters nothing more today,
 * and the foreign order stays the other program's.
 */
static void test_id_collision_is_never_adopted(void **state)
{
    at_fixture *f = *state;
    start_exchange(f);
    make_host_config(f, NULL);
    at_open(f);
    /* Tick until a bot has a working order; its next id is the same with the sequence + 1. */
    hydra_journal_order first;
    int found = 0;
    for (int i = 0; i < 600 && !found; i++) {
        at_tick(f);
        found = newest_row(f, &first);
    }
    if (!found)
        explain_no_order(f);
    char next[HYDRA_CID_LEN];
    char *dash = strrchr(first.client_order_id, '-');
    assert_non_null(dash);
    snprintf(next, sizeof next, "%.*s-%d", (int)(dash - first.client_order_id),
             first.client_order_id, first.seq + 1);
    /* The stranger: the opposite side in another symbol (YHOO, which no enabled bot trades). */
    char body[512];
    snprintf(body, sizeof body,
             "{\"symbol\":\"YHOO\",\"qty\":\"3\",\"side\":\"%s\",\"type\":\"market\","
             "\"time_in_force\":\"day\",\"client_order_id\":\"%s\"}",
             first.side == HYDRA_SIDE_BUY ? "sell" : "buy", next);
    /* A sell of shares not held would be refused; the stranger buys, whatever the bot does. */
    if (first.side == HYDRA_SIDE_BUY)
        snprintf(body, sizeof body,
                 "{\"symbol\":\"YHOO\",\"qty\":\"3\",\"side\":\"buy\",\"type\":\"limit\","
                 "\"limit_price\":\"1\",\"time_in_force\":\"day\",\"client_order_id\":\"%s\"}",
                 next);
    place_foreign(f, body);
    print_message("bot %s: first order %s, stranger under %s\n", first.bot_id,
                  first.client_order_id, next);

    size_t submits_before = f->w->n_submits;
    hydra_journal_order row;
    int collided = 0;
    for (int i = 0; i < 800 && !collided; i++) {
        at_tick(f);
        collided = hydra_journal_get(f->e.state, next, &row) == 0;
    }
    assert_true(collided);
    size_t collision_at = f->w->n_submits;
    assert_true(collision_at > submits_before);
    for (int i = 0; i < 60; i++)
        at_tick(f);

    /* Nothing of the stranger's order is booked, under any bot. */
    assert_int_equal(row.state, HYDRA_ORD_REJECTED);
    assert_true(row.filled_qty == 0);
    assert_non_null(strstr(row.error, "collision"));
    hydra_bot_position pos[64];
    size_t n = 0;
    assert_int_equal(hydra_position_list(f->e.state, NULL, pos, 64, &n), 0);
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(pos[i].symbol, "YHOO");
    /* The bot enters nothing more today, and says so after a restart too. */
    for (size_t i = collision_at; i < f->w->n_submits; i++)
        if (strstr(f->w->submits[i].cid, first.bot_id) != NULL &&
            f->w->submits[i].side == HYDRA_SIDE_BUY)
            fail_msg("entry %s sent for %s after the collision", f->w->submits[i].cid,
                     first.bot_id);
    hydra_bot_day day;
    assert_int_equal(hydra_bot_day_get(f->e.state, first.bot_id, f->e.day, &day), 0);
    assert_true(day.quarantined);
    assert_false(at_current_halt(f).active);
    at_close(f);
    at_open(f);
    for (int i = 0; i < f->e.n_slots; i++)
        if (strcmp(f->e.slots[i].cfg->bot_id, first.bot_id) == 0)
            assert_true(f->e.slots[i].quarantined);
    assert_int_equal(hydra_journal_get(f->e.state, next, &row), 0);
    assert_int_equal(row.state, HYDRA_ORD_REJECTED);
    at_close(f);
}

/* Ids carry the installation: a lost state database never reuses one. */
static void test_ids_unique_per_installation(void **state)
{
    at_fixture *f = *state;
    start_exchange(f);
    make_host_config(f, NULL);
    at_open(f);
    at_tick(f);
    char a[HYDRA_CID_LEN], b[HYDRA_CID_LEN];
    assert_int_equal(hydra_orders_client_id(&f->e, "crypto_core", "2026-03-02", 1, a, sizeof a), 0);
    assert_true(hydra_orders_is_own(&f->e, a));
    assert_true(strlen(a) <= 128);
    /* The longest bot id still fits Alpaca's 128 characters. */
    assert_int_equal(hydra_orders_client_id(&f->e, "abcdefghijklmnopqrstuvwxyz012345", "2026-03-02",
                                            999999, b, sizeof b),
                     0);
    assert_true(strlen(b) <= 128);
    at_close(f);
    /* The journal is lost: the next host is another installation with other ids. */
    unlink(f->state_db);
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", f->state_db);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", f->state_db);
    unlink(wal);
    at_open(f);
    at_tick(f);
    assert_int_equal(hydra_orders_client_id(&f->e, "crypto_core", "2026-03-02", 1, b, sizeof b), 0);
    assert_string_not_equal(a, b);
    assert_false(hydra_orders_is_own(&f->e, a));
    at_close(f);
}

/*
 * The broker reports an order filled beyond its size. The host books the
 * order's size and no more, and halts: the broker contradicts itself.
 */
static void test_overfill_is_not_booked(void **state)
{
    at_fixture *f = *state;
    start_exchange(f);
    make_host_config(f, NULL);
    at_open(f);
    hydra_journal_order row;
    int found = 0;
    for (int i = 0; i < 600 && !found; i++) {
        at_tick(f);
        found = newest_row(f, &row) && row.state == HYDRA_ORD_OPEN && row.filled_qty == 0;
    }
    assert_true(found);
    /* Twice the order's size: for a notional order, twice what the notional buys near the price. */
    double size = row.qty;
    if (!(size > 0)) {
        double px = hydra_market_price(&f->e.market, row.symbol);
        assert_true(px > 0);
        size = row.notional / px;
    }
    char body[512];
    snprintf(body, sizeof body, "{\"client_order_id\":\"%s\",\"filled_qty\":%.9f}",
             row.client_order_id, size * 2);
    long status = 0;
    json_decref(http(f, "POST", "/_hydra/override", body, 0, &status));
    assert_int_equal(status, 200);
    at_tick(f);

    hydra_halt h = at_current_halt(f);
    assert_true(h.active);
    assert_non_null(strstr(h.reason, "over-fill"));
    hydra_journal_order after;
    assert_int_equal(hydra_journal_get(f->e.state, row.client_order_id, &after), 0);
    print_message("order %s (size %.6g) reported filled %.6g: booked %.6g, halt \"%s\"\n",
                  row.client_order_id, size, size * 2, after.filled_qty, h.reason);
    assert_true(after.filled_qty <= size * 1.011);
    hydra_bot_position p;
    if (hydra_position_get(f->e.state, row.bot_id, row.symbol, &p) == 0)
        assert_true(p.qty <= size * 1.011);
    at_close(f);
}

/* reset-paper under broker: alpaca refuses and leaves the state database as it was. */
static void test_reset_paper_refused_under_alpaca(void **state)
{
    at_fixture *f = *state;
    start_exchange(f);
    make_host_config(f, NULL);
    at_open(f);
    for (int i = 0; i < 5; i++)
        at_tick(f);
    at_close(f);
    size_t len_before = 0, len_after = 0;
    char *before = tu_read_file(f->state_db, &len_before);
    assert_non_null(before);
    char cdir[600], *out = NULL;
    snprintf(cdir, sizeof cdir, "%s/config", f->dir);
    const char *argv[] = {HYDRA_HOST_BIN, "reset-paper", "--config", cdir, NULL};
    int code = tu_run(argv, f->dir, 30, &out);
    print_message("reset-paper exit %d: %s", code, out != NULL ? out : "");
    assert_int_equal(code, 2);
    assert_non_null(out);
    assert_non_null(strstr(out, "cannot reset a real account"));
    assert_non_null(strstr(out, "hydra-host halt"));
    char *after = tu_read_file(f->state_db, &len_after);
    assert_non_null(after);
    assert_int_equal(len_before, len_after);
    assert_memory_equal(before, after, len_before);
    free(before);
    free(after);
    free(out);
    /* The host opens on the same journal afterwards. */
    at_open(f);
    at_close(f);
}

/*
 * A working order is replaced from Alpaca's dashboard with half its size.
 * It is not a cancel: the journal follows the replacement, books its fill
 * under the same bot, and nothing halts.
 */
static void test_replaced_order_is_followed(void **state)
{
    at_fixture *f = *state;
    start_exchange(f);
    make_host_config(f, NULL);
    at_open(f);
    hydra_journal_order row;
    int found = 0;
    for (int i = 0; i < 600 && !found; i++) {
        at_tick(f);
        found = newest_row(f, &row) && row.state == HYDRA_ORD_OPEN && row.filled_qty == 0;
    }
    assert_true(found);
    double size = row.qty;
    if (!(size > 0))
        size = row.notional / hydra_market_price(&f->e.market, row.symbol);
    double half = floor(size / 2 * 1e9) / 1e9;
    char body[512];
    snprintf(body, sizeof body, "{\"client_order_id\":\"%s\",\"qty\":%.9f,\"limit_price\":%.6f}",
             row.client_order_id, half, row.limit_price);
    long status = 0;
    json_t *r = http(f, "POST", "/_hydra/replace", body, 0, &status);
    assert_int_equal(status, 200);
    char new_id[64];
    snprintf(new_id, sizeof new_id, "%s", json_string_value(json_object_get(r, "id")));
    json_decref(r);
    for (int i = 0; i < 5; i++)
        at_tick(f);

    hydra_journal_order after;
    assert_int_equal(hydra_journal_get(f->e.state, row.client_order_id, &after), 0);
    print_message("%s replaced by %s (%.9g -> %.9g): journal %s, filled %.9g\n",
                  row.client_order_id, new_id, size, half, hydra_order_state_name(after.state),
                  after.filled_qty);
    assert_false(at_current_halt(f).active);
    assert_int_equal(after.state, HYDRA_ORD_FILLED);
    assert_string_equal(after.broker_id, new_id);
    assert_true(fabs(after.filled_qty - half) < 1e-9);
    assert_true(fabs(after.qty - half) < 1e-9);
    hydra_bot_position p;
    assert_int_equal(hydra_position_get(f->e.state, row.bot_id, row.symbol, &p), 0);
    /* The bot holds the replacement's fill, less the exchange's fee where it takes it in coin. */
    assert_true(p.qty <= half + 1e-9 && p.qty >= half * 0.99);
    at_close(f);
    /* A restart reconciles the same: the replacement is Hydra's, not a stranger's. */
    at_open(f);
    assert_false(at_current_halt(f).active);
    at_close(f);
}

/* ---- what is stored ---- */

/* The id of a rejected journal row, read from the database file as an operator would. */
static int rejected_cid(at_fixture *f, char *out, size_t outsz)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_open_v2(f->state_db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT client_order_id FROM orders WHERE state = 4 LIMIT 1", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        snprintf(out, outsz, "%s", (const char *)sqlite3_column_text(st, 0));
        found = 1;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return found;
}

/* A refusal whose text echoes the API secret (a proxy's error page) is journaled redacted. */
static void test_refusal_text_is_stored_redacted(void **state)
{
    at_fixture *f = *state;
    start_exchange(f);
    make_host_config(f, NULL);
    at_open(f);
    f->w->faults.submit = HYDRA_EREJECTED;
    f->w->faults.message = "submit: HTTP 403: proxy refused request with header "
                           "APCA-API-SECRET-KEY: " FAKE_SECRET;
    /* The first order any bot sends is refused; its journal row keeps the broker's words. */
    hydra_journal_order rows[1];
    size_t n = 0;
    for (int i = 0; i < 600 && n == 0; i++) {
        at_tick(f);
        char cid[HYDRA_CID_LEN];
        if (rejected_cid(f, cid, sizeof cid) && hydra_journal_get(f->e.state, cid, &rows[0]) == 0)
            n = 1;
    }
    assert_int_equal(n, 1);
    print_message("orders.error: %s\n", rows[0].error);
    assert_null(strstr(rows[0].error, FAKE_SECRET));
    assert_non_null(strstr(rows[0].error, "APCA-API-SECRET-KEY"));
    at_close(f);
}

/* A fill price with binary floating-point noise is read as the price it is. */
static void test_fill_price_noise_is_rounded(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *j = json_load_file(HYDRA_SOURCE_DIR "/tests/fixtures/alpaca/order_filled.json", 0, &jerr);
    assert_non_null(j);
    json_object_set_new(j, "filled_avg_price", json_string("192.43000000099997"));
    hydra_order o;
    char why[200];
    assert_int_equal(hydra_alpaca_parse_order(j, &o, why, sizeof why), 0);
    assert_true(o.filled_avg_price == 192.43);
    /* Alpaca's average prices carry 7 decimals; those stay. */
    json_object_set_new(j, "filled_avg_price", json_string("105.8988475"));
    assert_int_equal(hydra_alpaca_parse_order(j, &o, why, sizeof why), 0);
    assert_true(o.filled_avg_price == 105.8988475);
    json_object_set_new(j, "filled_avg_price", json_real(0.123456789));
    assert_int_equal(hydra_alpaca_parse_order(j, &o, why, sizeof why), 0);
    assert_true(o.filled_avg_price == 0.12345679);
    json_decref(j);
}

/*
 * The crypto bot also watches SOL/USD, which the exchange has no trade for:
 * the latest-trades answer leaves it out. The other pairs are priced and
 * traded; SOL/USD alone has no price, so nothing is sent for it; no halt.
 */
static void test_missing_symbol_fails_only_itself(void **state)
{
    at_fixture *f = *state;
    start_exchange(f);
    make_host_config_bots(f, NULL,
                          "pairs: [\"BTC/USD\", \"ETH/USD\"]=>"
                          "pairs: [\"BTC/USD\", \"ETH/USD\", \"SOL/USD\"]\n");
    at_open(f);
    for (int i = 0; i < 120; i++)
        at_tick(f);
    hydra_halt h = at_current_halt(f);
    if (h.active)
        fail_msg("halted: %s", h.reason);
    assert_true(f->w->n_submits > 0);
    for (size_t i = 0; i < f->w->n_submits; i++)
        assert_string_not_equal(f->w->submits[i].symbol, "SOL/USD");
    assert_true(isnan(hydra_market_price(&f->e.market, "SOL/USD")));
    assert_true(hydra_market_price(&f->e.market, "BTC/USD") > 0);
    print_message("120 ticks with SOL/USD unpriced: %zu orders in the other pairs, no halt\n",
                  f->w->n_submits);
    at_close(f);
}

/* ---- strangers ---- */

/*
 * The operator's own 0.5 ETH bought (a pair the crypto bot trades too, so
 * the account mixes Hydra's and the operator's coins; the exchange keeps its
 * fee in coin, so they hold a little less) and a resting order of theirs,
 * placed before Hydra starts.
 */
static void place_strangers(at_fixture *f)
{
    place_foreign(f, "{\"symbol\":\"ETH/USD\",\"qty\":\"0.5\",\"side\":\"buy\",\"type\":"
                     "\"market\",\"time_in_force\":\"gtc\",\"client_order_id\":\"manual-eth-1\"}");
    for (int i = 0; i < 50 && broker_qty(f, "ETHUSD") == 0; i++)
        hydra_exchange_step(f->ex, 1);
    operator_eth = broker_qty(f, "ETHUSD");
    assert_true(operator_eth > 0.49 && operator_eth <= 0.5);
    place_foreign(f, "{\"symbol\":\"ETH/USD\",\"qty\":\"0.1\",\"side\":\"buy\",\"type\":"
                     "\"limit\",\"limit_price\":\"1\",\"time_in_force\":\"gtc\","
                     "\"client_order_id\":\"manual-limit-1\"}");
}

static int foreign_order_open(at_fixture *f)
{
    long status = 0;
    json_t *o = http(f, "GET", "/v2/orders:by_client_order_id?client_order_id=manual-limit-1", NULL,
                     1, &status);
    const char *st = json_string_value(json_object_get(o, "status"));
    int open = status == 200 && st != NULL && strcmp(st, "new") == 0;
    json_decref(o);
    return open;
}

/* foreign_positions: refuse (the default): Hydra does not start, names what it found, touches nothing. */
static void test_strangers_refused_by_default(void **state)
{
    at_fixture *f = *state;
    start_exchange(f);
    place_strangers(f);
    make_host_config(f, NULL);
    char err[4096];
    int code = -1;
    assert_int_not_equal(at_try_open(f, err, sizeof err, &code), 0);
    print_message("refused: %s\n", err);
    assert_non_null(strstr(err, "ETH/USD"));
    assert_non_null(strstr(err, "manual-limit-1"));
    assert_non_null(strstr(err, "alpaca.foreign_positions: ignore"));
    assert_true(fabs(broker_qty(f, "ETHUSD") - operator_eth) < 1e-9);
    assert_true(foreign_order_open(f));
}

/*
 * foreign_positions: ignore: Hydra trades beside the operator's ETH, the
 * ExitBot does not take it for an unexplained position, and a halt sells
 * Hydra's coins only.
 */
static void test_strangers_ignored_and_left_alone(void **state)
{
    at_fixture *f = *state;
    start_exchange(f);
    place_strangers(f);
    make_host_config(f, "foreign_positions: refuse=>foreign_positions: ignore\n");
    at_open(f);
    /* Trade until Hydra holds ETH of its own beside the operator's. */
    hydra_bot_position mine;
    for (int i = 0; i < 900; i++) {
        at_tick(f);
        if (i >= 100 && hydra_position_get(f->e.state, "crypto_core", "ETH/USD", &mine) == 0)
            break;
    }
    hydra_halt h = at_current_halt(f);
    if (h.active)
        fail_msg("halted: %s", h.reason);
    size_t eth_orders = 0;
    for (size_t i = 0; i < f->w->n_submits; i++)
        eth_orders += strcmp(f->w->submits[i].symbol, "ETH/USD") == 0;
    double held = hydra_position_get(f->e.state, "crypto_core", "ETH/USD", &mine) == 0 ? mine.qty : 0;
    print_message(
        "%zu orders (%zu in ETH/USD); account ETH %.9g = Hydra's %.9g + the operator's %.9g\n",
        f->w->n_submits, eth_orders, broker_qty(f, "ETHUSD"), held, operator_eth);
    assert_true(held > 0);
    assert_true(fabs(broker_qty(f, "ETHUSD") - (held + operator_eth)) < 1e-6);

    /* A halt closes Hydra's share and leaves the operator's. */
    char kill[512];
    snprintf(kill, sizeof kill, "%s/KILL_SWITCH", f->dir);
    assert_int_equal(tu_write_file(kill, "stop\n"), 0);
    for (int i = 0; i < 10; i++)
        at_tick(f);
    assert_true(at_current_halt(f).active);
    assert_true(fabs(broker_qty(f, "ETHUSD") - operator_eth) < 1e-9);
    assert_int_equal(hydra_position_get(f->e.state, "crypto_core", "ETH/USD", &mine), HYDRA_ENOTFOUND);
    at_close(f);
}

/* With ignore, a change in what the account holds beyond the recorded baseline still halts. */
static void test_unexplained_change_beside_strangers_halts(void **state)
{
    at_fixture *f = *state;
    start_exchange(f);
    place_strangers(f);
    make_host_config(f, "foreign_positions: refuse=>foreign_positions: ignore\n");
    at_open(f);
    for (int i = 0; i < 3; i++)
        at_tick(f);
    assert_false(at_current_halt(f).active);
    /* 0.25 ETH more appear that neither the journal nor the baseline explains. */
    double before = broker_qty(f, "ETHUSD");
    place_foreign(f, "{\"symbol\":\"ETH/USD\",\"qty\":\"0.25\",\"side\":\"buy\",\"type\":"
                     "\"market\",\"time_in_force\":\"gtc\",\"client_order_id\":\"manual-eth-2\"}");
    for (int i = 0; i < 20 && !at_current_halt(f).active; i++)
        at_tick(f);
    hydra_halt h = at_current_halt(f);
    assert_true(h.active);
    print_message("ETH %.9g -> %.9g: halt \"%s\"\n", before, broker_qty(f, "ETHUSD"), h.reason);
    assert_non_null(strstr(h.reason, "ETH/USD"));
    at_close(f);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_id_collision_is_never_adopted, setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_ids_unique_per_installation, setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_overfill_is_not_booked, setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_reset_paper_refused_under_alpaca, setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_replaced_order_is_followed, setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_refusal_text_is_stored_redacted, setup, at_teardown),
        cmocka_unit_test(test_fill_price_noise_is_rounded),
        cmocka_unit_test_setup_teardown(test_missing_symbol_fails_only_itself, setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_strangers_refused_by_default, setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_strangers_ignored_and_left_alone, setup, at_teardown),
        cmocka_unit_test_setup_teardown(test_unexplained_change_beside_strangers_halts, setup,
                                        at_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
