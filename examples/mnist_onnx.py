"""Train the MNIST CNN with tapegrad, export it to ONNX, classify with ONNX Runtime alone.

    pip install 'tapegrad[onnx]'
    python examples/mnist_onnx.py                      # the digits shipped with tapegrad
    python examples/mnist_onnx.py --data-dir ../shared/data/mnist --epochs 3

The second half needs no tapegrad: ``onnxruntime.InferenceSession(path).run(...)`` on
the test images gives the same predictions, hence the same accuracy, as the trained
model (``training=False``: dropout off).
"""

import argparse
import os
import tempfile

import numpy as np


def train_and_export(args):
    import tapegrad as tg
    from tapegrad.demo import create_model, evaluate, load_mnist, train_mnist

    tg.random.set_seed(args.seed)
    train, test, source = load_mnist(args.data_dir, args.train_size, args.test_size)
    print("data: %s: %d training, %d test images" % (source, len(train[0]), len(test[0])))
    model = create_model("cnn")
    train_mnist(model, train, test, args.epochs, 64, 1e-3, args.seed, progress=False)
    accuracy = evaluate(model, *test)
    tg.onnx.export(model, test[0][:1], args.output, input_names=["images"],
                   output_names=["logits"])
    print("tapegrad accuracy:     %.4f" % accuracy)
    print("exported to %s (%.0f KiB)" % (args.output, os.path.getsize(args.output) / 1024))
    return test, accuracy


def onnx_runtime_accuracy(path, images, labels, batch=500):
    import onnxruntime as ort  # ONNX Runtime alone from here on

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    correct = 0
    for start in range(0, len(images), batch):
        (logits,) = session.run(None, {"images": images[start:start + batch]})
        correct += int(np.sum(np.argmax(logits, axis=1) == labels[start:start + batch]))
    return correct / len(images)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=5000)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=os.path.join(tempfile.gettempdir(),
                                                         "tapegrad_mnist_cnn.onnx"))
    args = parser.parse_args(argv)
    (images, labels), accuracy = train_and_export(args)
    runtime = onnx_runtime_accuracy(args.output, images, labels)
    print("ONNX Runtime accuracy: %.4f" % runtime)
    return accuracy, runtime


if __name__ == "__main__":
    main()
