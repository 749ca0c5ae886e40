"""Export traced functions and models to ONNX (``pip install 'tapegrad[onnx]'``).

    tg.onnx.export(model, example_images, "mnist.onnx")
    # then, with ONNX Runtime alone:
    # onnxruntime.InferenceSession("mnist.onnx").run(None, {"input_0": images})

``import tapegrad`` never imports onnx; ``tapegrad.onnx`` does, on first export.
"""

from tapegrad.onnx.export import DEFAULT_OPSET, ExportError, export

__all__ = ["DEFAULT_OPSET", "ExportError", "export"]
