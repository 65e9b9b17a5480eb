/*
 * Notifications from the real engine to a real HTTP receiver on 127.0.0.1
 * (libmicrohttpd in this test): the generic webhook, Slack's and Telegram's
 * formats; a receiver that holds every request (the ticks go on, the queue
 * drops and counts); a dead receiver (failures counted, no halt).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "enginetest.h"
#include "error.h"
#include "notify.h"
#include "state.h"
#include "testutil.h"

#define MAX_REQ 4096

typedef struct receiver {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int hold; /* 1: every request waits until released */
    int n;
    char *url[MAX_REQ];
    char *body[MAX_REQ];
} receiver;

typedef struct upload {
    char *buf;
    size_t len;
} upload;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **con_cls)
{
    (void)method;
    (void)version;
    receiver *r = cls;
    upload *u = *con_cls;
    if (u == NULL) {
        *con_cls = calloc(1, sizeof(upload));
        return MHD_YES;
    }
    if (*size > 0) {
        u->buf = realloc(u->buf, u->len + *size + 1);
        memcpy(u->buf + u->len, data, *size);
        u->len += *size;
        u->buf[u->len] = '\0';
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&r->mu);
    while (r->hold)
        pthread_cond_wait(&r->cv, &r->mu);
    if (r->n < MAX_REQ) {
        r->url[r->n] = strdup(url);
        r->body[r->n] = u->buf != NULL ? u->buf : strdup("");
        u->buf = NULL;
        r->n++;
    }
    pthread_mutex_unlock(&r->mu);
    free(u->buf);
    free(u);
    *con_cls = NULL;
    static const char ok[] = "{\"ok\":true}";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(ok), (void *)ok, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void receiver_start(receiver *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC, 0, NULL, NULL, on_request,
                            r, MHD_OPTION_SOCK_ADDR, &a, MHD_OPTION_END);
    assert_non_null(r->d);
    r->port = MHD_get_daemon_info(r->d, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void receiver_release(receiver *r)
{
    pthread_mutex_lock(&r->mu);
    r->hold = 0;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void receiver_stop(receiver *r)
{
    receiver_release(r);
    MHD_stop_daemon(r->d);
    for (int i = 0; i < r->n; i++) {
        free(r->url[i]);
        free(r->body[i]);
    }
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
}

typedef struct fixture {
    char dir[256];
    char log[512];
    hydra_engine e;
    int open;
    receiver r;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(tu_mkdtemp(f->dir, sizeof f->dir));
    snprintf(f->log, sizeof f->log, "%s/app.jsonl", f->dir);
    receiver_start(&f->r);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    receiver_release(&f->r);
    if (f->open)
        hydra_engine_close(&f->e);
    receiver_stop(&f->r);
    tu_rmtree(f->dir);
    free(f);
    unsetenv("HYDRA_SLACK_WEBHOOK_URL");
    unsetenv("HYDRA_TELEGRAM_BOT_TOKEN");
    unsetenv("HYDRA_TELEGRAM_CHAT_ID");
    return 0;
}

static void open_engine(fixture *f, const char *notify_edits)
{
    char edits[2048];
    snprintf(edits, sizeof edits, "notify:\\n  enabled: false=>notify:\\n  enabled: true\n%s",
             notify_edits);
    assert_int_equal(et_make_config(f->dir, edits, NULL), 0);
    hydra_engine_options opt;
    et_options(&opt, f->dir);
    char err[4096] = "";
    int code = -1;
    if (hydra_engine_open(&f->e, &opt, err, sizeof err, &code) != 0)
        fail_msg("engine open failed: %s", err);
    f->open = 1;
    assert_non_null(f->e.notify);
}

static void run_ticks(fixture *f, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(hydra_engine_tick(&f->e), 0);
}

static void kill_switch(fixture *f)
{
    char kill[512];
    snprintf(kill, sizeof kill, "%s/KILL_SWITCH", f->dir);
    assert_int_equal(tu_write_file(kill, "stop\n"), 0);
}

static int count_event(receiver *r, const char *key, const char *event)
{
    int n = 0;
    for (int i = 0; i < r->n; i++) {
        json_t *j = json_loads(r->body[i], 0, NULL);
        assert_non_null(j);
        const char *v = json_string_value(json_object_get(j, key));
        if (v != NULL && strstr(v, event) != NULL)
            n++;
        json_decref(j);
    }
    return n;
}

static void test_webhook_gets_halt_and_fills(void **state)
{
    fixture *f = *state;
    char edits[512];
    snprintf(edits, sizeof edits, "url: \"\"=>url: \"http://127.0.0.1:%d/hook\"\nqueue: 256=>queue: 4096\n",
             f->r.port);
    open_engine(f, edits);
    run_ticks(f, 200);
    kill_switch(f);
    run_ticks(f, 3);
    /* The operator removes the switch and resumes, as `hydra-host resume` does, between ticks. */
    char kill[512];
    snprintf(kill, sizeof kill, "%s/KILL_SWITCH", f->dir);
    assert_int_equal(unlink(kill), 0);
    assert_int_equal(hydra_halt_clear(f->e.state, "operator", hydra_clock_now_ms(&f->e.clock)), 0);
    run_ticks(f, 2);
    hydra_notify_wait_idle(f->e.notify);
    uint64_t sent, failed, dropped;
    hydra_notify_counts(f->e.notify, &sent, &failed, &dropped);
    hydra_engine_close(&f->e);
    f->open = 0;

    int fills = et_count_events(f->log, "order_fill", NULL);
    print_message("received %d, sent %llu, failed %llu, dropped %llu; %d fills in the log\n",
                  f->r.n, (unsigned long long)sent, (unsigned long long)failed,
                  (unsigned long long)dropped, fills);
    assert_true(fills > 0);
    assert_int_equal(failed, 0);
    assert_int_equal(dropped, 0);
    assert_int_equal((int)sent, f->r.n);
    assert_int_equal(count_event(&f->r, "event", "fill"), fills);
    assert_int_equal(count_event(&f->r, "event", "halt"), 1);
    assert_int_equal(count_event(&f->r, "text", "HALT (kill_switch)"), 1);
    assert_int_equal(count_event(&f->r, "event", "resume"), 1);
    for (int i = 0; i < f->r.n; i++) {
        assert_string_equal(f->r.url[i], "/hook");
        json_t *j = json_loads(f->r.body[i], 0, NULL);
        assert_string_equal(json_string_value(json_object_get(j, "source")), "hydra");
        assert_non_null(json_string_value(json_object_get(j, "ts")));
        json_decref(j);
    }
}

static void test_slack_and_telegram_formats(void **state)
{
    fixture *f = *state;
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/services/T0/B0/secretpart", f->r.port);
    setenv("HYDRA_SLACK_WEBHOOK_URL", url, 1);
    open_engine(f, "format: webhook=>format: slack\nfills: true=>fills: false\n");
    kill_switch(f);
    run_ticks(f, 2);
    hydra_notify_wait_idle(f->e.notify);
    hydra_engine_close(&f->e);
    f->open = 0;
    assert_int_equal(f->r.n, 1);
    assert_string_equal(f->r.url[0], "/services/T0/B0/secretpart");
    assert_int_equal(count_event(&f->r, "text", "Hydra halt: HALT (kill_switch)"), 1);
    char *log = tu_read_file(f->log, NULL);
    assert_null(strstr(log, "secretpart"));
    free(log);

    /* Telegram: the token is in the path, the chat id in the body. */
    tu_rmtree(f->dir);
    assert_non_null(tu_mkdtemp(f->dir, sizeof f->dir));
    snprintf(f->log, sizeof f->log, "%s/app.jsonl", f->dir);
    setenv("HYDRA_TELEGRAM_BOT_TOKEN", "123456:SECRET-token", 1);
    setenv("HYDRA_TELEGRAM_CHAT_ID", "-10042", 1);
    char edits[512];
    snprintf(edits, sizeof edits,
             "format: webhook=>format: telegram\nfills: true=>fills: false\n"
             "url: \"\"=>url: \"http://127.0.0.1:%d\"\n",
             f->r.port);
    open_engine(f, edits);
    kill_switch(f);
    run_ticks(f, 2);
    hydra_notify_wait_idle(f->e.notify);
    hydra_engine_close(&f->e);
    f->open = 0;
    assert_int_equal(f->r.n, 2);
    assert_string_equal(f->r.url[1], "/bot123456:SECRET-token/sendMessage");
    assert_int_equal(count_event(&f->r, "chat_id", "-10042"), 1);
    log = tu_read_file(f->log, NULL);
    assert_null(strstr(log, "SECRET-token"));
    free(log);
}

/* A receiver that never answers: ticks go on, the queue drops and counts, trading is not halted. */
static void test_stuck_receiver_never_delays_a_tick(void **state)
{
    fixture *f = *state;
    f->r.hold = 1;
    char edits[512];
    snprintf(edits, sizeof edits, "url: \"\"=>url: \"http://127.0.0.1:%d/hook\"\nqueue: 256=>queue: 2\n"
                                  "timeout_ms: 5000=>timeout_ms: 600000\n",
             f->r.port);
    open_engine(f, edits);
    /* While the receiver holds the first request the engine ticks 200 times: it never waits. */
    run_ticks(f, 200);
    uint64_t sent, failed, dropped;
    hydra_notify_counts(f->e.notify, &sent, &failed, &dropped);
    int fills = et_count_events(f->log, "order_fill", NULL);
    print_message("fills %d; while stuck: sent %llu, dropped %llu\n", fills,
                  (unsigned long long)sent, (unsigned long long)dropped);
    assert_true(fills > 3);
    assert_int_equal(sent, 0);
    /* Two queued, at most one in flight, the rest dropped. */
    assert_true((int)dropped >= fills - 3 && (int)dropped <= fills - 2);
    hydra_halt h;
    assert_int_equal(hydra_halt_get(f->e.state, &h), 0);
    assert_false(h.active);
    receiver_release(&f->r);
    hydra_notify_wait_idle(f->e.notify);
    hydra_notify_counts(f->e.notify, &sent, &failed, &dropped);
    assert_int_equal((int)sent, fills - (int)dropped);
    assert_int_equal(failed, 0);
}

/* Nothing listens: every message fails, is counted, and trading goes on. */
static void test_dead_receiver_counts_failures(void **state)
{
    fixture *f = *state;
    /* A bound socket that does not listen: connections to it are refused, and no one else gets the port. */
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(sock, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t alen = sizeof a;
    assert_int_equal(getsockname(sock, (struct sockaddr *)&a, &alen), 0);
    int port = ntohs(a.sin_port);
    char edits[512];
    snprintf(edits, sizeof edits, "url: \"\"=>url: \"http://127.0.0.1:%d/hook\"\n", port);
    open_engine(f, edits);
    run_ticks(f, 200);
    hydra_notify_wait_idle(f->e.notify);
    uint64_t sent, failed, dropped;
    hydra_notify_counts(f->e.notify, &sent, &failed, &dropped);
    int fills = et_count_events(f->log, "order_fill", NULL);
    assert_true(fills > 0);
    assert_int_equal(sent, 0);
    assert_int_equal((int)failed, fills);
    hydra_halt h;
    assert_int_equal(hydra_halt_get(f->e.state, &h), 0);
    assert_false(h.active);
    close(sock);
}

/* A format whose secret is missing refuses to start, naming the variable. */
static void test_missing_secret_refuses_start(void **state)
{
    fixture *f = *state;
    unsetenv("HYDRA_SLACK_WEBHOOK_URL");
    assert_int_equal(et_make_config(f->dir,
                                    "notify:\\n  enabled: false=>notify:\\n  enabled: true\n"
                                    "format: webhook=>format: slack\n",
                                    NULL),
                     0);
    hydra_engine_options opt;
    et_options(&opt, f->dir);
    char err[4096] = "";
    int code = -1;
    assert_int_not_equal(hydra_engine_open(&f->e, &opt, err, sizeof err, &code), 0);
    assert_int_equal(code, 2);
    assert_non_null(strstr(err, "HYDRA_SLACK_WEBHOOK_URL"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_webhook_gets_halt_and_fills, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slack_and_telegram_formats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stuck_receiver_never_delays_a_tick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_receiver_counts_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_secret_refuses_start, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
