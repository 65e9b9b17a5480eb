/* The conforming base bot as it is: hydra-conform must pass every check. */
#define CB_NAME "conform_good"
#include "conform_base.h"
