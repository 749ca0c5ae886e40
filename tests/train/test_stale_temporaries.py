"""CheckpointManager removes the temp files that saves killed mid-write left behind:
only its own prefix's (and the index's), only those whose writer is gone."""

import os
import subprocess
import sys
import textwrap
import time

import numpy as np

import tapegrad as tg
from tapegrad.train import Checkpoint, CheckpointManager
from tapegrad.train import format as fmt


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _plant(directory, name, age=0.0):
    path = directory / name
    path.write_bytes(b"partial")
    if age:
        stamp = time.time() - age
        os.utime(path, (stamp, stamp))
    return path


def test_planted_temporaries(tmp_path):
    host = fmt._host_tag()
    dead, alive = _dead_pid(), os.getppid()
    old = fmt.STALE_TEMP_SECONDS + 60
    removed = [
        _plant(tmp_path, f".ckpt-3.tgckpt.p{dead}@{host}.abc_12x.tmp"),
        _plant(tmp_path, f".checkpoint.p{dead}@{host}.q1w2e3.tmp"),
        _plant(tmp_path, ".ckpt-7.tgckpt.k3j4h5.tmp", age=old),  # older name format
        _plant(tmp_path, f".ckpt-8.tgckpt.p{alive}@otherhost.zz.tmp", age=old),
    ]
    kept = [
        _plant(tmp_path, f".ckpt-4.tgckpt.p{alive}@{host}.abc.tmp"),  # writer alive
        _plant(tmp_path, f".ckpt-5.tgckpt.p{os.getpid()}@{host}.abc.tmp"),  # this process
        _plant(tmp_path, f".ckpt-6.tgckpt.p{dead}@otherhost.abc.tmp"),  # can't tell: fresh
        _plant(tmp_path, ".ckpt-9.tgckpt.fresh1.tmp"),  # older format, fresh
        _plant(tmp_path, f".other-1.tgckpt.p{dead}@{host}.abc.tmp", age=old),  # other prefix
        _plant(tmp_path, f".ckpt-x.tgckpt.p{dead}@{host}.abc.tmp", age=old),  # not a number
        _plant(tmp_path, f".ckpt-1.tgckpt.p{dead}@{host}.abc.tmpx", age=old),
        _plant(tmp_path, "ckpt-1.tgckpt.tmp", age=old),
        _plant(tmp_path, "notes.txt", age=old),
    ]
    manager = CheckpointManager(Checkpoint(v=tg.Variable(1.0)), tmp_path)
    for path in removed:
        assert not path.exists(), path.name
    for path in kept:
        assert path.exists(), path.name
    manager.save()  # and the manager works as usual afterwards
    assert manager.latest_checkpoint is not None


def test_a_save_killed_mid_write_leaves_nothing_after_restart(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        import numpy as np
        import tapegrad as tg
        from tapegrad.train import Checkpoint, CheckpointManager
        from tapegrad.train import format as fmt

        original = fmt.encode_chunks

        def stalled(*args, **kwargs):
            for i, chunk in enumerate(original(*args, **kwargs)):
                yield chunk
                if i == 0:
                    print("writing", flush=True)
                    time.sleep(60)

        fmt.encode_chunks = stalled
        v = tg.Variable(np.arange(100000, dtype=np.float32))
        CheckpointManager(Checkpoint(v=v), {str(tmp_path)!r}).save()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert len(leftovers) == 1 and leftovers[0].name.startswith(".ckpt-1.tgckpt.p")
        # the writer is alive: a manager started now must not touch its file
        CheckpointManager(Checkpoint(v=tg.Variable(1.0)), tmp_path)
        assert leftovers[0].exists()
        proc.kill()
        proc.wait()
        proc.stdout.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert leftovers[0].exists()  # the crash left it behind
    v = tg.Variable(np.zeros(3, np.float32))
    manager = CheckpointManager(Checkpoint(v=v), tmp_path)
    assert not leftovers[0].exists()
    assert manager.latest_checkpoint is None  # the killed save never happened
    assert sorted(p.name for p in tmp_path.iterdir()) == []
