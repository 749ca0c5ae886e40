"""The guide's linear regression: fit ``W * x + B`` to 1000 noisy points around 3x + 2.

    python examples/linear_regression.py [--seed 0] [--steps 200] [--learning-rate 0.01]

Prints the guide-style loss trace (``Initial loss``, every 20 steps, ``Final loss``) and
the fitted ``W`` and ``B``, which end near 3 and 2.
"""

import argparse

import tapegrad as tg

NUM_EXAMPLES = 1000


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=None, help="tg.random seed")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    args = parser.parse_args(argv)
    if args.seed is not None:
        tg.random.set_seed(args.seed)

    # A toy dataset of points around 3 * x + 2
    training_inputs = tg.random.normal([NUM_EXAMPLES])
    noise = tg.random.normal([NUM_EXAMPLES])
    training_outputs = training_inputs * 3 + 2 + noise

    def prediction(inputs, weight, bias):
        return inputs * weight + bias

    def loss(weights, biases):
        error = prediction(training_inputs, weights, biases) - training_outputs
        return tg.reduce_mean(tg.square(error))

    def grad(weights, biases):
        with tg.GradientTape() as tape:
            loss_value = loss(weights, biases)
        return tape.gradient(loss_value, [weights, biases])

    W = tg.Variable(5.0)
    B = tg.Variable(10.0)
    print("Initial loss: {:.3f}".format(float(loss(W, B))))
    for i in range(args.steps):
        dW, dB = grad(W, B)
        W.assign_sub(dW * args.learning_rate)
        B.assign_sub(dB * args.learning_rate)
        if i % 20 == 0:
            print("Loss at step {:03d}: {:.3f}".format(i, float(loss(W, B))))
    final = float(loss(W, B))
    print("Final loss: {:.3f}".format(final))
    print("W = {}, B = {}".format(W.numpy(), B.numpy()))
    return final, float(W.numpy()), float(B.numpy())


if __name__ == "__main__":
    main()
