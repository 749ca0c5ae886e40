import os

import numpy as np
import pytest

import tapegrad as tg

SHARED = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
MNIST_DIR = os.path.join(SHARED, "data", "mnist")


def pytest_collection_modifyitems(config, items):
    if tg.num_gpus() > 0:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (tg.num_gpus() == 0)")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed():
    tg.random.set_seed(1234)
    np.random.seed(1234)
    yield


@pytest.fixture
def mnist_dir():
    if not os.path.isdir(MNIST_DIR):
        pytest.skip("real MNIST files not present at %s" % MNIST_DIR)
    return MNIST_DIR
