/*
 * The host's own HTTP server (settings.yaml `http:`), libmicrohttpd with a
 * thread per connection (at most 16). It serves GET /metrics (Prometheus
 * text format from metrics.c) and the dashboard (dashboard.h): the page at
 * /, its state at /api/state, the state pushed at every tick at /events, and
 * two buttons, POST /api/halt and /api/resume. The buttons are the only
 * thing here that can change the host: they need HYDRA_HTTP_TOKEN in an
 * X-Hydra-Token header, the page's own origin and a JSON body, and are off
 * when no token is set. A loopback server answers only requests addressed to
 * 127.0.0.1 or localhost at its port (no DNS rebinding).
 *
 * It listens on 127.0.0.1 unless the settings name another address with
 * http.allow_remote: true, and then only with a token (HYDRA_HTTP_TOKEN from
 * the environment or .env): every request must carry
 * `Authorization: Bearer <token>`. The token is compared in constant time
 * and never logged.
 */
#ifndef HYDRA_HTTP_H
#define HYDRA_HTTP_H

#include <stddef.h>

#include "config.h"
#include "dashboard.h"
#include "metrics.h"

typedef struct hydra_http hydra_http;

/*
 * Starts serving `m` (and `dash`, unless NULL) as `cfg` says. `token` may be "" (then only a loopback
 * bind is allowed). A port of 0 picks a free port; hydra_http_port tells
 * which. Returns 0 or negative with a message in err naming the address.
 */
int hydra_http_start(const hydra_http_cfg *cfg, const char *token, hydra_metrics *m,
                     hydra_dashboard *dash, hydra_http **out, char *err, size_t errsz);

/* The port the server listens on. */
int hydra_http_port(const hydra_http *h);

/* Stops the server and waits for its thread; NULL is fine. */
void hydra_http_stop(hydra_http *h);

#endif
