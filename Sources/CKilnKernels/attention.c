// kiln_flash_attention's driver: shares (job, KV head, query tile, key split) units out over the
// pool, each with its own scratch, runs the tier's tile (attention_tile.h) on it, and merges the
// splits of a split job.
#include "kiln_internal.h"
#include <math.h>
#include <stdlib.h>

// A decode row's stacked query rows (its KV head's group) make one tile, so a single sequence's
// decode step had only kv_heads tasks: SmolLM2's 3 on 2 threads left a core idle for a third of
// every layer's attention, which at long contexts is most of the step. A job whose rows fit one
// tile per KV head therefore splits its keys into runs of KILN_FLASH_SPLIT_KEYS slots, one task
// each (flash-decoding); each leaves its rows' running maximum, sum and unnormalised output, and
// the merge below weighs them by e^(m − max). The split depends on the context alone, never on
// the thread count, so the result does not either. Runs lengthen (by whole key blocks) past
// KILN_FLASH_MAX_SPLITS of them, so the records a job leaves stay bounded at any context.
#define KILN_FLASH_SPLIT_KEYS 256
#define KILN_FLASH_MAX_SPLITS 64

typedef struct {
    const kiln_ops *ops;
    const kiln_attention_job *jobs;
    const int64_t *first;  // first task of each job, and the total after the last
    const int64_t *splits; // each job's key splits (1: unsplit)
    const int64_t *parts;  // where each split job's records start in `partial`, in floats
    float *partial;        // per (KV head, split) of a split job: its stacked rows × (head_dim + 2) floats
    int64_t count, group, kv_heads, head_dim;
    int32_t kv_type;
    float scale;
} flash_context;

int64_t kiln_flash_attention_scratch_bytes(int64_t head_dim) {
    return kiln_flash_scratch_floats(head_dim) * (int64_t)sizeof(float);
}

static int64_t tiles_of(const kiln_attention_job *job, int64_t group) {
    const int64_t rows = job->rows > 0 ? job->rows : 0;
    return (rows * group + KILN_FLASH_ROWS - 1) / KILN_FLASH_ROWS;
}

// Slots per split: KILN_FLASH_SPLIT_KEYS, or more (whole KILN_FLASH_KEYS blocks) so that there are
// at most KILN_FLASH_MAX_SPLITS.
static int64_t split_keys(const kiln_attention_job *job) {
    const int64_t spread = (job->slots + KILN_FLASH_MAX_SPLITS - 1) / KILN_FLASH_MAX_SPLITS;
    const int64_t blocks = (spread + KILN_FLASH_KEYS - 1) / KILN_FLASH_KEYS * KILN_FLASH_KEYS;
    return blocks > KILN_FLASH_SPLIT_KEYS ? blocks : KILN_FLASH_SPLIT_KEYS;
}

static int64_t splits_of(const kiln_attention_job *job, int64_t group) {
    if (tiles_of(job, group) != 1 || job->slots <= KILN_FLASH_SPLIT_KEYS) return 1;
    return (job->slots + split_keys(job) - 1) / split_keys(job);
}

static void flash_task(void *context, int64_t task) {
    const flash_context *c = context;
    int64_t j = 0;
    while (c->first[j + 1] <= task) j++;
    const kiln_attention_job *job = &c->jobs[j];
    const int64_t stacked = job->rows * c->group, tiles = tiles_of(job, c->group), splits = c->splits[j];
    const int64_t unit = (task - c->first[j]) / splits, split = (task - c->first[j]) % splits;
    // The last tiles see the most keys: they go first, so the pool's dynamic claiming ends with
    // the short ones and the threads finish together.
    const int64_t tile = tiles - 1 - unit / c->kv_heads, g = unit % c->kv_heads;
    float *scratch = kiln_scratch(KILN_SCRATCH_ATTENTION, (size_t)kiln_flash_attention_scratch_bytes(c->head_dim));
    const size_t element = c->kv_type == KILN_KV_F16 ? 2 : 4;
    const int64_t run = split_keys(job), k0 = split * run, stride = c->head_dim + 2;
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
        .k0 = splits > 1 ? k0 : 0,
        .k1 = splits > 1 && k0 + run < job->slots ? k0 + run : job->slots,
        .scale = c->scale,
        .scratch = scratch,
        .partial = splits > 1 ? c->partial + c->parts[j] + (size_t)((g * splits + split) * stacked * stride) : NULL,
    };
    c->ops->flash_tile(&t);
}

// A split job's rows from its splits' records: out = Σ w_s·O_s / Σ w_s·l_s with w_s = e^(m_s − max m),
// a split that saw no key (m = −∞) weighing 0, and a row that saw none at all getting zeros.
static void merge_splits(const flash_context *c, int64_t j) {
    const kiln_attention_job *job = &c->jobs[j];
    const int64_t d = c->head_dim, splits = c->splits[j], n = job->rows * c->group, stride = d + 2;
    for (int64_t g = 0; g < c->kv_heads; g++) {
        const float *records = c->partial + c->parts[j] + (size_t)(g * splits * n * stride);
        for (int64_t r = 0; r < n; r++) {
            float maximum = -INFINITY;
            for (int64_t s = 0; s < splits; s++) {
                const float m = records[(s * n + r) * stride];
                maximum = m > maximum ? m : maximum;
            }
            const int64_t row = r / c->group, head = r % c->group;
            float *dst = job->out + g * c->group * d + row * job->q_stride + head * d;
            for (int64_t i = 0; i < d; i++) dst[i] = 0;
            if (maximum == -INFINITY) continue;
            float total = 0;
            for (int64_t s = 0; s < splits; s++) {
                const float *record = records + (s * n + r) * stride;
                if (record[0] == -INFINITY) continue;
                const float weight = expf(record[0] - maximum);
                total += weight * record[1];
                for (int64_t i = 0; i < d; i++) dst[i] += weight * record[2 + i];
            }
            const float inverse = total > 0 ? 1.0f / total : 0.0f;
            for (int64_t i = 0; i < d; i++) dst[i] *= inverse;
        }
    }
}

void kiln_flash_attention(const kiln_ops *ops, const kiln_attention_job *jobs, int64_t count, int64_t heads,
                          int64_t kv_heads, int64_t head_dim, int32_t kv_type, float scale) {
    if (count <= 0 || kv_heads <= 0 || head_dim <= 0) return;
    int64_t stack[3 * 65];
    int64_t *first = count < 65 ? stack : malloc((size_t)(count + 1) * 3 * sizeof(int64_t));
    if (!first) abort();
    int64_t *splits = first + count + 1, *parts = splits + count;
    const int64_t group = heads / kv_heads;
    first[0] = 0;
    int64_t floats = 0; // of the split jobs' records
    for (int64_t j = 0; j < count; j++) {
        splits[j] = splits_of(&jobs[j], group);
        parts[j] = floats;
        if (splits[j] > 1) floats += kv_heads * splits[j] * jobs[j].rows * group * (head_dim + 2);
        first[j + 1] = first[j] + kv_heads * tiles_of(&jobs[j], group) * splits[j];
    }
    // On the calling thread's own slot: the tasks use KILN_SCRATCH_ATTENTION, on every thread.
    float *partial = floats ? kiln_scratch(KILN_SCRATCH_ATTENTION_SPLITS, (size_t)floats * sizeof(float)) : NULL;
    const flash_context context = {ops, jobs, first, splits, parts, partial, count, group, kv_heads, head_dim, kv_type, scale};
    if (first[count] > 0) kiln_pool_run(flash_task, (void *)&context, first[count]);
    for (int64_t j = 0; j < count; j++)
        if (splits[j] > 1) merge_splits(&context, j);
    if (first != stack) free(first);
}
