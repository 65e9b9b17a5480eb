#define _GNU_SOURCE
#include "notify.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "clock.h"
#include "error.h"

#define TEXT_LEN 480

typedef struct message {
    char event[32];
    char bot_id[64];
    char text[TEXT_LEN];
    int64_t ts_ms; /* wall clock */
} message;

struct hydra_notify {
    hydra_notify_cfg cfg;
    char url[1024];          /* where to POST (may hold a secret: never logged) */
    char bearer[256];        /* webhook token, or "" */
    char chat_id[128];       /* telegram */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t idle_cv;  /* signalled when the queue is empty and nothing is in flight */
    int busy;
    message *ring;           /* cfg.queue slots, allocated at start */
    size_t head, count;
    int stopping;
    uint64_t sent, failed, dropped; /* under mu */
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hydra_notify_event(hydra_notify *n, const char *event, const char *bot_id, const char *fmt, ...)
{
    if (n == NULL)
        return;
    if ((!n->cfg.fills && strcmp(event, "fill") == 0) ||
        (!n->cfg.daily_summary && strcmp(event, "daily_summary") == 0))
        return;
    pthread_mutex_lock(&n->mu);
    if (n->stopping || n->count == (size_t)n->cfg.queue) {
        n->dropped++; /* never wait: the tick goes on */
        pthread_mutex_unlock(&n->mu);
        return;
    }
    message *m = &n->ring[(n->head + n->count) % (size_t)n->cfg.queue];
    snprintf(m->event, sizeof m->event, "%s", event);
    snprintf(m->bot_id, sizeof m->bot_id, "%s", bot_id != NULL ? bot_id : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->text, sizeof m->text, fmt, ap);
    va_end(ap);
    m->ts_ms = wall_ms();
    n->count++;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

/* The request body in the configured format; malloc'd. */
static char *body_of(const hydra_notify *n, const message *m)
{
    char line[TEXT_LEN + 128];
    snprintf(line, sizeof line, "Hydra %s%s%s: %s", m->event, m->bot_id[0] ? " " : "", m->bot_id,
             m->text);
    json_t *j;
    if (n->cfg.format == HYDRA_NOTIFY_SLACK) {
        j = json_pack("{s:s}", "text", line);
    } else if (n->cfg.format == HYDRA_NOTIFY_TELEGRAM) {
        j = json_pack("{s:s,s:s}", "chat_id", n->chat_id, "text", line);
    } else {
        char ts[40];
        hydra_format_utc(m->ts_ms, ts, sizeof ts);
        j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "source", "hydra", "event", m->event, "ts", ts,
                      "bot_id", m->bot_id, "text", m->text);
    }
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

static size_t discard(char *p, size_t size, size_t nmemb, void *ud)
{
    (void)p;
    (void)ud;
    return size * nmemb;
}

static int post(hydra_notify *n, CURL *c, const message *m)
{
    char *body = body_of(n, m);
    if (body == NULL)
        return -1;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    char auth[300];
    if (n->bearer[0] != '\0') {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", n->bearer);
        h = curl_slist_append(h, auth);
        explicit_bzero(auth, sizeof auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, n->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)n->cfg.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)n->cfg.timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    free(body);
    return rc == CURLE_OK && status >= 200 && status < 300 ? 0 : -1;
}

static void *sender(void *arg)
{
    hydra_notify *n = arg;
    CURL *c = curl_easy_init();
    int64_t drain_until = 0;
    pthread_mutex_lock(&n->mu);
    for (;;) {
        while (n->count == 0 && !n->stopping)
            pthread_cond_wait(&n->cv, &n->mu);
        if (n->count == 0)
            break;
        if (n->stopping) {
            /* Shutting down: what is queued gets one timeout's worth of sending, no more. */
            if (drain_until == 0)
                drain_until = wall_ms() + n->cfg.timeout_ms;
            else if (wall_ms() > drain_until)
                break;
        }
        message m = n->ring[n->head];
        n->head = (n->head + 1) % (size_t)n->cfg.queue;
        n->count--;
        n->busy = 1;
        pthread_mutex_unlock(&n->mu);
        int ok = c != NULL && post(n, c, &m) == 0;
        pthread_mutex_lock(&n->mu);
        if (ok)
            n->sent++;
        else
            n->failed++;
        n->busy = 0;
        if (n->count == 0)
            pthread_cond_broadcast(&n->idle_cv);
    }
    n->dropped += n->count;
    n->count = 0;
    pthread_cond_broadcast(&n->idle_cv);
    pthread_mutex_unlock(&n->mu);
    if (c != NULL)
        curl_easy_cleanup(c);
    return NULL;
}

int hydra_notify_start(const hydra_notify_cfg *cfg, const hydra_credentials *creds,
                       hydra_notify **out, char *err, size_t errsz)
{
    *out = NULL;
    hydra_notify *n = calloc(1, sizeof *n);
    if (n == NULL)
        return HYDRA_ENOMEM;
    n->cfg = *cfg;
    int rc = HYDRA_ECONFIG;
    switch (cfg->format) {
    case HYDRA_NOTIFY_SLACK:
        if (creds->slack_webhook_url[0] == '\0') {
            snprintf(err, errsz, "settings.yaml: notify.format: slack needs HYDRA_SLACK_WEBHOOK_URL "
                                 "in the environment or .env");
            goto fail;
        }
        snprintf(n->url, sizeof n->url, "%s", creds->slack_webhook_url);
        break;
    case HYDRA_NOTIFY_TELEGRAM:
        if (creds->telegram_bot_token[0] == '\0' || creds->telegram_chat_id[0] == '\0') {
            snprintf(err, errsz, "settings.yaml: notify.format: telegram needs "
                                 "HYDRA_TELEGRAM_BOT_TOKEN and HYDRA_TELEGRAM_CHAT_ID in the "
                                 "environment or .env");
            goto fail;
        }
        snprintf(n->url, sizeof n->url, "%s/bot%s/sendMessage",
                 cfg->url[0] ? cfg->url : "https://api.telegram.org", creds->telegram_bot_token);
        snprintf(n->chat_id, sizeof n->chat_id, "%s", creds->telegram_chat_id);
        break;
    default:
        if (cfg->url[0] == '\0') {
            snprintf(err, errsz, "settings.yaml: notify.url: the webhook format needs a URL");
            goto fail;
        }
        snprintf(n->url, sizeof n->url, "%s", cfg->url);
        snprintf(n->bearer, sizeof n->bearer, "%s", creds->webhook_token);
        break;
    }
    rc = HYDRA_ENOMEM;
    /* On this thread, before the sender's first curl_easy_init can race another thread's. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        goto fail;
    n->ring = calloc((size_t)cfg->queue, sizeof *n->ring);
    if (n->ring == NULL)
        goto fail_curl;
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    pthread_cond_init(&n->idle_cv, NULL);
    if (pthread_create(&n->thread, NULL, sender, n) != 0) {
        snprintf(err, errsz, "notify: cannot start the sender thread");
        pthread_cond_destroy(&n->cv);
        pthread_cond_destroy(&n->idle_cv);
        pthread_mutex_destroy(&n->mu);
        rc = HYDRA_EIO;
        goto fail_curl;
    }
    *out = n;
    return 0;
fail_curl:
    curl_global_cleanup();
fail:
    free(n->ring);
    explicit_bzero(n, sizeof *n);
    free(n);
    return rc;
}

void hydra_notify_counts(hydra_notify *n, uint64_t *sent, uint64_t *failed, uint64_t *dropped)
{
    *sent = *failed = *dropped = 0;
    if (n == NULL)
        return;
    pthread_mutex_lock(&n->mu);
    *sent = n->sent;
    *failed = n->failed;
    *dropped = n->dropped;
    pthread_mutex_unlock(&n->mu);
}

void hydra_notify_wait_idle(hydra_notify *n)
{
    if (n == NULL)
        return;
    pthread_mutex_lock(&n->mu);
    while ((n->count > 0 || n->busy) && !n->stopping)
        pthread_cond_wait(&n->idle_cv, &n->mu);
    pthread_mutex_unlock(&n->mu);
}

void hydra_notify_stop(hydra_notify *n)
{
    if (n == NULL)
        return;
    pthread_mutex_lock(&n->mu);
    n->stopping = 1;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
    pthread_join(n->thread, NULL);
    pthread_cond_destroy(&n->cv);
    pthread_cond_destroy(&n->idle_cv);
    pthread_mutex_destroy(&n->mu);
    free(n->ring);
    explicit_bzero(n, sizeof *n);
    free(n);
    curl_global_cleanup();
}
