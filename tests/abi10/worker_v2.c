/*
 * What a hydra-worker of worker protocol version 2 (ABI 1.0 hosts) does
 * when a newer host starts it: it reads the host's first message from fd 3,
 * finds a version other than its own in the header and exits with the
 * protocol exit code, as that worker's hydra_wire_check_header made it do.
 * Only the header is read: that is as far as an old worker gets.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define V2_MAGIC 0x57445948u
#define V2_VERSION 2u
#define V2_EXIT_HOST_GONE 2
#define V2_EXIT_PROTOCOL 3

int main(void)
{
    unsigned char h[12];
    size_t got = 0;
    while (got < sizeof h) {
        ssize_t n = read(3, h + got, sizeof h - got);
        if (n <= 0)
            return V2_EXIT_HOST_GONE;
        got += (size_t)n;
    }
    uint32_t magic;
    uint16_t version;
    memcpy(&magic, h, sizeof magic);
    memcpy(&version, h + 4, sizeof version);
    if (magic != V2_MAGIC || version != V2_VERSION)
        return V2_EXIT_PROTOCOL;
    return V2_EXIT_HOST_GONE; /* a real version-2 worker would go on; this one never meets one */
}
