/* "Clears" the whole intent buffer before pushing: writes bytes past count that are not its to touch. */
#define CB_NAME "scribble_slack"
#define CB_PUSH(bot, out, in) (memset((out)->items, 0, (size_t)(out)->capacity * (out)->item_size), \
                               hydra_intent_push((out), (in)))
#include "conform_base.h"
