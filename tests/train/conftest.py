"""Fixtures shared by the checkpoint tests."""

import pytest

from tapegrad.train import global_step


@pytest.fixture(autouse=True)
def _fresh_global_step():
    global_step._reset_for_tests()
    yield
    global_step._reset_for_tests()
