#include <hydra/plugin.h>
