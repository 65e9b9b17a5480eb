/* Reads its first symbol's price without checking that the snapshot has any symbol: segfaults on an empty one. */
#define CB_NAME "crash_on_empty"
#define CB_BEFORE_TICK(bot, snap) ((bot)->last_now = (int64_t)(snap)->symbols[0]->last_price)
#include "conform_base.h"
