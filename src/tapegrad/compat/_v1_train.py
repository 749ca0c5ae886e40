"""``tf.train`` optimizers with their TF 1.x constructor signatures.

TF 1.x puts ``use_locking`` before ``name`` (and, for ``MomentumOptimizer`` and
``RMSPropOptimizer``, before ``use_nesterov``/``centered``), so positional calls written
for TF 1.x would land on the wrong tapegrad parameter.  These subclasses take the TF 1.x
order and are otherwise the tapegrad optimizers; ``use_locking`` has no effect (an update
is all-or-nothing as seen from Python).
"""

from tapegrad.optimizers import Adagrad, Adam, GradientDescent, Momentum, RMSProp

__all__ = ["GradientDescentOptimizer", "MomentumOptimizer", "AdamOptimizer",
           "RMSPropOptimizer", "AdagradOptimizer"]


class GradientDescentOptimizer(GradientDescent):
    """TF 1.x ``tf.train.GradientDescentOptimizer(learning_rate, use_locking, name)``."""

    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__(learning_rate, name=name)


class MomentumOptimizer(Momentum):
    """TF 1.x ``tf.train.MomentumOptimizer(learning_rate, momentum, use_locking, name,
    use_nesterov)``."""

    def __init__(self, learning_rate, momentum, use_locking=False, name="Momentum",
                 use_nesterov=False):
        super().__init__(learning_rate, momentum, use_nesterov=use_nesterov, name=name)


class AdamOptimizer(Adam):
    """TF 1.x ``tf.train.AdamOptimizer(learning_rate, beta1, beta2, epsilon, use_locking,
    name)``."""

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 use_locking=False, name="Adam"):
        super().__init__(learning_rate, beta1, beta2, epsilon, name=name)


class RMSPropOptimizer(RMSProp):
    """TF 1.x ``tf.train.RMSPropOptimizer(learning_rate, decay, momentum, epsilon,
    use_locking, centered, name)``."""

    def __init__(self, learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10,
                 use_locking=False, centered=False, name="RMSProp"):
        super().__init__(learning_rate, decay, momentum, epsilon, centered=centered,
                         name=name)


class AdagradOptimizer(Adagrad):
    """TF 1.x ``tf.train.AdagradOptimizer(learning_rate, initial_accumulator_value,
    use_locking, name)``."""

    def __init__(self, learning_rate, initial_accumulator_value=0.1, use_locking=False,
                 name="Adagrad"):
        super().__init__(learning_rate, initial_accumulator_value, name=name)


# The learning-rate decays take a trailing ``name`` in TF 1.x.

def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False,
                      name=None):
    from tapegrad.optimizers import schedules

    return schedules.exponential_decay(learning_rate, global_step, decay_steps, decay_rate,
                                       staircase)


def inverse_time_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False,
                       name=None):
    from tapegrad.optimizers import schedules

    return schedules.inverse_time_decay(learning_rate, global_step, decay_steps, decay_rate,
                                        staircase)


def piecewise_constant(x, boundaries, values, name=None):
    from tapegrad.optimizers import schedules

    return schedules.piecewise_constant(x, boundaries, values)


__all__ += ["exponential_decay", "inverse_time_decay", "piecewise_constant"]
