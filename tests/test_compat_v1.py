"""TF 1.x signatures and idioms in tapegrad.compat.tf1 (issue 16).

Each test fails on the code before issue 16: the v1 signatures silently meant something
else (dropout's keep_prob, argmax's third argument, the optimizers' use_locking ...) or
the idiom did not exist.
"""

import io

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.compat.tf1 as tf

# ----------------------------------------------------------------------------- item 1


def test_dropout_second_positional_argument_is_keep_prob():
    x = tf.ones((200_000,))
    kept = np.count_nonzero(tf.nn.dropout(x, 0.9).numpy()) / x.shape[0]
    assert abs(kept - 0.9) < 0.01
    out = tf.nn.dropout(x, keep_prob=0.25, seed=3).numpy()
    assert abs(np.count_nonzero(out) / out.size - 0.25) < 0.01
    np.testing.assert_allclose(np.unique(out), [0.0, 4.0])
    kept = np.count_nonzero(tf.nn.dropout(x, rate=0.9).numpy()) / x.shape[0]
    assert abs(kept - 0.1) < 0.01
    np.testing.assert_array_equal(tf.nn.dropout(x, 1.0).numpy(), x.numpy())
    with pytest.raises(ValueError, match="both 'keep_prob' and 'rate'"):
        tf.nn.dropout(x, 0.5, rate=0.5)
    with pytest.raises(ValueError, match="keep_prob must be in"):
        tf.nn.dropout(x, 0.0)
    with pytest.raises(ValueError, match="keep_prob"):
        tf.nn.dropout(x)


def _xent_grads(fn):
    labels = tf.constant([[0.2, 0.8], [0.5, 0.5]], dtype=tf.float64)
    logits = tf.constant([[1.0, -1.0], [0.3, 0.1]], dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([labels, logits])
        loss = tf.reduce_sum(fn(labels=labels, logits=logits))
    return loss, tape.gradient(loss, [labels, logits])


def test_softmax_xent_v1_stops_the_gradient_to_labels():
    loss1, (gl1, gx1) = _xent_grads(tf.nn.softmax_cross_entropy_with_logits)
    loss2, (gl2, gx2) = _xent_grads(tf.nn.softmax_cross_entropy_with_logits_v2)
    assert float(loss1) == float(loss2)
    np.testing.assert_allclose(gx1.numpy(), gx2.numpy())
    assert gl1 is None
    assert gl2 is not None and np.abs(gl2.numpy()).sum() > 0
    with pytest.raises(ValueError, match="named arguments"):
        tf.nn.softmax_cross_entropy_with_logits([[1.0]], [[1.0]])
    out = tf.nn.softmax_cross_entropy_with_logits(labels=[[0.0, 1.0]], logits=[[0.0, 0.0]],
                                                  dim=-1)
    np.testing.assert_allclose(out.numpy(), [np.log(2)], rtol=1e-6)


def test_losses_take_the_tf1_positional_order():
    labels = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    preds = np.array([[0.5, 0.5], [0.0, 3.0]], np.float32)
    # 4th positional is scope in TF 1.x (tapegrad's own losses: reduction).
    mse = tf.losses.mean_squared_error(labels, preds, 1.0, "my_scope")
    np.testing.assert_allclose(float(mse), np.mean((preds - labels) ** 2), rtol=1e-6)
    absd = tf.losses.absolute_difference(labels, preds, 2.0, "s", None,
                                         tf.losses.Reduction.SUM)
    np.testing.assert_allclose(float(absd), 2 * np.sum(np.abs(preds - labels)), rtol=1e-6)
    ids = np.array([0, 1])
    sparse = tf.losses.sparse_softmax_cross_entropy(ids, preds, 1.0, "s")
    logp = preds - np.log(np.exp(preds).sum(1, keepdims=True))
    np.testing.assert_allclose(float(sparse), -np.mean(logp[[0, 1], ids]), rtol=1e-6)
    sig = tf.losses.sigmoid_cross_entropy(labels, preds, 1.0, 0, "s")
    ref = np.maximum(preds, 0) - preds * labels + np.log1p(np.exp(-np.abs(preds)))
    np.testing.assert_allclose(float(sig), ref.mean(), rtol=1e-6)
    huber = tf.losses.huber_loss(labels, preds, 1.0, 0.5, "s")
    err = np.abs(preds - labels)
    q = np.minimum(err, 0.5)
    np.testing.assert_allclose(float(huber), np.mean(0.5 * q * q + 0.5 * (err - q)), rtol=1e-6)


def test_losses_softmax_cross_entropy_stops_label_gradient():
    labels = tf.constant([[0.3, 0.7]])
    logits = tf.constant([[0.5, -0.5]])
    with tf.GradientTape() as tape:
        tape.watch([labels, logits])
        loss = tf.losses.softmax_cross_entropy(labels, logits)
    g_labels, g_logits = tape.gradient(loss, [labels, logits])
    assert g_labels is None and g_logits is not None


def test_moments_third_argument_is_shift_and_keep_dims():
    x = np.arange(12.0).reshape(3, 4)
    mean, var = tf.nn.moments(tf.constant(x), [0], None, "m", keep_dims=True)
    assert mean.shape == (1, 4) and var.shape == (1, 4)
    np.testing.assert_allclose(var.numpy(), x.var(0, keepdims=True))
    mean, _ = tf.nn.moments(tf.constant(x), [0], True)   # shift, not keepdims
    assert mean.shape == (4,)
    with pytest.raises(ValueError, match="both"):
        tf.nn.moments(tf.constant(x), [0], keep_dims=True, keepdims=True)


def test_reductions_accept_keep_dims_and_reduction_indices():
    x = np.arange(24.0).reshape(2, 3, 4)
    for name in ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod",
                 "reduce_logsumexp"]:
        out = getattr(tf, name)(x, reduction_indices=[1], keep_dims=True)
        assert out.shape == (2, 1, 4), name
        assert getattr(tf, name)(x, 1, True).shape == (2, 1, 4)
    np.testing.assert_allclose(tf.reduce_sum(x, reduction_indices=2).numpy(), x.sum(2))
    b = x > 5
    assert tf.reduce_any(b, reduction_indices=0, keep_dims=True).shape == (1, 3, 4)
    assert tf.reduce_all(b, keep_dims=True).shape == (1, 1, 1)
    assert int(tf.count_nonzero(x, reduction_indices=None)) == 23
    with pytest.raises(ValueError, match="both 'axis' and 'reduction_indices'"):
        tf.reduce_sum(x, axis=0, reduction_indices=0)
    with pytest.raises(ValueError, match="both 'keepdims' and 'keep_dims'"):
        tf.reduce_mean(x, keepdims=True, keep_dims=True)


def test_argmax_dimension_and_name_positional():
    x = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    np.testing.assert_array_equal(tf.argmax(x, dimension=1).numpy(), [1, 0])
    np.testing.assert_array_equal(tf.argmin(x, dimension=1).numpy(), [0, 1])
    out = tf.argmax(x, 1, "name")       # TF 1.x: third positional is name
    assert out.dtype == np.int64
    np.testing.assert_array_equal(tf.argmax(x).numpy(), [1, 0, 1])   # axis defaults to 0
    assert tf.argmax(x, 1, output_type=tf.int32).dtype == np.int32


def test_squeeze_expand_dims_concat_split_v1_names():
    x = tf.zeros((1, 3, 1))
    assert tf.squeeze(x, squeeze_dims=[0]).shape == (3, 1)
    assert tf.squeeze(x).shape == (3,)
    assert tf.expand_dims(tf.zeros((3,)), dim=0).shape == (1, 3)
    assert tf.expand_dims(tf.zeros((3,)), -1).shape == (3, 1)
    with pytest.raises(ValueError, match="both 'axis' and 'dim'"):
        tf.expand_dims(tf.zeros((3,)), 0, dim=0)
    assert tf.concat([tf.zeros((2, 1)), tf.ones((2, 2))], 1).shape == (2, 3)
    a, b = tf.split(tf.zeros((4, 6)), 2, 1)
    assert a.shape == b.shape == (4, 3)


def test_conv2d_and_pools_v1_keywords():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 5, 5, 2)).astype(np.float32)
    w = rng.standard_normal((3, 3, 2, 4)).astype(np.float32)
    ref = tg.nn.conv2d(x, w, strides=1, padding="SAME").numpy()
    np.testing.assert_allclose(tf.nn.conv2d(x, filter=w, strides=[1, 1, 1, 1],
                                            padding="SAME").numpy(), ref)
    # use_cudnn_on_gpu is the fifth positional argument, data_format the sixth
    np.testing.assert_allclose(tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME", True,
                                            "NHWC").numpy(), ref)
    with pytest.raises(ValueError, match="both 'filters' and 'filter'"):
        tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME", filters=w)
    pooled = tf.nn.max_pool(value=x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")
    np.testing.assert_allclose(pooled.numpy(), tg.nn.max_pool2d(x, 2, 2, "VALID").numpy())
    avg = tf.nn.avg_pool(x, [1, 2, 2, 1], [1, 1, 1, 1], "SAME")
    np.testing.assert_allclose(avg.numpy(), tg.nn.avg_pool2d(x, 2, 1, "SAME").numpy())


def test_nn_dim_aliases_bias_add_in_top_k_order():
    x = np.array([[1.0, 2.0], [3.0, 5.0]], np.float32)
    np.testing.assert_allclose(tf.nn.softmax(x, dim=0).numpy(),
                               np.exp(x) / np.exp(x).sum(0), rtol=1e-6)
    np.testing.assert_allclose(tf.nn.log_softmax(x, dim=0).numpy(),
                               x - np.log(np.exp(x).sum(0)), rtol=1e-6)
    np.testing.assert_allclose(tf.nn.l2_normalize(x, dim=1).numpy(),
                               x / np.linalg.norm(x, axis=1, keepdims=True), rtol=1e-6)
    nchw = np.zeros((1, 2, 3, 3), np.float32)
    out = tf.nn.bias_add(nchw, [1.0, 2.0], data_format="NCHW").numpy()
    np.testing.assert_array_equal(out[0, :, 0, 0], [1.0, 2.0])
    np.testing.assert_array_equal(tf.nn.bias_add(x, [1.0, -1.0]).numpy(), x + [1, -1])
    with pytest.raises(ValueError, match="bias_add"):
        tf.nn.bias_add(x, [1.0, 2.0, 3.0])
    # TF 1.x: predictions first
    np.testing.assert_array_equal(tf.nn.in_top_k(x, [1, 0], 1).numpy(), [True, False])
    np.testing.assert_array_equal(tg.nn.in_top_k([1, 0], x, 1).numpy(), [True, False])


def test_optimizers_take_use_locking_where_tf1_puts_it():
    opt = tf.train.GradientDescentOptimizer(0.1, False, "gd")
    assert opt.get_config()["name"] == "gd"
    mom = tf.train.MomentumOptimizer(0.1, 0.9, False, "mom", True)
    assert mom.use_nesterov is True and mom.get_config()["name"] == "mom"
    adam = tf.train.AdamOptimizer(0.01, 0.8, 0.99, 1e-6, True, "ad")
    assert (adam.beta1, adam.beta2, adam.epsilon) == (0.8, 0.99, 1e-6)
    rms = tf.train.RMSPropOptimizer(0.01, 0.9, 0.0, 1e-10, True)   # use_locking, not centered
    assert rms.get_config()["centered"] is False
    ada = tf.train.AdagradOptimizer(0.1, 0.2, use_locking=True)
    assert ada.initial_accumulator_value == 0.2
    assert isinstance(adam, tg.optimizers.Adam)
    v = tf.Variable([1.0])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(v * v)
    opt.apply_gradients(zip(tape.gradient(loss, [v]), [v]))
    np.testing.assert_allclose(v.numpy(), [0.8])


def test_assign_ops_accept_use_locking():
    v = tf.Variable([1.0, 2.0])
    tf.assign(v, [3.0, 4.0], use_locking=True)
    tf.assign_add(v, [1.0, 1.0], use_locking=True)
    tf.assign_sub(v, [0.5, 0.5], True)
    np.testing.assert_allclose(v.numpy(), [3.5, 4.5])
    v.assign([0.0, 0.0], use_locking=True)
    v.assign_add([1.0, 1.0], use_locking=False)
    np.testing.assert_allclose(v.numpy(), [1.0, 1.0])
    with pytest.raises(TypeError, match="ref must be a Variable"):
        tf.assign(tf.constant([1.0]), [2.0])


# ----------------------------------------------------------------------------- item 2


def test_dtype_objects():
    assert tf.float32.is_floating and not tf.float32.is_integer
    assert tf.int32.is_integer and not tf.int32.is_floating
    assert tf.uint8.is_unsigned and tf.bool.is_bool and not tf.float64.is_complex
    assert tf.float32.as_numpy_dtype is np.float32
    assert tf.float16.base_dtype is tf.float16
    assert tf.float64.name == "float64" and tf.float64.size == 8
    assert tf.int8.min == -128 and tf.int8.max == 127 and tf.uint8.max == 255
    assert tf.float16.max == float(np.finfo(np.float16).max)
    assert tf.as_dtype("float32") is tf.float32 and tf.as_dtype(np.int64) is tf.int64
    x = tf.constant([1.0])
    assert x.dtype == tf.float32 and tf.float32 == x.dtype and tf.float32 != tf.float64
    assert tf.as_dtype(x.dtype).is_floating
    assert np.zeros(2, tf.int32).dtype == np.int32
    assert tf.cast(x, tf.int32).dtype == np.int32
    assert {np.dtype("float32"): 1}[tf.float32] == 1 and {tf.float32: 2}[x.dtype] == 2
    assert repr(tf.float32) == "tg.float32" and str(tf.float32) == "float32"
    assert tg.float32 is tf.float32 and tf.DType is tg.DType
    with pytest.raises(TypeError, match="not a dtype"):
        tf.as_dtype("nonsense")
    with pytest.raises(TypeError, match="None is not a dtype"):
        tf.as_dtype(None)
    with pytest.raises(TypeError, match="not a tapegrad dtype"):
        tf.as_dtype(object)
    import copy
    import pickle
    assert copy.deepcopy(tf.float32) is tf.float32
    assert pickle.loads(pickle.dumps(tf.int64)) is tf.int64


def test_tensor_shape_idioms():
    x = tf.zeros((2, 3))
    assert x.shape.as_list() == [2, 3] and x.get_shape().as_list() == [2, 3]
    assert x.shape[1].value == 3 and x.get_shape()[0].value == 2
    assert tf.TensorShape([2, None]).merge_with(x.shape) == (2, 3)
    assert tf.TensorShape([2, 3]) == x.shape
    assert tf.Dimension(4).value == 4
    assert tf.dimension_value(x.shape[0]) == 2


def test_name_scope_and_variable_scope_prefix_variables():
    with tf.name_scope("outer"):
        with tf.variable_scope("inner", reuse=tf.AUTO_REUSE) as scope:
            v = tf.Variable(1.0, name="w")
            assert scope.name == "outer/inner" and scope.reuse is tf.AUTO_REUSE
            assert tf.get_variable_scope() is scope
        u = tf.Variable(1.0)
    assert v.name == "outer/inner/w:0" and u.name == "outer/Variable:0"
    assert tf.Variable(1.0, name="w").name == "w:0"
    with tf.variable_scope(scope):     # re-entering a captured scope
        assert tf.Variable(0.0, name="z").name == "outer/inner/z:0"
    with tf.variable_scope(None, default_name="blk", reuse=True):
        with tf.variable_scope("sub") as sub:
            assert sub.reuse is True   # inherited
    with tg.name_scope("native"):
        assert tg.Variable(0.0, name="n").name == "native/n:0"


def test_control_dependencies_is_an_eager_no_op():
    v = tf.Variable(1.0)
    with tf.control_dependencies([tf.assign_add(v, 1.0)]):
        y = v * 2
    assert float(y) == 4.0
    with tf.control_dependencies(None):
        pass


def test_map_fn_scan_folds_values_and_gradients():
    x = tf.constant(np.arange(1.0, 5.0).reshape(4, 1))
    np.testing.assert_allclose(tf.map_fn(lambda e: e * e, x).numpy(), x.numpy() ** 2)
    pair = tf.map_fn(lambda e: (e[0] + e[1], e[0] * e[1]), (x, x + 1))
    np.testing.assert_allclose(pair[1].numpy(), x.numpy() * (x.numpy() + 1))
    ints = tf.map_fn(lambda e: e * 2, tf.constant([1, 2]), dtype=tf.float32)
    assert ints.dtype == np.float32
    v = np.arange(1.0, 5.0)
    np.testing.assert_allclose(tf.scan(lambda a, e: a + e, v).numpy(), np.cumsum(v))
    two = tf.constant(2.0, dtype=tf.float64)
    np.testing.assert_allclose(tf.scan(lambda a, e: a * e, v, initializer=two,
                                       reverse=True).numpy(),
                               2 * np.cumprod(v[::-1])[::-1])
    assert float(tf.foldl(lambda a, e: a - e, v)) == 1 - 2 - 3 - 4
    assert float(tf.foldr(lambda a, e: a - e, v)) == 4 - 3 - 2 - 1
    assert float(tf.foldl(lambda a, e: a + e, v, initializer=10.0)) == 20.0
    # gradients through the loop, to second order
    tg.check_grads(lambda t: tf.scan(lambda a, e: a * e + tf.sin(e), t), [v], order=2)
    tg.check_grads(lambda t: tf.map_fn(lambda e: tf.tanh(e) * e, t), [v], order=2)
    with pytest.raises(ValueError, match="map_fn"):
        tf.map_fn(lambda e: e, tf.zeros((0, 2)))
    with pytest.raises(ValueError, match="first dimension"):
        tf.map_fn(lambda e: e, (tf.zeros((2,)), tf.zeros((3,))))


def test_casts_print_and_nn_extras():
    x = tf.constant([1.7, -2.2])
    assert tf.to_float(tf.constant([1])).dtype == np.float32
    assert tf.to_double(x).dtype == np.float64
    np.testing.assert_array_equal(tf.to_int32(x).numpy(), [1, -2])
    assert tf.to_int64(x).dtype == np.int64
    buf = io.StringIO()
    tf.print("value:", tf.constant([1, 2, 3]), output_stream=buf)
    assert buf.getvalue() == "value: [1 2 3]\n"
    buf = io.StringIO()
    tg.print(tg.constant(np.arange(10)), output_stream=buf, summarize=2)
    assert buf.getvalue() == "[0 1 ... 8 9]\n"
    for name in ["selu", "gelu", "swish", "silu", "leaky_relu", "elu", "relu6", "log_softmax",
                 "l2_normalize", "embedding_lookup", "in_top_k", "bias_add"]:
        assert callable(getattr(tf.nn, name)), name
    ids = tf.nn.embedding_lookup([tf.constant([[0.0], [2.0]]), tf.constant([[1.0]])], [0, 1, 2],
                                 partition_strategy="mod")
    np.testing.assert_array_equal(ids.numpy(), [[0.0], [1.0], [2.0]])
    ids = tf.nn.embedding_lookup([tf.constant([[0.0], [1.0]]), tf.constant([[2.0]])], [0, 1, 2],
                                 partition_strategy="div")
    np.testing.assert_array_equal(ids.numpy(), [[0.0], [1.0], [2.0]])


def test_functional_layers_create_variables_once_per_name_or_call_site():
    x = tf.ones((2, 3))
    names = []
    for _ in range(3):
        with tf.GradientTape() as tape:
            tf.layers.dense(x, 4, name="fc_test")
            tf.layers.dense(x, 2)
        names.append(sorted(v.name for v in tape.watched_variables()))
    assert names[0] == names[1] == names[2] and len(names[0]) == 4
    assert tf.layers.get_layer("fc_test").units == 4
    with pytest.raises(ValueError, match="already exists"):
        tf.layers.dense(x, 4, name="fc_test", reuse=False)
    with pytest.raises(ValueError, match="created with"):
        tf.layers.dense(x, 5, name="fc_test")
    with tf.variable_scope("blk"):
        conv = tf.layers.conv2d(tf.ones((1, 4, 4, 1)), 2, 3, padding="same", name="c")
    assert conv.shape == (1, 4, 4, 2)
    assert tf.layers.get_layer("blk/c").variables[0].name.startswith("blk/c/")
    pooled = tf.layers.max_pooling2d(conv, 2, 2)
    assert tf.layers.flatten(pooled).shape == (1, 8)
    assert tf.layers.average_pooling2d(conv, 2, 2).shape == (1, 2, 2, 2)
    np.testing.assert_array_equal(tf.layers.dropout(x, 0.5).numpy(), x.numpy())
    assert np.count_nonzero(tf.layers.dropout(tf.ones((1000,)), 0.5, training=True).numpy()) < 700
    # and a loop trains
    opt = tf.train.GradientDescentOptimizer(0.1)
    target = tf.constant([[1.0], [1.0]])
    losses = []
    for _ in range(20):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.layers.dense(x, 1, name="fit_me") - target))
        variables = tape.watched_variables()
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        losses.append(float(loss))
    assert losses[-1] < 0.1 * losses[0]
    tf.keras.backend.clear_session()
    with pytest.raises(KeyError):
        tf.layers.get_layer("fit_me")


def test_keras_namespaces():
    k = tf.keras
    adam = k.optimizers.Adam(0.01, beta_1=0.8, beta_2=0.9)
    assert isinstance(adam, tg.optimizers.Adam) and adam.beta1 == 0.8
    assert isinstance(k.optimizers.SGD(0.1, momentum=0.9), tg.optimizers.Momentum)
    assert isinstance(k.optimizers.SGD(0.1), tg.optimizers.GradientDescent)
    assert isinstance(k.optimizers.RMSprop(), tg.optimizers.RMSProp)
    y_true = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
    y_pred = np.array([[0.2, 0.8], [0.6, 0.4]], np.float32)
    np.testing.assert_allclose(k.losses.mean_squared_error(y_true, y_pred).numpy(),
                               np.mean((y_true - y_pred) ** 2, -1), rtol=1e-6)
    np.testing.assert_allclose(k.losses.categorical_crossentropy(y_true, y_pred).numpy(),
                               -np.sum(y_true * np.log(y_pred), -1), rtol=1e-5)
    np.testing.assert_allclose(
        k.losses.sparse_categorical_crossentropy([1, 0], y_pred).numpy(),
        -np.log([0.8, 0.6]), rtol=1e-5)
    np.testing.assert_allclose(
        k.losses.binary_crossentropy(y_true, y_pred).numpy(),
        -np.mean(y_true * np.log(y_pred) + (1 - y_true) * np.log(1 - y_pred), -1), rtol=1e-5)
    assert k.losses.get("mse") is k.losses.mean_squared_error
    per_example = -np.log([0.8, 0.6])
    scce = k.losses.SparseCategoricalCrossentropy()
    np.testing.assert_allclose(float(scce([1, 0], y_pred)), per_example.mean(), rtol=1e-5)
    np.testing.assert_allclose(float(scce([1, 0], y_pred, sample_weight=[1.0, 0.0])),
                               per_example[0] / 2, rtol=1e-5)
    logits = np.log(y_pred)
    np.testing.assert_allclose(
        k.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")(
            [1, 0], logits).numpy(), per_example, rtol=1e-5)
    np.testing.assert_allclose(float(k.losses.MeanSquaredError(reduction="sum")(y_true, y_pred)),
                               np.sum(np.mean((y_true - y_pred) ** 2, -1)), rtol=1e-6)
    with pytest.raises(ValueError, match="reduction"):
        k.losses.MeanSquaredError(reduction="mean")
    np.testing.assert_array_equal(k.activations.relu(tf.constant([-1.0, 2.0])).numpy(), [0, 2])
    assert k.activations.get("selu") is not None
    b = k.backend
    assert b.epsilon() == 1e-7 and b.floatx() == "float32"
    v = tf.Variable([1.0, 2.0])
    b.set_value(v, [3.0, 4.0])
    np.testing.assert_array_equal(b.get_value(v), [3.0, 4.0])
    assert b.int_shape(v) == (2,) and b.ndim(v) == 1 and b.learning_phase() == 0
    np.testing.assert_array_equal(b.shape(tf.zeros((2, 5))).numpy(), [2, 5])
    b.set_floatx("float64")
    try:
        assert tg.layers.Dense(1).dtype == np.float64
    finally:
        b.set_floatx("float32")
    assert tg.layers.Dense(1).dtype == np.float32
    with pytest.raises(ValueError, match="set_floatx"):
        b.set_floatx("int32")
    for pending in ["callbacks", "regularizers", "constraints"]:
        try:
            module = getattr(k, pending)
        except AttributeError as e:
            assert "not available yet" in str(e) and "tapegrad.%s" % pending in str(e)
        else:
            assert module.__name__ == "tapegrad.%s" % pending


# ----------------------------------------------------------------------------- item 4


@pytest.mark.parametrize("path", ["placeholder", "Session", "global_variables_initializer",
                                  "get_default_graph", "gradients", "train.Saver",
                                  "contrib.summary.all_summary_ops"])
def test_graph_only_names_say_so(path):
    obj = tf
    with pytest.raises(AttributeError, match="graph-only TF 1.x API with no eager counterpart"):
        for part in path.split("."):
            obj = getattr(obj, part)


@pytest.mark.parametrize("path", ["some_unknown", "train.SomethingNew", "keras.nonexistent"])
def test_unknown_names_say_not_implemented_yet(path):
    obj = tf
    with pytest.raises(AttributeError, match="not implemented in tapegrad.compat.tf1 yet"):
        for part in path.split("."):
            obj = getattr(obj, part)


# ----------------------------------------------------------------------------- item 5


def _scalars(logdir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logdir))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    return {t: [e.step for e in acc.Scalars(t)] for t in tags}


def test_contrib_summary_records_only_inside_a_record_scope(tmp_path):
    pytest.importorskip("tensorboard")
    writer = tf.contrib.summary.create_file_writer(str(tmp_path / "v1"))
    with writer.as_default():
        assert tf.contrib.summary.scalar("outside", 1.0, step=0) is False
        assert not tf.contrib.summary.should_record_summaries()
        with tf.contrib.summary.always_record_summaries():
            assert tf.contrib.summary.should_record_summaries()
            assert tf.contrib.summary.scalar("inside", 2.0, step=1)
        with tf.contrib.summary.never_record_summaries():
            assert not tf.contrib.summary.scalar("never", 2.0, step=1)
        step = tf.Variable(0, dtype=tf.int64)
        with tf.contrib.summary.record_summaries_every_n_global_steps(2, step):
            for i in range(4):
                tf.contrib.summary.scalar("every2", float(i), step=i)
                step.assign_add(1)
        assert tf.contrib.summary.histogram("after", [1.0, 2.0], step=5) is False
    writer.close()
    assert _scalars(tmp_path / "v1") == {"inside": [1], "every2": [0, 2]}
    # tapegrad's own tg.summary records by default (TF 2)
    native = tg.summary.create_file_writer(str(tmp_path / "v2"))
    with native.as_default():
        assert tg.summary.scalar("default", 1.0, step=0)
    native.close()
    assert _scalars(tmp_path / "v2") == {"default": [0]}


def test_ops_whose_tf1_positional_name_comes_early():
    x = tf.constant(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(tf.transpose(x, [1, 0], "t").numpy(), x.numpy().T)
    # TF 1.x: gather's third positional is validate_indices, not axis
    np.testing.assert_array_equal(tf.gather(x, [1], True).numpy(), x.numpy()[[1]])
    np.testing.assert_array_equal(tf.gather(x, [2], axis=1).numpy(), x.numpy()[:, [2]])
    padded = tf.pad(x, [[1, 0], [0, 0]], "CONSTANT", "p", constant_values=7.0).numpy()
    np.testing.assert_array_equal(padded[0], [7.0, 7.0, 7.0])
    np.testing.assert_array_equal(tf.shape(x, "s").numpy(), [2, 3])
    assert tf.shape(x, out_type=tf.int64).dtype == np.int64
    assert int(tf.size(x, "n")) == 6
    np.testing.assert_allclose(tf.norm(x, axis=1, keep_dims=True).numpy(),
                               np.linalg.norm(x.numpy(), axis=1, keepdims=True))
    lr = tf.train.exponential_decay(0.1, 10, 5, 0.5, True, name="decay")
    assert abs(float(lr()) - 0.025) < 1e-9


def test_functional_batch_normalization_and_layer_classes():
    x = tf.constant(np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32) * 3 + 1)
    train = tf.layers.batch_normalization(x, training=True, name="bn_test").numpy()
    np.testing.assert_allclose(train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(train.std(0), 1, atol=1e-2)
    layer = tf.layers.get_layer("bn_test")
    assert not np.allclose(np.asarray(layer.moving_mean), 0)   # the training call updated it
    infer = tf.layers.batch_normalization(x, name="bn_test").numpy()   # same layer, inference
    assert not np.allclose(infer, train)
    with pytest.raises(NotImplementedError, match="kernel_regularizer"):
        tf.layers.dense(x, 2, kernel_regularizer=lambda w: w)
    assert tf.layers.Dense is tg.layers.Dense and tf.layers.Conv2D is tg.layers.Conv2D
