"""Keras' other adaptive optimizers: AdamW, Nadam, Adamax, Ftrl; and Adam's AMSGrad rule.

Each takes ``clipnorm=``/``clipvalue=``/``global_clipnorm=`` like every optimizer.  The
rules are written twice, as the base class asks: NumPy in place for CPU variables,
tapegrad ops for the others.  Steps ``t`` count from 1 and come from ``iterations``, so
a restored optimizer continues exactly.
"""

import numpy as np

import tapegrad as tg
from tapegrad.optimizers.adam import Adam
from tapegrad.optimizers.base import Optimizer

__all__ = ["AdamW", "Nadam", "Adamax", "Ftrl", "amsgrad_numpy", "amsgrad_tensor"]


def amsgrad_numpy(opt, grad, var, slots, lr_t):
    """Adam with ``vhat = max(vhat, v)`` in the denominator (Adam(amsgrad=True))."""
    m, v, vhat = slots
    b1, b2 = opt.beta1, opt.beta2
    m *= b1
    m += (1.0 - b1) * grad
    v *= b2
    v += (1.0 - b2) * np.square(grad)
    np.maximum(vhat, v, out=vhat)
    var -= lr_t * m / (np.sqrt(vhat) + opt.epsilon)


def amsgrad_tensor(opt, grad, var, slots, lr_t):
    m, v, vhat = slots
    b1, b2 = opt.beta1, opt.beta2
    m.assign(m.read_value() * b1 + grad * (1.0 - b1))
    v.assign(v.read_value() * b2 + tg.square(grad) * (1.0 - b2))
    vhat.assign(tg.maximum(vhat.read_value(), v.read_value()))
    var.assign_sub(m.read_value() * lr_t / (tg.sqrt(vhat.read_value()) + opt.epsilon))


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): before each Adam step,
    ``var -= learning_rate * weight_decay * var``, independent of the gradient.

    ``exclude_from_weight_decay(var_list=None, var_names=None)`` exempts variables
    (e.g. biases and normalization scales), by identity or by a substring of the name.
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta1=0.9, beta2=0.999,
                 epsilon=1e-7, amsgrad=False, name="AdamW", **kwargs):
        super().__init__(learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon, name=name,
                         amsgrad=amsgrad, **kwargs)
        self.weight_decay = self._check_hyper("weight_decay", weight_decay, low=0.0)
        self.__dict__["_no_decay_ids"] = set()
        self.__dict__["_no_decay_names"] = ()

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        self._no_decay_ids.update(id(v) for v in var_list or ())
        self.__dict__["_no_decay_names"] = tuple(var_names or ())

    def _decays(self, var):
        if id(var) in self._no_decay_ids:
            return False
        return not any(part in var.name for part in self._no_decay_names)

    def _get_or_create_slots(self, var):
        # apply_gradients asks for the slots right before the update, and the CPU rule
        # receives only the storage array: remember which variable it belongs to
        self.__dict__["_current_var"] = var
        return super()._get_or_create_slots(var)

    def _apply_dense_numpy(self, grad, var, slots, hyper):
        decay = hyper["lr"] * self.weight_decay
        if decay and self._decays(self._current_var):
            var -= decay * var
        super()._apply_dense_numpy(grad, var, slots, hyper)

    def _apply_dense_tensor(self, grad, var, slots, hyper):
        decay = hyper["lr"] * self.weight_decay
        if decay and self._decays(var):
            var.assign_sub(var.read_value() * decay)
        super()._apply_dense_tensor(grad, var, slots, hyper)

    def get_config(self):
        return dict(super().get_config(), weight_decay=self.weight_decay)


class Adamax(Optimizer):
    """Adam with the infinity norm: ``u = max(beta2 * u, |g|)``,
    ``var -= lr / (1 - beta1^t) * m / (u + epsilon)``.  Slots ``"m"``, ``"u"``."""

    _slot_names = ("m", "u")

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-7,
                 name="Adamax", **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        self.beta1 = self._check_hyper("beta1", beta1, low=0.0, high=1.0)
        self.beta2 = self._check_hyper("beta2", beta2, low=0.0, high=1.0)
        self.epsilon = self._check_hyper("epsilon", epsilon, low=0.0)

    def _prepare(self, lr, step):
        return {"lr": lr, "lr_t": lr / (1.0 - self.beta1 ** step)}

    def _apply_dense_numpy(self, grad, var, slots, hyper):
        m, u = slots
        m *= self.beta1
        m += (1.0 - self.beta1) * grad
        np.maximum(u * self.beta2, np.abs(grad), out=u)
        var -= hyper["lr_t"] * m / (u + self.epsilon)

    def _apply_dense_tensor(self, grad, var, slots, hyper):
        m, u = slots
        m.assign(m.read_value() * self.beta1 + grad * (1.0 - self.beta1))
        u.assign(tg.maximum(u.read_value() * self.beta2, tg.abs(grad)))
        var.assign_sub(m.read_value() * hyper["lr_t"] / (u.read_value() + self.epsilon))

    def get_config(self):
        return dict(super().get_config(), beta1=self.beta1, beta2=self.beta2,
                    epsilon=self.epsilon)


class Nadam(Optimizer):
    """Adam with Nesterov momentum (Dozat 2016) and Keras' momentum schedule
    ``mu_t = beta1 * (1 - 0.5 * 0.96^(0.004 t))``.  Slots ``"m"``, ``"v"``; the running
    product of the ``mu_t`` is the variable ``u_product`` (saved by checkpoints)."""

    _slot_names = ("m", "v")

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-7,
                 name="Nadam", **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        self.beta1 = self._check_hyper("beta1", beta1, low=0.0, high=1.0)
        self.beta2 = self._check_hyper("beta2", beta2, low=0.0, high=1.0)
        self.epsilon = self._check_hyper("epsilon", epsilon, low=0.0)
        self.u_product = tg.Variable(1.0, trainable=False, name=f"{name}/u_product",
                                     dtype=tg.float64)

    def _mu(self, step):
        return self.beta1 * (1.0 - 0.5 * 0.96 ** (0.004 * step))

    def _prepare(self, lr, step):
        mu_t, mu_next = self._mu(step), self._mu(step + 1)
        product = float(self.u_product.numpy()) * mu_t
        self.u_product.assign(product)
        return {"lr": lr, "mu_t": mu_t, "mu_next": mu_next, "product": product,
                "product_next": product * mu_next, "bias2": 1.0 - self.beta2 ** step}

    def _coefficients(self, hyper):
        # var -= lr * (a * m + b * g) / (sqrt(v / bias2) + epsilon)
        a = hyper["mu_next"] / (1.0 - hyper["product_next"])
        b = (1.0 - hyper["mu_t"]) / (1.0 - hyper["product"])
        return a, b

    def _apply_dense_numpy(self, grad, var, slots, hyper):
        m, v = slots
        m *= self.beta1
        m += (1.0 - self.beta1) * grad
        v *= self.beta2
        v += (1.0 - self.beta2) * np.square(grad)
        a, b = self._coefficients(hyper)
        var -= hyper["lr"] * (a * m + b * grad) / (np.sqrt(v / hyper["bias2"]) + self.epsilon)

    def _apply_dense_tensor(self, grad, var, slots, hyper):
        m, v = slots
        m.assign(m.read_value() * self.beta1 + grad * (1.0 - self.beta1))
        v.assign(v.read_value() * self.beta2 + tg.square(grad) * (1.0 - self.beta2))
        a, b = self._coefficients(hyper)
        var.assign_sub((m.read_value() * a + grad * b) * hyper["lr"]
                       / (tg.sqrt(v.read_value() / hyper["bias2"]) + self.epsilon))

    def get_config(self):
        return dict(super().get_config(), beta1=self.beta1, beta2=self.beta2,
                    epsilon=self.epsilon)


class Ftrl(Optimizer):
    """Follow-the-regularized-leader (McMahan et al. 2013), Keras' form.

    Slots ``"accumulator"`` (from ``initial_accumulator_value``) and ``"linear"``;
    ``l1``/``l2`` regularize the solution, ``l2_shrinkage`` adds ``2 * s * var`` to the
    gradient of the linear term, ``beta`` adds ``beta / (2 lr)`` to ``l2``.
    """

    _slot_names = ("accumulator", "linear")

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5,
                 initial_accumulator_value=0.1, l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0,
                 beta=0.0, name="Ftrl", **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        self.learning_rate_power = self._check_hyper("learning_rate_power",
                                                     learning_rate_power, high=0.0)
        self.initial_accumulator_value = self._check_hyper(
            "initial_accumulator_value", initial_accumulator_value, low=0.0)
        self.l1 = self._check_hyper("l1_regularization_strength",
                                    l1_regularization_strength, low=0.0)
        self.l2 = self._check_hyper("l2_regularization_strength",
                                    l2_regularization_strength, low=0.0)
        self.l2_shrinkage = self._check_hyper("l2_shrinkage_regularization_strength",
                                              l2_shrinkage_regularization_strength, low=0.0)
        self.beta = self._check_hyper("beta", beta, low=0.0)
        self.__dict__["_slot_init"] = {"accumulator": self.initial_accumulator_value,
                                       "linear": 0.0}

    def _prepare(self, lr, step):
        if lr <= 0:
            raise ValueError("Ftrl: the learning rate must be > 0")
        return {"lr": lr, "l2_reg": self.l2 + self.beta / (2.0 * lr)}

    def _apply_dense_numpy(self, grad, var, slots, hyper):
        accum, linear = slots
        lr, p = hyper["lr"], -self.learning_rate_power
        shrunk = grad + 2.0 * self.l2_shrinkage * var if self.l2_shrinkage else grad
        new_accum = accum + np.square(grad)
        linear += shrunk - (np.power(new_accum, p) - np.power(accum, p)) / lr * var
        quadratic = np.power(new_accum, p) / lr + 2.0 * hyper["l2_reg"]
        var[...] = np.where(np.abs(linear) > self.l1,
                            (np.sign(linear) * self.l1 - linear) / quadratic, 0.0)
        accum[...] = new_accum

    def _apply_dense_tensor(self, grad, var, slots, hyper):
        accum, linear = slots
        lr, p = hyper["lr"], -self.learning_rate_power
        w = var.read_value()
        shrunk = grad + w * (2.0 * self.l2_shrinkage) if self.l2_shrinkage else grad
        old = accum.read_value()
        new_accum = old + tg.square(grad)
        lin = linear.read_value() + shrunk - (tg.pow(new_accum, p) - tg.pow(old, p)) / lr * w
        quadratic = tg.pow(new_accum, p) / lr + 2.0 * hyper["l2_reg"]
        linear.assign(lin)
        var.assign(tg.where(tg.abs(lin) > self.l1,
                            (tg.sign(lin) * self.l1 - lin) / quadratic, tg.zeros_like(lin)))
        accum.assign(new_accum)

    def get_config(self):
        # the constructor's argument names, so that from_config rebuilds it
        return dict(super().get_config(), learning_rate_power=self.learning_rate_power,
                    initial_accumulator_value=self.initial_accumulator_value,
                    l1_regularization_strength=self.l1, l2_regularization_strength=self.l2,
                    l2_shrinkage_regularization_strength=self.l2_shrinkage, beta=self.beta)

