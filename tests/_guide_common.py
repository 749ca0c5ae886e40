"""Shared setup of the guide tests (test_guide.py, test_guide_advanced.py): the guide's
import line, its `tfe` alias, and a fresh global step / summary state per sample."""

import pytest

import tapegrad.compat.tf1 as tf
from tapegrad.summary import policy as summary_policy
from tapegrad.train import global_step as global_step_module

tf.enable_eager_execution()
tfe = tf.contrib.eager

needs_gpu = pytest.mark.cuda
FLOAT = r"(-?\d+\.\d+)"


@pytest.fixture(autouse=True)
def _fresh_state(monkeypatch):
    # Each sample starts like a fresh program: its own global step, no default writer.
    global_step_module._reset_for_tests()
    monkeypatch.setattr(summary_policy._state, "writer", None)
    monkeypatch.setattr(summary_policy._state, "condition", True)
    yield
    global_step_module._reset_for_tests()


def _lines(capsys):
    return capsys.readouterr().out.strip().splitlines()
