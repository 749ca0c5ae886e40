"""Bidirectional (a recurrent layer run both ways) and Masking."""

import copy

import numpy as np

import tapegrad as tg
from tapegrad.layers.base import Layer
from tapegrad.layers.recurrent import RNN, get_mask, set_mask

__all__ = ["Bidirectional", "Masking"]


class Masking(Layer):
    """Marks time steps whose features all equal ``mask_value`` as padding.

    The output is the input with those steps zeroed, and carries a ``(batch, time)``
    mask that the next recurrent layer reads.
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def call(self, inputs):
        if len(inputs.shape) < 3:
            raise ValueError(f"Masking {self.name!r}: expected (batch, time, features) inputs, "
                             f"got shape {tuple(inputs.shape)}")
        keep = np.any(inputs.numpy() != self.mask_value, axis=-1)
        outputs = inputs * tg.convert_to_tensor(keep[..., None].astype(inputs.dtype))
        return set_mask(outputs, keep)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return dict(super().get_config(), mask_value=self.mask_value)


class Bidirectional(Layer):
    """Runs ``layer`` forward and a copy of it backward in time, and merges the outputs.

    ``merge_mode``: ``"concat"`` (default), ``"sum"``, ``"mul"``, ``"ave"`` or None (a
    list of both).  With ``return_sequences`` the backward outputs are put back in
    forward time order before merging.  With ``return_state`` the forward layer's
    states follow the output, then the backward layer's.  ``backward_layer`` may be
    given; it must have ``go_backwards=True``.
    """

    _MODES = ("concat", "sum", "mul", "ave", None)

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, RNN):
            raise TypeError(f"Bidirectional: expected a recurrent layer, got "
                            f"{type(layer).__name__}")
        if layer.built:
            raise ValueError("Bidirectional: the wrapped layer must not be built yet")
        if merge_mode not in self._MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {self._MODES}, got "
                             f"{merge_mode!r}")
        self.forward_layer = layer
        if backward_layer is None:
            cell = copy.deepcopy(layer.cell.get_config())
            cell.pop("name", None)
            backward_layer = type(layer)(
                **{k: v for k, v in cell.items() if k not in ("trainable", "dtype")},
                return_sequences=layer.return_sequences, return_state=layer.return_state,
                go_backwards=not layer.go_backwards, dtype=layer.dtype,
                name="backward_" + layer.name)
        elif not isinstance(backward_layer, RNN) or backward_layer.built:
            raise TypeError("Bidirectional: backward_layer must be an unbuilt recurrent layer")
        self.backward_layer = backward_layer
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state

    def build(self, input_shape):
        # both directions get their weights now, not at the first call, so that a
        # Sequential built from an input shape has every variable (load_model fills them)
        for layer in (self.forward_layer, self.backward_layer):
            layer._build_for_shape(tuple(input_shape))
        self.built = True

    def _merge(self, a, b):
        mode = self.merge_mode
        if mode == "concat":
            return tg.concat([a, b], axis=-1)
        if mode == "sum":
            return a + b
        if mode == "mul":
            return a * b
        if mode == "ave":
            return (a + b) * 0.5
        return [a, b]

    def call(self, inputs, mask=None, initial_state=None, training=None):
        if mask is None:
            mask = get_mask(inputs)
        fw_state = bw_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fw_state, bw_state = initial_state[:half], initial_state[half:]
        fw = self.forward_layer(inputs, mask=mask, initial_state=fw_state)
        bw = self.backward_layer(inputs, mask=mask, initial_state=bw_state)
        if self.return_state:
            fw, fw_states = fw[0], fw[1:]
            bw, bw_states = bw[0], bw[1:]
        if self.return_sequences:
            steps = bw.shape[1]
            bw = tg.stack([bw[:, t] for t in range(steps - 1, -1, -1)], axis=1)
        out = self._merge(fw, bw)
        if self.return_sequences and mask is not None and not isinstance(out, list):
            set_mask(out, mask)
        if self.return_state:
            return ([out] if not isinstance(out, list) else out) + list(fw_states) \
                + list(bw_states)
        return out

    def __call__(self, inputs, *args, **kwargs):
        mask = get_mask(inputs)
        if mask is not None and "mask" not in kwargs:
            kwargs["mask"] = mask
        return super().__call__(inputs, *args, **kwargs)

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.compute_output_shape(input_shape)
        out = shape[0] if self.return_state else shape
        if self.merge_mode == "concat":
            out = tuple(out[:-1]) + (2 * out[-1],)
        if self.return_state:
            return [out] + shape[1:] * 2
        return out

    def get_config(self):
        # both wrapped layers, as Keras does, so that from_config rebuilds them as they
        # were (names included)
        from tapegrad.layers.functional_config import serialize_layer

        return dict(super().get_config(), layer=serialize_layer(self.forward_layer),
                    backward_layer=serialize_layer(self.backward_layer),
                    merge_mode=self.merge_mode)

    @classmethod
    def from_config(cls, config):
        from tapegrad.layers.functional_config import deserialize_layer

        config = dict(config)
        layer = deserialize_layer(config.pop("layer"))
        backward = config.pop("backward_layer", None)
        if backward is not None:
            backward = deserialize_layer(backward)
        return cls(layer, backward_layer=backward, **config)
