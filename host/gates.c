#include "gates.h"

#include "loader.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/*
 * A computed size this close below a whole unit is that unit: 330 dollars
 * of contracts at 1.10 (1.10 x 100 is 110.00000000000001 in floating point)
 * divides to 2.9999999999999996, and that is 3 contracts, not 2.
 */
#define UNIT_EPS 1e-9
/* Limit distances are compared with the same slack, so "exactly 5%" passes a 5% limit. */
#define PCT_EPS 1e-9
/* The seed's valid_budget(): positive and below a trillion dollars. */
#define BUDGET_MAX 1e12

/* ---- results ------------------------------------------------------------ */

static void result_init(hydra_gate_result *r)
{
    memset(r, 0, sizeof *r);
    r->pass = 1;
}

static int reject(hydra_gate_result *r, const char *gate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Marks the intent rejected by `gate`; returns 0 so a gate can `return reject(...)`. */
static int reject(hydra_gate_result *r, const char *gate, const char *fmt, ...)
{
    va_list ap;
    r->pass = 0;
    r->resized = 0;
    snprintf(r->gate, sizeof r->gate, "%s", gate);
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
    return 0;
}

static void note(hydra_gate_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends to the detail of an intent that passes, so the log shows how it was sized. */
static void note(hydra_gate_result *r, const char *fmt, ...)
{
    va_list ap;
    size_t used = strlen(r->detail);
    if (used + 1 >= sizeof r->detail)
        return;
    va_start(ap, fmt);
    vsnprintf(r->detail + used, sizeof r->detail - used, fmt, ap);
    va_end(ap);
}

/* ---- small facts about an intent ---------------------------------------- */

static int finite_positive(double x)
{
    return isfinite(x) && x > 0.0;
}

static const char *units_of(const hydra_intent *in)
{
    if (in->asset_class == HYDRA_ASSET_OPTION)
        return "contracts";
    if (in->asset_class == HYDRA_ASSET_EQUITY)
        return "shares";
    return "units";
}

static const char *side_name(uint32_t side)
{
    return side == HYDRA_SIDE_BUY ? "buy" : side == HYDRA_SIDE_SELL ? "sell" : "unknown";
}

/*
 * Whole units where the broker accepts nothing else: option contracts, and
 * equity orders that are limit orders or live beyond the day. Market DAY
 * equity orders and crypto may be fractional.
 */
static int needs_whole_units(const hydra_intent *in)
{
    if (in->asset_class == HYDRA_ASSET_OPTION)
        return 1;
    if (in->asset_class == HYDRA_ASSET_EQUITY)
        return in->type == HYDRA_ORDER_LIMIT || in->tif != HYDRA_TIF_DAY;
    return 0;
}

static double floor_units(double x)
{
    return floor(x + UNIT_EPS);
}

/* Fractional quantities are kept to nine decimals, the brokers' finest step. */
static double floor_fraction(double x)
{
    return floor(x * 1e9 + 1e-3) / 1e9;
}

static double floor_cents(double dollars)
{
    return floor(dollars * 100.0 + 1e-6) / 100.0;
}

/* A tif of 0 asks for the bot's configured tif; DAY when the bot names none. */
static void resolve_tif(const hydra_bot_cfg *bot, hydra_intent *in)
{
    if (in->tif == 0)
        in->tif = (bot != NULL && bot->tif != 0) ? (uint32_t)bot->tif : HYDRA_TIF_DAY;
}

/* ---- gates shared by entries and exits ------------------------------------ */

static int gate_facts_present(const hydra_gate_facts *f, const hydra_intent *in, int entry,
                              hydra_gate_result *r)
{
    if (f == NULL || in == NULL)
        return reject(r, "facts_missing", "no facts or no intent to check");
    if (entry && (f->bot == NULL || f->day == NULL))
        return reject(r, "facts_missing", "no bot configuration or no daily counters");
    return 1;
}

static int gate_side(const hydra_intent *in, uint32_t want, hydra_gate_result *r)
{
    if (in->side != want)
        return reject(r, "side", "%s must %s, got side %u (%s)",
                      want == HYDRA_SIDE_BUY ? "entries" : "exits", side_name(want),
                      (unsigned)in->side, side_name(in->side));
    return 1;
}

/* Exactly one of qty and notional is a finite positive number; the other is 0. */
static int gate_quantity_form(const hydra_intent *in, hydra_gate_result *r)
{
    int ok = isfinite(in->qty) && isfinite(in->notional) && in->qty >= 0.0 && in->notional >= 0.0 &&
             ((in->qty > 0.0) != (in->notional > 0.0));
    if (!ok)
        return reject(r, "quantity_valid",
                      "qty %g and notional %g: exactly one must be finite and positive", in->qty,
                      in->notional);
    return 1;
}

static int gate_order_form(const hydra_intent *in, hydra_gate_result *r)
{
    if (in->type != HYDRA_ORDER_MARKET && in->type != HYDRA_ORDER_LIMIT)
        return reject(r, "order_form", "order type %u is neither market nor limit",
                      (unsigned)in->type);
    if (in->tif != HYDRA_TIF_DAY && in->tif != HYDRA_TIF_GTC && in->tif != HYDRA_TIF_IOC)
        return reject(r, "order_form", "time in force %u is not day, gtc or ioc",
                      (unsigned)in->tif);
    if (in->asset_class != HYDRA_ASSET_EQUITY && in->asset_class != HYDRA_ASSET_CRYPTO &&
        in->asset_class != HYDRA_ASSET_OPTION)
        return reject(r, "order_form", "asset class %u is not equity, crypto or option",
                      (unsigned)in->asset_class);
    return 1;
}

/* Without a trustworthy last price (and contract multiplier) nothing can be sized or checked. */
static int gate_price_known(const hydra_gate_facts *f, const hydra_intent *in, hydra_gate_result *r)
{
    if (!finite_positive(f->last_price))
        return reject(r, "price_known", "no valid last price for %.47s (%g)", in->symbol,
                      f->last_price);
    if (!finite_positive(f->multiplier))
        return reject(r, "price_known", "no valid contract multiplier for %.47s (%g)", in->symbol,
                      f->multiplier);
    return 1;
}

static int gate_limit_price_sane(const hydra_gate_facts *f, const hydra_intent *in,
                                 hydra_gate_result *r)
{
    if (in->type != HYDRA_ORDER_LIMIT)
        return 1;
    if (!finite_positive(in->limit_price))
        return reject(r, "limit_price_sane", "limit price %g for %.47s is not a positive number",
                      in->limit_price, in->symbol);
    if (!isfinite(f->max_limit_distance_pct) || f->max_limit_distance_pct < 0.0)
        return reject(r, "limit_price_sane", "no valid maximum limit distance (%g%%)",
                      f->max_limit_distance_pct);
    double distance = fabs(in->limit_price - f->last_price) / f->last_price * 100.0;
    if (distance > f->max_limit_distance_pct + PCT_EPS)
        return reject(r, "limit_price_sane", "limit %.4f is %.2f%% from last %.4f, max %.2f%%",
                      in->limit_price, distance, f->last_price, f->max_limit_distance_pct);
    return 1;
}

/* ---- entry gates ------------------------------------------------------------ */

static int gate_symbol_declared(const hydra_gate_facts *f, const hydra_intent *in,
                                hydra_gate_result *r)
{
    if (!f->symbol_known)
        return reject(r, "symbol_declared", "%.47s is not declared by %s nor offered in its chain",
                      in->symbol, f->bot->bot_id);
    return 1;
}

static int gate_budget_present(const hydra_gate_facts *f, hydra_gate_result *r)
{
    const hydra_budget *b = f->budget;
    if (b == NULL)
        return reject(r, "budget_missing", "no budget for %s today", f->bot->bot_id);
    if (!finite_positive(b->max_daily_loss) || b->max_daily_loss >= BUDGET_MAX ||
        !finite_positive(b->max_open_risk) || b->max_open_risk >= BUDGET_MAX)
        return reject(r, "budget_missing",
                      "invalid budget for %s: max_daily_loss %g, max_open_risk %g", f->bot->bot_id,
                      b->max_daily_loss, b->max_open_risk);
    if (!b->allowed || !b->enabled)
        return reject(r, "bot_allowed", "budget for %s says allowed=%d enabled=%d", f->bot->bot_id,
                      b->allowed, b->enabled);
    return 1;
}

static int gate_daily_loss(const hydra_gate_facts *f, hydra_gate_result *r)
{
    double pnl = f->day->realized_pnl;
    if (!isfinite(pnl) || pnl <= -f->budget->max_daily_loss)
        return reject(r, "daily_loss", "realised pnl %.2f today, daily loss budget %.2f", pnl,
                      f->budget->max_daily_loss);
    return 1;
}

static int gate_trades_per_day(const hydra_gate_facts *f, hydra_gate_result *r)
{
    if (f->day->trades >= f->budget->max_trades_per_day)
        return reject(r, "trades_per_day", "%d of %d trades used today", f->day->trades,
                      f->budget->max_trades_per_day);
    return 1;
}

static int gate_concurrent_positions(const hydra_gate_facts *f, hydra_gate_result *r)
{
    if (f->positions_open >= f->budget->max_concurrent_positions)
        return reject(r, "concurrent_positions", "%d of %d positions open", f->positions_open,
                      f->budget->max_concurrent_positions);
    return 1;
}

static int gate_orders_per_minute(const hydra_gate_facts *f, hydra_gate_result *r)
{
    if (f->orders_last_minute >= f->max_orders_per_minute)
        return reject(r, "orders_per_minute", "%d orders in the last minute (all bots), limit %d",
                      f->orders_last_minute, f->max_orders_per_minute);
    return 1;
}

/* ---- entry sizing --------------------------------------------------------- */

/*
 * The order as it will be sent. Either `qty` (shares, coins, contracts) or
 * `notional` (dollars) is positive, never both; `dollars` is its value.
 */
typedef struct order_size {
    double unit;     /* dollars per unit: price x multiplier */
    int whole;       /* quantities are whole units */
    int as_notional; /* sent as notional dollars (fractional orders asked in dollars) */
    double qty, notional, dollars;
} order_size;

/* The largest order of this form worth at most `dollars`. */
static void size_to_dollars(order_size *s, double dollars)
{
    if (s->as_notional) {
        s->qty = 0.0;
        s->notional = floor_cents(dollars);
        s->dollars = s->notional;
    } else {
        double x = dollars / s->unit;
        s->qty = s->whole ? floor_units(x) : floor_fraction(x);
        s->notional = 0.0;
        s->dollars = s->qty * s->unit;
    }
}

static int size_is_zero(const order_size *s)
{
    return !(s->qty > 0.0) && !(s->notional > 0.0);
}

static void describe_size(const order_size *s, const hydra_intent *in, char *buf, size_t bufsz)
{
    if (s->as_notional)
        snprintf(buf, bufsz, "notional %.2f", s->notional);
    else
        snprintf(buf, bufsz, "%.9g %s", s->qty, units_of(in));
}

/*
 * The intent's own size in the form it will be sent, valued at the limit
 * price of a limit order and at the last price otherwise: a dollar amount
 * for a whole-unit order becomes the whole units it buys, and a fractional
 * quantity for such an order rounds down.
 */
static int size_start(const hydra_gate_facts *f, const hydra_intent *in, order_size *s,
                      hydra_gate_result *r)
{
    double price = in->type == HYDRA_ORDER_LIMIT ? in->limit_price : f->last_price;
    memset(s, 0, sizeof *s);
    s->unit = price * f->multiplier;
    s->whole = needs_whole_units(in);
    s->as_notional = in->notional > 0.0 && !s->whole;
    if (s->as_notional) {
        s->notional = in->notional;
        s->dollars = in->notional;
    } else {
        double x = in->notional > 0.0 ? in->notional / s->unit : in->qty;
        s->qty = s->whole ? floor_units(x) : x;
        s->dollars = s->qty * s->unit;
    }
    if (size_is_zero(s)) {
        if (in->notional > 0.0)
            return reject(r, "quantity_valid", "notional %.2f buys 0 whole %s at %.4f",
                          in->notional, units_of(in), s->unit);
        return reject(r, "quantity_valid", "qty %g rounds down to 0 whole %s", in->qty,
                      units_of(in));
    }
    return 1;
}

/*
 * Whether the order already fits `limit` dollars, cap_to's usual answer:
 * checked first so the limit's description is formatted only when used.
 */
static int fits(const order_size *s, double limit)
{
    return limit > 0.0 && s->dollars <= limit;
}

/* Writes what limits an order (the gate's numbers) into buf. */
typedef void (*limit_why)(const hydra_gate_facts *f, double limit, char *buf, size_t bufsz);

/*
 * Caps the order to `limit` dollars of value. Returns 0 (rejected by `gate`)
 * when nothing of the order is left. `why` describes the limit with its
 * numbers; it is formatted only for a rejection or a detail someone reads
 * (a backtest resizes thousands of orders and reads none of them).
 */
static int cap_to(const hydra_gate_facts *f, order_size *s, const hydra_intent *in, double limit,
                  const char *gate, limit_why why, hydra_gate_result *r)
{
    char size[64], text[160];
    double before = s->dollars;
    if (!(limit > 0.0)) {
        why(f, limit, text, sizeof text);
        return reject(r, gate, "%s: nothing fits (order worth %.2f)", text, before);
    }
    if (before <= limit)
        return 1;
    size_to_dollars(s, limit);
    if (size_is_zero(s)) {
        why(f, limit, text, sizeof text);
        return reject(r, gate, "%s: 0 %s fit at %.4f each (order worth %.2f)", text,
                      units_of(in), s->unit, before);
    }
    size_t n = strnlen(gate, sizeof r->resized_by - 1);
    memcpy(r->resized_by, gate, n);
    r->resized_by[n] = '\0';
    if (!f->terse) {
        describe_size(s, in, size, sizeof size);
        note(r, "; %s capped %.2f to %s (%.2f)", gate, before, size, s->dollars);
    }
    return 1;
}

/*
 * Open risk: the order's risk must fit the budget left. The dollar limit
 * is the notional whose risk equals what is left: remaining / stop distance,
 * or the remaining risk itself when the bot has no stop.
 */
static void why_open_risk(const hydra_gate_facts *f, double limit, char *buf, size_t bufsz)
{
    double used = f->open_risk_used < 0.0 ? 0.0 : f->open_risk_used;
    snprintf(buf, bufsz, "open risk %.2f of %.2f used, %.2f left allows notional %.2f", used,
             f->budget->max_open_risk, f->budget->max_open_risk - used, limit);
}

static int cap_open_risk(const hydra_gate_facts *f, const hydra_intent *in, order_size *s,
                         hydra_gate_result *r)
{
    double used = f->open_risk_used;
    if (!isfinite(used))
        return reject(r, "open_risk", "open risk in use is unknown (%g)", used);
    if (used < 0.0)
        used = 0.0;
    double remaining = f->budget->max_open_risk - used;
    if (!(remaining > 0.0))
        return reject(r, "open_risk", "open risk %.2f of %.2f used", used,
                      f->budget->max_open_risk);
    double limit = remaining / hydra_gates_order_risk(f->bot, 1.0);
    if (fits(s, limit))
        return 1;
    return cap_to(f, s, in, limit, "open_risk", why_open_risk, r);
}

static void why_notional(const hydra_gate_facts *f, double limit, char *buf, size_t bufsz)
{
    (void)f;
    snprintf(buf, bufsz, "max notional per order %.2f", limit);
}

static int cap_notional(const hydra_gate_facts *f, const hydra_intent *in, order_size *s,
                        hydra_gate_result *r)
{
    double limit = isfinite(f->max_notional_per_order) ? f->max_notional_per_order : 0.0;
    if (fits(s, limit))
        return 1;
    return cap_to(f, s, in, limit, "notional_cap", why_notional, r);
}

static void why_buying_power(const hydra_gate_facts *f, double limit, char *buf, size_t bufsz)
{
    (void)f;
    snprintf(buf, bufsz, "spendable cash after reserve %.2f", limit);
}

static int cap_buying_power(const hydra_gate_facts *f, const hydra_intent *in, order_size *s,
                            hydra_gate_result *r)
{
    double limit = isfinite(f->spendable_cash) ? f->spendable_cash : 0.0;
    if (fits(s, limit))
        return 1;
    return cap_to(f, s, in, limit, "buying_power", why_buying_power, r);
}

/* Writes the sized order back into the intent and records whether it changed. */
static void size_finish(const order_size *s, hydra_intent *in, hydra_gate_result *r)
{
    if (s->qty != in->qty || s->notional != in->notional)
        r->resized = 1;
    in->qty = s->qty;
    in->notional = s->notional;
}

/*
 * Entry gates, top to bottom in the order a rejection is reported. Sizes
 * are capped (never enlarged) by the last three; each of those rejects only
 * when nothing of the order is left.
 */
void hydra_gates_entry(const hydra_gate_facts *f, hydra_intent *in, hydra_gate_result *r)
{
    order_size s;
    char size[64], asked[64];
    if (r == NULL)
        return;
    result_init(r);

    if (!gate_facts_present(f, in, 1, r))
        return;
    if (!gate_symbol_declared(f, in, r))
        return;
    if (!gate_side(in, HYDRA_SIDE_BUY, r)) /* v1 bots do not short */
        return;
    if (!gate_quantity_form(in, r))
        return;
    resolve_tif(f->bot, in);
    if (!gate_order_form(in, r))
        return;
    if (!gate_price_known(f, in, r))
        return;
    if (!gate_limit_price_sane(f, in, r))
        return;
    if (!gate_budget_present(f, r))
        return;
    if (!gate_daily_loss(f, r))
        return;
    if (!gate_trades_per_day(f, r))
        return;
    if (!gate_concurrent_positions(f, r))
        return;
    if (!gate_orders_per_minute(f, r))
        return;

    if (!size_start(f, in, &s, r))
        return;
    if (!f->terse) {
        describe_size(&s, in, size, sizeof size);
        if (in->notional > 0.0)
            snprintf(asked, sizeof asked, "notional %.2f", in->notional);
        else
            snprintf(asked, sizeof asked, "%.9g %s", in->qty, units_of(in));
        snprintf(r->detail, sizeof r->detail, "asked %s; %s worth %.2f (risk %.2f)", asked, size,
                 s.dollars, hydra_gates_order_risk(f->bot, s.dollars));
    }
    if (!cap_open_risk(f, in, &s, r))
        return;
    if (!cap_notional(f, in, &s, r))
        return;
    if (!cap_buying_power(f, in, &s, r))
        return;
    size_finish(&s, in, r);
}

/* ---- exit gates ------------------------------------------------------------- */

static int gate_symbol_held(const hydra_gate_facts *f, const hydra_intent *in, hydra_gate_result *r)
{
    if (!finite_positive(f->held_qty))
        return reject(r, "symbol_held", "%s holds no %.47s (qty %g)",
                      f->bot != NULL ? f->bot->bot_id : "the bot", in->symbol, f->held_qty);
    return 1;
}

/*
 * An exit sells at most what the bot holds. A dollar amount becomes a
 * quantity at the last price, and whole-unit orders round down.
 */
static int exit_size(const hydra_gate_facts *f, hydra_intent *in, hydra_gate_result *r)
{
    double asked = in->qty;
    if (in->notional > 0.0)
        asked = floor_fraction(in->notional / (f->last_price * f->multiplier));
    double qty = asked < f->held_qty ? asked : f->held_qty;
    if (needs_whole_units(in))
        qty = floor_units(qty);
    if (!(qty > 0.0))
        return reject(r, "quantity_valid", "exit of %.9g %s (held %.9g) rounds down to 0 whole %s",
                      asked, units_of(in), f->held_qty, units_of(in));
    if (qty != in->qty || in->notional > 0.0)
        r->resized = 1;
    if (!f->terse && r->resized)
        snprintf(r->detail, sizeof r->detail, "exit of %.9g %s sized to %.9g (held %.9g)", asked,
                 units_of(in), qty, f->held_qty);
    else if (!f->terse)
        snprintf(r->detail, sizeof r->detail, "exit of %.9g %s (held %.9g)", qty, units_of(in),
                 f->held_qty);
    in->qty = qty;
    in->notional = 0.0;
    return 1;
}

/*
 * Exits are never blocked by budgets, counters or halts: reducing risk is
 * always allowed. A last price is needed only to check a limit price or to
 * turn a dollar amount into a quantity.
 */
void hydra_gates_exit(const hydra_gate_facts *f, hydra_intent *in, hydra_gate_result *r)
{
    if (r == NULL)
        return;
    result_init(r);

    if (!gate_facts_present(f, in, 0, r))
        return;
    if (!gate_symbol_held(f, in, r))
        return;
    if (!gate_side(in, HYDRA_SIDE_SELL, r))
        return;
    if (!gate_quantity_form(in, r))
        return;
    resolve_tif(f->bot, in);
    if (!gate_order_form(in, r))
        return;
    if ((in->type == HYDRA_ORDER_LIMIT || in->notional > 0.0) && !gate_price_known(f, in, r))
        return;
    if (!gate_limit_price_sane(f, in, r))
        return;
    exit_size(f, in, r);
}

/*
 * The dollars an order of `notional` can lose before the bot's host-enforced
 * stop closes it. Without a stop the whole notional is at risk. A stop of
 * 100% or more also risks the whole notional. NaN counts as unlimited risk
 * so it can never pass a comparison with a budget.
 */
double hydra_gates_order_risk(const hydra_bot_cfg *bot, double notional)
{
    if (isnan(notional))
        return INFINITY;
    if (notional <= 0.0)
        return 0.0;
    double stop = bot != NULL ? bot->stop_loss_pct : 0.0;
    if (!finite_positive(stop) || stop >= 100.0)
        return notional;
    return notional * (stop / 100.0);
}

const char *hydra_gates_intent_defect(const hydra_intent *in, int allow_entry)
{
    if (in->struct_size < offsetof(hydra_intent, reason))
        return "intent struct_size too small";
    if (in->kind == HYDRA_INTENT_CANCEL) {
        /* A 1.0 intent cannot name an order: the kind came after its struct. */
        if (in->struct_size < offsetof(hydra_intent, client_order_id) + sizeof in->client_order_id)
            return "cancel intent from a struct without client_order_id (ABI 1.0)";
        if (memchr(in->client_order_id, '\0', sizeof in->client_order_id) == NULL ||
            in->client_order_id[0] == '\0')
            return "cancel intent: client_order_id empty or not NUL-terminated";
        return NULL;
    }
    if (memchr(in->symbol, '\0', sizeof in->symbol) == NULL || in->symbol[0] == '\0')
        return "symbol empty or not NUL-terminated";
    if (in->kind != HYDRA_INTENT_ENTRY && in->kind != HYDRA_INTENT_EXIT)
        return "unknown intent kind";
    if (in->kind == HYDRA_INTENT_ENTRY && !allow_entry)
        return "entry intent from manage()";
    if (in->side != HYDRA_SIDE_BUY && in->side != HYDRA_SIDE_SELL)
        return "unknown side";
    if (in->type != HYDRA_ORDER_MARKET && in->type != HYDRA_ORDER_LIMIT)
        return "unknown order type";
    if (in->tif > HYDRA_TIF_IOC)
        return "unknown time in force";
    if (!isfinite(in->qty) || !isfinite(in->notional) || in->qty < 0 || in->notional < 0)
        return "quantity or notional not a finite non-negative number";
    if ((in->qty > 0) == (in->notional > 0))
        return "exactly one of qty and notional must be positive";
    if (in->type == HYDRA_ORDER_LIMIT && (!isfinite(in->limit_price) || in->limit_price <= 0))
        return "limit order without a positive limit price";
    return NULL;
}

/*
 * Reads and checks every intent in buf into items; -1 with why at the first
 * defect. Kept out of line: inlined, its frame would be set up on every call.
 */
__attribute__((noinline)) static int copy_intents(const char *call, const hydra_intent_buf *buf, hydra_intent *items,
                        int allow_entry, char *why, size_t whysz)
{
    for (uint32_t i = 0; i < buf->count; i++) {
        hydra_intent copy;
        const char *defect = hydra_intent_read(buf, i, &copy) != 0
                                 ? "unreadable (struct_size outside its slot)"
                                 : hydra_gates_intent_defect(&copy, allow_entry);
        if (defect != NULL) {
            snprintf(why, whysz, "%s: invalid intent %u: %s", call, i, defect);
            return -1;
        }
        items[i] = copy;
    }
    return (int)buf->count;
}

/*
 * Most calls answer nothing; that path is kept free of the intent copy's
 * large stack frame, since the backtest takes it several times a bar.
 */
int hydra_gates_check_reply(const char *call, int status, const hydra_intent_buf *buf,
                            hydra_intent *items, uint32_t capacity, int allow_entry, char *why,
                            size_t whysz)
{
    if (status < 0) {
        snprintf(why, whysz, "%s returned %d", call, status);
        return -1;
    }
    if (buf->struct_size != sizeof *buf || buf->items != (void *)items ||
        buf->item_size != sizeof(hydra_intent) || buf->capacity != capacity ||
        buf->count > capacity) {
        snprintf(why, whysz, "%s corrupted the intent buffer", call);
        return -1;
    }
    return buf->count == 0 ? 0 : copy_intents(call, buf, items, allow_entry, why, whysz);
}
