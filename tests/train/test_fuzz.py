"""Damaged checkpoint files must always raise and never change a single variable."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import tracking
from tapegrad.train import Checkpoint, CheckpointCorruptError, CheckpointError


class _Holder(tracking.Trackable):
    def __init__(self):
        rng = np.random.default_rng(5)
        self.w = tg.Variable(rng.standard_normal((4, 3)).astype(np.float32))
        self.b = tg.Variable(np.zeros(3, np.float32))
        self.steps = tg.Variable(np.array(17, np.int64), trainable=False)
        self.flags = [tg.Variable(np.array([True, False])), tg.Variable(np.float64(2.5))]


def _variables(holder, checkpoint):
    return [holder.w, holder.b, holder.steps, *holder.flags, checkpoint.save_counter]


def _perturbed_values(variables):
    out = []
    for var in variables:
        current = var.numpy()
        if current.dtype == np.bool_:
            out.append(~current)
        else:
            out.append((current + 1).astype(current.dtype))
    return out


def test_flipped_bytes_and_truncations_never_load(tmp_path):
    holder = _Holder()
    checkpoint = Checkpoint(model=holder)
    path = checkpoint.save(tmp_path / "ckpt")
    filename = path + ".tgckpt"
    image = open(filename, "rb").read()
    variables = _variables(holder, checkpoint)
    perturbed = _perturbed_values(variables)
    for var, value in zip(variables, perturbed):
        var.assign(value)

    rng = np.random.default_rng(20261125)
    damaged_path = tmp_path / "damaged.tgckpt"
    for case in range(200):
        damaged = bytearray(image)
        kind = case % 4
        if kind == 0:  # one flipped byte anywhere
            position = int(rng.integers(len(image)))
            damaged[position] ^= int(rng.integers(1, 256))
        elif kind == 1:  # truncated at a random offset
            damaged = damaged[: int(rng.integers(len(image)))]
        elif kind == 2:  # a burst of flipped bytes inside the header or the data
            start = int(rng.integers(len(image) - 8))
            for position in range(start, start + int(rng.integers(1, 8))):
                damaged[position] ^= int(rng.integers(1, 256))
        else:  # bytes appended or a region zeroed
            if rng.integers(2):
                damaged += bytes(rng.integers(0, 256, int(rng.integers(1, 64)), np.uint8))
            else:
                start = int(rng.integers(len(image) - 16))
                before = bytes(damaged[start : start + 16])
                damaged[start : start + 16] = bytes(16)
                if before == bytes(16):
                    damaged = damaged[:-1]  # the region was already zero: truncate instead
        damaged_path.write_bytes(bytes(damaged))
        with pytest.raises(CheckpointCorruptError):
            checkpoint.restore(str(damaged_path))
        for var, value in zip(variables, perturbed):
            assert var.numpy().tobytes() == value.tobytes(), "case %d changed a variable" % case

    # The intact file still restores everything.
    damaged_path.write_bytes(image)
    checkpoint.restore(str(damaged_path)).assert_consumed()
    assert int(holder.steps.numpy()) == 17


def _graph_image(graph, tensors):
    from tapegrad.train import format

    return b"".join(bytes(chunk) for chunk in format.encode_chunks(graph, tensors))


@pytest.mark.parametrize(
    "graph",
    [
        [],
        {"nodes": [], "slots": []},
        {"nodes": [{"tensor": 0}], "slots": []},  # root is a variable
        {"nodes": [{"children": [["x", 5]]}], "slots": []},  # edge out of range
        {"nodes": [{"children": [["x", 0]]}], "slots": []},  # edge back to the root
        {"nodes": [{"children": [["x", 1]]}, {"tensor": 3}], "slots": []},
        {"nodes": [{"children": [["x", 1], ["y", 2]]}, {"tensor": 0}, {"tensor": 0}],
         "slots": []},  # one tensor, two nodes
        {"nodes": [{"children": [["x", 1]]}, {"children": "no"}], "slots": []},
        {"nodes": [{"children": [["x", 1]]}, {"tensor": 0}], "slots": [[0, 1, "m"]]},
        {"nodes": [{"children": [["x", 1]]}, {"tensor": 0}], "slots": [[1, 1, "m", 1]]},
        {"nodes": [{"children": [["x", 1]]}, {"tensor": 0}]},  # no slot list
        {"nodes": [{"children": [[1, 1]]}, {"tensor": 0}], "slots": []},
    ],
)
def test_valid_file_with_invalid_graph_is_rejected(tmp_path, graph):
    image = _graph_image(graph, [("x", np.float32(1.0))])
    (tmp_path / "g.tgckpt").write_bytes(image)
    x = tg.Variable(0.0)
    with pytest.raises(CheckpointCorruptError):
        Checkpoint(x=x).restore(tmp_path / "g")
    assert x.numpy() == 0.0


def test_unreferenced_tensor_is_rejected(tmp_path):
    graph = {"nodes": [{"children": [["x", 1]]}, {"tensor": 0}], "slots": []}
    image = _graph_image(graph, [("x", np.float32(1.0)), ("orphan", np.float32(2.0))])
    (tmp_path / "g.tgckpt").write_bytes(image)
    with pytest.raises(CheckpointError, match="belongs to no node"):
        Checkpoint(x=tg.Variable(0.0)).restore(tmp_path / "g")
