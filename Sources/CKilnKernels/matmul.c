// The matrix-product driver: quantise the activations once (they are reused by every row), then
// split the rows into contiguous chunks of whole 8-row groups and run the tier's row kernel on
// the pool. Also the streaming-read probe that the benchmark compares the kernels against.
#include "kiln_internal.h"
#include <stdatomic.h>
#include <stdlib.h>

// ---- jobs ---------------------------------------------------------------------------------------

typedef struct {
    const kiln_ops *ops;
    const float *x;
    kiln_matmul_args *args;
    int32_t block_offset;
} quantize_job;

static void quantize_task(void *context, int64_t b) {
    const quantize_job *job = context;
    const int64_t cols = job->args->cols, nb = cols / KILN_BLOCK;
    int8_t *q = (int8_t *)job->args->xq + b * cols;
    job->ops->quantize(job->x + b * cols, cols, q, (float *)job->args->xd + b * nb, (int32_t *)job->args->xsum + b * nb);
    if (job->args->xhalf) {
        int32_t *half = (int32_t *)job->args->xhalf + b * (cols / 16);
        int32_t *bias = (int32_t *)job->args->xhalf_bias + b * (cols / 16);
        for (int64_t h = 0; h < cols / 16; h++) {
            int32_t s = 0;
            for (int j = 0; j < 16; j++) s += q[16 * h + j];
            half[h] = s;
            bias[h] = -128 * s;
        }
    }
    if (job->args->xmin) {
        const float *scales = job->args->xd + b * nb;
        const int32_t *sums = job->args->xsum + b * nb;
        float *product = (float *)job->args->xmin + b * nb;
        for (int64_t k = 0; k < nb; k++) product[k] = scales[k] * (float)sums[k];
    }
    if (job->args->xblock_bias) {
        const int32_t *sums = job->args->xsum + b * nb;
        int32_t *bias = (int32_t *)job->args->xblock_bias + b * nb;
        for (int64_t k = 0; k < nb; k++) bias[k] = -job->block_offset * sums[k];
    }
}

// A product's job on the pool with the activations' quantisation as its first tasks: tasks
// 0 ..< quantize_tasks quantise a share of the batch's rows each, the rest compute the product
// and start once every quantise task has finished. Claims are in task order, so when a thread
// claims a product task every quantise task is claimed and running on a live thread: the wait
// ends. (A separate pool job per quantisation, or quantising on the calling thread while the
// other waits, cost a barrier each: SmolLM2's batch-8 step quantised ~120 times on one thread,
// 3% of the step with the second core idle.)
struct quantize_phase {
    quantize_job quantize;
    kiln_rows_prologue prologue; // writes the rows before they are quantised; NULL: none
    void *prologue_context;
    int64_t quantize_tasks; // 0: quantised before the job
    _Atomic int64_t quantized; // quantise tasks finished
};

// Runs task `task` of the phase when it is a quantise task (returns 1); for a product task,
// waits until the quantisation is complete and returns 0.
static int run_quantize_phase(struct quantize_phase *phase, int64_t task) {
    const int64_t n = phase->quantize_tasks;
    if (task < n) {
        const int64_t batch = phase->quantize.args->batch, b0 = task * batch / n, b1 = (task + 1) * batch / n;
        if (phase->prologue) phase->prologue(phase->prologue_context, b0, b1);
        for (int64_t b = b0; b < b1; b++) quantize_task(&phase->quantize, b);
        atomic_fetch_add_explicit(&phase->quantized, 1, memory_order_release);
        return 1;
    }
    while (atomic_load_explicit(&phase->quantized, memory_order_acquire) < n) kiln_cpu_relax();
    return 0;
}

typedef struct {
    kiln_rows_fn fn;
    const kiln_matmul_args *args;
    int64_t rows_per_task;
    struct quantize_phase *phase;
} rows_job;

static void rows_task(void *context, int64_t task) {
    const rows_job *job = context;
    if (job->phase) {
        if (run_quantize_phase(job->phase, task)) return;
        task -= job->phase->quantize_tasks;
    }
    const int64_t r0 = task * job->rows_per_task;
    const int64_t r1 = r0 + job->rows_per_task < job->args->rows ? r0 + job->rows_per_task : job->args->rows;
    job->fn(job->args, r0, r1);
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

// The offset the AVX-512 pair tile's codes carry for the types whose dots start at the driver's
// −offset·Σx (args.xblock_bias); 0 for the others.
static int32_t block_offset(int32_t type) {
    switch (type) {
    case KILN_WEIGHT_Q8_0X8: return 128; // the tile flips the sign bit: q + 128
    case KILN_WEIGHT_Q4_0X8: return 8;
    case KILN_WEIGHT_Q5_0X8: return 16;
    default: return 0;
    }
}

// The types whose minimum term m·d_x·Σx the x86 tiles read from args.xmin (the AVX-512 pair tile,
// the K-quant prompt panels).
static int wants_minimums(int32_t type) {
    return type == KILN_WEIGHT_Q4_1X8 || type == KILN_WEIGHT_Q5_1X8 || type == KILN_WEIGHT_Q4_K || type == KILN_WEIGHT_Q5_K;
}

static int wants_halves(int32_t type) {
    return type == KILN_WEIGHT_KQ4X8 || type == KILN_WEIGHT_Q2_K || type == KILN_WEIGHT_Q3_K || type == KILN_WEIGHT_Q6_K;
}

typedef struct {
    kiln_rows_prologue fn;
    void *context;
    int64_t batch, tasks;
} prologue_job;

static void prologue_task(void *context, int64_t task) {
    const prologue_job *job = context;
    job->fn(job->context, task * job->batch / job->tasks, (task + 1) * job->batch / job->tasks);
}

// A product's prologue over every row before the product, where it is not part of the job: a
// contiguous share of the rows per pool thread.
static void run_prologue(kiln_rows_prologue fn, void *context, int64_t batch) {
    if (!fn) return;
    const int64_t threads = kiln_pool_threads();
    prologue_job job = {.fn = fn, .context = context, .batch = batch, .tasks = batch < threads ? batch : threads};
    kiln_pool_run(prologue_task, &job, job.tasks);
}

// Strip s (rows 16s … 16s + 15) of the transposed batch (args.xt): in its KILN_XT_BLOCK block,
// [cols][width], at the strip's offset in the block's rows; rows past the batch are zeros.
typedef struct {
    const kiln_ops *ops;
    const float *x;
    float *xt;
    int64_t cols, batch, stride;
} transpose_job;

static void transpose_task(void *context, int64_t s) {
    const transpose_job *job = context;
    const int64_t b0 = 16 * s, j0 = b0 / KILN_XT_BLOCK * KILN_XT_BLOCK, cols = job->cols;
    const int64_t width = job->stride - j0 < KILN_XT_BLOCK ? job->stride - j0 : KILN_XT_BLOCK;
    const int64_t rows = job->batch - b0 < 16 ? job->batch - b0 : 16;
    const float *x = job->x + b0 * cols;
    float *dst = job->xt + j0 * cols + (b0 - j0);
    if (job->ops->transpose_strip) job->ops->transpose_strip(x, cols, rows, dst, width);
    else kiln_transpose_strip_from(x, cols, rows, dst, width, 0);
}

// Prepares what the row kernels read besides the weights, once for every product of `x`: the
// activations quantised (when `quantized`; with half-block sums when `halves`, d_x·Σx per block
// when `minimums`), or transposed (when `transposed`). Uses the calling thread's scratch. With
// `phase` (the product runs on the pool, batch > 1), the quantisation is left to the product
// job's first tasks (struct quantize_phase) instead.
static void prepare_inputs(const kiln_ops *ops, kiln_matmul_args *args, int quantized, int halves, int minimums, int32_t offset,
                           int transposed, struct quantize_phase *phase) {
    const int64_t cols = args->cols, batch = args->batch;
    const float *x = args->x;
    // The prologue runs in the quantise phase, unless there is none or the batch is transposed
    // here, before the phase (float parts beside quantised ones).
    if (phase && phase->prologue && !(quantized && batch > 1 && !transposed)) {
        run_prologue(phase->prologue, phase->prologue_context, batch);
        phase->prologue = NULL;
    }
    // The quantised activations and the transposed batch share the scratch: lay them end to end.
    const int64_t nb = cols / KILN_BLOCK;
    // Per block: scale and sum (8 bytes), half sums and their biases (16), d_x·Σx (4), −offset·Σx (4).
    const size_t block_bytes = 8 + (halves ? 16 : 0) + (minimums ? 4 : 0) + (offset ? 4 : 0);
    const size_t q_bytes = quantized ? (((size_t)(batch * cols) + 63) & ~(size_t)63) + (size_t)(batch * nb) * block_bytes : 0;
    const int64_t stride = (batch + 15) / 16 * 16;
    const size_t t_bytes = transposed ? (size_t)(cols * stride) * sizeof(float) : 0;
    uint8_t *memory = kiln_scratch(KILN_SCRATCH_ACTIVATIONS, q_bytes + t_bytes + 64);
    if (transposed) {
        // Column k of the batch as one contiguous run (padded to 16 with zeros), for kernels that
        // broadcast a weight and multiply 16 activation rows at once; in blocks of KILN_XT_BLOCK
        // rows, each block's columns contiguous. One [cols][batch] array put a 512-row batch's
        // columns 2 KiB apart, which maps them onto a quarter of L2's sets: the f16 tile's
        // activations then came from L3 (4096 × 4096 batch 512 at 31% of the FMA ceiling).
        float *xt = (float *)(memory + ((q_bytes + 63) & ~(size_t)63));
        const transpose_job job = {.ops = ops, .x = x, .xt = xt, .cols = cols, .batch = batch, .stride = stride};
        // Strips on the pool when there is enough to share (each is one pass over 16 rows).
        if (stride / 16 > 1 && batch * cols >= KILN_INLINE_WORK && kiln_pool_threads() > 1)
            kiln_pool_run(transpose_task, (void *)&job, stride / 16);
        else
            for (int64_t s = 0; s < stride / 16; s++) transpose_task((void *)&job, s);
        args->xt = xt;
        args->xt_stride = stride < KILN_XT_BLOCK ? stride : KILN_XT_BLOCK;
    }
    if (quantized) {
        const size_t codes = ((size_t)(batch * cols) + 63) & ~(size_t)63;
        args->xq = (const int8_t *)memory;
        args->xd = (const float *)(memory + codes);
        args->xsum = (const int32_t *)(memory + codes + (size_t)(batch * nb) * 4);
        args->xhalf = halves ? (const int32_t *)(memory + codes + (size_t)(batch * nb) * 8) : NULL;
        args->xhalf_bias = halves ? (const int32_t *)(memory + codes + (size_t)(batch * nb) * 16) : NULL;
        const size_t minimum_at = codes + (size_t)(batch * nb) * (halves ? 24 : 8);
        args->xmin = minimums ? (const float *)(memory + minimum_at) : NULL;
        args->xblock_bias = offset ? (const int32_t *)(memory + minimum_at + (size_t)(batch * nb) * (minimums ? 4 : 0)) : NULL;
        quantize_job job = {.ops = ops, .x = x, .args = args, .block_offset = offset};
        if (phase && batch > 1) { // (phase->prologue, if any, runs in the phase too)
            // A row per task for long batches (as a pool job of its own did), else a share per thread.
            const int64_t threads = kiln_pool_threads();
            phase->quantize = job;
            phase->quantize_tasks = batch * cols >= 16384 ? batch : batch < threads ? batch : threads;
            atomic_store_explicit(&phase->quantized, 0, memory_order_relaxed);
        } else if (batch > 1 && kiln_pool_threads() > 1 && batch * cols >= 16384) {
            kiln_pool_run(quantize_task, &job, batch);
        } else {
            for (int64_t b = 0; b < batch; b++) quantize_task(&job, b);
        }
    }
}

// Groups per chunk of a product's rows: a few contiguous chunks per thread (large enough that
// claiming one costs nothing, enough of them that a thread slowed by another process does not hold
// up the product), each an even number of groups where the product has more than one, since the
// AVX-512 tiles take two groups (16 rows) at a time and an odd chunk ends in a half-empty tile.
// SmolLM2's 576-row products (72 groups) were cut into 8 chunks of 9: a tenth of their tiles ran
// half empty. Among 4–8 chunks per thread, the size with the least work on the busiest thread.
static int64_t chunk_groups(int64_t groups, int threads) {
    const int64_t pairs = (groups + 1) / 2;
    int64_t best = pairs, best_span = INT64_MAX;
    for (int64_t per_thread = 4; per_thread <= 8; per_thread++) {
        const int64_t target = (int64_t)threads * per_thread;
        const int64_t per = (pairs + target - 1) / target;
        const int64_t chunks = (pairs + per - 1) / per;
        const int64_t span = (chunks + threads - 1) / threads * per; // pairs on the busiest thread
        // On a tie, fewer chunks: each chunk's last pairs go without the next pair's prefetch (the
        // q8_0x8 1536 × 576 product at batch 64 lost 4 points of the ceiling at 16 chunks against 8).
        if (span < best_span) best = per, best_span = span;
    }
    const int64_t per_groups = 2 * best;
    return per_groups < groups ? per_groups : groups;
}

void kiln_matmul_strided(const kiln_ops *ops, int32_t type, const void *w, int64_t rows, int64_t cols, int64_t row_stride,
                         const float *x, int64_t batch, float *y) {
    if (rows <= 0 || batch <= 0) return;
    kiln_matmul_args args = {.w = w, .rows = rows, .cols = cols, .row_stride = row_stride, .x = x, .batch = batch, .y = y};
    const int threads = kiln_pool_threads();
    const kiln_rows_fn fn = ops->rows[type];
    const double work = (double)weight_bytes(type, rows, cols) * (double)batch;
    const int64_t groups = (rows + KILN_GROUP_ROWS - 1) / KILN_GROUP_ROWS;
    const int inline_product = threads == 1 || groups == 1 || work < KILN_INLINE_WORK;
    struct quantize_phase phase = {.quantize_tasks = 0};
    prepare_inputs(ops, &args, is_quantized(type), wants_halves(type), wants_minimums(type), block_offset(type),
                   !is_quantized(type) && ops->transposed_batch && batch >= ops->transposed_batch, inline_product ? NULL : &phase);
    if (inline_product) {
        fn(&args, 0, rows);
        return;
    }
    const int64_t groups_per_task = chunk_groups(groups, threads);
    const int64_t tasks = (groups + groups_per_task - 1) / groups_per_task;
    rows_job job = {.fn = fn, .args = &args, .rows_per_task = groups_per_task * KILN_GROUP_ROWS,
                    .phase = phase.quantize_tasks ? &phase : NULL};
    kiln_pool_run(rows_task, &job, phase.quantize_tasks + tasks);
}

// ---- several products of one input, as one pool job ------------------------------------------------

#define KILN_PARTS_TASKS 256

typedef struct {
    const kiln_ops *ops;
    const kiln_matmul_part *parts;
    const kiln_matmul_args *shared; // the prepared inputs
    int32_t block_offset;           // the offset shared.xblock_bias is for (parts of other types get none)
    struct quantize_phase *phase;
    int32_t part[KILN_PARTS_TASKS];
    int64_t r0[KILN_PARTS_TASKS], r1[KILN_PARTS_TASKS];
} parts_job;

static void run_part(const parts_job *job, int32_t p, int64_t r0, int64_t r1) {
    kiln_matmul_args args = *job->shared;
    args.w = job->parts[p].w;
    args.rows = job->parts[p].rows;
    args.row_stride = args.cols;
    args.y = job->parts[p].y;
    if (block_offset(job->parts[p].type) != job->block_offset) args.xblock_bias = NULL;
    job->ops->rows[job->parts[p].type](&args, r0, r1);
}

static void parts_task(void *context, int64_t task) {
    const parts_job *job = context;
    if (job->phase) {
        if (run_quantize_phase(job->phase, task)) return;
        task -= job->phase->quantize_tasks;
    }
    run_part(job, job->part[task], job->r0[task], job->r1[task]);
}

void kiln_matmul_parts(const kiln_ops *ops, int32_t count, const kiln_matmul_part *parts, int64_t cols, const float *x,
                       int64_t batch) {
    kiln_matmul_parts_after(ops, count, parts, cols, x, batch, NULL, NULL);
}

void kiln_matmul_parts_after(const kiln_ops *ops, int32_t count, const kiln_matmul_part *parts, int64_t cols, const float *x,
                             int64_t batch, kiln_rows_prologue prologue, void *context) {
    if (count <= 0 || batch <= 0) {
        if (batch > 0) run_prologue(prologue, context, batch);
        return;
    }
    int quantized = 0, halves = 0, minimums = 0, floats = 0;
    int32_t offset = 0; // the first part's with one; a part with another subtracts its own
    double total = 0;
    for (int32_t p = 0; p < count; p++) {
        if (!offset) offset = block_offset(parts[p].type);
        quantized |= is_quantized(parts[p].type);
        floats |= !is_quantized(parts[p].type);
        halves |= wants_halves(parts[p].type);
        minimums |= wants_minimums(parts[p].type);
        total += (double)weight_bytes(parts[p].type, parts[p].rows, cols) * (double)batch;
    }
    kiln_matmul_args shared = {.cols = cols, .row_stride = cols, .x = x, .batch = batch};
    const int threads = kiln_pool_threads();
    const int inline_parts = threads == 1 || total < KILN_INLINE_WORK;
    struct quantize_phase phase = {.quantize_tasks = 0, .prologue = prologue, .prologue_context = context};
    if (inline_parts) run_prologue(prologue, context, batch);
    prepare_inputs(ops, &shared, quantized, halves, minimums, offset, floats && ops->transposed_batch && batch >= ops->transposed_batch,
                   inline_parts ? NULL : &phase);
    parts_job job = {.ops = ops, .parts = parts, .shared = &shared, .block_offset = offset};
    if (inline_parts) {
        for (int32_t p = 0; p < count; p++) run_part(&job, p, 0, parts[p].rows);
        return;
    }
    // Each product cut into whole 8-row groups in proportion to its share of the work, about
    // 4 chunks per thread in all, as kiln_matmul cuts one.
    int64_t tasks = 0;
    for (int32_t p = 0; p < count; p++) {
        const int64_t groups = (parts[p].rows + KILN_GROUP_ROWS - 1) / KILN_GROUP_ROWS;
        const double share = (double)weight_bytes(parts[p].type, parts[p].rows, cols) * (double)batch / total;
        int64_t chunks = (int64_t)(share * threads * 4 + 0.5);
        chunks = chunks < 1 ? 1 : chunks > groups ? groups : chunks;
        int64_t per_groups = (groups + chunks - 1) / chunks;
        if (per_groups % 2 && per_groups < groups) per_groups++; // whole pairs of groups (chunk_groups)
        const int64_t per = per_groups * KILN_GROUP_ROWS;
        for (int64_t r = 0; r < parts[p].rows; r += per) {
            if (tasks == KILN_PARTS_TASKS) { // more parts than the job holds: run the rest here
                if (phase.quantize_tasks) { // quantised first (the job's phase will find it done)
                    for (int64_t q = 0; q < phase.quantize_tasks; q++) run_quantize_phase(&phase, q);
                    phase.quantize_tasks = 0;
                }
                run_part(&job, p, r, parts[p].rows);
                break;
            }
            job.part[tasks] = p;
            job.r0[tasks] = r;
            job.r1[tasks] = r + per < parts[p].rows ? r + per : parts[p].rows;
            tasks++;
        }
    }
    job.phase = phase.quantize_tasks ? &phase : NULL;
    kiln_pool_run(parts_task, &job, phase.quantize_tasks + tasks);
}

int64_t kiln_peak_work(const kiln_ops *ops, int32_t kind, int64_t iterations) {
    return ops->peak ? ops->peak(kind, iterations) : 0;
}

int32_t kiln_prompt_f32_steps(const kiln_ops *ops, int32_t type) {
    return type >= 0 && type < KILN_WEIGHT_COUNT ? ops->prompt_f32_steps[type] : 0;
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
