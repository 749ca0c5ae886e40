"""``tf.keras`` namespaces beyond layers and models: ``optimizers`` (Keras names and
arguments), ``losses`` (Keras functions: ``(y_true, y_pred)``, one loss per example),
``activations`` and ``backend``.  ``callbacks``, ``regularizers`` and ``constraints``
resolve to ``tapegrad.callbacks``/``regularizers``/``constraints`` when those modules
exist (see ``tf1.keras``).
"""


from tapegrad import optimizers as _opt

__all__ = ["SGD", "Adam", "RMSprop", "Adagrad"]


# ----------------------------------------------------------------------------- optimizers

def SGD(learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", lr=None):  # noqa: N802
    """Keras ``SGD``: plain gradient descent, or momentum when ``momentum > 0``."""
    learning_rate = lr if lr is not None else learning_rate
    if momentum:
        return _opt.Momentum(learning_rate, momentum, use_nesterov=nesterov, name=name)
    if nesterov:
        raise ValueError("SGD: nesterov=True needs momentum > 0")
    return _opt.GradientDescent(learning_rate, name=name)


def Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,  # noqa: N802
         name="Adam", lr=None):
    if amsgrad:
        raise NotImplementedError("Adam: amsgrad=True is not implemented in tapegrad")
    return _opt.Adam(lr if lr is not None else learning_rate, beta_1, beta_2, epsilon,
                     name=name)


def RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,  # noqa: N802
            name="RMSprop", lr=None):
    return _opt.RMSProp(lr if lr is not None else learning_rate, rho, momentum, epsilon,
                        centered=centered, name=name)


def Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,  # noqa: N802
            name="Adagrad", lr=None):
    return _opt.Adagrad(lr if lr is not None else learning_rate, initial_accumulator_value,
                        name=name)


# ----------------------------------------------------------------------------- losses

def _pair(y_true, y_pred):
    import tapegrad as tg

    y_pred = tg.convert_to_tensor(y_pred)
    if y_pred.dtype.kind != "f":
        y_pred = tg.cast(y_pred, tg.float32)
    y_true = tg.cast(tg.convert_to_tensor(y_true), y_pred.dtype)
    return y_true, y_pred


def mean_squared_error(y_true, y_pred):
    import tapegrad as tg

    y_true, y_pred = _pair(y_true, y_pred)
    return tg.reduce_mean(tg.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    import tapegrad as tg

    y_true, y_pred = _pair(y_true, y_pred)
    return tg.reduce_mean(tg.abs(y_pred - y_true), axis=-1)


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    import tapegrad as tg
    from tapegrad import backend

    y_true, y_pred = _pair(y_true, y_pred)
    if from_logits:
        return tg.nn.softmax_cross_entropy_with_logits(labels=y_true, logits=y_pred)
    # Keras: normalize the probabilities, clip them away from 0 and 1.
    p = y_pred / tg.reduce_sum(y_pred, axis=-1, keepdims=True)
    eps = backend.epsilon()
    p = tg.clip_by_value(p, eps, 1.0 - eps)
    return -tg.reduce_sum(y_true * tg.log(p), axis=-1)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    import tapegrad as tg
    from tapegrad import backend

    y_pred = tg.convert_to_tensor(y_pred)
    labels = tg.cast(tg.convert_to_tensor(y_true), tg.int64)
    if labels.ndim == y_pred.ndim:
        labels = tg.squeeze(labels, axis=-1)
    if from_logits:
        return tg.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=y_pred)
    eps = backend.epsilon()
    p = tg.clip_by_value(y_pred / tg.reduce_sum(y_pred, axis=-1, keepdims=True), eps,
                         1.0 - eps)
    return tg.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=tg.log(p))


def binary_crossentropy(y_true, y_pred, from_logits=False):
    import tapegrad as tg
    from tapegrad import backend

    y_true, y_pred = _pair(y_true, y_pred)
    if from_logits:
        losses = tg.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)
    else:
        eps = backend.epsilon()
        p = tg.clip_by_value(y_pred, eps, 1.0 - eps)
        losses = -(y_true * tg.log(p) + (1.0 - y_true) * tg.log(1.0 - p))
    return tg.reduce_mean(losses, axis=-1)


LOSSES = {
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error,
    "MSE": mean_squared_error, "mean_absolute_error": mean_absolute_error,
    "mae": mean_absolute_error, "MAE": mean_absolute_error,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
}


# The loss classes are the Keras training loop's own (tapegrad.training.losses): one
# definition, reached from tf.keras.losses and tg.losses alike.
def _loss_classes():
    from tapegrad.training import losses as L

    return {c.__name__: c for c in (L.Loss, L.MeanSquaredError, L.MeanAbsoluteError,
                                     L.CategoricalCrossentropy,
                                     L.SparseCategoricalCrossentropy, L.BinaryCrossentropy,
                                     L.Huber)}


LOSS_CLASSES = _loss_classes()


def get_loss(identifier):
    if callable(identifier):
        return identifier
    try:
        return LOSSES[identifier]
    except (KeyError, TypeError):
        raise ValueError("tf.keras.losses.get: unknown loss %r (known: %s)"
                         % (identifier, ", ".join(sorted(LOSSES)))) from None


# ----------------------------------------------------------------------------- activations

def _activations():
    import tapegrad as tg
    from tapegrad.layers import activations as act

    return {
        "relu": tg.nn.relu, "relu6": tg.nn.relu6, "elu": tg.nn.elu, "selu": tg.nn.selu,
        "gelu": tg.nn.gelu, "swish": tg.nn.swish, "silu": tg.nn.silu,
        "sigmoid": tg.nn.sigmoid, "tanh": tg.tanh, "softmax": tg.nn.softmax,
        "log_softmax": tg.nn.log_softmax, "softplus": tg.nn.softplus,
        "leaky_relu": tg.nn.leaky_relu, "linear": act.linear, "get": act.get,
        "serialize": act.serialize,
    }
