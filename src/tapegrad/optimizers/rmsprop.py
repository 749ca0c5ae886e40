"""RMSProp (TF 1.x ``RMSPropOptimizer``)."""

import numpy as np

import tapegrad as tg
from tapegrad.optimizers.base import Optimizer, _Hyper

__all__ = ["RMSProp"]


class RMSProp(Optimizer):
    """``ms = decay ms + (1 - decay) g^2``;
    ``mom = momentum mom + lr g / sqrt(ms + epsilon)``; ``var -= mom``.

    ``centered=True`` also tracks ``mg = decay mg + (1 - decay) g`` and divides by
    ``sqrt(ms - mg^2 + epsilon)``.  As in TF 1.x the ``"rms"`` slot starts at 1 (not 0),
    so the first steps are not huge; slots: ``"rms"``, ``"momentum"`` (and ``"mg"``).
    """

    _slot_init = {"rms": 1.0}
    _hyper_bounds = {"decay": (0.0, 1.0, False), "momentum": (0.0, None, False),
                     "epsilon": (0.0, None, False)}
    decay = _Hyper("decay")
    momentum = _Hyper("momentum")
    epsilon = _Hyper("epsilon")

    def __init__(self, learning_rate=0.001, decay=0.9, momentum=0.0, epsilon=1e-10,
                 centered=False, name="RMSProp", **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        self.decay = decay
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = bool(centered)
        self.__dict__["_slot_names"] = ("rms", "momentum", "mg") if centered else (
            "rms", "momentum")

    def _apply_dense_numpy(self, grad, var, slots, hyper):
        ms, mom = slots[0], slots[1]
        rho, eps = hyper["decay"], hyper["epsilon"]
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
            tmp += eps
        else:
            np.add(ms, eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.divide(grad, tmp, out=tmp)
        tmp *= hyper["lr"]
        mom *= hyper["momentum"]
        mom += tmp
        var -= mom

    def _dense_tensor_update(self, grad, var, slots, hyper):
        ms, mom = slots[0], slots[1]
        rho = hyper["decay"]
        ms = ms * rho + tg.square(grad) * (1.0 - rho)
        denom = ms + hyper["epsilon"]
        new_slots = [ms, None]
        if self.centered:
            mg = slots[2] * rho + grad * (1.0 - rho)
            denom = denom - tg.square(mg)
            new_slots.append(mg)
        mom = mom * hyper["momentum"] + grad * hyper["lr"] / tg.sqrt(denom)
        new_slots[1] = mom
        return var - mom, new_slots

    def get_config(self):
        config = super().get_config()
        config.update({k: self._hyper_config(k) for k in ("decay", "momentum", "epsilon")})
        config["centered"] = self.centered
        return config
