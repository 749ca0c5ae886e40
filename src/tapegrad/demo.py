"""The eager execution guide's tour on tapegrad, offline: ``python -m tapegrad.demo``.

Tensors and NumPy interoperability, dynamic control flow (fizzbuzz), gradients and
higher-order derivatives (up to the 4th derivative of tanh), custom gradients, the
guide's linear regression, and a few epochs of an MNIST CNN (or MLP) on real digits
with a progress bar, reporting test accuracy.

    python -m tapegrad.demo                      # CNN, 3 epochs on 5,000 real digits
    python -m tapegrad.demo --model mlp --epochs 5
    python -m tapegrad.demo --data-dir ~/mnist   # IDX files (gzipped or not)
    python -m tapegrad.demo --quick              # a few seconds: tiny MNIST budget

MNIST comes from ``--data-dir`` (all four IDX files, or only the ``t10k-*`` test files,
which are then split into training and test digits), else from the download cache that
``tg.datasets.mnist.load_data`` fills, else from the 5,000 + 1,000 real digits shipped
inside the package, so the demo never needs the network.  The defaults finish in well
under two minutes on two CPU cores.
"""

import argparse
import sys
import time

import numpy as np

import tapegrad as tg

# Training images used per epoch unless --train-size says otherwise: enough for ~97%
# test accuracy with the CNN while keeping the default run short on a laptop.
DEFAULT_TRAIN_SIZE = 5000
DEFAULT_TEST_SIZE = 2000
QUICK_TRAIN_SIZE, QUICK_TEST_SIZE = 512, 256
# When --data-dir holds only the t10k files: first 8,000 digits train, last 2,000 test.
T10K_TRAIN = 8000


def section(title):
    print("\n== %s ==" % title, flush=True)


# ----------------------------------------------------------------------------- the tour


def tour_tensors():
    """Tensors, broadcasting, operator overloading, NumPy both ways, the TF 1.x names."""
    import tapegrad.compat.tf1 as tf

    x = [[2.0]]
    m = tf.matmul(x, x)
    print("hello, {}".format(m))  # the guide's first line, through tapegrad.compat.tf1
    a = tg.constant([[1, 2], [3, 4]])
    b = tg.add(a, 1)
    print(a)
    print("b = tg.add(a, 1): broadcasting")
    print(b)
    print("a * b: operator overloading")
    print(a * b)
    c = np.multiply(a, b)
    print("np.multiply(a, b) ->", type(c).__name__, c.tolist())
    print("a.numpy() ->", a.numpy().tolist())
    return m


def fizzbuzz(max_num):
    """The guide's fizzbuzz: Python control flow on tensor values."""
    counter = tg.constant(0)
    max_num = tg.convert_to_tensor(max_num)
    words = []
    for num in range(max_num.numpy()):
        num = tg.constant(num)
        if int(num % 3) == 0 and int(num % 5) == 0:
            words.append("FizzBuzz")
        elif int(num % 3) == 0:
            words.append("Fizz")
        elif int(num % 5) == 0:
            words.append("Buzz")
        else:
            words.append(str(int(num)))
        counter += 1
    print(" ".join(words))
    return counter


def tanh_fourth_derivative_exact(x):
    """d^4/dx^4 tanh(x) = 16 t s^2 - 8 t^3 s with t = tanh(x), s = 1 - t^2."""
    t = np.tanh(x)
    s = 1.0 - t * t
    return 16.0 * t * s * s - 8.0 * t ** 3 * s


def tour_gradients():
    """GradientTape, gradients_function to third order, and nested tg.grad to fourth."""
    w = tg.Variable([[1.0]])
    with tg.GradientTape() as tape:
        loss = w * w
    print("d(w*w)/dw at w = 1:", tape.gradient(loss, w))

    def square(x):
        return tg.multiply(x, x)

    grad = tg.gradients_function(square)
    gradgrad = tg.gradients_function(lambda x: grad(x)[0])
    gradgradgrad = tg.gradients_function(lambda x: gradgrad(x)[0])
    first, second, third = grad(3.0)[0], gradgrad(3.0)[0], gradgradgrad(3.0)[0]
    print("square at 3: f' = %s, f'' = %s, f''' = %s" % (float(first), float(second), third))

    def abs_(x):
        return x if x > 0.0 else -x

    grad_abs = tg.gradients_function(abs_)
    print("|x|' at 3 and -3:", float(grad_abs(3.0)[0]), float(grad_abs(-3.0)[0]))

    derivative = tg.tanh
    for _ in range(4):
        derivative = tg.grad(derivative)
    x = tg.constant(0.5, dtype=tg.float64)
    fourth = float(derivative(x))
    exact = tanh_fourth_derivative_exact(0.5)
    print("4th derivative of tanh at 0.5: %.10f (closed form %.10f)" % (fourth, exact))
    return {"square": (float(first), float(second), third), "tanh4": fourth,
            "tanh4_exact": exact}


def tour_custom_gradients():
    """The guide's log1pexp: NaN at 100 from the naive gradient, 1.0 from a custom one."""

    def log1pexp_naive(x):
        return tg.log(1 + tg.exp(x))

    @tg.custom_gradient
    def log1pexp(x):
        e = tg.exp(x)

        def grad(dy):
            return dy * (1 - 1 / (1 + e))

        return tg.log(1 + e), grad

    naive = tg.gradients_function(log1pexp_naive)
    stable = tg.gradients_function(log1pexp)
    values = {"naive": (float(naive(0.0)[0]), float(naive(100.0)[0])),
              "custom": (float(stable(0.0)[0]), float(stable(100.0)[0]))}
    print("naive  log1pexp' at 0 and 100: %s %s" % values["naive"])
    print("custom log1pexp' at 0 and 100: %s %s" % values["custom"])

    @tg.custom_gradient
    def clip_gradient_by_norm(x, norm):
        def grad_fn(dresult):
            return [tg.clip_by_norm(dresult, norm), None]

        return tg.identity(x), grad_fn

    x = tg.constant([3.0, 4.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.reduce_sum(10.0 * clip_gradient_by_norm(x, 1.0))
    clipped = tape.gradient(y, x)
    print("gradient [10, 10] clipped to norm 1:", clipped.numpy())
    values["clipped"] = clipped.numpy()
    return values


def linear_regression(steps=200, learning_rate=0.01, num_examples=1000):
    """The guide's toy regression: fit W * x + B to points around 3x + 2."""
    training_inputs = tg.random.normal([num_examples])
    noise = tg.random.normal([num_examples])
    training_outputs = training_inputs * 3 + 2 + noise

    def loss(weights, biases):
        error = training_inputs * weights + biases - training_outputs
        return tg.reduce_mean(tg.square(error))

    W, B = tg.Variable(5.0), tg.Variable(10.0)
    print("Initial loss: {:.3f}".format(float(loss(W, B))))
    for i in range(steps):
        with tg.GradientTape() as tape:
            loss_value = loss(W, B)
        dW, dB = tape.gradient(loss_value, [W, B])
        W.assign_sub(dW * learning_rate)
        B.assign_sub(dB * learning_rate)
        if i % 40 == 0:
            print("Loss at step {:03d}: {:.3f}".format(i, float(loss(W, B))))
    final = float(loss(W, B))
    print("Final loss: {:.3f}".format(final))
    print("W = {:.4f}, B = {:.4f}".format(float(W.numpy()), float(B.numpy())))
    return {"final_loss": final, "W": float(W.numpy()), "B": float(B.numpy())}


# ----------------------------------------------------------------------------- MNIST


def load_mnist(data_dir, train_size, test_size):
    """``(x_train, y_train), (x_test, y_test), source`` as float32 NHWC / int32 arrays."""
    mnist = tg.datasets.mnist
    if data_dir is None:
        data = mnist.load_data_or_slice()
        (x_train, y_train), (x_test, y_test) = data
        source = {"slice": "the real-digit slice shipped with tapegrad"}.get(data.source,
                                                                             data.source)
    else:
        try:
            (x_train, y_train), (x_test, y_test) = mnist.load_data(data_dir)
            source = data_dir
        except (OSError, ValueError) as full_error:
            try:
                images, labels = mnist.load_split("test", data_dir)
            except (OSError, ValueError):
                raise SystemExit("--data-dir %s holds neither the four MNIST IDX files nor "
                                 "the t10k test files (%s)" % (data_dir, full_error)) from None
            split = min(T10K_TRAIN, len(images) * 4 // 5)
            x_train, y_train = images[:split], labels[:split]
            x_test, y_test = images[split:], labels[split:]
            source = "%s (t10k files only: %d train, %d test)" % (data_dir, split,
                                                                  len(images) - split)
    x_train, y_train = x_train[:train_size], y_train[:train_size]
    x_test, y_test = x_test[:test_size], y_test[:test_size]
    return ((mnist.to_float_images(x_train), y_train.astype(np.int32)),
            (mnist.to_float_images(x_test), y_test.astype(np.int32)), source)


def create_model(kind):
    """A small CNN (two 3x3 conv + pool stages, dense 128, dropout) or an MLP."""
    layers = tg.layers
    if kind == "cnn":
        return tg.Sequential([
            layers.Conv2D(16, 3, padding="same", activation="relu", input_shape=(28, 28, 1)),
            layers.MaxPooling2D((2, 2), (2, 2)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D((2, 2), (2, 2)),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(10),
        ], name="demo_cnn")
    if kind == "mlp":
        return tg.Sequential([
            layers.Flatten(input_shape=(28, 28, 1)),
            layers.Dense(128, activation="relu"),
            layers.Dense(10),
        ], name="demo_mlp")
    raise ValueError("create_model: kind must be 'cnn' or 'mlp', got %r" % (kind,))


def evaluate(model, images, labels, batch_size=500):
    """Accuracy of ``model`` on the arrays, in batches."""
    correct = 0
    for start in range(0, len(images), batch_size):
        logits = model(images[start:start + batch_size], training=False)
        predicted = np.argmax(logits.numpy(), axis=1)
        correct += int(np.sum(predicted == labels[start:start + batch_size]))
    return correct / max(len(images), 1)


def train_mnist(model, train, test, epochs, batch_size, learning_rate, seed, progress,
                distributed=False):
    """Train with Adam; one line per epoch with loss, train and test accuracy.

    ``distributed``: data-parallel over the MPI job (tapegrad.distribute): each rank
    trains on every size()-th image with batch_size // size() images a step, so the
    global batch and the schedule are those of one process; gradients are averaged
    over the ranks and rank 0 reports.
    """
    from tqdm import tqdm

    x_train, y_train = train
    x_test, y_test = test
    dist = None
    if distributed:
        import tapegrad.distribute as dist

        model(x_train[:1])                      # build the variables, then align them
        dist.broadcast_variables(model.variables, root_rank=0)
        x_train = x_train[dist.rank()::dist.size()]
        y_train = y_train[dist.rank()::dist.size()]
        batch_size = max(1, batch_size // dist.size())
        progress = progress and dist.rank() == 0
    dataset = (tg.data.Dataset.from_tensor_slices((x_train, y_train))
               .shuffle(len(x_train), seed=seed).batch(batch_size))
    optimizer = tg.optimizers.Adam(learning_rate)
    steps_per_epoch = -(-len(x_train) // batch_size)
    history = []
    for epoch in range(1, epochs + 1):
        loss_metric = tg.metrics.Mean("loss")
        accuracy = tg.metrics.Accuracy("accuracy")
        start = time.perf_counter()
        bar = tqdm(total=steps_per_epoch, desc="epoch %d/%d" % (epoch, epochs), unit="batch",
                   leave=False, file=sys.stderr, disable=not progress)
        for step, (images, labels) in enumerate(dataset):
            with tg.GradientTape() as tape:
                logits = model(images, training=True)
                loss_value = tg.losses.sparse_softmax_cross_entropy(labels=labels,
                                                                    logits=logits)
            variables = model.trainable_variables
            if dist is not None:
                tape = dist.DistributedGradientTape(tape)
            grads = tape.gradient(loss_value, variables)
            optimizer.apply_gradients(zip(grads, variables))
            loss_metric(loss_value)
            accuracy(labels, tg.argmax(logits, axis=1))
            bar.update(1)
            if step % 10 == 0:
                bar.set_postfix(loss="%.3f" % float(loss_metric.result()),
                                acc="%.3f" % float(accuracy.result()))
        bar.close()
        seconds = time.perf_counter() - start
        test_accuracy = evaluate(model, x_test, y_test)
        record = {"epoch": epoch, "loss": float(loss_metric.result()),
                  "train_accuracy": float(accuracy.result()), "test_accuracy": test_accuracy,
                  "seconds": seconds}
        images = len(x_train)
        if dist is not None:
            # every rank saw its shard: average the metrics, add up the images
            for key in ("loss", "train_accuracy"):
                record[key] = float(dist.allreduce(np.array(record[key])))
            images = int(dist.allreduce(np.array(images), dist.Sum))
        history.append(record)
        if dist is not None and dist.rank() != 0:
            continue
        print("epoch %d: loss %.4f, train accuracy %.4f, test accuracy %.4f (%.1f s, "
              "%.0f images/s)" % (epoch, record["loss"], record["train_accuracy"],
                                  test_accuracy, seconds, images / seconds), flush=True)
    return history


# ----------------------------------------------------------------------------- main


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m tapegrad.demo",
        description="The eager execution guide's tour on tapegrad (tensors, gradients, "
                    "higher-order derivatives, custom gradients, linear regression), then "
                    "an MNIST CNN or MLP trained on real digits. Runs offline.")
    parser.add_argument("--data-dir", default=None,
                        help="directory of MNIST IDX files (default: the download cache, "
                             "else the digits shipped with tapegrad)")
    parser.add_argument("--model", choices=("cnn", "mlp"), default="cnn",
                        help="MNIST model (default: cnn)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default 3; 1 with --quick)")
    parser.add_argument("--train-size", type=int, default=None,
                        help="training images per epoch (default %d; %d with --quick)"
                             % (DEFAULT_TRAIN_SIZE, QUICK_TRAIN_SIZE))
    parser.add_argument("--test-size", type=int, default=None,
                        help="test images (default %d; %d with --quick)"
                             % (DEFAULT_TEST_SIZE, QUICK_TEST_SIZE))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="tiny MNIST budget (one epoch on %d images): a smoke test"
                             % QUICK_TRAIN_SIZE)
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    parser.add_argument("--distributed", action="store_true",
                        help="data-parallel training over the MPI job: run as "
                             "`mpiexec -n 2 python -m tapegrad.demo --distributed` "
                             "(needs pip install 'tapegrad[mpi]')")
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = 1 if args.quick else 3
    if args.train_size is None:
        args.train_size = QUICK_TRAIN_SIZE if args.quick else DEFAULT_TRAIN_SIZE
    if args.test_size is None:
        args.test_size = QUICK_TEST_SIZE if args.quick else DEFAULT_TEST_SIZE
    for name in ("epochs", "train_size", "test_size", "batch_size"):
        if getattr(args, name) < (0 if name == "epochs" else 1):
            parser.error("--%s must be %s, got %d" % (
                name.replace("_", "-"), ">= 0" if name == "epochs" else ">= 1",
                getattr(args, name)))
    if not args.learning_rate > 0:
        parser.error("--learning-rate must be > 0, got %s" % args.learning_rate)
    return args


def main(argv=None):
    """Run the tour; returns the values it printed (for tests and scripting)."""
    args = parse_args(argv)
    start = time.perf_counter()
    tg.random.set_seed(args.seed)
    results = {}
    # Load the digits first so that a bad --data-dir fails before the tour runs.
    train, test, source = load_mnist(args.data_dir, args.train_size, args.test_size)
    if args.distributed:
        import contextlib
        import io

        import tapegrad.distribute as dist

        dist.init()
        if dist.rank() != 0:
            # one report for the job: the other ranks run the tour silently
            with contextlib.redirect_stdout(io.StringIO()):
                return _run(args, start, results, train, test, source)
    return _run(args, start, results, train, test, source)


def _run(args, start, results, train, test, source):
    section("Tensors and NumPy")
    results["hello"] = tour_tensors().numpy()
    section("Dynamic control flow: fizzbuzz(15)")
    results["fizzbuzz"] = int(fizzbuzz(15))
    section("Gradients and higher-order derivatives")
    results["gradients"] = tour_gradients()
    section("Custom gradients")
    results["custom_gradients"] = tour_custom_gradients()
    section("Linear regression (the guide's toy model)")
    results["linear_regression"] = linear_regression()

    section("MNIST %s on real digits" % args.model.upper())
    print("data: %s: %d training, %d test images" % (source, len(train[0]), len(test[0])))
    model = create_model(args.model)
    print("model: %s, %d parameters" % (args.model, model.count_params()))
    if args.distributed:
        import tapegrad.distribute as dist

        print("distributed: %d MPI processes, %d images per step on each"
              % (dist.size(), max(1, args.batch_size // dist.size())))
    history = train_mnist(model, train, test, args.epochs, args.batch_size,
                          args.learning_rate, args.seed, not args.no_progress,
                          distributed=args.distributed)
    results["mnist"] = {"source": source, "history": history,
                        "test_accuracy": history[-1]["test_accuracy"] if history else None}
    if history:
        print("test accuracy: %.4f" % history[-1]["test_accuracy"])
    print("\ndone in %.1f s" % (time.perf_counter() - start))
    return results


if __name__ == "__main__":
    main()
