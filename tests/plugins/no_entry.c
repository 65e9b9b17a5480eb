/* A valid shared object that exports a misspelt entry and nothing Hydra looks for. */
#include <hydra/plugin.h>

HYDRA_EXPORT const int hydra_plugin_entree = 1;
