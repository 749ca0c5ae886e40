"""Fuzzing the public API beyond the ops: bugs it found in valid calls (REFLECT padding in
a fresh process, gather_nd with one full index, byte-swapped arrays in tapegrad.numpy,
recurrent layers on an empty batch) and junk arguments that raised errors not naming
the API that was called.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_reflect_and_symmetric_pad_work_in_a_fresh_process():
    # ops/manip.py (a deferred family) installs these modes; before the fix a process that
    # had not imported it raised "'NoneType' object is not callable"
    code = ("import tapegrad as tg\n"
            "x = tg.reshape(tg.range(6.0), [2, 3])\n"
            "print(tg.pad(x, [[1, 1], [2, 2]], mode='REFLECT').numpy().tolist())\n"
            "print(tg.pad(x, [[1, 0], [0, 1]], mode='SYMMETRIC').numpy().tolist())\n")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    x = np.arange(6.0).reshape(2, 3)
    assert out.stdout.splitlines() == [
        str(np.pad(x, [[1, 1], [2, 2]], mode="reflect").tolist()),
        str(np.pad(x, [[1, 0], [0, 1]], mode="symmetric").tolist())]


def test_gather_nd_with_one_full_index_gives_a_scalar():
    a = np.arange(6.0).reshape(2, 3)
    assert tg.gather_nd(a, [1, 2]).numpy() == 5.0
    assert tg.gather_nd(tg.constant(a, tg.int32), [0, 1]).numpy() == 1
    v = tg.Variable(a)
    with tg.GradientTape() as tape:
        y = 3.0 * tg.gather_nd(v, [1, 2])
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), [[0, 0, 0], [0, 0, 3]])


@pytest.mark.parametrize("fn", [
    lambda a: tnp.sum(a, axis=0), lambda a: tnp.sort(a, axis=1),
    lambda a: tnp.cumsum(a, axis=1), lambda a: tnp.asarray(a) * 2])
def test_tnp_accepts_byte_swapped_arrays(fn):
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(fn(a.astype(">f8")).numpy(), fn(a).numpy())


@pytest.mark.parametrize("layer", [tg.layers.LSTM, tg.layers.GRU, tg.layers.SimpleRNN])
@pytest.mark.parametrize("seq", [False, True])
def test_recurrent_layers_on_an_empty_batch(layer, seq):
    out = layer(3, return_sequences=seq)(tg.ones((0, 5, 4)))
    assert out.shape == ((0, 5, 3) if seq else (0, 3))


@pytest.mark.parametrize("layer", [tg.layers.LSTM, tg.layers.GRU, tg.layers.SimpleRNN])
def test_recurrent_layer_rejects_another_feature_size(layer):
    rnn = layer(3)
    rnn(tg.ones((2, 5, 4)))
    with pytest.raises(ValueError, match=layer.__name__ + ".*4 features"):
        rnn(tg.ones((2, 5, 7)))


def _grad_with_seed(seed):
    v = tg.Variable(tg.ones((2,)))
    with tg.GradientTape() as tape:
        y = v * v
    return tape.gradient(y, v, output_gradients=seed)


def _adam_apply(arg):
    return tg.optimizers.Adam(0.1).apply_gradients(arg)


CASES = [
    ("grad str argnums", lambda: tg.grad(lambda x: x, argnums="a"), TypeError, "grad"),
    ("grad negative argnums", lambda: tg.grad(lambda x: x, argnums=-1), TypeError, "grad"),
    ("custom_gradient without grad_fn",
     lambda: tg.grad(tg.custom_gradient(lambda x: x * 2))(tg.constant(1.0)), TypeError,
     "custom_gradient"),
    ("set_seed str", lambda: tg.random.set_seed("a"), TypeError, "set_seed"),
    ("set_seed negative", lambda: tg.random.set_seed(-1), ValueError, "set_seed"),
    ("set_seed float", lambda: tg.random.set_seed(1.5), TypeError, "set_seed"),
    ("normal str seed", lambda: tg.random.normal([2], seed="a"), TypeError, "random.normal"),
    ("einsum two arrows", lambda: tg.einsum("ij->ij->ij", tg.ones((2, 3))), ValueError,
     "einsum"),
    ("shape junk out_type", lambda: tg.shape(tg.ones((2,)), out_type="junk"), TypeError,
     "shape"),
    ("size float out_type", lambda: tg.size(tg.ones((2,)), out_type=tg.float32), TypeError,
     "size"),
    ("scatter_nd float shape", lambda: tg.scatter_nd([[0]], [1.0], [3.5]), TypeError,
     "scatter_nd"),
    ("scatter_nd huge shape",
     lambda: tg.scatter_nd([[0], [0]], tg.ones((2, 3)), [2 ** 40, 3]), MemoryError,
     "scatter_nd"),
    ("segment_sum huge id",
     lambda: tg.segment_sum(tg.ones((2, 3)), tg.constant([0, 2 ** 63 - 1])), ValueError,
     "segment_sum"),
    ("unsorted_segment_max huge num_segments",
     lambda: tg.unsorted_segment_max(tg.ones((3, 2)), [0, 0, 0], 2 ** 40), MemoryError,
     "unsorted_segment_max"),
    ("bincount huge value", lambda: tg.math.bincount([2 ** 40]), MemoryError, "bincount"),
    ("linspace huge num", lambda: tg.linspace(0.0, 1.0, 2 ** 40), MemoryError, "linspace"),
    ("linspace vector start", lambda: tg.linspace(np.ones((3, 4)), 3.0, 3), TypeError,
     "linspace"),
    ("range matrix", lambda: tg.range(tg.ones((2, 2))), TypeError, "range"),
    ("dropout None rate", lambda: tg.nn.dropout(tg.ones((2,)), None), TypeError, "dropout"),
    ("dropout str rate", lambda: tg.nn.dropout(tg.ones((2,)), "a"), TypeError, "dropout"),
    ("LayerNormalization scalar", lambda: tg.layers.LayerNormalization()(tg.constant(1.0)),
     ValueError, "LayerNormalization"),
    ("apply_gradients int", lambda: _adam_apply(5), TypeError, "Adam.apply_gradients"),
    ("apply_gradients str", lambda: _adam_apply("ab"), TypeError, "Adam.apply_gradients"),
    ("Dataset.reduce junk fn", lambda: tg.data.Dataset.range(3).reduce(0, 5), TypeError,
     "reduce"),
    ("tg.function int passes", lambda: tg.function(lambda x: x, passes=5), TypeError,
     "tg.function"),
    ("loss str y_true", lambda: tg.losses.MeanSquaredError()("a", tg.ones((2, 4))),
     TypeError, "loss"),
    ("Checkpoint.restore int", lambda: tg.train.Checkpoint().restore(5), TypeError,
     "Checkpoint.restore"),
    ("Checkpoint.save int", lambda: tg.train.Checkpoint().save(5), TypeError,
     "Checkpoint.save"),
    ("Checkpoint.write None", lambda: tg.train.Checkpoint().write(None), TypeError,
     "Checkpoint.write"),
    ("latest_checkpoint int", lambda: tg.train.latest_checkpoint(5), TypeError,
     "latest_checkpoint"),
    ("output_gradients of another shape", lambda: _grad_with_seed(tg.ones((5,))), ValueError,
     "gradient: output_gradients"),
    ("scatter_nd ragged indices", lambda: tg.scatter_nd([[1, 2], [3]], [1.0, 2.0], [4, 4]),
     ValueError, "scatter_nd"),
    # layer arguments: floats are not truncated, negative sizes are caught up front
    ("Reshape float target", lambda: tg.layers.Reshape((2.5,)), TypeError, "Reshape"),
    ("Softmax float axis", lambda: tg.layers.Softmax(axis=1.5), TypeError, "Softmax"),
    ("Concatenate float axis", lambda: tg.layers.Concatenate(axis=1.5), TypeError,
     "Concatenate"),
    ("UpSampling2D float size", lambda: tg.layers.UpSampling2D(1.5), ValueError,
     "UpSampling2D"),
    ("UpSampling2D three sizes", lambda: tg.layers.UpSampling2D((1, 2, 3)), ValueError,
     "UpSampling2D"),
    ("ZeroPadding2D float", lambda: tg.layers.ZeroPadding2D(1.5), TypeError,
     "ZeroPadding2D"),
    ("ZeroPadding2D negative", lambda: tg.layers.ZeroPadding2D(-1), ValueError,
     "ZeroPadding2D"),
    ("Cropping2D float pair", lambda: tg.layers.Cropping2D(((1.5, 1), (1, 1))), TypeError,
     "Cropping2D"),
    ("tnp.arange None", lambda: tnp.arange(None), TypeError, "tapegrad.numpy.arange"),
    ("LeakyReLU str alpha", lambda: tg.layers.LeakyReLU(alpha="a"), TypeError, "LeakyReLU"),
]


@pytest.mark.parametrize("label, call, exc, name", CASES, ids=[c[0] for c in CASES])
def test_junk_raises_naming_the_api(label, call, exc, name):
    with pytest.raises(exc) as info:
        call()
    assert name in str(info.value), str(info.value)


def test_valid_forms_still_work():
    tg.random.set_seed(3)
    assert tg.random.normal([2], seed=-4).shape == (2,)        # op seeds may be negative
    assert tg.random.uniform([2], seed=tg.constant(5)).shape == (2,)
    assert tg.shape(tg.ones((2, 3)), out_type=tg.int64).numpy().tolist() == [2, 3]
    assert tg.scatter_nd([[1]], [5.0], tg.constant([3])).numpy().tolist() == [0, 5, 0]
    assert tg.linspace(tg.constant(0.0), tg.constant(2.0), 3).numpy().tolist() == [0, 1, 2]
    assert tg.data.Dataset.range(4).reduce(0, lambda s, x: s + x).numpy() == 6
    g = tg.grad(lambda x, y: x * y, argnums=(0, 1))(tg.constant(2.0), tg.constant(3.0))
    assert [t.numpy() for t in g] == [3.0, 2.0]
    x = tg.ones((1, 2, 2, 1))
    assert tg.layers.ZeroPadding2D((1, 2))(x).shape == (1, 4, 6, 1)
    assert tg.layers.ZeroPadding2D(((1, 0), (0, 2)))(x).shape == (1, 3, 4, 1)
    assert tg.layers.UpSampling2D((np.int64(1), 2))(x).shape == (1, 2, 4, 1)
    assert tg.layers.Reshape((np.int64(4),))(tg.ones((1, 2, 2))).shape == (1, 4)


def test_unbatch_of_scalars_has_a_repr_and_raises_when_iterated():
    ds = tg.data.Dataset.range(3).unbatch()
    assert "unknown" in repr(ds)
    with pytest.raises(ValueError, match="unbatch"):
        list(ds)


def test_paths_below_a_file_name_the_call_and_write_nothing(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("")
    ckpt = tg.train.Checkpoint(v=tg.Variable(1.0))
    with pytest.raises(FileExistsError, match="Checkpoint.write: cannot create the directory"):
        ckpt.save(str(blocker / "ck"))
    assert int(ckpt.save_counter.numpy()) == 0          # a failed save keeps its number
    with pytest.raises(FileExistsError, match="create_file_writer: cannot open an event"):
        tg.summary.create_file_writer(str(blocker))
    assert sorted(os.listdir(tmp_path)) == ["afile"]
