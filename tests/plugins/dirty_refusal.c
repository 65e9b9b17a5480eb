/* Refuses a bad configuration but leaves *out pointing at the half-built instance. */
#define CB_NAME "dirty_refusal"
#define CB_REFUSE(bot, out) (*(out) = (bot), HYDRA_BOT_BAD_CONFIG)
#include "conform_base.h"
