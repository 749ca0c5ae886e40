"""Summary ops: scalar, histogram, image and text.

Each op returns True when it wrote an event and False when it did nothing.
The check for a default writer and the recording policy comes first and needs
no conversion or import, so a disabled summary costs well under a microsecond.

The values written use the formats TensorFlow 1's summary ops wrote and that
TensorBoard reads natively: ``simple_value`` scalars, ``HistogramProto``
histograms, PNG ``Summary.Image`` images (tagged ``name/image`` when
``max_outputs == 1``, else ``name/image/0``, ``name/image/1``, ...), and string
tensors with the text plugin's metadata.
"""

import numpy as np

from tapegrad.summary.policy import _condition_holds, _host_value, _state, _step_value

__all__ = ["scalar", "histogram", "image", "text"]


def _check_name(name, where):
    if not isinstance(name, str) or not name:
        raise TypeError(f"{where}: name must be a non-empty str, got {name!r}")


def _resolve_step(step, where):
    if step is None:
        from tapegrad.train import get_or_create_global_step

        step = get_or_create_global_step()
    return _step_value(step, where)


def _numeric(value, name, where):
    """Host array of a numeric (bool, integer or float) value."""
    arr = _host_value(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{where}: {name!r} must be numeric (bool, integer or float), got dtype {arr.dtype}"
        )
    return arr


def scalar(name, value, step=None):
    """Record a scalar (a single-element tensor, array or number) as float32."""
    state = _state
    writer = state.writer
    if writer is None or not _condition_holds(state.condition):
        return False
    _check_name(name, "scalar")
    arr = _numeric(value, name, "scalar")
    if arr.size != 1:
        raise ValueError(
            f"scalar: {name!r} must hold exactly one value, got shape {arr.shape}"
        )
    step = _resolve_step(step, "scalar")
    from tensorboard.compat.proto import summary_pb2

    simple_value = float(arr.reshape(()).astype(np.float32))
    writer._write([summary_pb2.Summary.Value(tag=name, simple_value=simple_value)], step, "scalar")
    return True


def histogram(name, values, step=None, buckets=None):
    """Record the distribution of ``values`` (any shape; NaN and Inf rejected).

    ``buckets=None`` uses TensorFlow's default exponential bucket edges;
    an integer uses that many equal-width buckets between the min and max.
    """
    state = _state
    writer = state.writer
    if writer is None or not _condition_holds(state.condition):
        return False
    _check_name(name, "histogram")
    if buckets is not None and (
        isinstance(buckets, (bool, np.bool_))
        or not isinstance(buckets, (int, np.integer))
        or buckets < 1
    ):
        raise ValueError(f"histogram: buckets must be None or a positive integer, got {buckets!r}")
    data = _numeric(values, name, "histogram").astype(np.float64, copy=False)
    if not np.isfinite(data).all():
        raise ValueError(f"histogram: {name!r} contains NaN or Inf (shape {data.shape})")
    step = _resolve_step(step, "histogram")
    from tapegrad.summary.encoding import histogram_buckets

    lo, hi, num, total, sum_squares, limits, counts = histogram_buckets(
        data, None if buckets is None else int(buckets)
    )
    from tensorboard.compat.proto import summary_pb2

    histo = summary_pb2.HistogramProto(
        min=lo,
        max=hi,
        num=num,
        sum=total,
        sum_squares=sum_squares,
        bucket_limit=limits.tolist(),
        bucket=counts.tolist(),
    )
    writer._write([summary_pb2.Summary.Value(tag=name, histo=histo)], step, "histogram")
    return True


def _to_uint8_images(tensor, name):
    arr = _host_value(tensor)
    if arr.ndim != 4 or arr.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(
            f"image: {name!r} must be a batch of images of shape (batch, height, width, "
            f"channels) with 1 to 4 channels, got shape {arr.shape}"
        )
    if arr.shape[0] and (arr.shape[1] == 0 or arr.shape[2] == 0):
        raise ValueError(f"image: {name!r} has an empty height or width, shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind != "f":
        raise TypeError(
            f"image: {name!r} must be uint8 in [0, 255] or float in [0, 1], got dtype {arr.dtype}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"image: {name!r} contains NaN or Inf (shape {arr.shape})")
    scaled = np.clip(arr.astype(np.float32), 0.0, 1.0) * np.float32(255.0)
    return np.rint(scaled).astype(np.uint8)


def image(name, tensor, step=None, max_outputs=3):
    """Record up to ``max_outputs`` images of an NHWC batch as PNG.

    uint8 pixels are written as they are; float pixels are clipped to [0, 1]
    and scaled to 0..255. Channels: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA.
    """
    state = _state
    writer = state.writer
    if writer is None or not _condition_holds(state.condition):
        return False
    _check_name(name, "image")
    if (
        isinstance(max_outputs, (bool, np.bool_))
        or not isinstance(max_outputs, (int, np.integer))
        or max_outputs < 1
    ):
        raise ValueError(f"image: max_outputs must be a positive integer, got {max_outputs!r}")
    # Convert only the images that will be written.
    batch = _host_value(tensor)
    batch = _to_uint8_images(batch[: int(max_outputs)] if batch.ndim == 4 else batch, name)
    step = _resolve_step(step, "image")
    from tensorboard.compat.proto import summary_pb2

    from tapegrad.summary.encoding import encode_png

    values = []
    for i, img in enumerate(batch):
        tag = f"{name}/image/{i}" if max_outputs > 1 else f"{name}/image"
        height, width, channels = img.shape
        encoded = summary_pb2.Summary.Image(
            height=height,
            width=width,
            colorspace=channels,
            encoded_image_string=encode_png(img),
        )
        values.append(summary_pb2.Summary.Value(tag=tag, image=encoded))
    if values:
        writer._write(values, step, "image")
    return True


def _utf8(item, name):
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode("utf-8")
    raise TypeError(f"text: {name!r} must contain str or bytes, got {type(item).__name__}")


def text(name, data, step=None):
    """Record a string, or an array/nested list of strings, for the text dashboard."""
    state = _state
    writer = state.writer
    if writer is None or not _condition_holds(state.condition):
        return False
    _check_name(name, "text")
    if isinstance(data, (str, bytes)):
        shape = ()
        strings = [_utf8(data, name)]
    else:
        arr = np.asarray(data, dtype=object) if isinstance(data, list) else np.asarray(data)
        if arr.dtype.kind not in "USO":
            raise TypeError(f"text: {name!r} must hold strings, got dtype {arr.dtype}")
        shape = arr.shape
        strings = [_utf8(item, name) for item in arr.reshape(-1).tolist()]
    step = _resolve_step(step, "text")
    from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
    from tensorboard.plugins.text import metadata as text_metadata

    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_STRING,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in shape]
        ),
        string_val=strings,
    )
    metadata = text_metadata.create_summary_metadata(display_name=None, description=None)
    value = summary_pb2.Summary.Value(tag=name, tensor=tensor, metadata=metadata)
    writer._write([value], step, "text")
    return True
