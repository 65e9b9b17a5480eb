/*
 * Notifications (settings.yaml `notify:`): halts, quarantines, fills and a
 * daily summary, sent as a generic JSON webhook, a Slack incoming-webhook
 * message or a Telegram sendMessage call.
 *
 * The tick only copies a short message into a bounded queue allocated at
 * start ([engine-thread], no allocation, no I/O, never blocks); one sender
 * thread posts them with libcurl. A full queue drops the new message, a
 * slow or dead receiver only delays the sender thread: neither ever delays a
 * tick or halts trading. Sent, failed and dropped messages are counted
 * (hydra_notify_counts; /metrics shows them).
 *
 * Secrets come from the environment or .env, never from settings.yaml:
 * HYDRA_SLACK_WEBHOOK_URL (slack), HYDRA_TELEGRAM_BOT_TOKEN and
 * HYDRA_TELEGRAM_CHAT_ID (telegram), HYDRA_WEBHOOK_TOKEN (webhook, optional,
 * sent as a bearer token).
 */
#ifndef HYDRA_NOTIFY_H
#define HYDRA_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef struct hydra_notify hydra_notify;

/*
 * Starts the sender. Returns 0 or negative with a message in err naming the
 * missing secret or the bad setting.
 */
int hydra_notify_start(const hydra_notify_cfg *cfg, const hydra_credentials *creds,
                       hydra_notify **out, char *err, size_t errsz);

/*
 * [engine-thread] Queues one message: `event` (halt, quarantine, fill,
 * daily_summary, ...), an optional bot id, and a line of text for people.
 * NULL n, or an event the settings turned off, does nothing.
 */
void hydra_notify_event(hydra_notify *n, const char *event, const char *bot_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* [any thread] Messages delivered (2xx), failed (error or non-2xx), dropped (queue full or shut down). */
void hydra_notify_counts(hydra_notify *n, uint64_t *sent, uint64_t *failed, uint64_t *dropped);

/*
 * Waits until every queued message has been tried (operator tools and
 * tests; never called from a tick).
 */
void hydra_notify_wait_idle(hydra_notify *n);

/*
 * Stops the sender: what is queued is still sent for up to one timeout,
 * the rest is counted as dropped. NULL is fine.
 */
void hydra_notify_stop(hydra_notify *n);

#endif
