/*
 * The gates every intent passes before it can reach the broker.
 *
 * Pure functions over a snapshot of the facts (no I/O), so each gate is
 * testable on its own and the loop reads as a list of decisions. A rejection
 * names the gate and the numbers that failed it; it is logged and never
 * reaches the broker.
 *
 * Entry gates, in order: symbol_declared, side (entries buy: v1 bots do
 * not short), quantity_valid, order_form (type, tif, asset class),
 * price_known, limit_price_sane, budget_missing (bot_allowed when the
 * budget says so), daily_loss, trades_per_day, concurrent_positions,
 * orders_per_minute, open_risk (the order's risk = notional x stop-loss
 * distance, or the whole notional without a stop), notional_cap,
 * buying_power (cash beyond the reserve). Sizes are capped down to fit
 * open_risk, notional_cap and buying_power before those gates reject ("the
 * host still caps them"): whole shares for limit or non-day equity orders,
 * whole contracts for options, fractional otherwise. A tif of 0 is replaced
 * in the intent by the bot's configured tif (DAY when it has none).
 * Missing facts (NULL pointers) reject with facts_missing.
 *
 * Exit gates: symbol_held (the bot holds it), side (exits sell),
 * quantity_valid (capped to the held quantity; a notional exit becomes a
 * quantity at the last price), order_form, price_known (only when a limit
 * or a notional needs it), limit_price_sane. Exits are never blocked by
 * budgets, counters or halts: reducing risk is always allowed.
 */
#ifndef HYDRA_GATES_H
#define HYDRA_GATES_H

#include <stddef.h>

#include <hydra/plugin.h>

#include "config.h"
#include "state.h"

typedef struct hydra_gate_facts {
    const hydra_bot_cfg *bot;
    const hydra_budget *budget;          /* NULL: no budget (entries refused) */
    const hydra_bot_day *day;            /* today's counters */
    int positions_open;                  /* this bot's open positions */
    double open_risk_used;               /* dollars at risk in this bot's open positions */
    int orders_last_minute;              /* all bots, journal */
    int max_orders_per_minute;
    double last_price;                   /* of the intent's symbol; <= 0 or NaN = unknown */
    double multiplier;                   /* 100 for options, else 1 */
    double spendable_cash;               /* hydra_portfolio_spendable_cash() */
    double max_notional_per_order;
    double max_limit_distance_pct;
    int symbol_known;                    /* declared by the bot, or an option offered in its chain */
    double held_qty;                     /* the bot's position in the symbol (exits) */
    int terse;                           /* 1: no detail for an intent that passes (nobody reads it) */
} hydra_gate_facts;

typedef struct hydra_gate_result {
    int pass;          /* 1: send it (possibly resized); 0: rejected */
    char gate[32];     /* the gate that rejected, or "" */
    char detail[256];  /* numbers that decided */
    int resized;       /* 1 if qty/notional were capped */
    char resized_by[32]; /* the last gate that capped the size ("open_risk", ...), or "" */
} hydra_gate_result;

/* Checks (and may resize) an entry intent. */
void hydra_gates_entry(const hydra_gate_facts *f, hydra_intent *in, hydra_gate_result *r);
/* Checks (and may cap) an exit intent. */
void hydra_gates_exit(const hydra_gate_facts *f, hydra_intent *in, hydra_gate_result *r);

/*
 * A structurally broken intent is a bot bug (the bot is quarantined, not
 * merely refused): NULL when the intent is well formed, else what is wrong.
 * allow_entry is 0 for intents from manage(), which may only exit.
 */
const char *hydra_gates_intent_defect(const hydra_intent *in, int allow_entry);

/*
 * Checks everything a bot answered to one call before any of it is acted on:
 * its status, the intent buffer it was handed (items, item_size and capacity
 * unchanged, count within capacity) and every intent in it. On success copies
 * the intents, read through their struct_size, over `items` and returns their
 * count; on a defect writes the reason ("on_tick: invalid intent 0: ...")
 * and returns -1: one broken intent means none of them is trusted.
 */
int hydra_gates_check_reply(const char *call, int status, const hydra_intent_buf *buf,
                            hydra_intent *items, uint32_t capacity, int allow_entry, char *why,
                            size_t whysz);

/* Dollars at risk for an order of `notional` under the bot's stop loss. */
double hydra_gates_order_risk(const hydra_bot_cfg *bot, double notional);

#endif
