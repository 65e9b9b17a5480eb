/*
 * Hydra SDK: value types shared by the host and bots.
 *
 * These are plain data. They are part of ABI v1: a change to a frozen type
 * below is a major version bump. Sized types (those that start with
 * struct_size) may grow at the end in a minor version.
 */
#ifndef HYDRA_TYPES_H
#define HYDRA_TYPES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Asset classes, usable as bit flags in a plugin descriptor. */
enum hydra_asset_class {
    HYDRA_ASSET_EQUITY = 1u << 0, /* US stock or ETF, e.g. "AAPL" */
    HYDRA_ASSET_CRYPTO = 1u << 1, /* crypto pair with a slash, e.g. "BTC/USD" */
    HYDRA_ASSET_OPTION = 1u << 2  /* OCC option symbol, e.g. "SPY240126C00480000" */
};

enum hydra_side { HYDRA_SIDE_BUY = 1, HYDRA_SIDE_SELL = 2 };

enum hydra_order_type { HYDRA_ORDER_MARKET = 1, HYDRA_ORDER_LIMIT = 2 };

enum hydra_tif { HYDRA_TIF_DAY = 1, HYDRA_TIF_GTC = 2, HYDRA_TIF_IOC = 3 };

/* Log levels for hydra_host_api.log. */
enum hydra_log_level {
    HYDRA_LOG_DEBUG = 0,
    HYDRA_LOG_INFO = 1,
    HYDRA_LOG_WARN = 2,
    HYDRA_LOG_ERROR = 3
};

/*
 * One OHLCV bar. Frozen in ABI v1 (arrays of bars are indexed with
 * sizeof(hydra_bar)). t_ms is the bar's start time, UTC milliseconds since
 * the Unix epoch.
 */
typedef struct hydra_bar {
    int64_t t_ms;
    double open;
    double high;
    double low;
    double close;
    double volume;
} hydra_bar;

#ifdef __cplusplus
}
#endif

#endif
