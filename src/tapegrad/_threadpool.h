/* tapegrad's one thread pool (docs/architecture.md §5.4).
 *
 * A job is a function called once per part: fn(ctx, part, parts).  The calling thread
 * runs parts 0, T, 2T, ...; worker w (1 <= w < T) runs parts w, w + T, ...  The split
 * of the work into parts is the caller's and depends only on the configured thread
 * count T, never on timing, so every kernel is deterministic at a fixed T, and the
 * kernels that are not reductions give the same bits at every T.
 *
 * Why a pool of our own rather than OpenMP: libgomp's workers spin actively after each
 * parallel region, and with OpenBLAS's workers also waiting on two cores the two pools
 * took turns (a CNN step went from 55 ms to 448 ms).  Here the workers spin politely for
 * a bounded time (TG_SPIN_NS, so back-to-back kernels of one training step do not pay a
 * futex wake-up each) and then sleep on a condition variable; the matrix products run on
 * the same workers with OpenBLAS held at one thread (see _kernels_threads.pxi), so no
 * second pool is ever awake during a tapegrad step.  A fork() child starts with no
 * workers and creates them on first use (the parent's do not exist there).
 *
 * Another thread that calls a kernel while the pool is busy runs every part of its job
 * itself, in part order: the same partition, so the same results.
 *
 * Nothing here touches Python: jobs run with the GIL released.
 */
#ifndef TAPEGRAD_THREADPOOL_H
#define TAPEGRAD_THREADPOOL_H

#include <stddef.h>

typedef void (*tg_part_fn)(void *ctx, int part, int parts);

#define TG_MAX_THREADS 64

#if defined(_WIN32)

/* no pool on Windows: every job runs in the caller, in part order */
static int tg_threads = 1;
static int tg_pool_set_threads(int n) { (void)n; tg_threads = 1; return 0; }
static int tg_pool_threads(void) { return tg_threads; }
static void tg_pool_run(tg_part_fn fn, void *ctx, int parts) {
    int p;
    for (p = 0; p < parts; p++) fn(ctx, p, parts);
}

#else

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TG_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define TG_RELAX() __asm__ __volatile__("yield")
#else
#define TG_RELAX() ((void)0)
#endif

/* how long an idle worker (and a caller waiting for its workers) polls before it
 * sleeps: long enough to bridge the Python between two kernels of a step, short enough
 * that an idle process stops using the cores almost at once */
#define TG_SPIN_NS 200000L

static pthread_mutex_t tg_submit = PTHREAD_MUTEX_INITIALIZER;  /* one job at a time */
static pthread_mutex_t tg_mu = PTHREAD_MUTEX_INITIALIZER;      /* sleep / wake-up */
static pthread_cond_t tg_wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t tg_done = PTHREAD_COND_INITIALIZER;
static int tg_threads = 1;          /* configured: the caller plus workers */
static int tg_workers = 0;          /* worker threads running */
static pthread_t tg_tids[TG_MAX_THREADS];
static atomic_ulong tg_gen;         /* bumped once per job (and to stop the workers) */
static atomic_int tg_pending;       /* workers yet to finish the current job */
static int tg_stop = 0;
static tg_part_fn tg_fn = NULL;
static void *tg_ctx = NULL;
static int tg_parts = 0;
static int tg_atfork_done = 0;
static unsigned long tg_start_gen = 0;  /* the generation a new worker has already seen */

static long tg_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void *tg_worker(void *arg) {
    int id = (int)(size_t)arg, p;
    /* not a fresh load of tg_gen: the first job may be posted before this thread runs */
    unsigned long seen = tg_start_gen, g;
    for (;;) {
        long deadline = tg_now_ns() + TG_SPIN_NS;
        int k = 0;
        while ((g = atomic_load_explicit(&tg_gen, memory_order_acquire)) == seen) {
            TG_RELAX();
            if (++k % 64 == 0 && tg_now_ns() > deadline) {
                pthread_mutex_lock(&tg_mu);
                while ((g = atomic_load_explicit(&tg_gen, memory_order_acquire)) == seen)
                    pthread_cond_wait(&tg_wake, &tg_mu);
                pthread_mutex_unlock(&tg_mu);
                break;
            }
        }
        seen = g;
        if (tg_stop)
            return NULL;
        for (p = id; p < tg_parts; p += tg_threads)
            tg_fn(tg_ctx, p, tg_parts);
        if (atomic_fetch_sub_explicit(&tg_pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&tg_mu);
            pthread_cond_signal(&tg_done);
            pthread_mutex_unlock(&tg_mu);
        }
    }
}

/* in a fork() child only the forking thread exists: forget the parent's workers and
 * re-create the locks (one may have been held by a thread that is gone) */
static void tg_after_fork_child(void) {
    pthread_mutex_init(&tg_submit, NULL);
    pthread_mutex_init(&tg_mu, NULL);
    pthread_cond_init(&tg_wake, NULL);
    pthread_cond_init(&tg_done, NULL);
    tg_workers = 0;
    tg_stop = 0;
}

/* with tg_submit held */
static void tg_stop_workers(void) {
    int w, n = tg_workers;
    if (n == 0)
        return;
    pthread_mutex_lock(&tg_mu);
    tg_stop = 1;
    atomic_fetch_add_explicit(&tg_gen, 1, memory_order_acq_rel);
    pthread_cond_broadcast(&tg_wake);
    pthread_mutex_unlock(&tg_mu);
    for (w = 0; w < n; w++)
        pthread_join(tg_tids[w], NULL);
    tg_workers = 0;
    tg_stop = 0;
}

/* with tg_submit held; returns the number of workers running (fewer than asked when the
 * system refuses a thread: the jobs then run with fewer hands, same partition) */
static int tg_start_workers(void) {
    int w;
    if (!tg_atfork_done) {
        pthread_atfork(NULL, NULL, tg_after_fork_child);
        tg_atfork_done = 1;
    }
    tg_start_gen = atomic_load_explicit(&tg_gen, memory_order_acquire);
    for (w = tg_workers; w < tg_threads - 1; w++) {
        if (pthread_create(&tg_tids[w], NULL, tg_worker, (void *)(size_t)(w + 1)) != 0)
            break;
        tg_workers = w + 1;
    }
    return tg_workers;
}

/* set the thread count (1..TG_MAX_THREADS); the workers start on the next job */
static int tg_pool_set_threads(int n) {
    if (n < 1) n = 1;
    if (n > TG_MAX_THREADS) n = TG_MAX_THREADS;
    pthread_mutex_lock(&tg_submit);
    tg_stop_workers();
    tg_threads = n;
    pthread_mutex_unlock(&tg_submit);
    return 0;
}

static int tg_pool_threads(void) { return tg_threads; }

static void tg_run_serial(tg_part_fn fn, void *ctx, int parts) {
    int p;
    for (p = 0; p < parts; p++)
        fn(ctx, p, parts);
}

static void tg_pool_run(tg_part_fn fn, void *ctx, int parts) {
    int p, k;
    long deadline;
    if (parts <= 1 || tg_threads <= 1) {
        tg_run_serial(fn, ctx, parts);
        return;
    }
    if (pthread_mutex_trylock(&tg_submit) != 0) {
        tg_run_serial(fn, ctx, parts);   /* busy with another thread's job */
        return;
    }
    if (tg_workers < tg_threads - 1)
        tg_start_workers();
    if (tg_workers < tg_threads - 1) {
        /* a worker could not be created: the parts of the missing ones would never run */
        pthread_mutex_unlock(&tg_submit);
        tg_run_serial(fn, ctx, parts);
        return;
    }
    tg_fn = fn;
    tg_ctx = ctx;
    tg_parts = parts;
    atomic_store_explicit(&tg_pending, tg_workers, memory_order_release);
    pthread_mutex_lock(&tg_mu);
    atomic_fetch_add_explicit(&tg_gen, 1, memory_order_acq_rel);
    pthread_cond_broadcast(&tg_wake);
    pthread_mutex_unlock(&tg_mu);
    for (p = 0; p < parts; p += tg_threads)
        fn(ctx, p, parts);
    deadline = tg_now_ns() + TG_SPIN_NS;
    k = 0;
    while (atomic_load_explicit(&tg_pending, memory_order_acquire) > 0) {
        TG_RELAX();
        if (++k % 64 == 0 && tg_now_ns() > deadline) {
            pthread_mutex_lock(&tg_mu);
            while (atomic_load_explicit(&tg_pending, memory_order_acquire) > 0)
                pthread_cond_wait(&tg_done, &tg_mu);
            pthread_mutex_unlock(&tg_mu);
            break;
        }
    }
    pthread_mutex_unlock(&tg_submit);
}

#endif /* _WIN32 */

/* the address of `name` in the shared library `path` if that library is already loaded
 * into the process (RTLD_NOLOAD: never loads a second copy), else NULL */
#if defined(_WIN32)
static void *tg_loaded_symbol(const char *path, const char *name) {
    (void)path; (void)name;
    return NULL;
}
#else
#include <dlfcn.h>
static void *tg_loaded_symbol(const char *path, const char *name) {
    void *lib = dlopen(path, RTLD_NOW | RTLD_NOLOAD), *sym;
    if (lib == NULL)
        return NULL;
    sym = dlsym(lib, name);
    dlclose(lib);           /* drops only the reference NOLOAD took */
    return sym;
}
#endif

/* the contiguous range [lo, hi) of part `part` when n items are split into `parts`,
 * boundaries on multiples of `align` items (a cache line of floats: no two threads
 * write one line) */
static void tg_split(ptrdiff_t n, int part, int parts, ptrdiff_t align, ptrdiff_t *lo,
                     ptrdiff_t *hi) {
    ptrdiff_t blocks = (n + align - 1) / align;
    ptrdiff_t a = blocks * part / parts * align, b = blocks * (part + 1) / parts * align;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}

#endif /* TAPEGRAD_THREADPOOL_H */
