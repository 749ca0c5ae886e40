"""Gradient descent with momentum (TF 1.x ``MomentumOptimizer``)."""

import numpy as np

from tapegrad.optimizers.base import Optimizer, _Hyper

__all__ = ["Momentum"]


class Momentum(Optimizer):
    """``accum = momentum * accum + grad; var -= learning_rate * accum``.

    With ``use_nesterov=True``: ``var -= learning_rate * (grad + momentum * accum)``
    (after the accumulator update), TensorFlow's formulation.  Slot: ``"momentum"``.
    """

    _slot_names = ("momentum",)
    _hyper_bounds = {"momentum": (0.0, None, False)}
    momentum = _Hyper("momentum")

    def __init__(self, learning_rate=0.01, momentum=0.9, use_nesterov=False, name="Momentum",
                 **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        self.momentum = momentum
        self.use_nesterov = bool(use_nesterov)

    def _apply_dense_numpy(self, grad, var, slots, hyper):
        (accum,) = slots
        lr, momentum = hyper["lr"], hyper["momentum"]
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

    def _dense_tensor_update(self, grad, var, slots, hyper):
        (accum,) = slots
        lr, momentum = hyper["lr"], hyper["momentum"]
        accum = accum * momentum + grad
        if self.use_nesterov:
            return var - (grad + accum * momentum) * lr, [accum]
        return var - accum * lr, [accum]

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self._hyper_config("momentum"), use_nesterov=self.use_nesterov)
        return config
