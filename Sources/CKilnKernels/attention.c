// kiln_flash_attention's driver: shares (job, KV head, query tile) units out over the pool, each
// with its own scratch, and runs the tier's tile (attention_tile.h) on it.
#include "kiln_internal.h"
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
    float *scratch = kiln_scratch(KILN_SCRATCH_ATTENTION, (size_t)kiln_flash_attention_scratch_bytes(c->head_dim));
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
