#include "exits.h"
