"""Optimizers with TF 1.x update rules (``tf.train.*Optimizer``)."""

from tapegrad.optimizers import schedules
from tapegrad.optimizers.adagrad import Adagrad
from tapegrad.optimizers.adam import Adam
from tapegrad.optimizers.adaptive import Adamax, AdamW, Ftrl, Nadam
from tapegrad.optimizers.base import Optimizer
from tapegrad.optimizers.momentum import Momentum
from tapegrad.optimizers.rmsprop import RMSProp
from tapegrad.optimizers.sgd import SGD, GradientDescent

__all__ = ["Optimizer", "SGD", "GradientDescent", "Momentum", "Adam", "RMSProp", "Adagrad",
           "AdamW", "Adamax", "Nadam", "Ftrl", "schedules"]
