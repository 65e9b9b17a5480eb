#define _GNU_SOURCE
#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "error.h"

struct hydra_http {
    struct MHD_Daemon *d;
    hydra_metrics *metrics;
    char token[256]; /* "" = no token required (loopback only) */
    int port;
};

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

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    hydra_http *h = cls;
    (void)con_cls;
    /* Nothing here takes a body: answer at the first call; an upload is discarded. */
    *upload_size = 0;
    if (h->token[0] != '\0') {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0 || !same_secret(auth + 7, h->token))
            return text(c, MHD_HTTP_UNAUTHORIZED, "a token is required: Authorization: Bearer <HYDRA_HTTP_TOKEN>\n");
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET is served\n");
    if (strcmp(url, "/metrics") == 0) {
        char *body = NULL;
        size_t len = 0;
        if (hydra_metrics_render(h->metrics, &body, &len) != 0)
            return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len, 1);
    }
    return text(c, MHD_HTTP_NOT_FOUND, "not found; try /metrics\n");
}

int hydra_http_start(const hydra_http_cfg *cfg, const char *token, hydra_metrics *m,
                     hydra_http **out, char *err, size_t errsz)
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
    if (token != NULL && !loopback)
        snprintf(h->token, sizeof h->token, "%s", token);
    /* One internal thread: a scrape every few seconds needs no more, and a slow client cannot
     * multiply threads in the host. */
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC, (uint16_t)cfg->port, NULL,
                            NULL, handler, h, MHD_OPTION_SOCK_ADDR, &addr,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (h->d == NULL) {
        snprintf(err, errsz, "http: cannot listen on %s:%d (in use, or not an address here)",
                 cfg->bind, cfg->port);
        explicit_bzero(h->token, sizeof h->token);
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
    MHD_stop_daemon(h->d);
    explicit_bzero(h->token, sizeof h->token);
    free(h);
}
