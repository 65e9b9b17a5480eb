/* Exits under a symbol it never declared (lower case): the host could not match it to the position. */
#define CB_NAME "unknown_symbol"
#define CB_EXIT_SYMBOL(bot) "aapl"
#include "conform_base.h"
