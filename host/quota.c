/*
 * Per-bot quotas; see quota.h. Plain arithmetic on counters the bot's slot
 * holds, kept apart from the engine so the rules can be read (and tested)
 * on their own.
 */
#include "quota.h"

#include <string.h>

int hydra_strikes_add(hydra_strikes *s, uint64_t tick, int window_ticks)
{
    s->at[s->next] = tick;
    s->next = (s->next + 1) % HYDRA_STRIKES_MAX;
    if (s->n < HYDRA_STRIKES_MAX)
        s->n++;
    /* Ticks only grow, so every stored strike is at or before this one. */
    uint64_t first =
        window_ticks > 0 && tick >= (uint64_t)window_ticks ? tick - (uint64_t)window_ticks + 1 : 0;
    int in_window = 0;
    for (int i = 0; i < s->n; i++)
        if (s->at[i] >= first)
            in_window++;
    return in_window;
}

void hydra_strikes_clear(hydra_strikes *s)
{
    memset(s, 0, sizeof *s);
}

int hydra_log_quota_admit(hydra_log_quota *q, size_t bytes, int max_lines, long max_bytes)
{
    if (q->lines < max_lines && bytes <= (size_t)max_bytes && (long)bytes <= max_bytes - q->bytes) {
        q->lines++;
        q->bytes += (long)bytes;
        return 1;
    }
    q->dropped_lines++;
    q->dropped_bytes += (long)bytes;
    q->dropped_total++;
    return 0;
}

void hydra_log_quota_next_tick(hydra_log_quota *q)
{
    q->lines = 0;
    q->bytes = 0;
    q->dropped_lines = 0;
    q->dropped_bytes = 0;
}

int hydra_kv_quota_fits(const hydra_kv_usage *u, size_t key_len, size_t value_len, long old_bytes,
                        long max_keys, long max_bytes)
{
    long keys = u->keys + (old_bytes < 0 ? 1 : 0);
    long bytes = u->bytes - (old_bytes > 0 ? old_bytes : 0) + (long)key_len + (long)value_len;
    return keys <= max_keys && bytes <= max_bytes;
}

void hydra_kv_quota_commit(hydra_kv_usage *u, size_t key_len, size_t value_len, long old_bytes)
{
    if (old_bytes < 0)
        u->keys++;
    u->bytes += (long)key_len + (long)value_len - (old_bytes > 0 ? old_bytes : 0);
}
