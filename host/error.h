/*
 * Hydra error codes.
 *
 * Every host function that can fail returns 0 on success or one of these
 * negative codes. hydra_strerror() turns a code into words; functions that
 * can say more (which file, which key) also fill a caller-provided message
 * buffer. Broker calls map every failure into one of the broker classes so
 * the health monitor and ExitBot can act on the class, not on strings.
 */
#ifndef HYDRA_ERROR_H
#define HYDRA_ERROR_H

#include <stddef.h>

enum hydra_err {
    HYDRA_OK = 0,
    HYDRA_EINVAL = -1,   /* bad argument or malformed input */
    HYDRA_ENOMEM = -2,   /* allocation failed */
    HYDRA_EIO = -3,      /* file system or database I/O failed */
    HYDRA_ECONFIG = -4,  /* configuration invalid */
    HYDRA_ESTATE = -5,   /* state database unusable */
    HYDRA_ENOTFOUND = -6,/* the thing asked for does not exist */
    HYDRA_EFULL = -7,    /* a fixed-capacity buffer is full */
    HYDRA_EEOF = -8,     /* end of data (simulated exchange replay ended) */
    HYDRA_EBUSY = -9,    /* resource held by another process (lock file) */

    /* Broker failure classes. */
    HYDRA_ETRANSIENT = -20, /* network, timeout, 5xx, 429: outcome may be unknown */
    HYDRA_EREJECTED = -21,  /* the broker refused the request (4xx) */
    HYDRA_EAUTH = -22,      /* credentials refused: never retried */
    HYDRA_EMALFORMED = -23, /* the broker's answer could not be understood */

    HYDRA_EPLUGIN = -30, /* a plugin failed to load or misbehaved */
    HYDRA_EHALTED = -31, /* refused because trading is halted */

    /* Worker processes. */
    HYDRA_EPROTO = -40,    /* a worker broke the wire protocol */
    HYDRA_ETIMEDOUT = -41, /* a worker did not answer before its deadline */
    HYDRA_EWORKER = -42,   /* a worker died or could not be started */
};

/* A static string describing the code; never NULL. */
const char *hydra_strerror(int code);

/* True for the four broker failure classes. */
int hydra_err_is_broker(int code);

#endif
