"""Adam (TF 1.x ``AdamOptimizer``)."""

import math

import numpy as np

import tapegrad as tg
from tapegrad import _kernels
from tapegrad.optimizers.base import Optimizer

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam with the bias correction folded into the step size, as TF 1.x does it.

    At step ``t`` (from 1): ``lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)``,
    ``m = beta1 m + (1 - beta1) g``, ``v = beta2 v + (1 - beta2) g^2``,
    ``var -= lr_t * m / (sqrt(v) + epsilon)``.  ``t`` comes from the ``iterations``
    variable, so it survives a checkpoint round trip.  Slots: ``"m"``, ``"v"``.
    """

    _slot_names = ("m", "v")

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 name="Adam", amsgrad=False, **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        # amsgrad: divide by the running maximum of v (slot "vhat"), Reddi et al. 2018
        self.amsgrad = bool(amsgrad)
        if self.amsgrad:
            self.__dict__["_slot_names"] = ("m", "v", "vhat")
        self.beta1 = self._check_hyper("beta1", beta1, low=0.0, high=1.0)
        self.beta2 = self._check_hyper("beta2", beta2, low=0.0, high=1.0)
        self.epsilon = self._check_hyper("epsilon", epsilon, low=0.0)

    def _prepare(self, lr, step):
        # Computed in float64 from the integer step: no drift from multiplied powers.
        bias1 = 1.0 - self.beta1 ** step
        bias2 = 1.0 - self.beta2 ** step
        lr_t = lr * math.sqrt(bias2) / bias1 if bias1 > 0.0 else 0.0
        return {"lr": lr, "lr_t": lr_t}

    def _apply_dense_numpy(self, grad, var, slots, hyper):
        if self.amsgrad:
            from tapegrad.optimizers.adaptive import amsgrad_numpy

            return amsgrad_numpy(self, grad, var, slots, hyper["lr_t"])
        m, v = slots
        b1, b2 = self.beta1, self.beta2
        # one fused pass instead of a dozen array-wide NumPy operations
        if _kernels.adam_update(var, m, v, grad, hyper["lr_t"], b1, b2, self.epsilon):
            return
        tmp = self._scratch_like(var)
        m *= b1
        np.multiply(grad, 1.0 - b1, out=tmp)
        m += tmp
        v *= b2
        np.multiply(grad, grad, out=tmp)
        tmp *= 1.0 - b2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += self.epsilon
        np.divide(m, tmp, out=tmp)
        tmp *= hyper["lr_t"]
        var -= tmp

    def _apply_dense_tensor(self, grad, var, slots, hyper):
        if self.amsgrad:
            from tapegrad.optimizers.adaptive import amsgrad_tensor

            return amsgrad_tensor(self, grad, var, slots, hyper["lr_t"])
        m, v = slots
        b1, b2 = self.beta1, self.beta2
        m.assign(m.read_value() * b1 + grad * (1.0 - b1))
        v.assign(v.read_value() * b2 + tg.square(grad) * (1.0 - b2))
        var.assign_sub(m.read_value() * hyper["lr_t"] / (tg.sqrt(v.read_value()) + self.epsilon))

    def get_config(self):
        config = super().get_config()
        config.update(beta1=self.beta1, beta2=self.beta2, epsilon=self.epsilon,
                      amsgrad=self.amsgrad)
        return config
