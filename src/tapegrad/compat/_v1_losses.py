"""``tf.losses`` with TF 1.x signatures: ``tapegrad.compat.tf1.losses``.

tapegrad's ``tg.losses`` already uses TF 1.x argument orders (``labels`` before
``predictions``/``logits``); TF 1.x puts ``scope`` and ``loss_collection`` before
``reduction``, so a positional fourth argument is the scope here.  As in TF 1.x,
``softmax_cross_entropy`` stops the gradient to its labels.  ``scope`` and
``loss_collection`` (graph collections) are accepted and ignored.
"""

from tapegrad import losses as _losses
from tapegrad.losses import Reduction
from tapegrad.ops.elementwise import stop_gradient

__all__ = ["Reduction", "absolute_difference", "compute_weighted_loss", "hinge_loss",
           "huber_loss", "log_loss", "mean_squared_error", "sigmoid_cross_entropy",
           "softmax_cross_entropy", "sparse_softmax_cross_entropy"]

_SBNZW = Reduction.SUM_BY_NONZERO_WEIGHTS


def compute_weighted_loss(losses, weights=1.0, scope=None, loss_collection=None,
                          reduction=_SBNZW):
    return _losses.compute_weighted_loss(losses, weights, reduction)


def absolute_difference(labels, predictions, weights=1.0, scope=None, loss_collection=None,
                        reduction=_SBNZW):
    return _losses.absolute_difference(labels, predictions, weights, reduction=reduction)


def hinge_loss(labels, logits, weights=1.0, scope=None, loss_collection=None,
               reduction=_SBNZW):
    return _losses.hinge_loss(labels, logits, weights, reduction=reduction)


def huber_loss(labels, predictions, weights=1.0, delta=1.0, scope=None, loss_collection=None,
               reduction=_SBNZW):
    return _losses.huber_loss(labels, predictions, weights, delta, reduction=reduction)


def log_loss(labels, predictions, weights=1.0, epsilon=1e-7, scope=None,
             loss_collection=None, reduction=_SBNZW):
    return _losses.log_loss(labels, predictions, weights, epsilon, reduction=reduction)


def mean_squared_error(labels, predictions, weights=1.0, scope=None, loss_collection=None,
                       reduction=_SBNZW):
    return _losses.mean_squared_error(labels, predictions, weights, reduction=reduction)


def sigmoid_cross_entropy(multi_class_labels, logits, weights=1.0, label_smoothing=0,
                          scope=None, loss_collection=None, reduction=_SBNZW):
    return _losses.sigmoid_cross_entropy(multi_class_labels, logits, weights,
                                         label_smoothing, reduction=reduction)


def softmax_cross_entropy(onehot_labels, logits, weights=1.0, label_smoothing=0, scope=None,
                          loss_collection=None, reduction=_SBNZW):
    """TF 1.x: no gradient flows into ``onehot_labels``."""
    return _losses.softmax_cross_entropy(stop_gradient(onehot_labels), logits, weights,
                                         label_smoothing, reduction=reduction)


def sparse_softmax_cross_entropy(labels, logits, weights=1.0, scope=None,
                                 loss_collection=None, reduction=_SBNZW):
    return _losses.sparse_softmax_cross_entropy(labels, logits, weights, reduction=reduction)


def __getattr__(name):
    from tapegrad.compat._graph_only import missing

    raise missing("tf.losses", name)
