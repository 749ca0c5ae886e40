"""Attention layers: dot-product ``Attention`` (Luong) and ``MultiHeadAttention``.

Both are compositions of matmul, softmax and reshapes, so their gradients of every
order come from those ops.  Masks follow Keras: ``True``/1 = attend, ``False``/0 = do
not; masked scores get a large negative bias before the softmax.
"""

import math

import numpy as np

import tapegrad as tg
from tapegrad import initializers
from tapegrad.layers.base import Layer
from tapegrad.layers.core import _positive_int

__all__ = ["Attention", "MultiHeadAttention"]

_MASKED = -1e9


def _tensor(value, dtype):
    if isinstance(value, (tg.Tensor, tg.Variable)):
        return value if value.dtype == dtype or value.dtype.kind != "f" else tg.cast(value, dtype)
    arr = np.asarray(value)
    return tg.convert_to_tensor(arr.astype(dtype) if arr.dtype.kind == "f" else arr)


def _mask_bias(mask, shape, dtype, where):
    """0 where attending, -1e9 elsewhere, broadcastable to the scores' ``shape``."""
    arr = np.asarray(mask.numpy() if hasattr(mask, "numpy") else mask).astype(bool)
    try:
        np.broadcast_to(arr, shape)
    except ValueError:
        raise ValueError(f"{where}: mask of shape {arr.shape} does not broadcast to the "
                         f"attention scores' shape {shape}") from None
    return tg.convert_to_tensor(np.where(arr, 0.0, _MASKED).astype(dtype))


def _causal(tq, tv):
    return np.tril(np.ones((tq, tv), dtype=bool), k=tv - tq)


class Attention(Layer):
    """Dot-product attention: ``softmax(query @ key^T [* scale]) @ value``.

    Called on ``[query, value]`` or ``[query, value, key]`` (key defaults to value),
    shapes ``(batch, Tq, dim)`` and ``(batch, Tv, dim)``.  ``use_scale=True`` learns a
    scalar multiplying the scores; ``score_mode="concat"`` uses
    ``sum(tanh(query + key))`` instead of the dot product.  Call arguments:
    ``mask=[query_mask, value_mask]`` (``(batch, T)`` booleans), ``use_causal_mask``,
    ``return_attention_scores``.
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"Attention: score_mode must be 'dot' or 'concat', got "
                             f"{score_mode!r}")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = float(dropout)

    def build(self, input_shape):
        self.scale = (self.add_weight("scale", (), initializer="ones") if self.use_scale
                      else None)
        self.concat_score_weight = (self.add_weight("concat_score_weight", (),
                                                    initializer="ones")
                                    if self.score_mode == "concat" else None)
        self.built = True

    def _convert_input(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise TypeError(f"Attention {self.name!r}: call it on [query, value] or "
                            f"[query, value, key]")
        return [_tensor(x, self.dtype) for x in inputs]

    def call(self, inputs, mask=None, training=None, return_attention_scores=False,
             use_causal_mask=False):
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) == 3 else value
        for name, x in (("query", query), ("value", value), ("key", key)):
            if len(x.shape) != 3:
                raise ValueError(f"Attention {self.name!r}: {name} must be (batch, T, dim), "
                                 f"got shape {tuple(x.shape)}")
        if self.score_mode == "dot":
            scores = tg.matmul(query, key, transpose_b=True)
            if self.scale is not None:
                scores = scores * self.scale
        else:
            q = tg.expand_dims(query, 2)
            k = tg.expand_dims(key, 1)
            scale = self.scale if self.scale is not None else 1.0
            scores = self.concat_score_weight * tg.reduce_sum(tg.tanh(scale * (q + k)),
                                                              axis=-1)
        shape = tuple(scores.shape)
        if mask is not None and mask[1] is not None:
            value_mask = np.asarray(mask[1].numpy() if hasattr(mask[1], "numpy") else mask[1])
            scores = scores + _mask_bias(value_mask[:, None, :], shape, scores.dtype,
                                         f"Attention {self.name!r}")
        if use_causal_mask:
            scores = scores + _mask_bias(_causal(shape[1], shape[2]), shape, scores.dtype,
                                         f"Attention {self.name!r}")
        weights = tg.nn.softmax(scores, axis=-1)
        if training and self.dropout > 0:
            weights = tg.nn.dropout(weights, rate=self.dropout)
        out = tg.matmul(weights, value)
        if mask is not None and mask[0] is not None:
            query_mask = np.asarray(mask[0].numpy() if hasattr(mask[0], "numpy") else mask[0])
            out = out * tg.convert_to_tensor(query_mask[..., None].astype(out.dtype))
        if return_attention_scores:
            return [out, weights]
        return out

    def get_config(self):
        return dict(super().get_config(), use_scale=self.use_scale,
                    score_mode=self.score_mode, dropout=self.dropout)


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al.), Keras' layer and weight layout.

    ``MultiHeadAttention(num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
    output_shape=None)``, called as ``mha(query, value, key=None, attention_mask=None,
    return_attention_scores=False, use_causal_mask=False)`` on ``(batch, T, dim)``
    inputs.  Weights: ``query/kernel`` ``(dim, heads, key_dim)``, ``key/kernel``,
    ``value/kernel`` ``(dim, heads, value_dim)``, ``attention_output/kernel``
    ``(heads, value_dim, out_dim)``, each with a bias.  ``attention_mask`` is
    ``(batch, Tq, Tv)`` booleans.
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.num_heads = _positive_int(num_heads, "num_heads", "MultiHeadAttention")
        self.key_dim = _positive_int(key_dim, "key_dim", "MultiHeadAttention")
        self.value_dim = self.key_dim if value_dim is None else _positive_int(
            value_dim, "value_dim", "MultiHeadAttention")
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        self.output_dim = None if output_shape is None else _positive_int(
            output_shape if not isinstance(output_shape, (list, tuple)) else output_shape[-1],
            "output_shape", "MultiHeadAttention")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def _dense(self, name, shape):
        kernel = self.add_weight(f"{name}/kernel", shape, initializer=self.kernel_initializer)
        bias = (self.add_weight(f"{name}/bias", shape[-2:] if name != "attention_output"
                                else shape[-1:], initializer=self.bias_initializer)
                if self.use_bias else None)
        return kernel, bias

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(f"MultiHeadAttention {self.name!r}: the query's last dimension "
                             f"must be known, got {input_shape}")
        self._query_dim = dim
        self.built = True

    def _build_all(self, query, value, key):
        h = self.num_heads
        self.query_kernel, self.query_bias = self._dense("query", (query.shape[-1], h,
                                                                    self.key_dim))
        self.key_kernel, self.key_bias = self._dense("key", (key.shape[-1], h, self.key_dim))
        self.value_kernel, self.value_bias = self._dense("value", (value.shape[-1], h,
                                                                    self.value_dim))
        out_dim = self.output_dim or query.shape[-1]
        self.output_kernel, self.output_bias = self._dense("attention_output",
                                                           (h, self.value_dim, out_dim))

    def _project(self, x, kernel, bias):
        # (b, t, d) @ (d, h*k) -> (b, h, t, k)
        b, t, d = x.shape
        _, h, k = kernel.shape
        y = tg.matmul(tg.reshape(x, (b * t, d)), tg.reshape(kernel, (d, h * k)))
        y = tg.reshape(y, (b, t, h, k))
        if bias is not None:
            y = y + bias
        return tg.transpose(y, (0, 2, 1, 3))

    def call(self, query, value=None, key=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        if value is None:
            raise TypeError(f"MultiHeadAttention {self.name!r}: call it as "
                            "mha(query, value[, key])")
        value = _tensor(value, self.dtype)
        key = value if key is None else _tensor(key, self.dtype)
        for name, x in (("query", query), ("value", value), ("key", key)):
            if len(x.shape) != 3:
                raise ValueError(f"MultiHeadAttention {self.name!r}: {name} must be "
                                 f"(batch, T, dim), got shape {tuple(x.shape)}")
        if "query_kernel" not in self.__dict__:
            self._build_all(query, value, key)
        q = self._project(query, self.query_kernel, self.query_bias)   # (b, h, tq, k)
        k = self._project(key, self.key_kernel, self.key_bias)         # (b, h, tv, k)
        v = self._project(value, self.value_kernel, self.value_bias)   # (b, h, tv, vd)
        scores = tg.matmul(q * (1.0 / math.sqrt(self.key_dim)), k, transpose_b=True)
        shape = tuple(scores.shape)
        if attention_mask is not None:
            mask = np.asarray(attention_mask.numpy() if hasattr(attention_mask, "numpy")
                              else attention_mask)
            if mask.ndim == 3:
                mask = mask[:, None]
            scores = scores + _mask_bias(mask, shape, scores.dtype,
                                         f"MultiHeadAttention {self.name!r}")
        if use_causal_mask:
            scores = scores + _mask_bias(_causal(shape[2], shape[3]), shape, scores.dtype,
                                         f"MultiHeadAttention {self.name!r}")
        weights = tg.nn.softmax(scores, axis=-1)
        dropped = (tg.nn.dropout(weights, rate=self.dropout)
                   if training and self.dropout > 0 else weights)
        ctx = tg.matmul(dropped, v)                                     # (b, h, tq, vd)
        b, h, tq, vd = ctx.shape
        ctx = tg.reshape(tg.transpose(ctx, (0, 2, 1, 3)), (b * tq, h * vd))
        out_dim = self.output_kernel.shape[-1]
        out = tg.matmul(ctx, tg.reshape(self.output_kernel, (h * vd, out_dim)))
        out = tg.reshape(out, (b, tq, out_dim))
        if self.output_bias is not None:
            out = out + self.output_bias
        if return_attention_scores:
            return [out, weights]
        return out

    def get_config(self):
        return dict(super().get_config(), num_heads=self.num_heads, key_dim=self.key_dim,
                    value_dim=self.value_dim, dropout=self.dropout, use_bias=self.use_bias,
                    output_shape=self.output_dim)
