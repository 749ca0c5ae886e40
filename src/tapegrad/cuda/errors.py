"""The one exception type of the CUDA backend."""


class CudaError(RuntimeError):
    """A CUDA driver, cuBLAS or NVRTC call failed.

    ``status`` is the library's numeric code, ``library`` one of ``"cuda"``,
    ``"cublas"``, ``"nvrtc"``, and the message carries the library's own error
    string (``cuGetErrorString``, ``cublasGetStatusString``, ``nvrtcGetErrorString``).
    """

    def __init__(self, message, status=None, library=None, name=None):
        super().__init__(message)
        self.status = status
        self.library = library
        self.name = name
