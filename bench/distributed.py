"""Distributed benchmarks (issue: data-parallel training on MPI).

    python bench/distributed.py              # runs both parts, launching mpiexec itself

1. allreduce throughput: ``tapegrad.distribute.allreduce`` (Sum, float32) against raw
   ``mpi4py`` ``comm.Allreduce`` on the same buffers, 2 ranks, best of rounds;
2. MNIST CNN training throughput (images/s, the guide's CNN, batch 64 global):
   2 ranks x 1 thread (data parallel) against 1 rank x 2 threads.
"""

import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.abspath(__file__)


def _mpiexec():
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return here if os.path.exists(here) else "mpiexec"


def allreduce_part(rounds=7):
    import tapegrad as tg
    import tapegrad.distribute as dist

    dist.init()
    comm = dist._mpi.comm()
    rows = []
    for nbytes in (4 << 10, 1 << 20, 16 << 20, 64 << 20):
        n = nbytes // 4
        arr = np.random.default_rng(dist.rank()).standard_normal(n).astype(np.float32)
        t = tg.constant(arr)
        out = np.empty_like(arr)
        reps = max(3, min(200, (256 << 20) // nbytes))
        best = {"raw": np.inf, "fresh": np.inf, "tg": np.inf}
        for _ in range(rounds):
            comm.Barrier()
            t0 = time.perf_counter()
            for _ in range(reps):
                comm.Allreduce(arr, out)
            best["raw"] = min(best["raw"], (time.perf_counter() - t0) / reps)
            # the same into a new array each call, as a value-returning API must
            comm.Barrier()
            t0 = time.perf_counter()
            for _ in range(reps):
                comm.Allreduce(arr, np.empty_like(arr))
            best["fresh"] = min(best["fresh"], (time.perf_counter() - t0) / reps)
            comm.Barrier()
            t0 = time.perf_counter()
            for _ in range(reps):
                dist.allreduce(t, dist.Sum)
            best["tg"] = min(best["tg"], (time.perf_counter() - t0) / reps)
        rows.append((nbytes, best["raw"], best["fresh"], best["tg"]))
    if dist.rank() == 0:
        print("allreduce, %d ranks, float32 Sum, best of %d rounds" % (dist.size(), rounds))
        print("| bytes | mpi4py Allreduce (reused output) | mpi4py into a new array | "
              "tapegrad allreduce | ratio to reused | ratio to new array |")
        print("|---|---|---|---|---|---|")
        for nbytes, raw, fresh, tg_ in rows:
            print("| %s | %.1f us (%.2f GB/s) | %.1f us | %.1f us (%.2f GB/s) | %.2fx | %.2fx |"
                  % (_size(nbytes), raw * 1e6, nbytes / raw / 1e9, fresh * 1e6, tg_ * 1e6,
                     nbytes / tg_ / 1e9, raw / tg_, fresh / tg_))


def _size(n):
    return "%d KiB" % (n >> 10) if n < 1 << 20 else "%d MiB" % (n >> 20)


def cnn_part(steps=40, warmup=5, global_batch=64):
    import tapegrad as tg
    from tapegrad.demo import create_model

    distributed = "--distributed" in sys.argv
    if distributed:
        import tapegrad.distribute as dist

        dist.init()
        rank, size = dist.rank(), dist.size()
    else:
        rank, size = 0, 1
    rng = np.random.default_rng(rank)
    batch = global_batch // size
    images = rng.random((batch, 28, 28, 1), dtype=np.float32)
    labels = rng.integers(0, 10, batch).astype(np.int64)
    tg.random.set_seed(0)
    model = create_model("cnn")
    model(images[:1])
    if distributed:
        dist.broadcast_variables(model.variables)
    opt = tg.optimizers.Adam(1e-3)
    times = []
    for step in range(warmup + steps):
        t0 = time.perf_counter()
        with tg.GradientTape() as tape:
            loss = tg.losses.sparse_softmax_cross_entropy(labels=labels, logits=model(images))
        if distributed:
            tape = dist.DistributedGradientTape(tape)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        if step >= warmup:
            times.append(time.perf_counter() - t0)
    if rank == 0:
        t = np.array(times)
        print("%-22s median step %.1f ms (IQR %.1f-%.1f), %.0f images/s" % (
            "%d rank(s) x %s thread(s)" % (size, os.environ.get("OMP_NUM_THREADS", "?")),
            np.median(t) * 1e3, np.percentile(t, 25) * 1e3, np.percentile(t, 75) * 1e3,
            global_batch / np.median(t)))


def main():
    if "--allreduce" in sys.argv:
        return allreduce_part()
    if "--cnn" in sys.argv:
        return cnn_part()
    env1 = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env2 = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2")
    subprocess.run([_mpiexec(), "-n", "2", sys.executable, HERE, "--allreduce"], env=env1,
                   check=True)
    print("\nMNIST CNN training step, global batch 64, random digits")
    subprocess.run([sys.executable, HERE, "--cnn"], env=env2, check=True)
    subprocess.run([_mpiexec(), "-n", "2", sys.executable, HERE, "--cnn", "--distributed"],
                   env=env1, check=True)


if __name__ == "__main__":
    main()
