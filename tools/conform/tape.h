/*
 * The harness's synthetic market: a seeded tape of bars for the bot's
 * symbols (with an option chain around each underlying for option bots),
 * the positions and budget a host would show, an intent buffer whose end
 * abuts a PROT_NONE page, and the rules every intent must follow.
 */
#ifndef HYDRA_CONFORM_TAPE_H
#define HYDRA_CONFORM_TAPE_H

#include <stddef.h>
#include <stdint.h>

#include <hydra/plugin.h>

#include "config.h"

/* ---- the intent buffer --------------------------------------------------- */

/* Bytes the harness writes into every unused slot, to see what a bot touched. */
#define CONFORM_FILL_BYTE 0xA5

typedef struct conform_buf {
    hydra_intent_buf buf;   /* what the bot gets */
    unsigned char *map;     /* the whole mapping: data pages and the guard page after them */
    size_t map_len;
    void *items;            /* as handed out, to see whether the bot moved it */
    uint32_t capacity;
    uint32_t item_size;
} conform_buf;

/*
 * Maps a buffer of capacity items of item_size bytes so that the last item
 * ends exactly where a PROT_NONE page begins. Returns 0 or negative.
 */
int conform_buf_open(conform_buf *b, uint32_t capacity, uint32_t item_size);
/* Empties the buffer and fills every slot with CONFORM_FILL_BYTE. */
void conform_buf_reset(conform_buf *b);
/*
 * After a call: the header the bot was given is unchanged except count,
 * count is within capacity, and with slack, no byte outside the pushed
 * items changed. Returns 0, or -1 with the reason in why.
 */
int conform_buf_verify(const conform_buf *b, int slack, char *why, size_t whysz);
void conform_buf_close(conform_buf *b);

/* ---- the tape ------------------------------------------------------------ */

enum conform_fault {
    TAPE_NORMAL = 0,
    TAPE_NAN,        /* prices NaN on about half the ticks */
    TAPE_INF,        /* +infinity */
    TAPE_NEG_INF,    /* -infinity */
    TAPE_ZERO,       /* 0 */
    TAPE_NEGATIVE,   /* the price with its sign flipped */
    TAPE_HUGE,       /* prices near 1e300, volumes near DBL_MAX, a huge budget, tick and history */
    TAPE_BACKWARDS   /* the clock and bar times jump back a day, and step back now and then */
};

typedef struct conform_tape conform_tape;

/* A tape of n_ticks for cfg's symbols, or NULL when out of memory. */
conform_tape *conform_tape_new(const hydra_bot_cfg *cfg, uint64_t seed, int n_ticks, int fault);
void conform_tape_free(conform_tape *t);
/* Starts over from the first tick with no positions and a fresh budget. */
void conform_tape_rewind(conform_tape *t);

/*
 * The snapshot for tick (1-based), with the positions and budget that the
 * fills so far give. Valid until the next call on t.
 */
const hydra_snapshot *conform_tape_snapshot(conform_tape *t, int tick);
/* True when tick carries a faulty price for symbol (an entry then is wrong). */
int conform_tape_price_bad(const conform_tape *t, int tick, const char *symbol);

/*
 * Fills an intent the way the simulated exchange would, at the price of the
 * last snapshot, and closes positions the host's time stop would have
 * closed. Call after both callbacks of a tick.
 */
void conform_tape_fill(conform_tape *t, const hydra_intent *in);
void conform_tape_end_tick(conform_tape *t, int tick);

/* ---- intents ------------------------------------------------------------- */

/*
 * Checks one intent (read with hydra_intent_read) against snap: known kind,
 * side, type and tif; a symbol the bot declared, holds or sees in the chain,
 * with its asset class; exactly one of qty and notional positive and both
 * finite; a limit price for a limit order; exits only from manage, for
 * symbols held and no more than held; entries only buy and only with a
 * price. Returns 0, or -1 with the reason in why.
 */
int conform_intent_check(const hydra_bot_cfg *cfg, const hydra_snapshot *snap, int from_manage,
                         const hydra_intent *in, char *why, size_t whysz);

/*
 * Checks an item's raw bytes before it is read: struct_size and NUL
 * termination of symbol and reason within their arrays. Returns 0 or -1.
 */
int conform_intent_raw_check(const hydra_intent_buf *buf, uint32_t i, char *why, size_t whysz);

/* One line describing an intent, for messages. */
void conform_intent_describe(const hydra_intent *in, char *out, size_t outsz);

/* The splitmix64 generator every randomised part uses. */
uint64_t conform_splitmix64(uint64_t *state);

#endif
