/*
 * Hydra SDK: an optional, header-only C++17 layer over the C ABI in
 * plugin.h. Nothing here changes the ABI: the entry is the same
 * hydra_plugin struct, built from a class by hydra::make_plugin<Bot>().
 *
 * A bot class provides
 *
 *   static int create(hydra::host &host, const hydra_bot_config &cfg,
 *                     std::unique_ptr<Bot> &out);   // HYDRA_BOT_OK or negative
 *   int manage(const hydra_snapshot &snap, hydra::intents &out);
 *   int on_tick(const hydra_snapshot &snap, hydra::intents &out);
 *   void on_fill(const hydra_fill &fill);           // optional
 *
 * and exports the entry with
 *
 *   HYDRA_CXX_PLUGIN(Bot, "name", "1.0.0", "one line", HYDRA_ASSET_EQUITY);
 *
 * Exceptions never cross the C boundary: every callback the host sees
 * catches everything, logs it through the host (when it can) and returns
 * HYDRA_BOT_ERROR, which quarantines the bot; a throwing destructor or
 * on_fill is logged and swallowed. Build with hidden visibility and the
 * SDK's version script (as for a C bot) so only hydra_plugin_entry is
 * exported, none of the C++ runtime's symbols.
 */
#ifndef HYDRA_PLUGIN_HPP
#define HYDRA_PLUGIN_HPP

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <utility>

#include "plugin.h"

namespace hydra {

/* The host API and handle of one bot instance, valid from create to destroy. */
class host {
public:
    host(const hydra_host_api *api, hydra_host *h) noexcept : api_(api), h_(h) {}

    void log(int level, const char *event, const char *message) const noexcept
    {
        if (HYDRA_HAS(api_, log))
            api_->log(h_, level, event, message);
    }

    /* signal.params.<key> as an integer: `def` when absent, false when present but not an integer. */
    bool param_int(const char *key, int64_t def, int64_t &out) const noexcept
    {
        int64_t v = def;
        int rc = HYDRA_HAS(api_, param_int) ? api_->param_int(h_, key, &v) : HYDRA_PARAM_MISSING;
        out = rc == HYDRA_PARAM_MISSING ? def : v;
        return rc == HYDRA_PARAM_OK || rc == HYDRA_PARAM_MISSING;
    }

    bool param_double(const char *key, double def, double &out) const noexcept
    {
        double v = def;
        int rc = HYDRA_HAS(api_, param_double) ? api_->param_double(h_, key, &v) : HYDRA_PARAM_MISSING;
        out = rc == HYDRA_PARAM_MISSING ? def : v;
        return rc == HYDRA_PARAM_OK || rc == HYDRA_PARAM_MISSING;
    }

    const hydra_host_api *api() const noexcept { return api_; }
    hydra_host *handle() const noexcept { return h_; }

private:
    const hydra_host_api *api_;
    hydra_host *h_;
};

/* The host's intent buffer for one call. */
class intents {
public:
    explicit intents(hydra_intent_buf *buf) noexcept : buf_(buf) {}

    /* A zeroed intent with struct_size, kind, side, type and asset class set. */
    static hydra_intent make(uint32_t kind, uint32_t side, uint32_t type, uint32_t asset_class) noexcept
    {
        hydra_intent in;
        std::memset(&in, 0, sizeof in);
        in.struct_size = sizeof in;
        in.kind = kind;
        in.side = side;
        in.type = type;
        in.asset_class = asset_class;
        return in;
    }

    /*
     * Copies symbol and reason into `in` and appends it. False when the
     * symbol does not fit or the buffer is full (nothing is appended); a
     * long reason is cut.
     */
    bool push(hydra_intent in, const char *symbol, const char *reason) noexcept
    {
        size_t n = symbol != nullptr ? std::strlen(symbol) : 0;
        if (n == 0 || n >= sizeof in.symbol)
            return false;
        std::memcpy(in.symbol, symbol, n + 1);
        if (reason != nullptr) {
            size_t r = std::strlen(reason);
            if (r >= sizeof in.reason)
                r = sizeof in.reason - 1;
            std::memcpy(in.reason, reason, r);
            in.reason[r] = '\0';
        }
        return hydra_intent_push(buf_, &in) == 0;
    }

private:
    hydra_intent_buf *buf_;
};

/*
 * True when the snapshot shows a working order of `kind` (ENTRY or EXIT)
 * for `symbol`. A 1.0 host shows no orders: then false.
 */
inline bool has_working_order(const hydra_snapshot &snap, const char *symbol, uint32_t kind) noexcept
{
    if (snap.struct_size < offsetof(hydra_snapshot, n_orders) + sizeof snap.n_orders ||
        snap.orders == nullptr)
        return false;
    for (uint32_t i = 0; i < snap.n_orders; i++) {
        const hydra_order_view *o = snap.orders[i];
        if (o != nullptr && o->symbol != nullptr && o->kind == kind && std::strcmp(o->symbol, symbol) == 0)
            return true;
    }
    return false;
}

/* The bot's open quantity in `symbol` (0 when it holds none). */
inline double position_qty(const hydra_snapshot &snap, const char *symbol) noexcept
{
    double q = 0.0;
    for (uint32_t i = 0; i < snap.n_positions && snap.positions != nullptr; i++) {
        const hydra_position_view *p = snap.positions[i];
        if (p != nullptr && p->symbol != nullptr && std::strcmp(p->symbol, symbol) == 0 && p->qty > 0.0)
            q += p->qty;
    }
    return q;
}

namespace detail {

/* The C-side instance: the host handle outlives the bot object it owns. */
template <class Bot> struct instance {
    hydra::host host;
    std::unique_ptr<Bot> bot;
};

/* Logs the exception being handled; formats into a fixed buffer, since memory may be what ran out. */
inline void report(const host &h, const char *where) noexcept
{
    char msg[256];
    try {
        throw;
    } catch (const std::exception &e) {
        std::snprintf(msg, sizeof msg, "%s threw: %s", where, e.what());
    } catch (...) {
        std::snprintf(msg, sizeof msg, "%s threw something that is not a std::exception", where);
    }
    h.log(HYDRA_LOG_ERROR, "bot_exception", msg);
}

template <class T, class = void> struct has_on_fill {
    static constexpr bool value = false;
};
template <class T>
struct has_on_fill<T, decltype((void)std::declval<T &>().on_fill(std::declval<const hydra_fill &>()))> {
    static constexpr bool value = true;
};

template <class Bot> struct adapter {
    using inst = instance<Bot>;

    static int create(const hydra_host_api *api, hydra_host *h, const hydra_bot_config *cfg,
                      hydra_bot **out) noexcept
    {
        if (out == nullptr)
            return HYDRA_BOT_ERROR;
        *out = nullptr;
        hydra::host hh(api, h);
        if (cfg == nullptr)
            return HYDRA_BOT_ERROR;
        try {
            std::unique_ptr<inst> in(new inst{hh, nullptr});
            int rc = Bot::create(in->host, *cfg, in->bot);
            if (rc != HYDRA_BOT_OK || !in->bot)
                return rc < 0 ? rc : HYDRA_BOT_ERROR;
            *out = reinterpret_cast<hydra_bot *>(in.release());
            return HYDRA_BOT_OK;
        } catch (...) {
            report(hh, "create");
            return HYDRA_BOT_ERROR;
        }
    }

    static void destroy(hydra_bot *b) noexcept
    {
        inst *in = reinterpret_cast<inst *>(b);
        if (in == nullptr)
            return;
        try {
            in->bot.reset();
        } catch (...) {
            report(in->host, "destroy");
        }
        delete in;
    }

    static int manage(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out) noexcept
    {
        inst *in = reinterpret_cast<inst *>(b);
        if (in == nullptr || snap == nullptr)
            return HYDRA_BOT_ERROR;
        try {
            intents it(out);
            return in->bot->manage(*snap, it);
        } catch (...) {
            report(in->host, "manage");
            return HYDRA_BOT_ERROR;
        }
    }

    static int on_tick(hydra_bot *b, const hydra_snapshot *snap, hydra_intent_buf *out) noexcept
    {
        inst *in = reinterpret_cast<inst *>(b);
        if (in == nullptr || snap == nullptr)
            return HYDRA_BOT_ERROR;
        try {
            intents it(out);
            return in->bot->on_tick(*snap, it);
        } catch (...) {
            report(in->host, "on_tick");
            return HYDRA_BOT_ERROR;
        }
    }

    static void on_fill(hydra_bot *b, const hydra_fill *fill) noexcept
    {
        inst *in = reinterpret_cast<inst *>(b);
        if (in == nullptr || fill == nullptr)
            return;
        try {
            if constexpr (has_on_fill<Bot>::value)
                in->bot->on_fill(*fill);
        } catch (...) {
            report(in->host, "on_fill");
        }
    }
};

} // namespace detail

/* The entry for Bot; a constant expression, so the host reads it before any constructor runs. */
template <class Bot>
constexpr hydra_plugin make_plugin(const char *name, const char *version, const char *description,
                                   uint32_t asset_classes) noexcept
{
    return hydra_plugin{HYDRA_ABI_VERSION_INIT,
                        sizeof(hydra_plugin),
                        name,
                        version,
                        description,
                        asset_classes,
                        &detail::adapter<Bot>::create,
                        &detail::adapter<Bot>::destroy,
                        &detail::adapter<Bot>::manage,
                        &detail::adapter<Bot>::on_tick,
                        detail::has_on_fill<Bot>::value ? &detail::adapter<Bot>::on_fill : nullptr};
}

} // namespace hydra

/* Defines the one exported symbol for the bot class `Bot`. */
#define HYDRA_CXX_PLUGIN(Bot, name, version, description, asset_classes)                           \
    extern "C" HYDRA_EXPORT constexpr hydra_plugin hydra_plugin_entry =                            \
        hydra::make_plugin<Bot>(name, version, description, asset_classes)

#endif
