/* Writes its intent into the buffer by raw pointer without looking at capacity: overruns a full buffer. */
#define CB_NAME "overrun_raw"
#include <hydra/plugin.h>
#define CB_PUSH(bot, out, in) or_push(out, in)
static int or_push(struct hydra_intent_buf *out, const struct hydra_intent *in);
#include "conform_base.h"

/* Kept out of line: the harness must name this function as the one that faulted. */
__attribute__((noinline)) static int or_push(hydra_intent_buf *out, const hydra_intent *in)
{
    memcpy((unsigned char *)out->items + (size_t)out->count * out->item_size, in, sizeof *in);
    out->count++;
    return 0;
}
