"""tg.metrics: running results, weights, resets, state in variables."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import tracking


def test_guide_mean_example():
    m = tg.metrics.Mean("loss")
    m(0)
    m(5)
    assert float(m.result()) == 2.5
    m([8, 9])
    assert float(m.result()) == 5.5
    assert m.name == "loss"


def test_mean_accepts_tensors_and_weights():
    m = tg.metrics.Mean()
    m.update_state(tg.constant([1.0, 2.0, 3.0]), weights=[1.0, 0.0, 3.0])
    np.testing.assert_allclose(float(m.result()), (1 + 9) / 4)
    m(tg.constant(4.0))
    np.testing.assert_allclose(float(m.result()), (1 + 9 + 4) / 5)
    with pytest.raises(ValueError, match="weights of shape"):
        m.update_state([1.0, 2.0], weights=[1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="numeric"):
        m.update_state(np.array(["a"]))


def test_empty_mean_is_zero_and_reset():
    m = tg.metrics.Mean()
    assert float(m.result()) == 0.0
    m([1.0, 3.0])
    m.reset_states()
    assert float(m.result()) == 0.0
    m(10.0)
    assert float(m.result()) == 10.0
    m.reset_state()
    assert float(m.total.numpy()) == 0.0 and float(m.count.numpy()) == 0.0


def test_sum():
    s = tg.metrics.Sum()
    s([1, 2, 3])
    s(tg.constant([[0.5, 0.5]]))
    assert float(s.result()) == 7.0
    s([2.0, 2.0], weights=[0.0, 1.0])
    assert float(s.result()) == 9.0


def test_accuracy():
    acc = tg.metrics.Accuracy()
    acc([1, 2, 3, 4], [1, 2, 0, 4])
    np.testing.assert_allclose(float(acc.result()), 0.75)
    acc(tg.constant([0, 0], dtype=tg.int64), tg.constant([1, 0], dtype=tg.int32))
    np.testing.assert_allclose(float(acc.result()), 4 / 6)
    with pytest.raises(ValueError, match="labels shape"):
        acc([1, 2], [1, 2, 3])


def test_sparse_categorical_accuracy():
    m = tg.metrics.SparseCategoricalAccuracy()
    logits = np.array([[0.1, 0.9, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 5.0]], dtype=np.float32)
    m(np.array([1, 1, 2]), tg.constant(logits))
    np.testing.assert_allclose(float(m.result()), 2 / 3)
    m(np.array([[0]]), logits[1:2])  # labels with a trailing axis of 1
    np.testing.assert_allclose(float(m.result()), 3 / 4)
    with pytest.raises(ValueError, match="without its last"):
        m(np.array([1, 2]), logits)


def test_categorical_accuracy():
    m = tg.metrics.CategoricalAccuracy()
    m(np.eye(3)[[0, 2]], np.array([[0.5, 0.2, 0.3], [0.6, 0.3, 0.1]]))
    np.testing.assert_allclose(float(m.result()), 0.5)


def test_state_is_in_non_trainable_variables_known_to_checkpoints():
    m = tg.metrics.Mean("loss")
    m([1.0, 2.0])
    assert len(m.variables) == 2
    assert all(isinstance(v, tg.Variable) and not v.trainable for v in m.variables)
    assert set(tracking.named_variables(m)) == {"total", "count"}
    children = m._checkpoint_children()
    assert children["total"] is m.total and children["count"] is m.count
    # Restoring the variables restores the running result.
    m.total.assign(np.float64(30.0))
    m.count.assign(np.float64(4.0))
    assert float(m.result()) == 7.5


def test_dtype_is_float64_by_default_and_configurable():
    assert tg.metrics.Mean().result().dtype == np.float64
    m = tg.metrics.Mean(dtype=tg.float32)
    m([1.0])
    assert m.result().dtype == np.float32
    with pytest.raises(TypeError, match="floating"):
        tg.metrics.Mean(dtype=tg.int32)
