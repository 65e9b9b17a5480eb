#include "portfolio.h"
