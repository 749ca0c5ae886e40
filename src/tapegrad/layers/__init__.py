"""Keras-like layers (the guide's ``tf.keras.layers``)."""

from tapegrad.layers import activations
from tapegrad.layers.base import Layer
from tapegrad.layers.convolutional import Conv2D
from tapegrad.layers.core import Activation, Dense, Dropout, Embedding, Flatten, Reshape
from tapegrad.layers.normalization import BatchNormalization
from tapegrad.layers.pooling import (
    AveragePooling2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling2D,
)

# Recurrent layers (issue 21)
from tapegrad.layers.recurrent import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    LSTMCell,
    SimpleRNN,
    SimpleRNNCell,
)
from tapegrad.layers.wrappers import Bidirectional, Masking

# Keras' short aliases.
Convolution2D = Conv2D
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D

__all__ = [
    "activations",
    "Layer",
    "Dense",
    "Activation",
    "Flatten",
    "Reshape",
    "Dropout",
    "Embedding",
    "Conv2D",
    "Convolution2D",
    "MaxPooling2D",
    "MaxPool2D",
    "AveragePooling2D",
    "AvgPool2D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "BatchNormalization",
    "RNN",
    "SimpleRNN",
    "SimpleRNNCell",
    "LSTM",
    "LSTMCell",
    "GRU",
    "GRUCell",
    "Bidirectional",
    "Masking",
]
