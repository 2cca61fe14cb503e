// kiln_flash_attention's driver: shares (job, KV head, query tile) units out over the pool, each
// with its own scratch, and runs the tier's tile (attention_tile.h) on it.
#include "kiln_internal.h"
#include <pthread.h>
#include <stdlib.h>

typedef struct {
    const kiln_ops *ops;
    const kiln_attention_job *jobs;
    const int64_t *first; // first task of each job, and the total after the last
    int64_t count, group, kv_heads, head_dim;
    int32_t kv_type;
    float scale;
} flash_context;

int64_t kiln_flash_attention_scratch_bytes(int64_t head_dim) {
    return kiln_flash_scratch_floats(head_dim) * (int64_t)sizeof(float);
}

// Each thread's tile scratch, kept between tasks: a decode step runs a task per sequence, KV head
// and layer (720 for eight SmolLM2 sequences), and a 57 KB allocation and free for each showed up
// in the profile. Grows, never shrinks; freed at thread exit.
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local float *scratch_memory;
static _Thread_local size_t scratch_size;

static void make_scratch_key(void) { pthread_key_create(&scratch_key, free); }

static float *tile_scratch(size_t bytes) {
    if (bytes > scratch_size) {
        pthread_once(&scratch_once, make_scratch_key);
        free(scratch_memory);
        scratch_size = (bytes + 63) / 64 * 64;
        scratch_memory = aligned_alloc(64, scratch_size);
        pthread_setspecific(scratch_key, scratch_memory);
        if (!scratch_memory) abort(); // out of memory for one tile's scratch: nothing sensible to return
    }
    return scratch_memory;
}

static void flash_task(void *context, int64_t task) {
    const flash_context *c = context;
    int64_t j = 0;
    while (c->first[j + 1] <= task) j++;
    const kiln_attention_job *job = &c->jobs[j];
    const int64_t unit = task - c->first[j], stacked = job->rows * c->group;
    const int64_t tiles = (stacked + KILN_FLASH_ROWS - 1) / KILN_FLASH_ROWS;
    // The last tiles see the most keys: they go first, so the pool's dynamic claiming ends with
    // the short ones and the threads finish together.
    const int64_t tile = tiles - 1 - unit / c->kv_heads, g = unit % c->kv_heads;
    float *scratch = tile_scratch((size_t)kiln_flash_attention_scratch_bytes(c->head_dim));
    const size_t element = c->kv_type == KILN_KV_F16 ? 2 : 4;
    const kiln_flash_tile t = {
        .q = job->q + g * c->group * c->head_dim,
        .out = job->out + g * c->group * c->head_dim,
        .q_stride = job->q_stride,
        .group = c->group,
        .head_dim = c->head_dim,
        .keys = (const char *)job->keys + (size_t)(g * job->head_stride) * element,
        .values = (const char *)job->values + (size_t)(g * job->head_stride) * element,
        .kv_type = c->kv_type,
        .slots = job->slots,
        .capacity = job->capacity,
        .last = job->last,
        .base = job->base,
        .window = job->window,
        .s0 = tile * KILN_FLASH_ROWS,
        .s1 = (tile + 1) * KILN_FLASH_ROWS < stacked ? (tile + 1) * KILN_FLASH_ROWS : stacked,
        .scale = c->scale,
        .scratch = scratch,
    };
    c->ops->flash_tile(&t);
}

void kiln_flash_attention(const kiln_ops *ops, const kiln_attention_job *jobs, int64_t count, int64_t heads,
                          int64_t kv_heads, int64_t head_dim, int32_t kv_type, float scale) {
    if (count <= 0 || kv_heads <= 0 || head_dim <= 0) return;
    int64_t stack[65];
    int64_t *first = count < 65 ? stack : malloc((size_t)(count + 1) * sizeof(int64_t));
    if (!first) abort();
    const int64_t group = heads / kv_heads;
    first[0] = 0;
    for (int64_t j = 0; j < count; j++) {
        const int64_t rows = jobs[j].rows > 0 ? jobs[j].rows : 0;
        first[j + 1] = first[j] + kv_heads * ((rows * group + KILN_FLASH_ROWS - 1) / KILN_FLASH_ROWS);
    }
    const flash_context context = {ops, jobs, first, count, group, kv_heads, head_dim, kv_type, scale};
    if (first[count] > 0) kiln_pool_run(flash_task, (void *)&context, first[count]);
    if (first != stack) free(first);
}
