"""Adam (TF 1.x ``AdamOptimizer``)."""

import math

import numpy as np

import tapegrad as tg
from tapegrad import _kernels
from tapegrad.optimizers.base import Optimizer, _Hyper

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam with the bias correction folded into the step size, as TF 1.x does it.

    At step ``t`` (from 1): ``lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)``,
    ``m = beta1 m + (1 - beta1) g``, ``v = beta2 v + (1 - beta2) g^2``,
    ``var -= lr_t * m / (sqrt(v) + epsilon)``.  ``t`` comes from the ``iterations``
    variable, so it survives a checkpoint round trip.  Slots: ``"m"``, ``"v"``.
    """

    _slot_names = ("m", "v")
    _uses_scratch = False
    _hyper_bounds = {"beta1": (0.0, 1.0, False), "beta2": (0.0, 1.0, False),
                     "epsilon": (0.0, None, False)}
    beta1 = _Hyper("beta1")
    beta2 = _Hyper("beta2")
    epsilon = _Hyper("epsilon")

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 name="Adam", amsgrad=False, **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        # amsgrad: divide by the running maximum of v (slot "vhat"), Reddi et al. 2018
        self.amsgrad = bool(amsgrad)
        if self.amsgrad:
            self.__dict__["_slot_names"] = ("m", "v", "vhat")
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon

    def _prepare_step(self, hyper, step):
        # Computed in float64 from the integer step: no drift from multiplied powers.
        lr = hyper["learning_rate"]
        bias1 = 1.0 - hyper["beta1"] ** step
        bias2 = 1.0 - hyper["beta2"] ** step
        lr_t = lr * math.sqrt(bias2) / bias1 if bias1 > 0.0 else 0.0
        return dict(hyper, lr=lr, lr_t=lr_t)

    def _apply_dense_numpy(self, grad, var, slots, hyper):
        if self.amsgrad:
            from tapegrad.optimizers.adaptive import amsgrad_numpy

            return amsgrad_numpy(self, grad, var, slots, hyper["lr_t"])
        m, v = slots
        b1, b2, eps = hyper["beta1"], hyper["beta2"], hyper["epsilon"]
        # one fused pass instead of a dozen array-wide NumPy operations
        if _kernels.adam_update(var, m, v, grad, hyper["lr_t"], b1, b2, eps):
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
        tmp += eps
        np.divide(m, tmp, out=tmp)
        tmp *= hyper["lr_t"]
        var -= tmp

    def _dense_tensor_update(self, grad, var, slots, hyper):
        if self.amsgrad:
            m, v, vhat = slots
            b1, b2 = hyper["beta1"], hyper["beta2"]
            m = m * b1 + grad * (1.0 - b1)
            v = v * b2 + tg.square(grad) * (1.0 - b2)
            vhat = tg.maximum(vhat, v)
            return var - m * hyper["lr_t"] / (tg.sqrt(vhat) + hyper["epsilon"]), [m, v, vhat]
        m, v = slots
        b1, b2 = hyper["beta1"], hyper["beta2"]
        m = m * b1 + grad * (1.0 - b1)
        v = v * b2 + tg.square(grad) * (1.0 - b2)
        return var - m * hyper["lr_t"] / (tg.sqrt(v) + hyper["epsilon"]), [m, v]

    def get_config(self):
        config = super().get_config()
        config.update({k: self._hyper_config(k) for k in ("beta1", "beta2", "epsilon")})
        config["amsgrad"] = self.amsgrad
        return config
