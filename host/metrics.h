/*
 * The host's numbers for Prometheus: counters and gauges the tick updates,
 * and their text exposition (format 0.0.4).
 *
 * Two copies of the numbers live in one fixed-size block allocated once:
 * `live`, written by the engine thread without a lock (every hook below is
 * [engine-thread] and only adds to a field), and `published`, copied from
 * `live` under a mutex at the end of each tick by hydra_metrics_publish. The
 * HTTP thread renders from a private copy of `published` taken under the
 * same mutex, so no lock is ever held across I/O or formatting, and the tick
 * never allocates for metrics. A reader sees the state of the last
 * completed tick, never a tick half way through.
 *
 * Every hook accepts NULL (an engine without metrics) and does nothing.
 */
#ifndef HYDRA_METRICS_H
#define HYDRA_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct hydra_engine;

typedef struct hydra_metrics hydra_metrics;

/* What became of an order the host tried to send. */
typedef enum hydra_metric_order {
    HYDRA_METRIC_ORDER_SUBMITTED = 0, /* the broker accepted it */
    HYDRA_METRIC_ORDER_REJECTED,      /* the broker refused it */
    HYDRA_METRIC_ORDER_UNKNOWN,       /* no answer; resolved by client_order_id later */
    HYDRA_METRIC_ORDER_GATE_BLOCKED,  /* a gate stopped the intent before the journal */
    HYDRA_METRIC_ORDER_OUTCOMES
} hydra_metric_order;

/* Allocates the block (zeroed). NULL when out of memory. */
hydra_metrics *hydra_metrics_new(void);
void hydra_metrics_free(hydra_metrics *m);

/* [engine-thread] Hooks: each adds to the live numbers. */
void hydra_metrics_tick(hydra_metrics *m, int64_t took_us);
void hydra_metrics_order(hydra_metrics *m, hydra_metric_order outcome);
void hydra_metrics_fill(hydra_metrics *m);
void hydra_metrics_halt(hydra_metrics *m, const char *source);
void hydra_metrics_api_failure(hydra_metrics *m, const char *call);
void hydra_metrics_quarantine(hydra_metrics *m);

/*
 * [engine-thread] Sets the gauges from the engine (equity, cash, halt, and
 * per bot: realised PnL today, exposure at this tick's prices, quarantine).
 * Called inside the tick's state transaction, where its reads are cheap
 * (about 27 us for four bots, against 150 us outside one).
 */
void hydra_metrics_collect(hydra_metrics *m, struct hydra_engine *e);

/* [engine-thread] Publishes the live numbers to readers: the end of a tick, and once after start-up. */
void hydra_metrics_publish(hydra_metrics *m);

/*
 * [any thread] The published numbers in Prometheus text format, with HELP
 * and TYPE lines, in a malloc'd NUL-terminated buffer the caller frees.
 * Returns 0 or HYDRA_ENOMEM.
 */
int hydra_metrics_render(hydra_metrics *m, char **out, size_t *len);

#endif
