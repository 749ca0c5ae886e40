"""Exception types raised by tapegrad (most errors are plain ValueError/TypeError)."""


class TapegradError(Exception):
    """Base class of tapegrad-specific errors."""


class InvalidArgumentError(TapegradError, ValueError):
    pass


class OutOfRangeError(TapegradError):
    """An input pipeline iterator is exhausted (``Iterator.get_next()`` at the end)."""


def __getattr__(name):
    # CudaError lives with the CUDA bindings; resolved lazily so importing tapegrad
    # never imports the CUDA package.
    if name == "CudaError":
        from tapegrad.cuda.errors import CudaError

        return CudaError
    raise AttributeError(name)
