"""Import time in a fresh interpreter (asv runs each ``timeraw_`` body in a new process)."""


def timeraw_import_tapegrad():
    return "import tapegrad"


def timeraw_import_numpy():
    # the budget: `import tapegrad` within 0.05 s of this
    return "import numpy"


def timeraw_import_tapegrad_layers():
    # the lazily loaded model API a training script pulls in on first use
    return """
    import tapegrad
    tapegrad.layers, tapegrad.optimizers, tapegrad.losses
    """
