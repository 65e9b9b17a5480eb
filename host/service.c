#define _GNU_SOURCE
#include "service.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "error.h"

static int g_fd = -1;
static struct sockaddr_un g_addr;
static socklen_t g_addrlen;

int hydra_service_init(void)
{
    const char *v = getenv("NOTIFY_SOCKET");
    if (v == NULL || v[0] == '\0')
        return 0;
    size_t n = strlen(v);
    memset(&g_addr, 0, sizeof g_addr);
    g_addr.sun_family = AF_UNIX;
    if ((v[0] != '/' && v[0] != '@') || n >= sizeof g_addr.sun_path) {
        fprintf(stderr, "hydra-host: NOTIFY_SOCKET: expected an absolute path or an @abstract name "
                        "shorter than %zu characters; systemd notifications disabled\n",
                sizeof g_addr.sun_path);
        unsetenv("NOTIFY_SOCKET");
        return HYDRA_EINVAL;
    }
    memcpy(g_addr.sun_path, v, n);
    if (v[0] == '@')
        g_addr.sun_path[0] = '\0'; /* abstract namespace: no terminating NUL counts */
    g_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (v[0] == '/' ? 1 : 0));
    /* Workers are started by this process: they must not be able to speak for it. */
    unsetenv("NOTIFY_SOCKET");

    g_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (g_fd < 0) {
        fprintf(stderr, "hydra-host: NOTIFY_SOCKET: cannot create a socket: %s\n", strerror(errno));
        return HYDRA_EIO;
    }
    /*
     * Blocking, like libsystemd's sender, so no notification is lost to a
     * momentarily full queue; but bounded, so a receiver that stopped reading
     * can never stall a tick for long.
     */
    struct timeval tv = {1, 0};
    setsockopt(g_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return 1;
}

int hydra_service_notify(const char *lines)
{
    if (g_fd < 0)
        return 0;
    ssize_t w;
    do
        w = sendto(g_fd, lines, strlen(lines), MSG_NOSIGNAL, (struct sockaddr *)&g_addr, g_addrlen);
    while (w < 0 && errno == EINTR);
    return w == (ssize_t)strlen(lines) ? 0 : HYDRA_EIO;
}

void hydra_service_tick(uint64_t tick, double equity, int halted)
{
    if (g_fd < 0)
        return;
    char msg[160];
    snprintf(msg, sizeof msg, "WATCHDOG=1\nSTATUS=tick %llu, equity %.2f, %s",
             (unsigned long long)tick, equity, halted ? "HALTED" : "trading");
    hydra_service_notify(msg);
}

void hydra_service_close(void)
{
    if (g_fd >= 0)
        close(g_fd);
    g_fd = -1;
}
