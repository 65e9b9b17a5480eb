#include "error.h"

const char *hydra_strerror(int code)
{
    switch (code) {
    case HYDRA_OK: return "success";
    case HYDRA_EINVAL: return "invalid argument or input";
    case HYDRA_ENOMEM: return "out of memory";
    case HYDRA_EIO: return "input/output error";
    case HYDRA_ECONFIG: return "invalid configuration";
    case HYDRA_ESTATE: return "state database unusable";
    case HYDRA_ENOTFOUND: return "not found";
    case HYDRA_EFULL: return "buffer full";
    case HYDRA_EEOF: return "end of market data";
    case HYDRA_EBUSY: return "resource busy";
    case HYDRA_ETRANSIENT: return "broker unreachable or temporarily failing";
    case HYDRA_EREJECTED: return "rejected by broker";
    case HYDRA_EAUTH: return "broker refused credentials";
    case HYDRA_EMALFORMED: return "malformed broker answer";
    case HYDRA_EPLUGIN: return "plugin error";
    case HYDRA_EHALTED: return "trading halted";
    case HYDRA_EPROTO: return "worker protocol violation";
    case HYDRA_ETIMEDOUT: return "worker missed its deadline";
    case HYDRA_EWORKER: return "worker died or could not start";
    default: return "unknown error";
    }
}

int hydra_err_is_broker(int code)
{
    return code == HYDRA_ETRANSIENT || code == HYDRA_EREJECTED || code == HYDRA_EAUTH ||
           code == HYDRA_EMALFORMED;
}
