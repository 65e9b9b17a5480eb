/*
 * The dashboard over real HTTP on 127.0.0.1: the page and its state, the
 * event stream that carries each tick (and a halt in the tick it happens),
 * the halt and resume buttons doing what `hydra-host halt` and `resume` do,
 * and every way a request that is not the operator's is refused, checked by
 * its effect: no halt, nothing sold.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "enginetest.h"
#include "http.h"
#include "state.h"
#include "testutil.h"

#define HTTP_ON "http:\\n  enabled: false=>http:\\n  enabled: true\nport: 9464=>port: 0\n"
#define TOKEN "dashboard-test-token-1234"

typedef et_fixture fixture;

static int setup(void **state)
{
    setenv("HYDRA_HTTP_TOKEN", TOKEN, 1);
    return et_setup(state);
}

static int teardown(void **state)
{
    unsetenv("HYDRA_HTTP_TOKEN");
    return et_teardown(state);
}

static void open_with_http(fixture *f)
{
    assert_int_equal(et_make_config(f->dir, HTTP_ON, NULL), 0);
    et_open(f);
    assert_non_null(f->e.http);
}

static void url_of(fixture *f, const char *path, char *out, size_t outsz)
{
    snprintf(out, outsz, "http://127.0.0.1:%d%s", hydra_http_port(f->e.http), path);
}

static json_t *get_state(fixture *f)
{
    char url[128], *text = NULL;
    url_of(f, "/api/state", url, sizeof url);
    assert_int_equal(et_http("GET", url, NULL, NULL, &text, NULL, 0), 200);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(j);
    return j;
}

/* A button press; `extra` header lines are added to the ones a genuine page sends. */
static long press(fixture *f, const char *path, const char *token, const char *const *extra,
                  const char *type)
{
    char url[128], tok[128], ctype[128], *text = NULL;
    url_of(f, path, url, sizeof url);
    snprintf(tok, sizeof tok, "X-Hydra-Token: %s", token);
    snprintf(ctype, sizeof ctype, "Content-Type: %s", type);
    const char *hdr[8] = {ctype};
    size_t n = 1;
    if (token != NULL)
        hdr[n++] = tok;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 7; i++)
        hdr[n++] = extra[i];
    hdr[n] = NULL;
    long st = et_http("POST", url, hdr, "{\"reason\": \"from the dashboard test\"}", &text, NULL, 0);
    free(text);
    return st;
}

static size_t hydra_positions(fixture *f)
{
    hydra_bot_position pos[64];
    size_t n = 0;
    assert_int_equal(hydra_position_list(f->e.state, NULL, pos, 64, &n), 0);
    return n;
}

static void trade_until_held(fixture *f)
{
    for (int i = 0; i < 3000 && hydra_positions(f) == 0; i++)
        et_ticks(f, 1);
    assert_true(hydra_positions(f) > 0);
}

static int db_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* The page, and its state: what an operator asks first, the bots, the log's last lines. */
static void test_page_and_state(void **state)
{
    fixture *f = *state;
    open_with_http(f);
    et_ticks(f, 40);
    char url[128], ctype[128], *text = NULL;
    url_of(f, "/", url, sizeof url);
    assert_int_equal(et_http("GET", url, NULL, NULL, &text, ctype, sizeof ctype), 200);
    assert_non_null(strstr(ctype, "text/html"));
    assert_non_null(strstr(text, "<title>Hydra</title>"));
    assert_non_null(strstr(text, "new EventSource(\"/events\")"));
    free(text);

    json_t *s = get_state(f);
    assert_int_equal(json_integer_value(json_object_get(s, "schema")), 1);
    assert_int_equal(json_integer_value(json_object_get(s, "tick")), 40);
    assert_false(json_is_true(json_object_get(json_object_get(s, "halt"), "active")));
    double equity = json_number_value(json_object_get(json_object_get(s, "account"), "equity"));
    print_message("tick 40: equity %.2f, %zu bots, %zu log lines\n", equity,
                  json_array_size(json_object_get(s, "bots")),
                  json_array_size(json_object_get(s, "log")));
    assert_true(equity > 0);
    assert_int_equal(json_array_size(json_object_get(s, "bots")), (size_t)f->e.n_slots);
    json_t *log = json_object_get(s, "log");
    assert_true(json_array_size(log) > 0);
    assert_non_null(json_string_value(json_object_get(json_array_get(log, 0), "event")));
    json_decref(s);
}

/*
 * Requests that are not the operator's page: no token, a wrong token, another
 * site's origin, a cross-site fetch, a form post, another Host (DNS
 * rebinding). Each is refused, and the ticks after it trade on unhalted.
 */
static void test_foreign_requests_change_nothing(void **state)
{
    fixture *f = *state;
    open_with_http(f);
    trade_until_held(f);
    char host[64];
    snprintf(host, sizeof host, "Host: attacker.example:%d", hydra_http_port(f->e.http));
    const char *const evil_origin[] = {"Origin: http://attacker.example", NULL};
    const char *const cross_site[] = {"Sec-Fetch-Site: cross-site", NULL};
    const char *const rebinding[] = {host, NULL};
    assert_int_equal(press(f, "/api/halt", NULL, NULL, "application/json"), 403);
    assert_int_equal(press(f, "/api/halt", "not-the-token-at-all", NULL, "application/json"), 403);
    assert_int_equal(press(f, "/api/halt", TOKEN, evil_origin, "application/json"), 403);
    assert_int_equal(press(f, "/api/halt", TOKEN, cross_site, "application/json"), 403);
    assert_int_equal(press(f, "/api/halt", TOKEN, NULL, "application/x-www-form-urlencoded"), 415);
    assert_int_equal(press(f, "/api/halt", TOKEN, rebinding, "application/json"), 403);
    char url[128], *text = NULL;
    url_of(f, "/api/state", url, sizeof url);
    assert_int_equal(et_http("GET", url, rebinding, NULL, &text, NULL, 0), 403);
    free(text);
    et_ticks(f, 5);
    hydra_halt h = et_current_halt(f);
    assert_false(h.active);
    assert_int_equal(et_count_events(f->log, "halt_flatten", NULL), 0);
    assert_int_equal(et_count_events(f->log, "operator_halt", NULL), 0);
}

/* Without HYDRA_HTTP_TOKEN the buttons are off, whatever a request carries. */
static void test_buttons_off_without_a_token(void **state)
{
    fixture *f = *state;
    unsetenv("HYDRA_HTTP_TOKEN");
    open_with_http(f);
    et_ticks(f, 3);
    assert_int_equal(press(f, "/api/halt", "", NULL, "application/json"), 403);
    assert_int_equal(press(f, "/api/halt", TOKEN, NULL, "application/json"), 403);
    et_ticks(f, 2);
    assert_false(et_current_halt(f).active);
}

/*
 * The halt button: nothing changes until the host's next tick, which halts
 * as an operator halt (stored with who pressed it), cancels and sells, and
 * the state says so. The resume button then clears it.
 */
static void test_halt_button_flattens_and_resume_clears(void **state)
{
    fixture *f = *state;
    open_with_http(f);
    trade_until_held(f);
    assert_int_equal(press(f, "/api/halt", TOKEN, NULL, "application/json"), 202);
    assert_false(et_current_halt(f).active); /* the server thread wrote nothing */
    et_ticks(f, 1);
    hydra_halt h = et_current_halt(f);
    assert_true(h.active);
    assert_string_equal(h.source, "operator");
    assert_string_equal(h.reason, "from the dashboard test");
    assert_non_null(strstr(h.requested_by, "dashboard 127.0.0.1"));
    assert_int_equal(h.ack_pid, (int64_t)getpid());
    et_ticks(f, 2);
    assert_int_equal(hydra_positions(f), 0);
    assert_int_equal(f->e.n_open_orders, 0);

    json_t *s = get_state(f);
    assert_true(json_is_true(json_object_get(json_object_get(s, "halt"), "active")));
    assert_non_null(strstr(json_string_value(json_object_get(s, "last_answer")), "halted"));
    json_decref(s);

    assert_int_equal(press(f, "/api/resume", TOKEN, NULL, "application/json"), 202);
    et_ticks(f, 1);
    assert_false(et_current_halt(f).active);
    s = get_state(f);
    print_message("after resume: %s\n", json_string_value(json_object_get(s, "last_answer")));
    assert_false(json_is_true(json_object_get(json_object_get(s, "halt"), "active")));
    json_decref(s);
    et_close(f);

    char db[600];
    snprintf(db, sizeof db, "%s/trading_state.db", f->dir);
    assert_int_equal(db_int(db, "SELECT COUNT(*) FROM operator_actions WHERE action = 'halt' AND "
                                "user LIKE 'dashboard 127.0.0.1%'"),
                     1);
    assert_int_equal(db_int(db, "SELECT COUNT(*) FROM operator_actions WHERE action = 'resume'"),
                     1);
    assert_int_equal(et_count_events(f->log, "operator_halt", NULL), 1);
    assert_int_equal(et_count_events(f->log, "operator_resume", NULL), 1);
}

/*
 * Reads one server-sent event's data (keepalive comments skipped) from a raw
 * HTTP/1.0 socket (no chunking: the body is the stream as sent).
 */
static json_t *next_event(int fd)
{
    static char buf[1 << 20];
    static size_t have;
    static int past_headers;
    for (;;) {
        buf[have] = '\0';
        char *hend = past_headers ? NULL : strstr(buf, "\r\n\r\n");
        if (hend != NULL) {
            size_t used = (size_t)(hend + 4 - buf);
            memmove(buf, hend + 4, have - used);
            have -= used;
            past_headers = 1;
        }
        buf[have] = '\0';
        char *end = past_headers ? strstr(buf, "\n\n") : NULL;
        if (end != NULL) {
            *end = '\0';
            char *data = strstr(buf, "data: ");
            json_t *j = data != NULL ? json_loads(data + 6, 0, NULL) : NULL;
            size_t used = (size_t)(end + 2 - buf);
            memmove(buf, end + 2, have - used);
            have -= used;
            if (j != NULL)
                return j;
            continue; /* a keepalive */
        }
        assert_true(have < sizeof buf - 1);
        ssize_t n = recv(fd, buf + have, sizeof buf - 1 - have, 0);
        assert_true(n > 0);
        have += (size_t)n;
    }
}

/* The event stream carries every tick, and the halt in the very tick that makes it. */
static void test_events_carry_each_tick_and_the_halt(void **state)
{
    fixture *f = *state;
    open_with_http(f);
    et_ticks(f, 5);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)hydra_http_port(f->e.http))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[200];
    int len = snprintf(req, sizeof req,
                       "GET /events HTTP/1.0\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n\r\n",
                       hydra_http_port(f->e.http));
    assert_int_equal(send(fd, req, (size_t)len, 0), len);
    json_t *ev = next_event(fd);
    assert_int_equal(json_integer_value(json_object_get(ev, "tick")), 5);
    json_decref(ev);
    et_ticks(f, 1);
    ev = next_event(fd);
    assert_int_equal(json_integer_value(json_object_get(ev, "tick")), 6);
    json_decref(ev);
    assert_int_equal(press(f, "/api/halt", TOKEN, NULL, "application/json"), 202);
    et_ticks(f, 1);
    ev = next_event(fd);
    assert_int_equal(json_integer_value(json_object_get(ev, "tick")), 7);
    assert_true(json_is_true(json_object_get(json_object_get(ev, "halt"), "active")));
    json_decref(ev);
    close(fd);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_page_and_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_requests_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buttons_off_without_a_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_halt_button_flattens_and_resume_clears, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_events_carry_each_tick_and_the_halt, setup,
                                        teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
