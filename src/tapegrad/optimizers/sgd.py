"""Plain gradient descent (TF 1.x ``GradientDescentOptimizer``)."""

import numpy as np

from tapegrad import _kernels
from tapegrad.optimizers.base import Optimizer

__all__ = ["SGD", "GradientDescent"]


class SGD(Optimizer):
    """``var -= learning_rate * grad``."""

    _uses_scratch = False

    def __init__(self, learning_rate=0.01, name="GradientDescent", **kwargs):
        super().__init__(learning_rate, name, **kwargs)

    def _apply_dense_numpy(self, grad, var, slots, hyper):
        if _kernels.sgd_update(var, grad, hyper["lr"]):
            return
        step = self._scratch_like(var)
        np.multiply(grad, hyper["lr"], out=step)
        var -= step

    def _dense_tensor_update(self, grad, var, slots, hyper):
        return var - grad * hyper["lr"], []


GradientDescent = SGD
