#include "series.h"
