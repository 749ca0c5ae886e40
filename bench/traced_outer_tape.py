"""An outer tape around a traced call (issue 19): the gradient of a traced MLP forward.

    python bench/traced_outer_tape.py [--rounds 30] [--number 20]

The guide's MLP (784-128-10, bench/compare.py's weights and data) at batch 32 and 256:
the loss's gradient w.r.t. the model's variables with the forward (``model.call``) run

* ``eager``: eagerly, every op recorded;
* ``one_op``: as a replayed ``tg.function``, recorded as one ``function_call`` op whose
  VJP is the traced backward fed with the forward's values (graph/calls.py);
* ``per_op``: as a replayed ``tg.function`` recorded op by op (the behaviour before:
  ``function_call`` switched off);
* ``recompute``: like ``one_op`` but the backward recomputes the forward (the joint
  graph, forward and backward, replayed): the alternative to saving residuals.

The variants run interleaved (A, B, C, D, A, B, ...) so load drifts hit them alike; the
report gives min and median microseconds per step over the rounds, and the load average.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import compare  # noqa: E402  (bench/ is not a package)


def variants(tg, batch):
    """(name, step) pairs for one batch size, and the eager gradients' arrays."""
    from tapegrad.graph import calls

    xn, yn, weights = compare.mlp_data(batch)
    x, y = tg.constant(xn), tg.constant(yn.astype(np.int32))
    model = compare.tapegrad_mlp_model(tg, weights)
    variables = model.trainable_variables
    traced = tg.function(model.call)
    traced(x)

    def grad(forward):
        with tg.GradientTape() as tape:
            loss = tg.losses.sparse_softmax_cross_entropy(labels=y, logits=forward(x))
        return tape.gradient(loss, variables)

    cf = next(iter(traced._cache.values()))

    def per_op():
        # function_call off for this concrete function: the replay recorded op by op
        info, cf._call = cf._call_info(), None
        try:
            return grad(traced)
        finally:
            cf._call = info

    def recompute():
        calls.RECOMPUTE = True
        try:
            return grad(traced)
        finally:
            calls.RECOMPUTE = False

    return [("eager", lambda: grad(model.call)), ("one_op", lambda: grad(traced)),
            ("per_op", per_op), ("recompute", recompute)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--number", type=int, default=20)
    args = ap.parse_args()

    import tapegrad as tg

    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())
    for batch in (32, 256):
        steps = variants(tg, batch)
        ref = [g.numpy() for g in steps[0][1]()]
        for name, fn in steps:
            fn()
            got = [g.numpy() for g in fn()]
            same = all(np.array_equal(a, b) for a, b in zip(ref, got))
            print("batch %d %-9s bit-identical to eager: %s" % (batch, name, same))
        times = {name: [] for name, _ in steps}
        for _ in range(args.rounds):
            for name, fn in steps:
                t0 = time.perf_counter()
                for _ in range(args.number):
                    fn()
                times[name].append((time.perf_counter() - t0) / args.number * 1e6)
        base = np.median(times["eager"])
        for name, _ in steps:
            ts = times[name]
            print("batch %3d %-9s min %8.1f us  median %8.1f us  (median / eager %.2f)"
                  % (batch, name, min(ts), np.median(ts), np.median(ts) / base))
    print("load average at end: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
