/*
 * Running under systemd (Type=notify): the sd_notify protocol, spoken
 * directly. systemd passes $NOTIFY_SOCKET, an AF_UNIX datagram socket (a
 * path, or an abstract name written with a leading '@'); the service sends
 * newline-separated VAR=value lines as single datagrams: READY=1 once
 * started, WATCHDOG=1 to prove it is alive (WatchdogSec=), STOPPING=1 on
 * the way out, STATUS= a line for `systemctl status`.
 *
 * Why not libsystemd: the protocol is one sendto() and is documented as
 * stable (sd_notify(3), "Notes"); a 60-line sender adds no dependency to a
 * host that also runs where systemd does not, and keeps the socket handling
 * in view (blocking with a bounded send timeout, close-on-exec, never
 * inherited by workers).
 *
 * Outside systemd (no NOTIFY_SOCKET) every call is a no-op returning 0.
 * [main-thread] Process-wide state, like the variable it comes from.
 */
#ifndef HYDRA_SERVICE_H
#define HYDRA_SERVICE_H

#include <stdint.h>

/*
 * Reads and unsets $NOTIFY_SOCKET (so bot workers never inherit it) and
 * opens the sending socket. Returns 1 when notifications will be sent, 0
 * when there is no socket, negative (with a message on stderr naming the
 * variable) when its value is unusable.
 */
int hydra_service_init(void);

/* Sends one datagram of VAR=value lines. 0, or negative when it could not be sent. */
int hydra_service_notify(const char *lines);

/* After a completed tick: WATCHDOG=1 with a STATUS line saying where the host is. */
void hydra_service_tick(uint64_t tick, double equity, int halted);

/* Closes the socket. */
void hydra_service_close(void);

#endif
