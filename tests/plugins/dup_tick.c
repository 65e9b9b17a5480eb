/* Treats a repeated tick as a fresh signal and doubles down: a duplicate snapshot gets a different answer. */
#define CB_NAME "dup_tick"
#define CB_ENTRY_QTY(bot, snap, v) ((snap)->tick == (bot)->last_tick ? 2.0 : ((bot)->last_tick = (snap)->tick, 1.0))
#include "conform_base.h"
