"""``tf.nn`` with TF 1.x signatures: ``tapegrad.compat.tf1.nn``.

Everything in ``tg.nn`` is here unchanged except the functions whose TF 1.x signature
differs from tapegrad's (TF 2) one, which get thin adapters:

* ``dropout(x, keep_prob, ...)``: the second positional argument is the probability of
  *keeping* a unit; ``rate=`` (TF 1.13+) is also accepted.
* ``softmax_cross_entropy_with_logits``: stops the gradient to ``labels`` (the ``_v2``
  variant lets it through); ``dim=`` is ``axis=``.
* ``moments(x, axes, shift=None, name=None, keep_dims=None)``.
* ``conv2d(input, filter, strides, padding, use_cudnn_on_gpu, data_format, dilations)``.
* ``max_pool``/``avg_pool(value, ksize, strides, padding, data_format)``.
* ``softmax``/``log_softmax``/``l2_normalize`` take ``dim=``; ``bias_add`` takes
  ``data_format``; ``in_top_k(predictions, targets, k)`` (TF 2 swapped the first two);
  ``embedding_lookup(params, ids, partition_strategy="mod", ...)``.
"""

from tapegrad.compat._v1_args import alias, no_sentinel
from tapegrad.ops import nn as _nn
from tapegrad.ops.elementwise import add, stop_gradient
from tapegrad.ops.nn import *  # noqa: F401,F403  (the unchanged names)
from tapegrad.ops.nn import __all__ as _native_all
from tapegrad.ops.nn_extra import _embedding_lookup
from tapegrad.ops.shape import reshape

__all__ = sorted(set(_native_all) | {
    "dropout", "softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits_v2",
    "moments", "conv2d", "max_pool", "avg_pool", "softmax", "log_softmax", "l2_normalize",
    "bias_add", "in_top_k", "embedding_lookup", "sparse_softmax_cross_entropy_with_logits",
    "sigmoid_cross_entropy_with_logits"})


def dropout(x, keep_prob=None, noise_shape=None, seed=None, name=None, rate=None):
    """TF 1.x ``tf.nn.dropout``: keep each unit with probability ``keep_prob`` (scaling
    kept units by ``1 / keep_prob``); or give ``rate = 1 - keep_prob`` instead."""
    if keep_prob is not None and rate is not None:
        raise ValueError("dropout: cannot specify both 'keep_prob' and 'rate'")
    if keep_prob is None and rate is None:
        raise ValueError("dropout: give keep_prob (the TF 1.x second argument) or rate=")
    if keep_prob is not None:
        keep_prob = _number(keep_prob, "keep_prob")
        if not 0 < keep_prob <= 1:
            raise ValueError("dropout: keep_prob must be in (0, 1], got %r" % keep_prob)
        rate = 1.0 - keep_prob
    return _nn.dropout(x, _number(rate, "rate"), noise_shape=noise_shape, seed=seed)


def _number(value, what):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError("dropout: %s must be a number or a scalar tensor, got %r"
                        % (what, value)) from None


def softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, dim=-1,
                                      name=None, axis=None):
    """TF 1.x: no gradient flows into ``labels`` (use ``_v2`` for one)."""
    op = "softmax_cross_entropy_with_logits"
    no_sentinel(op, _sentinel)
    if labels is not None:
        labels = stop_gradient(labels)
    return _nn.softmax_cross_entropy_with_logits(
        labels=labels, logits=logits, axis=alias(op, "axis", axis, "dim", dim, -1))


def softmax_cross_entropy_with_logits_v2(_sentinel=None, labels=None, logits=None, dim=-1,
                                         name=None, axis=None):
    """Like TF 2's ``softmax_cross_entropy_with_logits``: gradients reach ``labels`` too."""
    op = "softmax_cross_entropy_with_logits_v2"
    no_sentinel(op, _sentinel)
    return _nn.softmax_cross_entropy_with_logits(
        labels=labels, logits=logits, axis=alias(op, "axis", axis, "dim", dim, -1))


def sparse_softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None,
                                             name=None):
    no_sentinel("sparse_softmax_cross_entropy_with_logits", _sentinel)
    return _nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def sigmoid_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    no_sentinel("sigmoid_cross_entropy_with_logits", _sentinel)
    return _nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)


def moments(x, axes, shift=None, name=None, keep_dims=None, keepdims=None):
    """TF 1.x: the third argument is ``shift``, which TF 1.x also ignores."""
    return _nn.moments(x, axes, keepdims=bool(alias("moments", "keepdims", keepdims,
                                                    "keep_dims", keep_dims, False)))


def conv2d(input, filter=None, strides=None, padding=None, use_cudnn_on_gpu=True,
           data_format="NHWC", dilations=None, name=None, filters=None):
    op = "conv2d"
    filters = alias(op, "filters", filters, "filter", filter)
    if filters is None or strides is None or padding is None:
        raise TypeError("conv2d: filter, strides and padding are required")
    return _nn.conv2d(input, filters, strides=strides, padding=padding,
                      data_format=data_format, dilations=dilations)


def max_pool(value=None, ksize=None, strides=None, padding=None, data_format="NHWC",
             name=None, input=None):
    value = alias("max_pool", "input", input, "value", value)
    if value is None or ksize is None or strides is None or padding is None:
        raise TypeError("max_pool: value, ksize, strides and padding are required")
    return _nn.max_pool2d(value, ksize, strides, padding, data_format=data_format)


def avg_pool(value=None, ksize=None, strides=None, padding=None, data_format="NHWC",
             name=None, input=None):
    value = alias("avg_pool", "input", input, "value", value)
    if value is None or ksize is None or strides is None or padding is None:
        raise TypeError("avg_pool: value, ksize, strides and padding are required")
    return _nn.avg_pool2d(value, ksize, strides, padding, data_format=data_format)


def softmax(logits, axis=None, name=None, dim=None):
    return _nn.softmax(logits, alias("softmax", "axis", axis, "dim", dim, -1))


def log_softmax(logits, axis=None, name=None, dim=None):
    return _nn.log_softmax(logits, alias("log_softmax", "axis", axis, "dim", dim, -1))


def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    return _nn.l2_normalize(x, alias("l2_normalize", "axis", axis, "dim", dim), epsilon)


def bias_add(value, bias, data_format=None, name=None):
    """``value + bias`` along the channel axis: the last one ("NHWC", "NC", None) or the
    second ("NCHW")."""
    from tapegrad.ops._registry import tensor

    x = tensor(value, op="bias_add")
    b = tensor(bias, op="bias_add")
    if b.ndim != 1 or x.ndim < 2:
        raise ValueError("bias_add: bias must be rank 1 and value at least rank 2, got "
                         "shapes %s and %s" % (tuple(b.shape), tuple(x.shape)))
    channels_first = data_format is not None and str(data_format).startswith("NC") and \
        data_format != "NC"
    if data_format is not None and not str(data_format).startswith("N"):
        raise ValueError("bias_add: unknown data_format %r" % (data_format,))
    axis = 1 if channels_first else x.ndim - 1
    if x.shape[axis] != b.shape[0]:
        raise ValueError("bias_add: bias has %d entries but value has %d channels (shape %s, "
                         "data_format %r)" % (b.shape[0], x.shape[axis], tuple(x.shape),
                                              data_format))
    if channels_first:
        b = reshape(b, (b.shape[0],) + (1,) * (x.ndim - 2))
    return add(x, b)


def in_top_k(predictions, targets, k, name=None):
    """TF 1.x argument order: ``predictions`` first."""
    return _nn.in_top_k(targets, predictions, k)


def embedding_lookup(params, ids, partition_strategy="mod", name=None,
                     validate_indices=True, max_norm=None):
    return _embedding_lookup(params, ids, partition_strategy, max_norm, "embedding_lookup")


def __getattr__(name):
    from tapegrad.compat._graph_only import missing

    raise missing("tf.nn", name)
