/* Allocates a scratch buffer in create and never frees it. */
#define CB_NAME "leaky"
#define CB_CREATE_EXTRA(bot, api, host) (((bot)->scratch = malloc(4096)) == NULL ? -1 : (memset((bot)->scratch, 1, 4096), 0))
#include "conform_base.h"
