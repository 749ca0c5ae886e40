"""NumPy-level encoders behind the summary ops: PNG images and histogram buckets.

PNG is written with zlib only (the format is a signature plus length/type/
data/CRC chunks), so image summaries need no imaging library. Histograms follow
TensorFlow's legacy ``HistogramProto`` layout, which TensorBoard reads natively.
"""

import struct
import sys
import zlib

import numpy as np

__all__ = ["encode_png", "histogram_buckets", "default_bucket_limits"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour type for 1, 2, 3 and 4 channels: grey, grey+alpha, RGB, RGBA.
_PNG_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}
_FILTER_UP = 2
_DBL_MAX = sys.float_info.max


def _png_chunk(kind, data):
    crc = zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(image):
    """PNG bytes of a ``(height, width, channels)`` uint8 array, channels in 1..4."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(
            f"encode_png: expected a uint8 array of shape (height, width, channels), "
            f"got shape {image.shape} and dtype {image.dtype}"
        )
    height, width, channels = image.shape
    if channels not in _PNG_COLOR_TYPE or height == 0 or width == 0:
        raise ValueError(
            f"encode_png: need height, width >= 1 and 1 to 4 channels, got shape {image.shape}"
        )
    # The "Up" filter stores each row as its byte-wise difference from the row
    # above (mod 256), which compresses smooth images far better than raw rows
    # and vectorises as one subtraction.
    rows = image.reshape(height, width * channels)
    filtered = np.empty((height, 1 + width * channels), dtype=np.uint8)
    filtered[:, 0] = _FILTER_UP
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
    header = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOR_TYPE[channels], 0, 0, 0)
    return b"".join(
        (
            _PNG_SIGNATURE,
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(filtered.tobytes(), 6)),
            _png_chunk(b"IEND", b""),
        )
    )


_default_limits = None


def default_bucket_limits():
    """TensorFlow's default histogram bucket right edges.

    Edges grow by 10% from 1e-12 to 1e20, mirrored for negatives, with 0 in the
    middle and +-DBL_MAX at the ends -- built with the same sequence of double
    multiplications as TensorFlow so the edges are bit-identical.
    """
    global _default_limits
    if _default_limits is None:
        positive = []
        v = 1.0e-12
        while v < 1.0e20:
            positive.append(v)
            v *= 1.1
        positive.append(_DBL_MAX)
        negative = [-p for p in reversed(positive)]
        limits = np.array(negative + [0.0] + positive, dtype=np.float64)
        limits.flags.writeable = False
        _default_limits = limits
    return _default_limits


def histogram_buckets(values, buckets=None):
    """Statistics and buckets of a float64 array of finite values.

    Returns ``(min, max, num, sum, sum_squares, bucket_limit, bucket)`` where
    bucket ``i`` counts the values in ``[bucket_limit[i-1], bucket_limit[i])``.

    ``buckets=None`` uses TensorFlow's default exponential edges and collapses
    each run of empty buckets into one (as TensorFlow's ``EncodeToProto`` does).
    An integer ``buckets`` uses that many equal-width buckets spanning the data.
    Empty input gives zero statistics and a single empty bucket.
    """
    values = values.reshape(-1)
    num = values.size
    if num == 0:
        return 0.0, 0.0, 0, 0.0, 0.0, np.array([_DBL_MAX]), np.zeros(1)
    lo = float(values.min())
    hi = float(values.max())
    with np.errstate(over="ignore"):
        # Sums of values near the largest float overflow to inf, as TensorFlow's do.
        total = float(values.sum())
        sum_squares = float(np.dot(values, values))
    if buckets is None:
        limits = default_bucket_limits()
        # upper_bound: the first edge strictly greater than the value.  The last edge is
        # the largest float itself, so a value equal to it belongs to the last bucket.
        index = np.minimum(np.searchsorted(limits, values, side="right"), limits.size - 1)
        counts = np.bincount(index, minlength=limits.size).astype(np.float64)
        # Within a run of empty buckets keep only the last one, so the run
        # becomes a single empty bucket ending where the run ends.
        nonzero = counts > 0
        keep = nonzero.copy()
        keep[:-1] |= nonzero[1:]
        keep[-1] = True
        return lo, hi, num, total, sum_squares, limits[keep], counts[keep]
    left, right = lo, hi
    if lo == hi:
        left, right = lo - 0.5, hi + 0.5
        if left == right:  # |lo| so large that 0.5 is below its spacing
            with np.errstate(over="ignore"):
                left = max(float(np.nextafter(lo, -np.inf)), -_DBL_MAX)
                right = min(float(np.nextafter(hi, np.inf)), _DBL_MAX)
    # Edges as convex combinations of the ends: right - left may overflow, these cannot.
    t = np.arange(1, buckets + 1, dtype=np.float64) / buckets
    limits = left * (1.0 - t) + right * t
    limits[-1] = right
    # rounding can break monotonicity when the ends are a few ulps apart
    limits = np.maximum.accumulate(np.clip(limits, left, right))
    # Half-open buckets [limit[i-1], limit[i]); the last edge just above the maximum (or
    # the maximum itself when it is the largest float, which the last bucket then holds).
    if limits[-1] < _DBL_MAX:
        limits[-1] = np.nextafter(limits[-1], np.inf)
    index = np.minimum(np.searchsorted(limits, values, side="right"), buckets - 1)
    counts = np.bincount(index, minlength=buckets).astype(np.float64)
    return lo, hi, num, total, sum_squares, limits, counts
