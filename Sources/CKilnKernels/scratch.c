// Per-thread scratch buffers kept between calls: decode asks for the same few sizes every token,
// and an allocation and free per product or attention task showed up in profiles. One buffer per
// slot (a product's quantised activations and an attention tile's scratch are both live on a
// thread only one at a time, but keep them apart so neither has to know the other). Grow, never
// shrink; freed at thread exit.
#include "kiln_internal.h"

#include <pthread.h>
#include <stdlib.h>

static pthread_key_t keys[KILN_SCRATCH_SLOTS];
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;
static _Thread_local void *memory[KILN_SCRATCH_SLOTS];
static _Thread_local size_t sizes[KILN_SCRATCH_SLOTS];

static void make_keys(void) {
    for (int slot = 0; slot < KILN_SCRATCH_SLOTS; slot++) pthread_key_create(&keys[slot], free);
}

void *kiln_scratch(int slot, size_t bytes) {
    if (bytes > sizes[slot]) {
        pthread_once(&keys_once, make_keys);
        free(memory[slot]);
        sizes[slot] = (bytes + 4095) & ~(size_t)4095;
        memory[slot] = aligned_alloc(64, sizes[slot]);
        pthread_setspecific(keys[slot], memory[slot]);
        if (!memory[slot]) abort(); // out of memory for a few KB of scratch: nothing sensible to return
    }
    return memory[slot];
}
