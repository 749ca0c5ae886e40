"""Every code sample of the eager execution guide, run through ``tapegrad.compat.tf1``.

The samples are copied as the guide writes them (two-space indents included); the only
change is the import, ``import tapegrad.compat.tf1 as tf`` for ``import tensorflow as
tf``.  Where a sample cannot run as written, the test says why and changes as little as
possible: the MNIST loop trains for 200 steps on real digits from the shipped slice
instead of 7,500 on the full set, the matmul benchmark uses fewer and smaller steps, the
checkpoint directory is a temporary one, and ``tfe.py_func`` is called eagerly (there is
no ``tf.Session``: tapegrad has no graphs).  Printed output is captured and checked
against the values the guide shows.
"""

import os
import re
import sys
import types

import numpy as np
import pytest

import tapegrad as tg
from _guide_common import FLOAT, _fresh_state, _lines, needs_gpu, tf, tfe  # noqa: F401
from tapegrad.train import global_step as global_step_module

# ----------------------------------------------------------------------------- setup


def test_setup_and_basic_usage(capsys):
    tf.enable_eager_execution()
    tf.enable_eager_execution()  # idempotent

    assert tf.executing_eagerly()        # => True

    x = [[2.]]
    m = tf.matmul(x, x)
    print("hello, {}".format(m))  # => "hello, [[4.]]"

    assert _lines(capsys) == ["hello, [[4.]]"]
    assert m.dtype == tf.float32


def test_numpy_interop(capsys):
    a = tf.constant([[1, 2],
                     [3, 4]])
    print(a)
    # => tf.Tensor([[1 2]
    #               [3 4]], shape=(2, 2), dtype=int32)

    # Broadcasting support
    b = tf.add(a, 1)
    print(b)
    # => tf.Tensor([[2 3]
    #               [4 5]], shape=(2, 2), dtype=int32)

    # Operator overloading is supported
    print(a * b)
    # => tf.Tensor([[ 2  6]
    #               [12 20]], shape=(2, 2), dtype=int32)

    # Use NumPy values
    import numpy as np

    c = np.multiply(a, b)
    print(c)
    # => [[ 2  6]
    #     [12 20]]

    # Obtain numpy value from a tensor:
    print(a.numpy())
    # => [[1 2]
    #     [3 4]]

    assert _lines(capsys) == [
        "tg.Tensor([[1 2]", "           [3 4]], shape=(2, 2), dtype=int32)",
        "tg.Tensor([[2 3]", "           [4 5]], shape=(2, 2), dtype=int32)",
        "tg.Tensor([[ 2  6]", "           [12 20]], shape=(2, 2), dtype=int32)",
        "[[ 2  6]", " [12 20]]",
        "[[1 2]", " [3 4]]",
    ]
    assert type(c) is np.ndarray and c.dtype == np.int32


def test_contrib_eager_namespace():
    tfe = tf.contrib.eager
    assert tfe.Variable is tg.Variable
    assert tfe.gradients_function is tg.gradients_function
    assert tfe.num_gpus() == tg.num_gpus()


# ----------------------------------------------------------------------------- control flow


def fizzbuzz(max_num):
  counter = tf.constant(0)
  max_num = tf.convert_to_tensor(max_num)
  for num in range(max_num.numpy()):
    num = tf.constant(num)
    if int(num % 3) == 0 and int(num % 5) == 0:
      print('FizzBuzz')
    elif int(num % 3) == 0:
      print('Fizz')
    elif int(num % 5) == 0:
      print('Buzz')
    else:
      print(num)
    counter += 1
  return counter


def test_fizzbuzz(capsys):
    counter = fizzbuzz(15)
    expected = []
    for n in range(15):
        if n % 15 == 0:
            expected.append("FizzBuzz")
        elif n % 3 == 0:
            expected.append("Fizz")
        elif n % 5 == 0:
            expected.append("Buzz")
        else:
            expected.append("tg.Tensor(%d, shape=(), dtype=int32)" % n)
    assert _lines(capsys) == expected
    assert int(counter) == 15 and counter.dtype == tf.int32


# ----------------------------------------------------------------------------- models


class MySimpleLayer(tf.keras.layers.Layer):
  def __init__(self, output_units):
    super(MySimpleLayer, self).__init__()
    self.output_units = output_units

  def build(self, input_shape):
    # The build method gets called the first time your layer is used.
    # Creating variables on build() allows you to make their shape depend
    # on the input shape and hence removes the need for the user to specify
    # full shapes. It is possible to create variables during __init__() if
    # you already know their full shapes.
    self.kernel = self.add_variable(
      "kernel", [input_shape[-1], self.output_units])

  def call(self, input):
    # Override call() instead of __call__ so we can perform some bookkeeping.
    return tf.matmul(input, self.kernel)


class MNISTModel(tf.keras.Model):
  def __init__(self):
    super(MNISTModel, self).__init__()
    self.dense1 = tf.keras.layers.Dense(units=10)
    self.dense2 = tf.keras.layers.Dense(units=10)

  def call(self, input):
    """Run the model."""
    result = self.dense1(input)
    result = self.dense2(result)
    result = self.dense2(result)  # reuse variables from dense2 layer
    return result


def test_custom_layer():
    layer = MySimpleLayer(3)
    x = np.arange(10, dtype=np.float32).reshape(2, 5)
    y = layer(x)
    assert layer.kernel.shape == (5, 3)
    np.testing.assert_allclose(y.numpy(), x @ layer.kernel.numpy(), rtol=1e-5)
    assert len(layer.trainable_variables) == 1


def test_sequential_model():
    model = tf.keras.Sequential([
      tf.keras.layers.Dense(10, input_shape=(784,)),  # must declare input shape
      tf.keras.layers.Dense(10)
    ])

    # The input shape was declared, so the variables exist before the first call.
    assert [tuple(v.shape) for v in model.variables] == [(784, 10), (10,), (10, 10), (10,)]
    x = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    (k1, b1), (k2, b2) = ((model.variables[i].numpy(), model.variables[i + 1].numpy())
                          for i in (0, 2))
    np.testing.assert_allclose(model(x).numpy(), (x @ k1 + b1) @ k2 + b2, rtol=1e-4,
                               atol=1e-5)


def test_mnist_model_blank_image(capsys):
    model = MNISTModel()
    assert model.variables == []  # built on first call

    # Create a tensor representing a blank image
    batch = tf.zeros([1, 1, 784])
    print(batch.shape)  # => (1, 1, 784)

    result = model(batch)
    # => tf.Tensor([[[ 0.  0., ..., 0.]]], shape=(1, 1, 10), dtype=float32)

    assert _lines(capsys) == ["(1, 1, 784)"]
    assert result.shape == (1, 1, 10) and result.dtype == tf.float32
    # Biases start at zero, so a blank image maps to zeros, as the guide shows.
    np.testing.assert_array_equal(result.numpy(), np.zeros((1, 1, 10), np.float32))
    # dense2 is used twice but owns one kernel and one bias.
    assert [tuple(v.shape) for v in model.variables] == [(784, 10), (10,), (10, 10), (10,)]


# ----------------------------------------------------------------------------- gradients


def test_gradient_tape(capsys):
    w = tfe.Variable([[1.0]])
    with tf.GradientTape() as tape:
      loss = w * w

    grad = tape.gradient(loss, w)
    print(grad)  # => tf.Tensor([[ 2.]], shape=(1, 1), dtype=float32)

    assert _lines(capsys) == ["tg.Tensor([[2.]], shape=(1, 1), dtype=float32)"]
    with pytest.raises(RuntimeError, match="only be called once"):
        tape.gradient(loss, w)


def _check_regression_trace(lines, steps, final_loss_max, w_tol, b_tol):
    initial = float(re.fullmatch(r"Initial loss: " + FLOAT, lines[0]).group(1))
    trace = []
    for i, line in zip(range(0, steps, 20), lines[1:]):
        m = re.fullmatch(r"Loss at step (\d{3}): " + FLOAT, line)
        assert m is not None, line
        assert int(m.group(1)) == i
        trace.append(float(m.group(2)))
    assert len(trace) == len(range(0, steps, 20))
    final = float(re.fullmatch(r"Final loss: " + FLOAT, lines[-2]).group(1))
    m = re.fullmatch(r"W = " + FLOAT + r", B = " + FLOAT, lines[-1])
    w, b = float(m.group(1)), float(m.group(2))
    # The data is y = 3x + 2 + N(0, 1) with x ~ N(0, 1), starting from W = 5, B = 10:
    # the expected initial loss is (5-3)^2 + (10-2)^2 + 1 = 69.
    assert 59 < initial < 79
    assert all(later < earlier for earlier, later in zip(trace, trace[1:]))
    assert trace[0] < initial and final <= trace[-1]
    assert final < final_loss_max
    assert abs(w - 3) < w_tol and abs(b - 2) < b_tol
    return initial, trace, final


def test_linear_regression(capsys):
    # A toy dataset of points around 3 * x + 2
    NUM_EXAMPLES = 1000
    training_inputs = tf.random_normal([NUM_EXAMPLES])
    noise = tf.random_normal([NUM_EXAMPLES])
    training_outputs = training_inputs * 3 + 2 + noise

    def prediction(input, weight, bias):
      return input * weight + bias

    # A loss function using mean-squared error
    def loss(weights, biases):
      error = prediction(training_inputs, weights, biases) - training_outputs
      return tf.reduce_mean(tf.square(error))

    # Return the derivative of loss with respect to weight and bias
    def grad(weights, biases):
      with tf.GradientTape() as tape:
        loss_value = loss(weights, biases)
      return tape.gradient(loss_value, [weights, biases])

    train_steps = 200
    learning_rate = 0.01
    # Start with arbitrary values for W and B on the same batch of data
    W = tfe.Variable(5.)
    B = tfe.Variable(10.)

    print("Initial loss: {:.3f}".format(loss(W, B)))

    for i in range(train_steps):
      dW, dB = grad(W, B)
      W.assign_sub(dW * learning_rate)
      B.assign_sub(dB * learning_rate)
      if i % 20 == 0:
        print("Loss at step {:03d}: {:.3f}".format(i, loss(W, B)))

    print("Final loss: {:.3f}".format(loss(W, B)))
    print("W = {}, B = {}".format(W.numpy(), B.numpy()))

    lines = _lines(capsys)
    assert len(lines) == 1 + 10 + 2
    # After 200 steps the loss is still a little above the noise floor (about 1), and B
    # is still converging: 8 * (1 - 2 * 0.01) ** 200 = 0.14 left, plus sampling noise
    # (over 300 seeds: final loss 0.91-1.16, |W - 3| < 0.14, |B - 2| < 0.22).
    _, _, final = _check_regression_trace(lines, 200, 1.2, 0.2, 0.25)
    # Cross-check the final loss against NumPy on the same data.
    x, y = training_inputs.numpy(), training_outputs.numpy()
    expected = np.mean((x * W.numpy() + B.numpy() - y) ** 2)
    assert final == pytest.approx(expected, abs=2e-3)


# ----------------------------------------------------------------------------- MNIST training

# The guide's `dataset.py` (from the TensorFlow MNIST example) yields flattened float
# images in [0, 1] and int32 labels.  This stand-in serves the first 1,600 real digits
# of the slice shipped with tapegrad, so the guide's `.shuffle(60000).repeat(4).batch(32)`
# makes 200 steps.
TRAIN_IMAGES = 1600


def _dataset_module():
    def train(directory):
        (images, labels), _ = tg.datasets.mnist.load_slice()
        images = images[:TRAIN_IMAGES].reshape(-1, 784).astype(np.float32) / 255.0
        return tf.data.Dataset.from_tensor_slices((images, labels[:TRAIN_IMAGES].astype(
            np.int32)))

    module = types.ModuleType("dataset")
    module.train = train
    return module


@pytest.fixture
def mnist_dataset_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "dataset", _dataset_module())


def _full_loss(model, loss):
    images, labels = next(iter(_dataset_module().train(".").batch(TRAIN_IMAGES)))
    return float(loss(model, images, labels))


def test_mnist_training_loop(capsys, mnist_dataset_module):
    model = MNISTModel()

    import dataset  # download dataset.py file
    dataset_train = dataset.train('./datasets').shuffle(60000).repeat(4).batch(32)

    def loss(model, x, y):
      prediction = model(x)
      return tf.losses.sparse_softmax_cross_entropy(labels=y, logits=prediction)

    def grad(model, inputs, targets):
      with tf.GradientTape() as tape:
        loss_value = loss(model, inputs, targets)
      return tape.gradient(loss_value, model.variables)

    optimizer = tf.train.GradientDescentOptimizer(learning_rate=0.001)

    x, y = iter(dataset_train).next()
    print("Initial loss: {:.3f}".format(loss(model, x, y)))

    loss_before = _full_loss(model, loss)  # not in the guide: loss on all 1,600 images

    # Training loop
    for (i, (x, y)) in enumerate(dataset_train):
      # Calculate derivatives of the input function with respect to its parameters.
      grads = grad(model, x, y)
      # Apply the gradient to the model
      optimizer.apply_gradients(zip(grads, model.variables),
                                global_step=tf.train.get_or_create_global_step())
      if i % 200 == 0:
        print("Loss at step {:04d}: {:.3f}".format(i, loss(model, x, y)))

    print("Final loss: {:.3f}".format(loss(model, x, y)))

    lines = _lines(capsys)
    assert x.shape == (32, 784) and y.dtype == tf.int32
    assert i == 4 * TRAIN_IMAGES // 32 - 1 == 199
    assert int(tf.train.get_or_create_global_step().numpy()) == 200
    assert [line.split(":")[0] for line in lines] == [
        "Initial loss", "Loss at step 0000", "Final loss"]
    initial = float(lines[0].split(": ")[1])
    final = float(lines[-1].split(": ")[1])
    # Untrained logits are small, so the loss starts near log(10) = 2.3; 200 small steps
    # of plain SGD bring it down, as in the guide's trace (2.67 -> 2.14 at step 200).
    assert 1.8 < initial < 3.2
    loss_after = _full_loss(model, loss)
    assert loss_after < loss_before - 0.1
    assert final < initial


def test_minimize_form(mnist_dataset_module):
    import dataset

    model = MNISTModel()
    dataset_train = dataset.train('./datasets').shuffle(60000).repeat(4).batch(32)

    def loss(model, x, y):
      prediction = model(x)
      return tf.losses.sparse_softmax_cross_entropy(labels=y, logits=prediction)

    optimizer = tf.train.GradientDescentOptimizer(learning_rate=0.001)
    model(tf.zeros([1, 784]))  # build the variables so the loss before training exists
    loss_before = _full_loss(model, loss)

    # The guide wraps this loop in `with tf.device("/gpu:0"):`; that needs a GPU
    # (test_minimize_form_on_gpu), so here it runs on the CPU.
    with tf.device("/cpu:0"):
      for (i, (x, y)) in enumerate(dataset_train):  # noqa: B007
        # minimize() is equivalent to the grad() and apply_gradients() calls.
        optimizer.minimize(lambda: loss(model, x, y),  # noqa: B023
                           global_step=tf.train.get_or_create_global_step())

    assert int(tf.train.get_or_create_global_step().numpy()) == 200
    assert _full_loss(model, loss) < loss_before - 0.1


@needs_gpu
def test_minimize_form_on_gpu(mnist_dataset_module):
    import dataset

    model = MNISTModel()
    dataset_train = dataset.train('./datasets').batch(32).take(20)

    def loss(model, x, y):
      prediction = model(x)
      return tf.losses.sparse_softmax_cross_entropy(labels=y, logits=prediction)

    optimizer = tf.train.GradientDescentOptimizer(learning_rate=0.001)

    with tf.device("/gpu:0"):
      for (i, (x, y)) in enumerate(dataset_train):  # noqa: B007
        # minimize() is equivalent to the grad() and apply_gradients() calls.
        optimizer.minimize(lambda: loss(model, x, y),  # noqa: B023
                           global_step=tf.train.get_or_create_global_step())

    assert int(tf.train.get_or_create_global_step().numpy()) == 20
    assert all(np.isfinite(v.numpy()).all() for v in model.variables)


# ----------------------------------------------------------------------------- variables


class Model(tf.keras.Model):
  def __init__(self):
    super(Model, self).__init__()
    self.W = tfe.Variable(5., name='weight')
    self.B = tfe.Variable(10., name='bias')
  def call(self, inputs):
    return inputs * self.W + self.B


def test_variables_and_optimizers(capsys):
    # A toy dataset of points around 3 * x + 2
    NUM_EXAMPLES = 2000
    training_inputs = tf.random_normal([NUM_EXAMPLES])
    noise = tf.random_normal([NUM_EXAMPLES])
    training_outputs = training_inputs * 3 + 2 + noise

    # The loss function to be optimized
    def loss(model, inputs, targets):
      error = model(inputs) - targets
      return tf.reduce_mean(tf.square(error))

    def grad(model, inputs, targets):
      with tf.GradientTape() as tape:
        loss_value = loss(model, inputs, targets)
      return tape.gradient(loss_value, [model.W, model.B])

    # Define:
    # 1. A model.
    # 2. Derivatives of a loss function with respect to model parameters.
    # 3. A strategy for updating the variables based on the derivatives.
    model = Model()
    optimizer = tf.train.GradientDescentOptimizer(learning_rate=0.01)

    print("Initial loss: {:.3f}".format(loss(model, training_inputs, training_outputs)))

    # Training loop
    for i in range(300):
      grads = grad(model, training_inputs, training_outputs)
      optimizer.apply_gradients(zip(grads, [model.W, model.B]),
                                global_step=tf.train.get_or_create_global_step())
      if i % 20 == 0:
        print("Loss at step {:03d}: {:.3f}".format(i, loss(model, training_inputs, training_outputs)))  # noqa: E501

    print("Final loss: {:.3f}".format(loss(model, training_inputs, training_outputs)))
    print("W = {}, B = {}".format(model.W.numpy(), model.B.numpy()))

    lines = _lines(capsys)
    assert len(lines) == 1 + 15 + 2
    # (over 300 seeds: final loss 0.92-1.07, |W - 3| < 0.07, |B - 2| < 0.09)
    _, trace, final = _check_regression_trace(lines, 300, 1.15, 0.12, 0.12)
    # 300 steps reach the noise floor: the loss is about the noise variance, 1.
    assert 0.85 < final < 1.15 and trace[-1] - final < 0.01
    assert int(tf.train.get_or_create_global_step().numpy()) == 300
    assert model.W.name == "weight:0" and model.B.name == "bias:0"


@needs_gpu
def test_variable_on_gpu():
    with tf.device("gpu:0"):
      v = tfe.Variable(tf.random_normal([1000, 1000]))
      assert v.device == "/gpu:0" and v.shape == (1000, 1000)
      v = None  # v no longer takes up GPU memory
    assert v is None


def test_checkpoint(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    x = tfe.Variable(10.)

    checkpoint = tfe.Checkpoint(x=x)  # save as "x"

    x.assign(2.)   # Assign a new value to the variables and save.
    save_path = checkpoint.save('./ckpt/')

    x.assign(11.)  # Change the variable after saving.

    # Restore values from the checkpoint
    checkpoint.restore(save_path)

    print(x)  # => 2.0

    assert x.numpy() == 2.0
    assert "numpy=2." in _lines(capsys)[0]
    assert os.path.isdir(tmp_path / "ckpt")
    assert tf.train.latest_checkpoint('./ckpt/') is not None


def test_checkpoint_model_optimizer_global_step(tmp_path, mnist_dataset_module):
    import dataset

    MyModel = MNISTModel
    images, labels = next(iter(dataset.train('.').batch(64)))

    model = MyModel()
    optimizer = tf.train.AdamOptimizer(learning_rate=0.001)
    checkpoint_dir = str(tmp_path / "model_dir")  # the guide: '/path/to/model_dir'
    checkpoint_prefix = os.path.join(checkpoint_dir, "ckpt")
    root = tfe.Checkpoint(optimizer=optimizer,
                          model=model,
                          optimizer_step=tf.train.get_or_create_global_step())

    def train_step():
        optimizer.minimize(
            lambda: tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=model(images)),
            global_step=tf.train.get_or_create_global_step())

    for _ in range(3):
        train_step()
    saved = [v.numpy().copy() for v in model.variables]
    saved_slots = [optimizer.get_slot(v, "m").numpy().copy() for v in model.variables]

    root.save(file_prefix=checkpoint_prefix)

    for _ in range(2):
        train_step()
    assert int(tf.train.get_or_create_global_step().numpy()) == 5
    assert not np.allclose(saved[0], model.variables[0].numpy())

    # or
    root.restore(tf.train.latest_checkpoint(checkpoint_dir))

    assert tf.train.latest_checkpoint(checkpoint_dir) == checkpoint_prefix + "-1"
    assert int(tf.train.get_or_create_global_step().numpy()) == 3
    for v, s in zip(model.variables, saved):
        np.testing.assert_array_equal(v.numpy(), s)
    for v, s in zip(model.variables, saved_slots):
        np.testing.assert_array_equal(optimizer.get_slot(v, "m").numpy(), s)

    # A fresh program restores into new objects, created lazily after the restore.
    global_step_module._reset_for_tests()
    model2, optimizer2 = MyModel(), tf.train.AdamOptimizer(learning_rate=0.001)
    root2 = tfe.Checkpoint(optimizer=optimizer2, model=model2,
                           optimizer_step=tf.train.get_or_create_global_step())
    root2.restore(tf.train.latest_checkpoint(checkpoint_dir))
    model2(images)
    for v, s in zip(model2.variables, saved):
        np.testing.assert_array_equal(v.numpy(), s)
    assert int(tf.train.get_or_create_global_step().numpy()) == 3


def test_metrics():
    m = tfe.metrics.Mean("loss")
    m(0)
    m(5)
    assert m.result() == 2.5  # => 2.5
    m([8, 9])
    assert m.result() == 5.5  # => 5.5


def test_summaries(tmp_path):
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    logdir = str(tmp_path / "logs")
    iterations = 350

    writer = tf.contrib.summary.create_file_writer(logdir)
    global_step=tf.train.get_or_create_global_step()  # return global step var

    writer.set_as_default()

    for _ in range(iterations):
      global_step.assign_add(1)
      loss = 1.0 / tf.cast(global_step, tf.float32)
      # Must include a record_summaries method
      with tf.contrib.summary.record_summaries_every_n_global_steps(100):
        # your model code goes here
        tf.contrib.summary.scalar('loss', loss)

    writer.close()
    acc = ea.EventAccumulator(logdir)
    acc.Reload()
    events = acc.Scalars("loss")
    assert [e.step for e in events] == [100, 200, 300]
    np.testing.assert_allclose([e.value for e in events], [1 / 100, 1 / 200, 1 / 300],
                               rtol=1e-6)
