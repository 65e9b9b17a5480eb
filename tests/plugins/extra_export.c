/* Built without the version script and with a helper left visible: exports more than the entry. */
#define CB_NAME "extra_export"
#define CB_EXPORTS HYDRA_EXPORT int extra_export_helper(int x); HYDRA_EXPORT int extra_export_helper(int x) { return x + 1; }
#include "conform_base.h"
