"""RMSProp (TF 1.x ``RMSPropOptimizer``)."""

import numpy as np

import tapegrad as tg
from tapegrad.optimizers.base import Optimizer

__all__ = ["RMSProp"]


class RMSProp(Optimizer):
    """``ms = decay ms + (1 - decay) g^2``;
    ``mom = momentum mom + lr g / sqrt(ms + epsilon)``; ``var -= mom``.

    ``centered=True`` also tracks ``mg = decay mg + (1 - decay) g`` and divides by
    ``sqrt(ms - mg^2 + epsilon)``.  As in TF 1.x the ``"rms"`` slot starts at 1 (not 0),
    so the first steps are not huge; slots: ``"rms"``, ``"momentum"`` (and ``"mg"``).
    """

    _slot_init = {"rms": 1.0}

    def __init__(self, learning_rate=0.001, decay=0.9, momentum=0.0, epsilon=1e-10,
                 centered=False, name="RMSProp", **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        self.decay = self._check_hyper("decay", decay, low=0.0, high=1.0)
        self.momentum = self._check_hyper("momentum", momentum, low=0.0)
        self.epsilon = self._check_hyper("epsilon", epsilon, low=0.0)
        self.centered = bool(centered)
        self.__dict__["_slot_names"] = ("rms", "momentum", "mg") if centered else (
            "rms", "momentum")

    def _apply_dense_numpy(self, grad, var, slots, hyper):
        ms, mom = slots[0], slots[1]
        rho = self.decay
        tmp = self._scratch_like(var)
        ms *= rho
        np.multiply(grad, grad, out=tmp)
        tmp *= 1.0 - rho
        ms += tmp
        if self.centered:
            mg = slots[2]
            mg *= rho
            np.multiply(grad, 1.0 - rho, out=tmp)
            mg += tmp
            np.multiply(mg, mg, out=tmp)
            np.subtract(ms, tmp, out=tmp)
            tmp += self.epsilon
        else:
            np.add(ms, self.epsilon, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.divide(grad, tmp, out=tmp)
        tmp *= hyper["lr"]
        mom *= self.momentum
        mom += tmp
        var -= mom

    def _apply_dense_tensor(self, grad, var, slots, hyper):
        ms, mom = slots[0], slots[1]
        rho = self.decay
        ms.assign(ms.read_value() * rho + tg.square(grad) * (1.0 - rho))
        denom = ms.read_value() + self.epsilon
        if self.centered:
            mg = slots[2]
            mg.assign(mg.read_value() * rho + grad * (1.0 - rho))
            denom = denom - tg.square(mg.read_value())
        mom.assign(mom.read_value() * self.momentum + grad * hyper["lr"] / tg.sqrt(denom))
        var.assign_sub(mom.read_value())

    def get_config(self):
        config = super().get_config()
        config.update(decay=self.decay, momentum=self.momentum, epsilon=self.epsilon,
                      centered=self.centered)
        return config
