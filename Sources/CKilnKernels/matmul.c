// The matrix-product driver: quantise the activations once (they are reused by every row), then
// split the rows into contiguous chunks of whole 8-row groups and run the tier's row kernel on
// the pool. Also the streaming-read probe that the benchmark compares the kernels against.
#include "kiln_internal.h"
#include <pthread.h>
#include <stdlib.h>

// ---- per-thread scratch for quantised activations ------------------------------------------------

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local void *scratch_memory;
static _Thread_local size_t scratch_size;

static void make_scratch_key(void) { pthread_key_create(&scratch_key, free); }

// Grows, never shrinks: decode asks for the same few sizes every token. Freed at thread exit.
static void *scratch(size_t bytes) {
    if (bytes > scratch_size) {
        pthread_once(&scratch_once, make_scratch_key);
        free(scratch_memory);
        scratch_size = (bytes + 4095) & ~(size_t)4095;
        scratch_memory = aligned_alloc(64, scratch_size);
        pthread_setspecific(scratch_key, scratch_memory);
        if (!scratch_memory) {
            scratch_size = 0;
            abort(); // out of memory for a few KB of activations: nothing sensible to return
        }
    }
    return scratch_memory;
}

// ---- jobs ---------------------------------------------------------------------------------------

typedef struct {
    kiln_rows_fn fn;
    const kiln_matmul_args *args;
    int64_t rows_per_task;
} rows_job;

static void rows_task(void *context, int64_t task) {
    const rows_job *job = context;
    const int64_t r0 = task * job->rows_per_task;
    const int64_t r1 = r0 + job->rows_per_task < job->args->rows ? r0 + job->rows_per_task : job->args->rows;
    job->fn(job->args, r0, r1);
}

typedef struct {
    const kiln_ops *ops;
    const float *x;
    kiln_matmul_args *args;
} quantize_job;

static void quantize_task(void *context, int64_t b) {
    const quantize_job *job = context;
    const int64_t cols = job->args->cols, nb = cols / KILN_BLOCK;
    int8_t *q = (int8_t *)job->args->xq + b * cols;
    job->ops->quantize(job->x + b * cols, cols, q, (float *)job->args->xd + b * nb, (int32_t *)job->args->xsum + b * nb);
    if (job->args->xhalf) {
        int32_t *half = (int32_t *)job->args->xhalf + b * (cols / 16);
        for (int64_t h = 0; h < cols / 16; h++) {
            int32_t s = 0;
            for (int j = 0; j < 16; j++) s += q[16 * h + j];
            half[h] = s;
        }
    }
}

static int is_quantized(int32_t type) { return kiln_weight_types[type].block_values > 1; }

static size_t weight_bytes(int32_t type, int64_t rows, int64_t cols) {
    const kiln_weight_traits *t = &kiln_weight_types[type];
    return (size_t)((double)rows * (double)cols * t->block_bytes / t->block_values);
}

// Below this much work (weight bytes × batch) a product runs on the calling thread: waking the
// pool costs about as much as the product itself.
#define KILN_INLINE_WORK 65536

void kiln_matmul(const kiln_ops *ops, int32_t type, const void *w, int64_t rows, int64_t cols, const float *x,
                 int64_t batch, float *y) {
    kiln_matmul_strided(ops, type, w, rows, cols, cols, x, batch, y);
}

void kiln_matmul_strided(const kiln_ops *ops, int32_t type, const void *w, int64_t rows, int64_t cols, int64_t row_stride,
                         const float *x, int64_t batch, float *y) {
    if (rows <= 0 || batch <= 0) return;
    kiln_matmul_args args = {.w = w, .rows = rows, .cols = cols, .row_stride = row_stride, .x = x, .batch = batch, .y = y};
    const int threads = kiln_pool_threads();
    if (!is_quantized(type) && ops->transposed_batch && batch >= ops->transposed_batch) {
        // Column k of the batch as one contiguous run (padded to 16 with zeros), for kernels that
        // broadcast a weight and multiply 16 activation rows at once.
        const int64_t stride = (batch + 15) / 16 * 16;
        float *xt = scratch((size_t)(cols * stride) * sizeof(float));
        for (int64_t b0 = 0; b0 < stride; b0 += 16) // 16 rows of x read side by side, 64 bytes written per k
            for (int64_t k = 0; k < cols; k++)
                for (int64_t b = b0; b < b0 + 16; b++) xt[k * stride + b] = b < batch ? x[b * cols + k] : 0.0f;
        args.xt = xt;
        args.xt_stride = stride;
    }
    if (is_quantized(type)) {
        const int64_t nb = cols / KILN_BLOCK;
        const size_t q_bytes = ((size_t)(batch * cols) + 63) & ~(size_t)63;
        const int halves = type == KILN_WEIGHT_KQ4X8 || type == KILN_WEIGHT_Q2_K || type == KILN_WEIGHT_Q3_K || type == KILN_WEIGHT_Q6_K;
        uint8_t *memory = scratch(q_bytes + (size_t)(batch * nb) * (halves ? 16 : 8));
        args.xq = (const int8_t *)memory;
        args.xd = (const float *)(memory + q_bytes);
        args.xsum = (const int32_t *)(memory + q_bytes + (size_t)(batch * nb) * 4);
        args.xhalf = halves ? (const int32_t *)(memory + q_bytes + (size_t)(batch * nb) * 8) : NULL;
        quantize_job job = {.ops = ops, .x = x, .args = &args};
        if (batch > 1 && threads > 1 && batch * cols >= 16384) {
            kiln_pool_run(quantize_task, &job, batch);
        } else {
            for (int64_t b = 0; b < batch; b++) quantize_task(&job, b);
        }
    }
    const kiln_rows_fn fn = ops->rows[type];
    const double work = (double)weight_bytes(type, rows, cols) * (double)batch;
    const int64_t groups = (rows + KILN_GROUP_ROWS - 1) / KILN_GROUP_ROWS;
    if (threads == 1 || groups == 1 || work < KILN_INLINE_WORK) {
        fn(&args, 0, rows);
        return;
    }
    // A few contiguous chunks per thread: large enough that claiming one costs nothing, enough
    // of them that a thread slowed by another process does not hold up the product.
    int64_t tasks = threads * 4 < groups ? threads * 4 : groups;
    const int64_t groups_per_task = (groups + tasks - 1) / tasks;
    tasks = (groups + groups_per_task - 1) / groups_per_task;
    rows_job job = {.fn = fn, .args = &args, .rows_per_task = groups_per_task * KILN_GROUP_ROWS};
    kiln_pool_run(rows_task, &job, tasks);
}

int64_t kiln_peak_work(const kiln_ops *ops, int32_t kind, int64_t iterations) {
    return ops->peak ? ops->peak(kind, iterations) : 0;
}

int32_t kiln_has_kernel(const kiln_ops *ops, int32_t type) {
    return type >= 0 && type < KILN_WEIGHT_COUNT && ops->rows[type] != NULL;
}

void kiln_quantize_activations(const kiln_ops *ops, const float *x, int64_t cols, int8_t *q, float *d, int32_t *sum) {
    ops->quantize(x, cols, q, d, sum);
}

// ---- streaming-read probe -----------------------------------------------------------------------

#define KILN_STREAM_TASKS 64

typedef struct {
    const kiln_ops *ops;
    const float *data;
    int64_t per_task; // floats, a multiple of 32
    int64_t total;
    float sums[KILN_STREAM_TASKS];
} stream_job;

static void stream_task(void *context, int64_t task) {
    stream_job *job = context;
    const int64_t start = task * job->per_task;
    const int64_t n = start + job->per_task < job->total ? job->per_task : job->total - start;
    job->sums[task] = n > 0 ? job->ops->stream_sum(job->data + start, n) : 0;
}

// Split like the products (contiguous chunks claimed dynamically), so a thread that another
// process delays costs the probe what it costs a product, no more.
float kiln_stream_read(const kiln_ops *ops, const float *data, int64_t bytes) {
    stream_job job = {.ops = ops, .data = data, .total = bytes / 4};
    const int64_t tasks = KILN_STREAM_TASKS;
    job.per_task = ((job.total + tasks - 1) / tasks + 31) / 32 * 32;
    kiln_pool_run(stream_task, &job, tasks);
    float total = 0;
    for (int64_t i = 0; i < tasks; i++) total += job.sums[i];
    return total;
}
