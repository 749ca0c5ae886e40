"""CheckpointManager, the index file, and latest_checkpoint."""

import os

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.train import Checkpoint, CheckpointManager, format, index, latest_checkpoint
from tapegrad.train import manager as manager_module


def _files(directory):
    return sorted(os.listdir(directory))


def test_max_to_keep_deletes_oldest(tmp_path):
    v = tg.Variable(0.0)
    manager = CheckpointManager(Checkpoint(v=v), tmp_path, max_to_keep=2)
    assert manager.latest_checkpoint is None and manager.checkpoints == []
    paths = []
    for i in range(4):
        v.assign(float(i))
        paths.append(manager.save())
    prefix = os.path.join(tmp_path, "ckpt")
    assert paths == [prefix + "-%d" % i for i in (1, 2, 3, 4)]
    assert manager.checkpoints == paths[2:]
    assert manager.latest_checkpoint == paths[3]
    assert _files(tmp_path) == ["checkpoint", "ckpt-3.tgckpt", "ckpt-4.tgckpt"]
    state = index.read_state(tmp_path)
    assert state.model_checkpoint_path == paths[3]
    assert state.all_model_checkpoint_paths == paths[2:]
    assert len(state.all_model_checkpoint_timestamps) == 2
    assert latest_checkpoint(tmp_path) == paths[3]
    v.assign(-1.0)
    manager.checkpoint.restore(manager.checkpoints[0])
    assert v.numpy() == 2.0


def test_max_to_keep_none_keeps_everything(tmp_path):
    manager = CheckpointManager(Checkpoint(v=tg.Variable(0.0)), tmp_path, max_to_keep=None)
    for _ in range(6):
        manager.save()
    assert len(manager.checkpoints) == 6
    assert len([f for f in _files(tmp_path) if f.endswith(".tgckpt")]) == 6


def test_checkpoint_number_and_overwrite(tmp_path):
    step = tg.train.get_or_create_global_step()
    v = tg.Variable(1.0)
    manager = CheckpointManager(Checkpoint(v=v, step=step), tmp_path, max_to_keep=3,
                                checkpoint_name="model")
    step.assign(100)
    assert manager.save(checkpoint_number=step) == os.path.join(tmp_path, "model-100")
    assert manager.save(checkpoint_number=np.int64(200)).endswith("model-200")
    v.assign(9.0)
    assert manager.save(checkpoint_number=100).endswith("model-100")  # replaces it
    assert [os.path.basename(p) for p in manager.checkpoints] == ["model-200", "model-100"]
    v.assign(0.0)
    manager.checkpoint.restore(manager.latest_checkpoint)
    assert v.numpy() == 9.0
    with pytest.raises(TypeError, match="integer scalar"):
        manager.save(checkpoint_number=1.5)
    with pytest.raises(ValueError, match=">= 0"):
        manager.save(checkpoint_number=-1)


def test_new_manager_continues_the_rotation(tmp_path):
    checkpoint = Checkpoint(v=tg.Variable(0.0))
    first = CheckpointManager(checkpoint, tmp_path, max_to_keep=2)
    for _ in range(2):
        first.save()
    second = CheckpointManager(checkpoint, tmp_path, max_to_keep=2)
    assert second.checkpoints == first.checkpoints
    assert second.latest_checkpoint == first.latest_checkpoint
    second.save()
    assert _files(tmp_path) == ["checkpoint", "ckpt-2.tgckpt", "ckpt-3.tgckpt"]


def test_keep_checkpoint_every_n_hours(tmp_path, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(manager_module, "_now", lambda: clock[0])
    manager = CheckpointManager(Checkpoint(v=tg.Variable(0.0)), tmp_path, max_to_keep=1,
                                keep_checkpoint_every_n_hours=1)
    saved = []
    for minutes in (10, 40, 70, 80, 130):
        clock[0] = 1000.0 + 60 * minutes
        saved.append(manager.save())
    # The manager started at t=0: ckpt-1 (10 min) and ckpt-2 (40 min) are less than 1 h
    # after it and get deleted; ckpt-3 (70 min) is kept for good when pushed out;
    # ckpt-4 (80 min) is only 10 min after ckpt-3 and goes; ckpt-5 is the latest.
    names = [f for f in _files(tmp_path) if f.endswith(".tgckpt")]
    assert names == ["ckpt-3.tgckpt", "ckpt-5.tgckpt"]
    assert manager.checkpoints == [saved[-1]]


def test_manager_argument_validation(tmp_path):
    checkpoint = Checkpoint(v=tg.Variable(0.0))
    with pytest.raises(TypeError, match="tg.train.Checkpoint"):
        CheckpointManager(object(), tmp_path)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="max_to_keep"):
            CheckpointManager(checkpoint, tmp_path, max_to_keep=bad)
    with pytest.raises(ValueError, match="keep_checkpoint_every_n_hours"):
        CheckpointManager(checkpoint, tmp_path, keep_checkpoint_every_n_hours=0)
    with pytest.raises(ValueError, match="needs max_to_keep"):
        CheckpointManager(checkpoint, tmp_path, max_to_keep=None,
                          keep_checkpoint_every_n_hours=2)
    with pytest.raises(ValueError, match="checkpoint_name"):
        CheckpointManager(checkpoint, tmp_path, checkpoint_name="a/b")


def test_index_update_is_atomic(tmp_path, monkeypatch):
    v = tg.Variable(1.0)
    manager = CheckpointManager(Checkpoint(v=v), tmp_path, max_to_keep=1)
    first = manager.save()
    index_before = (tmp_path / "checkpoint").read_bytes()

    real_atomic_write = format.atomic_write

    def failing_for_index(filename, chunks):
        if os.path.basename(filename) == "checkpoint":
            def broken():
                yield b"model_checkpoint_path: \"ckpt-"
                raise OSError("power cut")
            return real_atomic_write(filename, broken())
        return real_atomic_write(filename, chunks)

    monkeypatch.setattr(index, "atomic_write", failing_for_index)
    with pytest.raises(OSError, match="power cut"):
        manager.save()
    # the old index is intact and still names a checkpoint that exists
    assert (tmp_path / "checkpoint").read_bytes() == index_before
    assert latest_checkpoint(tmp_path) == first
    assert os.path.exists(first + ".tgckpt")  # deletion happens only after the index
    assert not [f for f in _files(tmp_path) if f.endswith(".tmp")]


def test_latest_checkpoint_edge_cases(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    assert latest_checkpoint(tmp_path / "does-not-exist") is None
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "gone-1"\n')
    assert latest_checkpoint(tmp_path) is None  # names a file that does not exist
    (tmp_path / "checkpoint").write_text("this is not an index\n")
    with pytest.warns(UserWarning, match="malformed"):
        assert latest_checkpoint(tmp_path) is None
    (tmp_path / "checkpoint").write_bytes(b'model_checkpoint_path: "\\xff\xfe"\n')
    with pytest.warns(UserWarning, match="malformed"):
        assert latest_checkpoint(tmp_path) is None
    with pytest.raises(ValueError, match="latest_filename"):
        latest_checkpoint(tmp_path, latest_filename="other")


def test_index_paths_with_odd_characters_round_trip(tmp_path):
    odd = tmp_path / 'dir "quoted" \\ back\tslash é'
    odd.mkdir()
    checkpoint = Checkpoint(v=tg.Variable(1.0))
    path = checkpoint.save(odd / 'pre"fix')
    assert latest_checkpoint(odd) == path
    text = (odd / "checkpoint").read_text()
    assert text.isascii() and 'pre\\"fix-1' in text
    # absolute paths outside the directory stay absolute
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    other = checkpoint.write(elsewhere / "x")
    index.write_state(odd, other, [path, other])
    state = index.read_state(odd)
    assert state.model_checkpoint_path == os.path.abspath(other)
    assert state.all_model_checkpoint_paths == [path, os.path.abspath(other)]


def test_index_reads_tensorflow_written_files(tmp_path):
    (tmp_path / "checkpoint").write_text(
        'model_checkpoint_path: "ckpt-2"\n'
        'all_model_checkpoint_paths: "ckpt-1"\n'
        'all_model_checkpoint_paths: "ckpt-2"\n'
        "all_model_checkpoint_timestamps: 1700000000.5\n"
        "all_model_checkpoint_timestamps: 1700000060.25\n"
        "last_preserved_timestamp: 1699999999.0\n"
        'some_future_field: "ignored"\n'
    )
    state = index.read_state(tmp_path)
    assert state.model_checkpoint_path == os.path.join(tmp_path, "ckpt-2")
    assert state.all_model_checkpoint_timestamps == [1700000000.5, 1700000060.25]
    assert state.last_preserved_timestamp == 1699999999.0
