"""Adagrad (TF 1.x ``AdagradOptimizer``)."""

import numpy as np

import tapegrad as tg
from tapegrad.optimizers.base import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """``accum += g^2; var -= lr * g / sqrt(accum)``; slot ``"accumulator"``.

    The accumulator starts at ``initial_accumulator_value`` (> 0), which keeps the
    first division finite; there is no epsilon, as in TF 1.x.
    """

    _slot_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, name="Adagrad",
                 **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        self.initial_accumulator_value = self._check_hyper(
            "initial_accumulator_value", initial_accumulator_value, low=0.0, low_open=True)
        self.__dict__["_slot_init"] = {"accumulator": self.initial_accumulator_value}

    def _apply_dense_numpy(self, grad, var, slots, hyper):
        (accum,) = slots
        tmp = self._scratch_like(var)
        np.multiply(grad, grad, out=tmp)
        accum += tmp
        np.sqrt(accum, out=tmp)
        np.divide(grad, tmp, out=tmp)
        tmp *= hyper["lr"]
        var -= tmp

    def _dense_tensor_update(self, grad, var, slots, hyper):
        (accum,) = slots
        accum = accum + tg.square(grad)
        return var - grad * hyper["lr"] / tg.sqrt(accum), [accum]

    def get_config(self):
        config = super().get_config()
        config["initial_accumulator_value"] = self.initial_accumulator_value
        return config
