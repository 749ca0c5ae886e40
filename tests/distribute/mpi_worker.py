"""Run under mpiexec by test_distribute.py: ``mpiexec -n N python mpi_worker.py CASE``.

Each case asserts on every rank and prints ``OK <case> rank <r>`` at the end; an
assertion error aborts the job through tapegrad.distribute's exception hook.
"""

import os
import sys
import time

import numpy as np

import tapegrad as tg
import tapegrad.distribute as dist


def close(a, b, tol=1e-12):
    a = np.asarray(a)
    b = np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.allclose(a, b, rtol=tol, atol=tol), (a, b)


def case_collectives():
    r, n = dist.rank(), dist.size()
    x = tg.constant(np.arange(6.0).reshape(2, 3) + r)
    base = np.arange(6.0).reshape(2, 3)
    close(dist.allreduce(x, dist.Sum), n * base + sum(range(n)))
    assert dist.allreduce(tg.constant(2.0)).shape == ()          # scalars stay scalars
    close(dist.allreduce(x), base + (n - 1) / 2)
    close(dist.allreduce(x, dist.Min), base)
    close(dist.allreduce(x, dist.Max), base + n - 1)
    assert dist.allreduce(tg.constant([r], dtype=tg.int32), dist.Sum).dtype == tg.int32
    close(dist.allreduce(tg.constant([r], dtype=tg.int64), "sum"), [sum(range(n))])
    h = dist.allreduce(tg.constant(np.full(3, 0.5 + r, np.float16)), dist.Sum)
    assert h.dtype == tg.float16
    close(h.numpy().astype(np.float64), np.full(3, 0.5 * n + sum(range(n))))
    # allgather with a different first dimension per rank
    g = dist.allgather(tg.constant(np.full((r + 1, 2), float(r))))
    expect = np.concatenate([np.full((k + 1, 2), float(k)) for k in range(n)])
    close(g, expect)
    b = dist.broadcast(tg.constant([float(r), 7.0]), root_rank=n - 1)
    close(b, [n - 1.0, 7.0])
    last = n - 1
    assert dist.broadcast_object({"rank": r}, root_rank=last) == {"rank": last}
    assert dist.allgather_object(r * 10) == [10 * k for k in range(n)]
    assert dist.local_size() == n and dist.local_rank() == r
    # a big-endian operand is reduced by value
    close(dist.allreduce(np.array([1.0, 2.0], ">f8"), dist.Sum), [n, 2.0 * n])
    dist.barrier()


def case_gradients():
    r, n = dist.rank(), dist.size()
    x = tg.Variable(np.array([1.0, 2.0, 3.0]) * (r + 1))
    # loss_r = sum(w_r * allreduce_sum(x)^2): d total / d x_r = sum_r' 2 w_r' S
    w = float(r + 1)
    with tg.GradientTape() as outer:
        with tg.GradientTape() as tape:
            s = dist.allreduce(x, dist.Sum)
            loss = tg.reduce_sum(w * s * s)
        g = tape.gradient(loss, x)
        gsum = tg.reduce_sum(g)
    gg = outer.gradient(gsum, x)
    S = np.array([1.0, 2.0, 3.0]) * sum(k + 1 for k in range(n))
    W = sum(k + 1.0 for k in range(n))
    close(g, 2 * W * S)
    # d/dx_r sum(2 W S) = 2 W * n per element (S depends on every x_k with weight 1)
    close(gg, np.full(3, 2 * W * n))
    # average: loss_r = sum(avg(x)) -> d total/dx_r = 1 (n ranks * 1/n)
    with tg.GradientTape() as tape:
        loss = tg.reduce_sum(dist.allreduce(x))
    close(tape.gradient(loss, x), np.ones(3))
    # max: the rank holding the maximum gets every rank's cotangent
    with tg.GradientTape() as tape:
        loss = tg.reduce_sum(dist.allreduce(x, dist.Max))
    close(tape.gradient(loss, x), np.full(3, float(n) if r == n - 1 else 0.0))
    # allgather: rank r's rows appear once in every rank's output
    with tg.GradientTape() as tape:
        loss = tg.reduce_sum(dist.allgather(tg.reshape(x, (1, 3))) * (r + 1.0))
    close(tape.gradient(loss, x), np.full(3, W))
    # broadcast: only the root's input matters
    with tg.GradientTape() as tape:
        loss = tg.reduce_sum(dist.broadcast(x, 0) * (r + 1.0))
    close(tape.gradient(loss, x), np.full(3, W if r == 0 else 0.0))


def case_scalar_variable():
    # a scalar variable's averaged gradient stays a scalar
    w = tg.Variable(2.0 + dist.rank())
    with tg.GradientTape() as tape:
        loss = w * w
    g = dist.DistributedGradientTape(tape).gradient(loss, w)
    assert tuple(g.shape) == (), g.shape
    close(g, np.mean([2 * (2.0 + k) for k in range(dist.size())]))


def _data(steps, global_batch):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((steps * global_batch, 5))
    Y = np.sin(X @ rng.standard_normal((5, 1)))
    return X, Y


def _params(seed):
    rng = np.random.default_rng(seed)
    return [tg.Variable(rng.standard_normal((5, 8)) * 0.5, name="w1"),
            tg.Variable(np.zeros(8), name="b1"),
            tg.Variable(rng.standard_normal((8, 1)) * 0.5, name="w2")]


def _loss(params, x, y):
    w1, b1, w2 = params
    h = tg.tanh(tg.matmul(x, w1) + b1)
    return tg.reduce_mean(tg.square(tg.matmul(h, w2) - y))


def _train(make_opt, X, Y, steps, batch, distributed, threshold=None):
    params = _params(0)
    opt = make_opt()
    if distributed:
        r, n = dist.rank(), dist.size()
    else:
        r, n = 0, 1
    for t in range(steps):
        rows = slice(t * batch * n + r * batch, t * batch * n + (r + 1) * batch)
        x, y = tg.constant(X[rows]), tg.constant(Y[rows])
        with tg.GradientTape() as tape:
            loss = _loss(params, x, y)
        if distributed:
            tape = dist.DistributedGradientTape(tape, fusion_threshold=threshold)
        grads = tape.gradient(loss, params)
        opt.apply_gradients(zip(grads, params))
    return [p.numpy() for p in params]


def case_training():
    n = dist.size()
    steps, batch = 20, 4
    X, Y = _data(steps, batch * n)
    for make in (lambda: tg.optimizers.SGD(0.1), lambda: tg.optimizers.Adam(0.01)):
        ref = _train(make, X, Y, steps, batch * n, distributed=False)
        # fusion thresholds: one bucket per gradient, and everything in one bucket
        for threshold in (1, None):
            got = _train(make, X, Y, steps, batch, distributed=True, threshold=threshold)
            for a, b in zip(got, ref):
                close(a, b, 1e-6)
                # and every rank holds identical weights
                close(dist.allreduce(a, dist.Max), dist.allreduce(a, dist.Min), 0)
        # DistributedOptimizer.minimize gives the same result
        params = _params(0)
        opt = dist.DistributedOptimizer(make())
        r = dist.rank()
        for t in range(steps):
            rows = slice(t * batch * n + r * batch, t * batch * n + (r + 1) * batch)
            x, y = tg.constant(X[rows]), tg.constant(Y[rows])
            opt.minimize(lambda p=params, x=x, y=y: _loss(p, x, y), var_list=params)
        for a, b in zip(params, ref):
            close(a.numpy(), b, 1e-6)
        assert int(opt.iterations.numpy()) == steps


def case_broadcast_variables():
    r = dist.rank()
    model = tg.Sequential([tg.layers.Dense(4, input_shape=(3,)), tg.layers.Dense(2)])
    tg.random.set_seed(100 + r)   # differently initialized on every rank
    model(tg.zeros((1, 3)))
    before = [v.numpy().copy() for v in model.variables]
    dist.broadcast_variables(model.variables, root_rank=0)
    for v in model.variables:
        arr = v.numpy()
        close(dist.allreduce(arr, dist.Max), dist.allreduce(arr, dist.Min), 0)
    if r == 0:
        for v, b in zip(model.variables, before):
            close(v.numpy(), b, 0)


def case_shard():
    ds = tg.data.Dataset.range(10)
    got = [int(x) for x in dist.shard(ds)]
    assert got == list(range(dist.rank(), 10, dist.size())), got


def case_sparse():
    # an embedding's row gradients stay sparse (rows gathered, never densified) and
    # average to the dense gradient of the global batch
    from tapegrad.ops.indexed_slices import IndexedSlices, sparse_gradients

    r, n = dist.rank(), dist.size()
    table = tg.Variable(np.arange(40.0).reshape(10, 4) / 10.0)
    ids_all = np.array([[1, 3, 3], [7, 1, 0], [9, 9, 2], [4, 5, 6]])[:max(n, 2)]
    ids = ids_all[r % len(ids_all)]
    with tg.GradientTape() as tape:
        rows = tg.gather(table, tg.constant(ids))
        loss = tg.reduce_sum(rows * rows)
    with sparse_gradients():
        g = dist.DistributedGradientTape(tape).gradient(loss, table)
    assert isinstance(g, IndexedSlices), type(g)
    dense = np.zeros((10, 4))
    for k in range(n):
        for i in ids_all[k % len(ids_all)]:
            dense[i] += 2 * table.numpy()[i]
    close(g.to_dense().numpy(), dense / n)


def case_fit():
    # Keras fit on every rank's shard with the two callbacks: identical weights
    r, n = dist.rank(), dist.size()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 6)).astype(np.float32)
    Y = (X @ rng.standard_normal(6) > 0).astype(np.int32)
    tg.random.set_seed(10 + r)          # different initial weights on every rank
    model = tg.Sequential([tg.layers.Dense(8, activation="relu", input_shape=(6,)),
                           tg.layers.Dense(2)])
    model.compile(dist.DistributedOptimizer(tg.optimizers.Adam(0.01)),
                  tg.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    hist = model.fit(X[r::n], Y[r::n], batch_size=8, epochs=3, verbose=0, shuffle=False,
                     callbacks=[dist.BroadcastGlobalVariablesCallback(0),
                                dist.MetricAverageCallback()])
    for v in model.variables:
        a = v.numpy()
        close(dist.allreduce(a, dist.Max), dist.allreduce(a, dist.Min), 0)
    losses = hist.history["loss"]
    assert losses[-1] < losses[0], losses
    # averaged metrics: the same numbers on every rank
    close(dist.allreduce(np.array(losses), dist.Max), dist.allreduce(np.array(losses),
                                                                       dist.Min), 0)


def case_raise():
    if dist.rank() == 1:
        raise RuntimeError("boom on rank one")
    dist.barrier()          # the other ranks would wait here forever without the abort


def case_mismatch():
    shape = (3,) if dist.rank() == 0 else (4,)
    try:
        dist.allreduce(tg.ones(shape))
    except dist.DistributedError as e:
        msg = str(e)
        assert "ranks [0] have float32 (3,)" in msg and "(4,)" in msg, msg
        print("MISMATCH-OK rank %d: %s" % (dist.rank(), msg), flush=True)
        return
    raise AssertionError("no error for mismatched shapes")


def case_dead():
    if dist.rank() == 1:
        os._exit(3)         # dies without a word
    time.sleep(0.5)
    dist.barrier()


def case_timeout():
    # rank 1 never joins: the others must give up after TAPEGRAD_MPI_TIMEOUT
    if dist.rank() == 1:
        time.sleep(60)
        return
    dist.barrier()


if __name__ == "__main__":
    dist.init()
    case = sys.argv[1]
    globals()["case_" + case]()
    print("OK %s rank %d" % (case, dist.rank()), flush=True)
