/*
 * The operator's dashboard behind the host's HTTP server (http.c): one page
 * (dashboard.html, built into the binary), its state as JSON, the same state
 * pushed as server-sent events after every tick, and a halt and a resume
 * button.
 *
 * Threads. The engine thread owns the state database: it builds the state
 * document after each tick's commit (hydra_dashboard_collect) and publishes
 * it under a mutex; the server's threads only copy the published text. A
 * button never touches the database from a server thread: it leaves a
 * request here, and the engine takes it at the start of its next tick
 * (hydra_dashboard_take), where a halt goes through the same path as
 * `hydra-host halt` (an operator halt, acted on by ExitBot in that very tick)
 * and a resume through the same checks as `hydra-host resume`. The run
 * loop's sleep between ticks ends early when a request is waiting.
 */
#ifndef HYDRA_DASHBOARD_H
#define HYDRA_DASHBOARD_H

#include <stddef.h>
#include <stdint.h>

typedef struct hydra_dashboard hydra_dashboard;
struct hydra_engine;

enum { HYDRA_DASH_NONE = 0, HYDRA_DASH_HALT = 1, HYDRA_DASH_RESUME = 2 };

/* An operator's request from the page. */
typedef struct hydra_dash_request {
    int action;       /* HYDRA_DASH_* */
    char reason[200]; /* what the operator typed */
    char from[64];    /* the client's address */
} hydra_dash_request;

/* `log_path` is the host's app.jsonl: the page shows its last lines. NULL on no memory. */
hydra_dashboard *hydra_dashboard_new(const char *log_path);
/* Wakes every waiting event stream so it ends (before the server stops). NULL is fine. */
void hydra_dashboard_stop(hydra_dashboard *d);
/* After the server has stopped. NULL is fine. */
void hydra_dashboard_free(hydra_dashboard *d);

/* Engine thread, after a tick's commit: builds and publishes the state document. */
void hydra_dashboard_collect(hydra_dashboard *d, struct hydra_engine *e);
/* Engine thread, before a tick: the waiting request, if any (0 when none). */
int hydra_dashboard_take(hydra_dashboard *d, hydra_dash_request *out);
/* Whether a request waits (cheap; the run loop polls it while it sleeps). */
int hydra_dashboard_pending(hydra_dashboard *d);
/* Engine thread: the outcome of the last request, shown on the page. */
void hydra_dashboard_answer(hydra_dashboard *d, const char *text);

/* Server threads. A request replaces one still waiting. */
void hydra_dashboard_request(hydra_dashboard *d, const hydra_dash_request *r);
/*
 * The published state with the log's last lines, as malloc'd JSON text.
 * `after`: 0 answers at once; otherwise waits up to `wait_ms` for a version
 * newer than *after. *version is the version returned. NULL when stopping or
 * on no memory.
 */
char *hydra_dashboard_state(hydra_dashboard *d, uint64_t after, int wait_ms, uint64_t *version);

/* The page itself (dashboard.html). */
extern const char hydra_dashboard_page[];
extern const size_t hydra_dashboard_page_len;

#endif
