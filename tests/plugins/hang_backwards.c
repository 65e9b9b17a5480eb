/* Waits for the engine clock to catch up with the last time it saw: hangs forever when time goes backwards. */
#define CB_NAME "hang_backwards"
#include <hydra/plugin.h>
#define CB_BEFORE_TICK(bot, snap) hb_wait(bot, snap)
static void hb_wait(struct hydra_bot *bot, const struct hydra_snapshot *snap);
#include "conform_base.h"

static void hb_wait(hydra_bot *bot, const hydra_snapshot *snap)
{
    volatile int64_t now = snap->now_ms;
    while (now < bot->last_now)
        now = snap->now_ms; /* the snapshot never changes during the call */
    bot->last_now = now;
}
