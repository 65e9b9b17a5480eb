/*
 * Per-bot quotas on what a bot may make the host do: lines and bytes in the
 * log per tick, keys and bytes of bot state, and the strike windows that
 * turn repeated abuse (or repeated missed deadlines) into a quarantine.
 *
 * Everything here is O(1) per call: the host checks a quota on every bot
 * log line and state write, on the tick path. The counters live in the
 * bot's slot (loop.h); the engine's bot services (engine.c) apply them, so
 * they hold for a bot in-process and in a worker alike, and whatever a
 * worker sends over its socket.
 */
#ifndef HYDRA_QUOTA_H
#define HYDRA_QUOTA_H

#include <stddef.h>
#include <stdint.h>

/* The most strikes a window can ask for (workers.deadline_misses_to_quarantine, ...). */
#define HYDRA_STRIKES_MAX 32

/*
 * The ticks of a bot's most recent strikes (throttled ticks, missed
 * deadlines), newest HYDRA_STRIKES_MAX kept.
 */
typedef struct hydra_strikes {
    uint64_t at[HYDRA_STRIKES_MAX];
    int n;    /* strikes stored, at most HYDRA_STRIKES_MAX */
    int next; /* where the next one goes */
} hydra_strikes;

/*
 * Records a strike at `tick` and returns how many stored strikes fall in
 * the last `window_ticks` ticks, this one included (ticks tick-window+1 ..
 * tick). A caller that quarantines at K strikes (K <= HYDRA_STRIKES_MAX)
 * compares the result with K.
 */
int hydra_strikes_add(hydra_strikes *s, uint64_t tick, int window_ticks);
void hydra_strikes_clear(hydra_strikes *s);

/* The log quota's counters for one bot since the last tick boundary. */
typedef struct hydra_log_quota {
    int lines;         /* admitted */
    long bytes;        /* admitted: event name plus message */
    int dropped_lines; /* refused */
    long dropped_bytes;
    uint64_t dropped_total;  /* refused since the bot was loaded, for status lines */
    hydra_strikes throttled; /* ticks on which lines were dropped */
} hydra_log_quota;

/*
 * Whether one more line of `bytes` fits this tick's quota. Counts it as
 * admitted or dropped either way. A line larger than the whole byte quota
 * never fits.
 */
int hydra_log_quota_admit(hydra_log_quota *q, size_t bytes, int max_lines, long max_bytes);

/* Starts a new tick's count; the dropped totals and the strikes stay. */
void hydra_log_quota_next_tick(hydra_log_quota *q);

/*
 * A bot's state usage as the host last knew it (keys and bytes of key plus
 * value in bot_kv). `known` is 0 until read from the database, and again
 * after a transaction that may have changed it was rolled back.
 */
typedef struct hydra_kv_usage {
    int known;
    long keys;
    long bytes;
    uint64_t refused;      /* writes refused for the quota since the bot was loaded */
    uint64_t refused_tick; /* the tick of the last refusal */
} hydra_kv_usage;

/*
 * Whether writing a key of key_len bytes with a value of value_len bytes
 * fits: `old_bytes` is the size of the key's current entry (key plus value)
 * or -1 when the key is new. 1 when it fits, 0 when it would pass either
 * quota.
 */
int hydra_kv_quota_fits(const hydra_kv_usage *u, size_t key_len, size_t value_len, long old_bytes,
                        long max_keys, long max_bytes);

/* Records a write that hydra_kv_quota_fits admitted and the database accepted. */
void hydra_kv_quota_commit(hydra_kv_usage *u, size_t key_len, size_t value_len, long old_bytes);

#endif
