/* Takes 1.5 s over every on_tick: far past any call deadline, though it never hangs. */
#define CB_NAME "slow_bot"
#include <time.h>
#define CB_BEFORE_TICK(bot, snap) sb_sleep()
static void sb_sleep(void)
{
    struct timespec ts = {1, 500000000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}
#include "conform_base.h"
