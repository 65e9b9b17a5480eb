#define _GNU_SOURCE
#include "http.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "dashboard.h"
#include "error.h"

#define MAX_BODY 2048          /* a button's request: {"reason": "..."} */
#define EVENT_KEEPALIVE_MS 15000 /* an idle event stream says so this often */

struct hydra_http {
    struct MHD_Daemon *d;
    hydra_metrics *metrics;
    hydra_dashboard *dash;     /* NULL: no dashboard */
    char token[256];           /* "" = no token required for reading (loopback only) */
    char button_token[256];    /* HYDRA_HTTP_TOKEN; "" = the buttons are off */
    int loopback;
    int port;
};

/* One request's body as it arrives. */
typedef struct upload {
    char body[MAX_BODY + 1];
    size_t len;
    int too_big;
} upload;

/* Compares without an early exit, so response time says nothing about the token. */
static int same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             char *body, size_t len, int owned)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        if (owned)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return reply(c, status, "text/plain; charset=utf-8", (char *)msg, strlen(msg), 0);
}

/*
 * The Host header a loopback server answers: 127.0.0.1 or localhost at its
 * port. Anything else is a page elsewhere that had its name resolve to this
 * machine (DNS rebinding), reading what only the operator may read.
 */
static int host_is_ours(const hydra_http *h, struct MHD_Connection *c)
{
    if (!h->loopback)
        return 1; /* every request carries the token there */
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    char a[64], b[64];
    snprintf(a, sizeof a, "127.0.0.1:%d", h->port);
    snprintf(b, sizeof b, "localhost:%d", h->port);
    return host != NULL && (strcmp(host, a) == 0 || strcmp(host, b) == 0);
}

/* ---- the event stream ---- */

typedef struct stream {
    hydra_dashboard *dash;
    uint64_t version;
    char *pending; /* what is still to send of the current event */
    size_t off, len;
} stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream *s = cls;
    if (s->off >= s->len) {
        free(s->pending);
        s->pending = NULL;
        s->off = s->len = 0;
        uint64_t ver = 0;
        char *doc = hydra_dashboard_state(s->dash, s->version, EVENT_KEEPALIVE_MS, &ver);
        if (doc == NULL)
            return MHD_CONTENT_READER_END_OF_STREAM; /* the host is stopping */
        if (ver == s->version) {
            free(doc);
            s->pending = strdup(": keepalive\n\n");
        } else {
            s->version = ver;
            if (asprintf(&s->pending, "data: %s\n\n", doc) < 0)
                s->pending = NULL;
            free(doc);
        }
        if (s->pending == NULL)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        s->len = strlen(s->pending);
    }
    size_t n = s->len - s->off < max ? s->len - s->off : max;
    memcpy(buf, s->pending + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream *s = cls;
    free(s->pending);
    free(s);
}

static enum MHD_Result events(hydra_http *h, struct MHD_Connection *c)
{
    stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    s->dash = h->dash;
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 8192, stream_read, s, stream_free);
    if (r == NULL) {
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- the page and its buttons ---- */

static enum MHD_Result page(struct MHD_Connection *c)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        hydra_dashboard_page_len, (void *)hydra_dashboard_page, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    /* Self-contained: nothing loads from elsewhere, and no other page may frame the buttons. */
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; script-src 'unsafe-inline'; style-src "
                            "'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; "
                            "base-uri 'none'; form-action 'none'");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/*
 * A button: only with the token in X-Hydra-Token (a header no other site's
 * page can send here without a CORS grant, which this server never gives),
 * only from this page's own origin, only JSON. The engine acts at its next
 * tick; the page sees the outcome in the state it is pushed.
 */
static enum MHD_Result button(hydra_http *h, struct MHD_Connection *c, int action, upload *u)
{
    if (h->button_token[0] == '\0')
        return text(c, MHD_HTTP_FORBIDDEN,
                    "the buttons are off: set HYDRA_HTTP_TOKEN (16+ characters) in .env\n");
    const char *tok = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Hydra-Token");
    if (tok == NULL || !same_secret(tok, h->button_token))
        return text(c, MHD_HTTP_FORBIDDEN, "wrong or missing X-Hydra-Token\n");
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    char own[128];
    snprintf(own, sizeof own, "http://%s", host != NULL ? host : "");
    if ((origin != NULL && strcmp(origin, own) != 0) ||
        (site != NULL && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0))
        return text(c, MHD_HTTP_FORBIDDEN, "cross-site request refused\n");
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (type == NULL || strncmp(type, "application/json", 16) != 0)
        return text(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "send application/json\n");
    if (u->too_big)
        return text(c, MHD_HTTP_CONTENT_TOO_LARGE, "body too large\n");
    u->body[u->len] = '\0';
    json_error_t jerr;
    json_t *j = json_loads(u->body, 0, &jerr);
    const char *reason = json_string_value(json_object_get(j, "reason"));
    if (reason == NULL || reason[0] == '\0' || strlen(reason) >= 200) {
        json_decref(j);
        return text(c, MHD_HTTP_BAD_REQUEST, "expected {\"reason\": \"why, up to 199 characters\"}\n");
    }
    hydra_dash_request req = {.action = action};
    snprintf(req.reason, sizeof req.reason, "%s", reason);
    json_decref(j);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci != NULL && ci->client_addr != NULL && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, req.from,
                  sizeof req.from);
    hydra_dashboard_request(h->dash, &req);
    return text(c, MHD_HTTP_ACCEPTED, "accepted: the host acts on it at its next tick\n");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *data_size, void **con_cls)
{
    (void)version;
    hydra_http *h = cls;
    int post = strcmp(method, "POST") == 0;
    /* A POST's body arrives over several calls: gather it first (bounded). */
    if (post) {
        upload *u = *con_cls;
        if (u == NULL) {
            if ((u = calloc(1, sizeof *u)) == NULL)
                return MHD_NO;
            *con_cls = u;
            return MHD_YES;
        }
        if (*data_size > 0) {
            if (u->len + *data_size > MAX_BODY)
                u->too_big = 1;
            else {
                memcpy(u->body + u->len, data, *data_size);
                u->len += *data_size;
            }
            *data_size = 0;
            return MHD_YES;
        }
    } else {
        *data_size = 0;
    }
    if (h->token[0] != '\0') {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0 || !same_secret(auth + 7, h->token))
            return text(c, MHD_HTTP_UNAUTHORIZED, "a token is required: Authorization: Bearer <HYDRA_HTTP_TOKEN>\n");
    }
    if (!host_is_ours(h, c))
        return text(c, MHD_HTTP_FORBIDDEN, "unexpected Host header\n");
    if (post && h->dash != NULL && strcmp(url, "/api/halt") == 0)
        return button(h, c, HYDRA_DASH_HALT, *con_cls);
    if (post && h->dash != NULL && strcmp(url, "/api/resume") == 0)
        return button(h, c, HYDRA_DASH_RESUME, *con_cls);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET is served here\n");
    if (strcmp(url, "/metrics") == 0) {
        char *body = NULL;
        size_t len = 0;
        if (hydra_metrics_render(h->metrics, &body, &len) != 0)
            return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len, 1);
    }
    if (h->dash != NULL && strcmp(url, "/") == 0)
        return page(c);
    if (h->dash != NULL && strcmp(url, "/api/state") == 0) {
        uint64_t ver = 0;
        char *doc = hydra_dashboard_state(h->dash, 0, 0, &ver);
        if (doc == NULL)
            return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping\n");
        return reply(c, MHD_HTTP_OK, "application/json", doc, strlen(doc), 1);
    }
    if (h->dash != NULL && strcmp(url, "/events") == 0)
        return events(h, c);
    return text(c, MHD_HTTP_NOT_FOUND, "not found; try / or /metrics\n");
}

static void request_done(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

int hydra_http_start(const hydra_http_cfg *cfg, const char *token, hydra_metrics *m,
                     hydra_dashboard *dash, hydra_http **out, char *err, size_t errsz)
{
    *out = NULL;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg->port);
    if (inet_pton(AF_INET, cfg->bind, &addr.sin_addr) != 1) {
        snprintf(err, errsz, "settings.yaml: http.bind: \"%s\" is not an IPv4 address", cfg->bind);
        return HYDRA_ECONFIG;
    }
    int loopback = strcmp(cfg->bind, "127.0.0.1") == 0;
    /* Config loading refuses this too; checked again here because the token comes from .env. */
    if (!loopback && !cfg->allow_remote) {
        snprintf(err, errsz,
                 "settings.yaml: http.bind: %s is not 127.0.0.1; set http.allow_remote: true and "
                 "HYDRA_HTTP_TOKEN in .env to serve other hosts",
                 cfg->bind);
        return HYDRA_ECONFIG;
    }
    if (!loopback && (token == NULL || strlen(token) < 16)) {
        snprintf(err, errsz,
                 "settings.yaml: http.bind: %s is not 127.0.0.1, which needs HYDRA_HTTP_TOKEN "
                 "(at least 16 characters) in the environment or .env",
                 cfg->bind);
        return HYDRA_ECONFIG;
    }
    hydra_http *h = calloc(1, sizeof *h);
    if (h == NULL)
        return HYDRA_ENOMEM;
    h->metrics = m;
    h->dash = dash;
    h->loopback = loopback;
    h->port = cfg->port;
    if (token != NULL && !loopback)
        snprintf(h->token, sizeof h->token, "%s", token);
    if (token != NULL && strlen(token) >= 16)
        snprintf(h->button_token, sizeof h->button_token, "%s", token);
    /*
     * A thread per connection, at most 16: an event stream waits for the
     * next tick in its own thread, and a slow client cannot multiply threads
     * beyond that.
     */
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                MHD_USE_ITC,
                            (uint16_t)cfg->port, NULL, NULL, handler, h, MHD_OPTION_SOCK_ADDR,
                            &addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
                            MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (h->d == NULL) {
        snprintf(err, errsz, "http: cannot listen on %s:%d (in use, or not an address here)",
                 cfg->bind, cfg->port);
        explicit_bzero(h->token, sizeof h->token);
        explicit_bzero(h->button_token, sizeof h->button_token);
        free(h);
        return HYDRA_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info != NULL ? info->port : cfg->port;
    *out = h;
    return 0;
}

int hydra_http_port(const hydra_http *h)
{
    return h != NULL ? h->port : 0;
}

void hydra_http_stop(hydra_http *h)
{
    if (h == NULL)
        return;
    hydra_dashboard_stop(h->dash); /* event streams end instead of waiting out their keepalive */
    MHD_stop_daemon(h->d);
    explicit_bzero(h->token, sizeof h->token);
    explicit_bzero(h->button_token, sizeof h->button_token);
    free(h);
}
