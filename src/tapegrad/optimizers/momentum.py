"""Gradient descent with momentum (TF 1.x ``MomentumOptimizer``)."""

import numpy as np

from tapegrad.optimizers.base import Optimizer

__all__ = ["Momentum"]


class Momentum(Optimizer):
    """``accum = momentum * accum + grad; var -= learning_rate * accum``.

    With ``use_nesterov=True``: ``var -= learning_rate * (grad + momentum * accum)``
    (after the accumulator update), TensorFlow's formulation.  Slot: ``"momentum"``.
    """

    _slot_names = ("momentum",)

    def __init__(self, learning_rate=0.01, momentum=0.9, use_nesterov=False, name="Momentum",
                 **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        self.momentum = self._check_hyper("momentum", momentum, low=0.0)
        self.use_nesterov = bool(use_nesterov)

    def _apply_dense_numpy(self, grad, var, slots, hyper):
        (accum,) = slots
        lr, momentum = hyper["lr"], self.momentum
        accum *= momentum
        accum += grad
        step = self._scratch_like(var)
        if self.use_nesterov:
            np.multiply(accum, momentum, out=step)
            step += grad
            step *= lr
        else:
            np.multiply(accum, lr, out=step)
        var -= step

    def _apply_dense_tensor(self, grad, var, slots, hyper):
        (accum,) = slots
        lr, momentum = hyper["lr"], self.momentum
        accum.assign(accum.read_value() * momentum + grad)
        if self.use_nesterov:
            var.assign_sub((grad + accum.read_value() * momentum) * lr)
        else:
            var.assign_sub(accum.read_value() * lr)

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, use_nesterov=self.use_nesterov)
        return config
