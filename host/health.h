/*
 * Health monitor: is the host's view of the market and the broker fresh and
 * reliable enough to take risk?
 *
 * Measured in real (monotonic) time, not engine time: health is about the
 * host's connections, which fail in real time whatever the replay speed.
 *   - API failures: broker calls that failed with a broker class, counted in
 *     a sliding window of api_failure_window_seconds.
 *   - Price staleness: time since the last successful market snapshot. No
 *     snapshot yet (just started, or a new day) is not stale.
 *   - Audit trail: a log that cannot be written is unhealthy.
 * Kept in memory: a restart starts with a clean window (documented choice;
 * the halt that a failure caused is what persists).
 */
#ifndef HYDRA_HEALTH_H
#define HYDRA_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#define HYDRA_HEALTH_MAX_FAILURES 256

typedef enum hydra_health_status {
    HYDRA_HEALTH_OK = 0,
    HYDRA_HEALTH_API_FAILURES = 1,
    HYDRA_HEALTH_STALE = 2,
    HYDRA_HEALTH_LOG = 3
} hydra_health_status;

typedef struct hydra_health {
    int max_api_failures;
    int64_t window_ms;
    int64_t max_stale_ms;
    int64_t failures[HYDRA_HEALTH_MAX_FAILURES]; /* monotonic ms, ring buffer */
    size_t n_failures, head;
    int64_t last_price_ms; /* monotonic ms of the last good snapshot; 0 = none */
    int log_ok;
} hydra_health;

void hydra_health_init(hydra_health *h, int max_api_failures, int window_seconds,
                       int max_stale_seconds);
void hydra_health_record_api_failure(hydra_health *h, int64_t mono_ms);
void hydra_health_record_prices(hydra_health *h, int64_t mono_ms);
void hydra_health_set_log_ok(hydra_health *h, int ok);
/* Forgets failures and the last price time (daily reset). */
void hydra_health_reset(hydra_health *h);
/* Failures inside the window ending at mono_ms. */
int hydra_health_failures_in_window(const hydra_health *h, int64_t mono_ms);
/* Checks everything; on a problem writes a reason like "api failures 5 in 60s window". */
hydra_health_status hydra_health_check(const hydra_health *h, int64_t mono_ms, char *reason,
                                       size_t reasonsz);
const char *hydra_health_status_name(hydra_health_status s);

#endif
