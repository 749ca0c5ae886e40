"""Every Python-visible callable of the extension modules (_core, _tape, _kernels and
their .pxi files) survives junk arguments: lists, wrong dtypes, non-contiguous,
misaligned, byte-swapped, zero-size and mismatched arrays, None, ints, strings.  An
exception is fine (and required where an ndarray is expected and something else comes);
a crash is not.  The calls run in a subprocess so a segfault fails the test instead of
killing the run, and the last call printed names the culprit."""

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(r'''
    import inspect, random, sys
    import numpy as np
    import tapegrad as tg
    from tapegrad import _core, _kernels, _tape

    def f32(*shape):
        return np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) - 1.5

    def misaligned():
        buf = np.zeros(4 * 6 + 1, np.uint8)
        a = buf[1:].view(np.float32)
        assert not a.flags.aligned
        return a

    JUNK = [None, 0, -1, 3, 2 ** 40, 1.5, float("nan"), "x", b"x", [1.0, 2.0], [], (),
            (1, 4, 4, 1), (1, -1, 4, 1), (1, 2), {}, object(), np.float32(1.0),
            f32(3), f32(2, 2), f32(0), f32(0, 2), np.float32(2.0) * np.ones(()),
            f32(4, 6)[:, ::2], f32(2, 2).astype(">f4"), misaligned(), f32(1, 4, 4, 1),
            f32(1, 2, 2, 1), f32(9, 4), np.arange(4, dtype=np.int32),
            np.array([0, 1], np.int64), np.array([5, -3], np.int32), np.ones(3, bool),
            f32(2, 2).astype(np.float16), f32(2, 2).astype(np.complex64),
            np.array([1, "a"], dtype=object), f32(2, 2).astype(np.float64),
            tg.constant([1.0, 2.0])]

    # valid arguments of each kernel; position by position replaced by junk below
    X4, G4 = f32(1, 4, 4, 1), f32(1, 2, 2, 1)
    KERNELS = {
        "binary_same_shape": lambda: (0, f32(2, 2), f32(2, 2)),
        "binary_scalar": lambda: (0, f32(2, 2), 1.5, False),
        "binary_rows": lambda: (0, f32(2, 2), f32(2)),
        "binary_update": lambda: (1, f32(2, 2), f32(2, 2)),
        "square": lambda: (f32(2, 2),),
        "relu": lambda: (f32(2, 2),),
        "relu_grad": lambda: (f32(2, 2), f32(2, 2)),
        "sum_rows": lambda: (f32(2, 2), 2),
        "softmax_xent": lambda: (f32(2, 2), np.array([0, 1], np.int32), f32(2)),
        "im2col": lambda: (X4, 2, 2, 1, 1, 1, 1, 0, 0, 3, 3),
        "col2im": lambda: (f32(9, 4), (1, 4, 4, 1), 2, 2, 1, 1, 1, 1, 0, 0, 3, 3,
                           np.zeros((1, 4, 4, 1), np.float32)),
        "max_pool": lambda: (X4, 2, 2, 2, 2, 0, 0, 2, 2),
        "avg_pool": lambda: (X4, 2, 2, 2, 2, 0, 0, 2, 2),
        "max_pool_scatter": lambda: (X4, G4, 2, 2, 2, 2, 0, 0),
        "max_pool_select": lambda: (X4, X4.copy(), 2, 2, 2, 2, 0, 0, 2, 2),
        "avg_pool_grad": lambda: (G4, (1, 4, 4, 1), 2, 2, 2, 2, 0, 0),
        "adam_update": lambda: (f32(3), f32(3), f32(3), f32(3), 0.1, 0.9, 0.999, 1e-8),
        "sgd_update": lambda: (f32(3), f32(3), 0.1),
        "all_finite": lambda: (f32(2, 2),),
        "take_update_report": lambda: (),
        "ufunc_map": lambda: (np.exp, (f32(2, 2),)),
        "sum_all": lambda: (f32(2, 2),),
        "gemm": lambda: (f32(2, 3), f32(3, 2), True),
        "set_output_checks": lambda: (False,),
        "empty": lambda: ((2, 3), np.float32),
        "set_buffer_cache": lambda: (256 << 20,),
        "buffer_cache_bytes": lambda: (),
        "segment_select": lambda: (f32(4).ravel(), np.array([0, 1, 1, 0], np.intp), 2, True),
        "conv2d": lambda: (X4, f32(4, 2), 2, 2, 1, 1, 1, 1, 0, 0, 3, 3),
        "conv2d_input_grad": lambda: (f32(1, 3, 3, 2), f32(4, 2), (1, 4, 4, 1), 2, 2, 1, 1,
                                      1, 1, 0, 0, 3, 3),
        "conv2d_filter_grad": lambda: (X4, f32(1, 3, 3, 2), 2, 2, 1, 1, 1, 1, 0, 0, 3, 3),
        "bind_blas": lambda: ("/nonexistent/libopenblas.so",),
        "blas_bound": lambda: (),
        "trsm": lambda: (f32(1, 2, 2) + 2 * np.eye(2, dtype=np.float32), f32(1, 2, 3), True,
                         False),
        "single_blas_call": lambda: (np.linalg.inv, f32(2, 2) + 2 * np.eye(2, dtype=np.float32)),
        "set_threads": lambda: (2,),
        "get_threads": lambda: (),
        "default_threads": lambda: (),
        "softmax_last": lambda: (f32(2, 3),),
        "softmax_last_grad": lambda: (f32(2, 3), f32(2, 3)),
        "sum_last": lambda: (f32(2, 3),),
        # the fused LSTM (kind 1): T=2, B=2, H=1
        "rnn_ready": lambda: (),
        "rnn_forward": lambda: (1, f32(2, 2, 4), f32(1, 4), f32(4), None,
                                np.zeros((3, 2, 1), np.float32), np.zeros((3, 2, 1), np.float32),
                                np.zeros((2, 2, 4), np.float32), np.zeros((2, 2, 1), np.float32),
                                False),
        "rnn_backward": lambda: (1, f32(2, 2, 1), np.zeros((2, 2, 4), np.float32), f32(1, 4),
                                 np.zeros((3, 2, 1), np.float32),
                                 np.zeros((3, 2, 1), np.float32),
                                 np.zeros((2, 2, 4), np.float32),
                                 np.zeros((2, 2, 1), np.float32),
                                 np.zeros((2, 2, 4), np.float32), None,
                                 np.zeros((2, 1), np.float32), np.zeros((2, 1), np.float32),
                                 True),
        # ufuncs (_kernels_ufuncs.pxi): NumPy's loops plus the special-case fix-ups
        "floor_divide": lambda: (f32(2, 2), f32(2, 2)[::-1]),
        "expm1": lambda: (f32(2, 3).astype(np.complex64),),
    }
    # NumPy ufuncs: any array-like (a list, a number) is a valid operand, so junk in
    # place of an array need not raise; it must only not crash
    UFUNCS = {"floor_divide", "expm1"}

    # array arguments that may be None (softmax_xent's g, col2im's out, the recurrences'
    # input bias)
    OPTIONAL = {("softmax_xent", 2), ("col2im", 12), ("rnn_forward", 3)}

    # callables that legitimately accept None (or anything) for every argument
    NONE_OK = {"_core._set_default_device", "_core._set_helpers", "_tape._set_helpers",
               "_core._set_device_hooks", "_core.normalize_key", "Primitive.defvjp",
               "Primitive.defjvp", "Primitive.defrule", "Primitive.rule", "Primitive.defimpl",
               "Primitive.__call__", "BaseVariable.__array__", "Tensor.__array__",
               "Tensor.to", "BaseVariable.assign", "Tensor.__format__",
               "BaseVariable.__format__", "_core._wrap_device", "Tensor.__reduce__",
               "TapeBase.gradient", "Tensor.__array_function__",
               "BaseVariable.__array_function__", "_core._lookup",
               # hooks installed by the packages above the core (None uninstalls), and
               # argument-free queries
               "_core._set_tracer", "_core._get_tracer", "_core._set_numerics",
               "_core._numerics_enabled", "_core._set_debug_hooks", "_core._mark_debug",
               "_core._tensor_counter", "_tape._set_conj", "_tape._set_track_vjp",
               "_tape.current_vjp", "_tape._set_debug", "_tape._set_leak_check",
               "_tape._set_sparse_helpers", "_core._set_registry_loader"}
    # called last: they install process-wide hooks that junk would break for the rest
    SETTERS = ("_set_default_device", "_set_helpers", "_set_device_hooks", "register",
               "set_operator", "_set_tracer", "_set_numerics", "_set_debug_hooks",
               "_set_conj", "_set_track_vjp", "_set_debug", "_set_leak_check",
               "_set_sparse_helpers", "_mark_debug", "_set_registry_loader")

    calls = 0

    def call(label, fn, args, must_raise):
        global calls
        calls += 1
        print(label, [type(a).__name__ for a in args], flush=True)
        try:
            fn(*args)
        except Exception:
            return
        if must_raise:
            print("NO EXCEPTION:", label, [repr(a)[:40] for a in args], flush=True)
            sys.exit(3)

    def arity(fn):
        try:
            ps = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            return None
        return len([p for p in ps if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                    and p.name != "self"])

    def fuzz(label, fn, n, rng, must_raise_none):
        if n is None:
            n = 3
        for k in sorted({0, max(n - 1, 0), n, n + 1}):
            call(label, fn, [None] * k, must_raise_none and k == n > 0)
        for j in JUNK:
            call(label, fn, [j] * n, False)
        for _ in range(40):
            call(label, fn, [rng.choice(JUNK) for _ in range(n)], False)

    rng = random.Random(0)
    target = sys.argv[1]

    if target == "_kernels":
        for name, valid in KERNELS.items():
            fn = getattr(_kernels, name)
            call(name + " (valid)", fn, valid(), False)
            base = valid()
            for i in range(len(base)):
                for j in JUNK:
                    args = list(valid())
                    args[i] = j
                    not_array = not isinstance(j, np.ndarray)
                    optional = j is None and (name, i) in OPTIONAL
                    call(name, fn, args, isinstance(base[i], np.ndarray) and not_array
                         and not optional and name not in UFUNCS)
            fuzz(name, fn, len(base), rng, True)
        listed = {n for n in dir(_kernels) if callable(getattr(_kernels, n))
                  and not n.startswith("__") and not isinstance(getattr(_kernels, n), type)}
        assert listed == set(KERNELS), listed ^ set(KERNELS)
    else:
        mod = {"_core": _core, "_tape": _tape}[target]
        later = []
        for name in sorted(dir(mod)):
            obj = getattr(mod, name)
            if name.startswith("__") or not callable(obj):
                continue
            if isinstance(obj, type):
                if obj.__module__ != mod.__name__:
                    continue
                fuzz(name, obj, arity(obj), rng, False)      # constructors
                inst = {"Tensor": lambda: tg.constant([1.0, 2.0]),
                        "BaseVariable": lambda: tg.Variable([1.0, 2.0]),
                        "Operand": lambda: tg.constant([1.0, 2.0]),
                        "TapeCore": lambda: _core.TapeCore(),
                        "Primitive": lambda: _core.Primitive("fuzz", lambda *a: a[0]),
                        "TapeBase": lambda: tg.GradientTape(),
                        "Meta": lambda: _tape.Meta((2,), np.dtype(np.float32)),
                        }.get(name)
                if inst is None:
                    continue
                for meth in sorted(vars(obj)):
                    if meth.startswith("__") and meth not in (
                            "__array__", "__array_function__", "__format__", "__call__",
                            "__reduce__"):
                        continue
                    try:
                        bound = getattr(inst(), meth, None)
                    except Exception:
                        continue   # a property that refuses this instance (mT of 1-D)
                    if not callable(bound):
                        continue
                    # (methods often take optional values: only no crash is required)
                    fuzz(name + "." + meth, bound, arity(bound), rng, False)
                continue
            label = target + "." + name
            if name in SETTERS:
                later.append((label, obj))
                continue
            fuzz(label, obj, arity(obj), rng, label not in NONE_OK)
        for label, obj in later:
            fuzz(label, obj, arity(obj), rng, label not in NONE_OK)
    print("DONE", calls, flush=True)
''')


@pytest.mark.parametrize("module", ["_kernels", "_core", "_tape"])
def test_junk_never_crashes(module, tmp_path):
    path = tmp_path / "fuzz_boundaries.py"
    path.write_text(SCRIPT)
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    proc = subprocess.run([sys.executable, str(path), module], capture_output=True, text=True,
                          timeout=300, env=env)
    tail = "\n".join(proc.stdout.splitlines()[-3:]) + "\n" + proc.stderr[-3000:]
    assert proc.returncode == 0, "returncode %d after:\n%s" % (proc.returncode, tail)
    assert proc.stdout.splitlines()[-1].startswith("DONE"), tail
