/*
 * The JSONL decision log (logs/app.jsonl).
 *
 * One JSON object per line, built with jansson:
 *   {"ts":"2026-11-21T13:04:05.123Z","level":"info","event":"gate_reject",
 *    "tick":42,"bot_id":"mom_AAPL", ...the event's fields}
 * `ts` is wall-clock UTC with milliseconds. When the engine clock is
 * simulated, `t` carries the engine (data) time in the same format.
 *
 * Each line is written with one write(2) on an O_APPEND descriptor, so lines
 * from several processes never interleave. The file rotates daily (UTC date
 * of ts) to app.YYYY-MM-DD.jsonl beside it, and by size when set
 * (hydra_log_set_rotation); `keep_files` rotated files are kept. Every registered secret is replaced by "[REDACTED]" wherever it
 * appears in a line. A failed write sets a sticky failure flag that the
 * health monitor reads: no trading without an audit trail.
 */
#ifndef HYDRA_LOG_H
#define HYDRA_LOG_H

#include <stdint.h>

#include <jansson.h>

#include <hydra/types.h> /* HYDRA_LOG_DEBUG .. HYDRA_LOG_ERROR */

#include "clock.h"

typedef struct hydra_log hydra_log;

/* Opens (creating the directory's file, not the directory) for appending. */
int hydra_log_open(const char *path, int keep_files, hydra_log **out, char *err, size_t errsz);
void hydra_log_close(hydra_log *lg);

/* Registers a value that must never appear in the log (copied). Empty strings are ignored. */
void hydra_log_add_secret(hydra_log *lg, const char *secret);
/* The tick number stamped on following lines (0 = none). */
void hydra_log_set_tick(hydra_log *lg, uint64_t tick);
/*
 * Copies `in` to out[outsz] with every registered secret replaced, for text
 * that is stored elsewhere (the journal's error column). When redaction
 * cannot be done, out says the text was withheld.
 */
void hydra_log_redact(const hydra_log *lg, const char *in, char *out, size_t outsz);
/* The engine clock; when simulated, lines carry `t` (engine time). May be NULL. */
void hydra_log_set_clock(hydra_log *lg, const hydra_clock *clock);
/* Lines below this level are dropped (backtests use WARN for trades-only). */
void hydra_log_set_min_level(hydra_log *lg, int level);
/* Rotated files kept from the next rotation on (0 keeps all). Call from the thread that writes. */
void hydra_log_set_keep(hydra_log *lg, int keep_files);
/* Also echo each line to stderr (tests, debugging). */
void hydra_log_set_echo(hydra_log *lg, int on);

/*
 * Writes one line. `fields` (may be NULL) is an object whose members are
 * appended; the reference is stolen. bot_id may be NULL. Returns 0 or
 * HYDRA_EIO.
 */
int hydra_log_event(hydra_log *lg, int level, const char *event, const char *bot_id, json_t *fields);

/*
 * The same with the fields given as a jansson json_pack format, e.g.
 *   hydra_log_pack(lg, HYDRA_LOG_INFO, "exitbot_ok", NULL, "{s:f,s:f}", "equity", eq, "pnl", pnl);
 * A pack error is itself logged as event "log_pack_error".
 */
int hydra_log_pack(hydra_log *lg, int level, const char *event, const char *bot_id,
                   const char *fmt, ...);

/*
 * Decisions that repeat every tick (the same bot skipped for the same
 * reason, the same read failing the same way) are written when they start
 * and when they change or end, not every tick. Shared by the live loop and
 * the backtest: call hydra_log_repeat() where the line would be written and
 * hydra_log_repeats_round() once at the end of every tick (or bar).
 *
 * The line is identified by (event, bot_id, topic) (bot_id and topic may be
 * NULL); `what` is the text that must stay the same (the reason). The first
 * occurrence is written as hydra_log_event() would write it. While `what`
 * stays the same, later occurrences are only counted (once per round).
 * When `what` changes, the new line is written with "previous" (the old
 * text) and "repeated" (the rounds it held). A round in which the line was
 * not noted ends it: "<event>_ended" with the first line's fields,
 * "repeated" and "since_tick". fields is stolen, as in hydra_log_event().
 * hydra_log_close() ends the open ones with "still_active": true.
 */
int hydra_log_repeat(hydra_log *lg, int level, const char *event, const char *bot_id,
                     const char *topic, const char *what, json_t *fields);
/* Ends every repeat not noted since the previous round. Returns 0 or HYDRA_EIO. */
int hydra_log_repeats_round(hydra_log *lg);
/* Ends every open repeat now ("still_active": true); done by hydra_log_close(). */
void hydra_log_repeats_finish(hydra_log *lg);
/* How many repeated lines are being counted now (tests, status). */
size_t hydra_log_repeats_active(const hydra_log *lg);

/*
 * Rotation by size as well as by day: a line that would take the file past
 * max_bytes (0 = no limit) first moves it aside as stem.YYYY-MM-DD.N.ext
 * (N counting up within the day). With compress, every rotated file is
 * gzip-compressed to <name>.gz by a thread of its own at a lower priority,
 * so the line being written never waits for it. A file that could not be
 * compressed stays as it is. keep_files (hydra_log_open) counts rotated
 * files, compressed or not. Every process that writes to the file must set
 * compress alike: its writes then take the shared lock that keeps a line
 * out of a file being compressed.
 */
void hydra_log_set_rotation(hydra_log *lg, int64_t max_bytes, int compress);
/* Starts compressing the rotated files an earlier run left uncompressed (the host, at start). */
void hydra_log_compress_leftovers(hydra_log *lg);
/* Waits until every rotated file is compressed; how many were, and failed (tests, bench). */
void hydra_log_compress_wait(hydra_log *lg, uint64_t *done, uint64_t *failed);

/* 1 while every write has succeeded; 0 after a failure (sticky until reopen). */
int hydra_log_healthy(const hydra_log *lg);
/* Lines written since open (for tests and status). */
uint64_t hydra_log_lines(const hydra_log *lg);

#endif
