// One persistent pool of worker threads shared by every kernel. Decode runs ~200 matrix
// products per token, so a dispatch must cost a few microseconds: workers spin on a generation
// counter for a while after each job (no syscall on the hot path) and only then sleep on a
// condition variable. The caller works on the job too.
//
// Claiming tasks: `claim` packs (next task, task count) in one 64-bit word and workers take
// tasks with compare-and-swap, so a worker that wakes late can only ever take a task of the job
// that is live at that moment; the job's function and context are read after a successful
// claim, and they cannot change until every task of that job has finished.
#include "kiln_internal.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define KILN_MAX_THREADS 64
#define KILN_SPIN_NANOSECONDS 300000 // how long an idle worker polls before it sleeps

typedef struct {
    _Atomic uint64_t claim;       // (next task << 32) | task count of the live job
    _Atomic int64_t finished;     // tasks of the live job that have finished
    _Atomic uint32_t generation;  // bumped once per job; idle workers watch it
    _Atomic int sleepers;
    _Atomic int stop;
    _Atomic int busy;             // a caller owns the pool
    kiln_task_fn fn;
    void *context;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    // Including the caller. Atomic: kiln_pool_run reads it before it owns the pool (to skip the
    // pool when it has no workers) while kiln_pool_set_threads may be changing it; the value
    // read there is only a hint, since a caller that owns the pool with no workers runs every
    // task itself.
    _Atomic int threads;
    pthread_t workers[KILN_MAX_THREADS];
} kiln_pool;

static kiln_pool pool = {.mutex = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static int64_t now_nanoseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

// Runs tasks of the live job until none is left to claim.
static void work(void) {
    uint64_t state = atomic_load_explicit(&pool.claim, memory_order_acquire);
    for (;;) {
        const uint64_t next = state >> 32, count = state & 0xFFFFFFFFu;
        if (next >= count) return;
        if (!atomic_compare_exchange_weak_explicit(&pool.claim, &state, state + (1ull << 32), memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        pool.fn(pool.context, (int64_t)next);
        atomic_fetch_add_explicit(&pool.finished, 1, memory_order_release);
        state = atomic_load_explicit(&pool.claim, memory_order_acquire);
    }
}

static void *worker_main(void *unused) {
    (void)unused;
    uint32_t seen = atomic_load(&pool.generation);
    for (;;) {
        const int64_t deadline = now_nanoseconds() + KILN_SPIN_NANOSECONDS;
        int spins = 0;
        while (atomic_load_explicit(&pool.generation, memory_order_acquire) == seen && !atomic_load(&pool.stop)) {
            kiln_cpu_relax();
            if (++spins % 256 == 0 && now_nanoseconds() > deadline) {
                pthread_mutex_lock(&pool.mutex);
                atomic_fetch_add(&pool.sleepers, 1);
                while (atomic_load(&pool.generation) == seen && !atomic_load(&pool.stop))
                    pthread_cond_wait(&pool.wake, &pool.mutex);
                atomic_fetch_sub(&pool.sleepers, 1);
                pthread_mutex_unlock(&pool.mutex);
            }
        }
        if (atomic_load(&pool.stop)) return NULL;
        seen = atomic_load(&pool.generation);
        work();
    }
}

static void stop_workers(void) {
    pthread_mutex_lock(&pool.mutex);
    atomic_store(&pool.stop, 1);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mutex);
    const int threads = atomic_load(&pool.threads);
    for (int i = 1; i < threads; i++) pthread_join(pool.workers[i], NULL);
    atomic_store(&pool.stop, 0);
    atomic_store(&pool.threads, 1);
}

static void start_workers(int threads) {
    atomic_store(&pool.threads, 1);
    for (int i = 1; i < threads; i++) {
        if (pthread_create(&pool.workers[i], NULL, worker_main, NULL) != 0) break; // run with what we have
        atomic_store(&pool.threads, i + 1);
    }
}

static int clamp_threads(int64_t threads) {
    return threads < 1 ? 1 : threads > KILN_MAX_THREADS ? KILN_MAX_THREADS : (int)threads;
}

static void initialize(void) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    start_workers(clamp_threads(cpus));
}

static void acquire(void) {
    int expected = 0;
    while (!atomic_compare_exchange_weak(&pool.busy, &expected, 1)) {
        expected = 0;
        kiln_cpu_relax();
    }
}

void kiln_pool_set_threads(int32_t threads) {
    pthread_once(&pool_once, initialize);
    acquire();
    if (clamp_threads(threads) != atomic_load(&pool.threads)) {
        stop_workers();
        start_workers(clamp_threads(threads));
    }
    atomic_store(&pool.busy, 0);
}

int32_t kiln_pool_threads(void) {
    pthread_once(&pool_once, initialize);
    return atomic_load_explicit(&pool.threads, memory_order_relaxed);
}

void kiln_pool_run(kiln_task_fn fn, void *context, int64_t tasks) {
    pthread_once(&pool_once, initialize);
    int expected = 0;
    if (tasks <= 1 || atomic_load_explicit(&pool.threads, memory_order_relaxed) == 1 || tasks > 0xFFFFFFFFll ||
        !atomic_compare_exchange_strong(&pool.busy, &expected, 1)) {
        for (int64_t i = 0; i < tasks; i++) fn(context, i);
        return;
    }
    pool.fn = fn;
    pool.context = context;
    atomic_store_explicit(&pool.finished, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.claim, (uint64_t)tasks, memory_order_release);
    atomic_fetch_add(&pool.generation, 1); // seq_cst: ordered before the sleepers check below
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.mutex);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.mutex);
    }
    work();
    while (atomic_load_explicit(&pool.finished, memory_order_acquire) < tasks) kiln_cpu_relax();
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
}
