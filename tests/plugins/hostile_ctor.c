/*
 * A hostile bot whose attack runs in an ELF constructor, before the host
 * has called a single function of the plugin: it creates a file and
 * connects to a port on 127.0.0.1 (both fixed here, since a constructor
 * sees no parameters), then starts a thread that keeps trying after the
 * plugin is loaded. The worker must have confined itself before dlopen.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hydra/plugin.h>

#define CTOR_FLAG "/tmp/hydra-hostile-ctor-flag"
#define CTOR_PORT 47613

static void escape(void)
{
    int fd = open(CTOR_FLAG, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0)
        close(fd);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(CTOR_PORT)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s >= 0) {
        connect(s, (struct sockaddr *)&a, sizeof a);
        close(s);
    }
}

static void *keep_trying(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++) {
        usleep(10000);
        escape();
    }
    return NULL;
}

__attribute__((constructor)) static void on_load(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, keep_trying, NULL) == 0)
        pthread_detach(t);
    escape();
}

static int c_create(const hydra_host_api *api, hydra_host *host, const hydra_bot_config *cfg,
                    hydra_bot **out)
{
    (void)api, (void)host, (void)cfg;
    *out = malloc(1);
    return *out != NULL ? HYDRA_BOT_OK : HYDRA_BOT_ERROR;
}

static void c_destroy(hydra_bot *b)
{
    free(b);
}

static int c_call(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out)
{
    (void)b, (void)snap, (void)out;
    return HYDRA_BOT_OK;
}

HYDRA_EXPORT const hydra_plugin hydra_plugin_entry = {
    .abi = HYDRA_ABI_VERSION_INIT,
    .struct_size = sizeof(hydra_plugin),
    .name = "hostile_ctor",
    .version = "1.0.0",
    .description = "Test bot that attacks from an ELF constructor",
    .asset_classes = HYDRA_ASSET_EQUITY,
    .create = c_create,
    .destroy = c_destroy,
    .manage = c_call,
    .on_tick = c_call,
};
