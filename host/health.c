#include "health.h"

#include <stdio.h>
#include <string.h>

/*
 * The failure threshold is clamped to the ring's capacity: the ring keeps
 * the newest HYDRA_HEALTH_MAX_FAILURES failures, so a larger threshold could
 * never be reached and the check would silently never fire. A threshold
 * below one would report every tick as unhealthy, so it becomes one.
 */
void hydra_health_init(hydra_health *h, int max_api_failures, int window_seconds,
                       int max_stale_seconds)
{
    if (h == NULL)
        return;
    memset(h, 0, sizeof *h);
    if (max_api_failures < 1)
        max_api_failures = 1;
    if (max_api_failures > HYDRA_HEALTH_MAX_FAILURES)
        max_api_failures = HYDRA_HEALTH_MAX_FAILURES;
    h->max_api_failures = max_api_failures;
    h->window_ms = (int64_t)(window_seconds > 0 ? window_seconds : 0) * 1000;
    h->max_stale_ms = (int64_t)(max_stale_seconds > 0 ? max_stale_seconds : 0) * 1000;
    h->log_ok = 1;
}

/*
 * `head` is the slot the next failure is written to. When the ring is full
 * the oldest failure is overwritten: it is the first to leave the window.
 */
void hydra_health_record_api_failure(hydra_health *h, int64_t mono_ms)
{
    if (h == NULL)
        return;
    h->failures[h->head] = mono_ms;
    h->head = (h->head + 1) % HYDRA_HEALTH_MAX_FAILURES;
    if (h->n_failures < HYDRA_HEALTH_MAX_FAILURES)
        h->n_failures++;
}

void hydra_health_record_prices(hydra_health *h, int64_t mono_ms)
{
    if (h != NULL)
        h->last_price_ms = mono_ms;
}

void hydra_health_set_log_ok(hydra_health *h, int ok)
{
    if (h != NULL)
        h->log_ok = ok ? 1 : 0;
}

void hydra_health_reset(hydra_health *h)
{
    if (h == NULL)
        return;
    memset(h->failures, 0, sizeof h->failures);
    h->n_failures = 0;
    h->head = 0;
    h->last_price_ms = 0;
}

/*
 * A failure exactly window_ms old still counts, as in the seed (age <=
 * window). A failure stamped after mono_ms has age below zero and counts
 * too: it cannot be older than the window.
 */
int hydra_health_failures_in_window(const hydra_health *h, int64_t mono_ms)
{
    int count = 0;
    if (h == NULL)
        return 0;
    for (size_t i = 0; i < h->n_failures; i++) {
        if (mono_ms - h->failures[i] <= h->window_ms)
            count++;
    }
    return count;
}

static void put_reason(char *reason, size_t reasonsz, const char *text)
{
    if (reason != NULL && reasonsz > 0)
        snprintf(reason, reasonsz, "%s", text);
}

/*
 * Checked in the order of hydra_health_status so the first problem is the
 * one reported. A missing monitor is unhealthy: the host fails closed.
 */
hydra_health_status hydra_health_check(const hydra_health *h, int64_t mono_ms, char *reason,
                                       size_t reasonsz)
{
    char text[128];
    if (h == NULL) {
        put_reason(reason, reasonsz, "health monitor missing");
        return HYDRA_HEALTH_API_FAILURES;
    }

    int failures = hydra_health_failures_in_window(h, mono_ms);
    if (failures >= h->max_api_failures) {
        snprintf(text, sizeof text, "api failures %d in %llds window", failures,
                 (long long)(h->window_ms / 1000));
        put_reason(reason, reasonsz, text);
        return HYDRA_HEALTH_API_FAILURES;
    }

    /* No snapshot yet (start of run or of a new day) is not stale. */
    if (h->last_price_ms != 0 && mono_ms - h->last_price_ms > h->max_stale_ms) {
        snprintf(text, sizeof text, "stale price data %.1fs",
                 (double)(mono_ms - h->last_price_ms) / 1000.0);
        put_reason(reason, reasonsz, text);
        return HYDRA_HEALTH_STALE;
    }

    if (!h->log_ok) {
        put_reason(reason, reasonsz, "log not writable");
        return HYDRA_HEALTH_LOG;
    }

    put_reason(reason, reasonsz, "ok");
    return HYDRA_HEALTH_OK;
}

const char *hydra_health_status_name(hydra_health_status s)
{
    switch (s) {
    case HYDRA_HEALTH_OK:
        return "ok";
    case HYDRA_HEALTH_API_FAILURES:
        return "api_failures";
    case HYDRA_HEALTH_STALE:
        return "stale_prices";
    case HYDRA_HEALTH_LOG:
        return "log_not_writable";
    }
    return "unknown";
}
