"""Keras-like layers (the guide's ``tf.keras.layers``)."""

from tapegrad.layers import activations

# Functional API and recurrent layers (issue 21)
from tapegrad.layers.attention import Attention, MultiHeadAttention
from tapegrad.layers.base import Layer
from tapegrad.layers.convolutional import Conv2D
from tapegrad.layers.convolutional_extra import (
    Conv2DTranspose,
    DepthwiseConv2D,
    SeparableConv2D,
)
from tapegrad.layers.core import Activation, Dense, Dropout, Embedding, Flatten, Reshape
from tapegrad.layers.extra import (
    ELU,
    AveragePooling1D,
    Conv1D,
    Cropping2D,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    LayerNormalization,
    LeakyReLU,
    MaxPooling1D,
    Permute,
    PReLU,
    ReLU,
    RepeatVector,
    Softmax,
    TimeDistributed,
    UpSampling2D,
    ZeroPadding2D,
)
from tapegrad.layers.functional import Input, InputLayer
from tapegrad.layers.merging import (
    Add,
    Average,
    Concatenate,
    Lambda,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
)
from tapegrad.layers.normalization import BatchNormalization
from tapegrad.layers.pooling import (
    AveragePooling2D,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling2D,
)
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
    "Input",
    "InputLayer",
    "Attention",
    "MultiHeadAttention",
    "Conv2DTranspose",
    "DepthwiseConv2D",
    "SeparableConv2D",
    "Softmax",
    "ReLU",
    "LeakyReLU",
    "PReLU",
    "ELU",
    "LayerNormalization",
    "Conv1D",
    "MaxPooling1D",
    "AveragePooling1D",
    "GlobalAveragePooling1D",
    "GlobalMaxPooling1D",
    "RepeatVector",
    "Permute",
    "ZeroPadding2D",
    "Cropping2D",
    "UpSampling2D",
    "TimeDistributed",
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Concatenate",
    "Lambda",
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
