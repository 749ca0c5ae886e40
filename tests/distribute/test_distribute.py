"""tapegrad.distribute under real MPI: each case runs as ``mpiexec -n N python
mpi_worker.py CASE`` (skipped where mpi4py or mpiexec is missing; CI installs both
through the test extra)."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

WORKER = os.path.join(os.path.dirname(__file__), "mpi_worker.py")


def _mpiexec():
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return here if os.path.exists(here) else shutil.which("mpiexec")


def _have_mpi():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return _mpiexec() is not None


needs_mpi = pytest.mark.skipif(not _have_mpi(), reason="needs mpi4py and mpiexec "
                               "(pip install 'tapegrad[mpi]')")


def _run(n, case, timeout=90, env=None):
    cmd = ([_mpiexec(), "-n", str(n)] if n else []) + [sys.executable, WORKER, case]
    full_env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", **(env or {}))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)


def _ok(proc, case, n):
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    for r in range(max(n, 1)):
        assert "OK %s rank %d" % (case, r) in proc.stdout, out[-4000:]


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("case", ["collectives", "gradients", "training"])
def test_cases_on_n_ranks(case, n):
    _ok(_run(n, case), case, n)


@needs_mpi
@pytest.mark.parametrize("case", ["broadcast_variables", "shard", "sparse", "fit",
                                  "scalar_variable"])
def test_cases_on_two_ranks(case):
    _ok(_run(2, case), case, 2)


@needs_mpi
@pytest.mark.parametrize("case", ["collectives", "gradients", "training", "shard"])
def test_single_process_without_mpiexec(case):
    # a plain `python train.py` is a job of one rank: every call still works
    _ok(_run(0, case), case, 1)


@needs_mpi
def test_exception_on_one_rank_aborts_the_job_with_its_traceback():
    proc = _run(2, "raise", timeout=30)
    assert proc.returncode != 0
    assert "[rank 1] RuntimeError: boom on rank one" in proc.stderr
    assert "OK raise" not in proc.stdout


@needs_mpi
def test_mismatched_shapes_raise_on_every_rank_naming_them():
    proc = _run(2, "mismatch", timeout=30)
    _ok(proc, "mismatch", 2)
    for r in range(2):
        assert "MISMATCH-OK rank %d" % r in proc.stdout


@needs_mpi
def test_a_rank_that_dies_ends_the_job():
    proc = _run(2, "dead", timeout=30)
    assert proc.returncode != 0
    assert "OK dead rank 0" not in proc.stdout


@needs_mpi
def test_a_rank_that_never_joins_times_out():
    # (the sleeping rank is killed by rank 0's abort; the generous subprocess limit only
    # matters on a loaded machine, where a failure once came with no output to read)
    proc = _run(2, "timeout", timeout=90, env={"TAPEGRAD_MPI_TIMEOUT": "3"})
    out = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode != 0, out
    assert "DistributedTimeoutError: barrier: not all 2 ranks joined within 3 s" in \
        proc.stderr, out


def test_import_does_not_load_mpi4py():
    code = ("import sys, tapegrad, tapegrad.distribute as d; "
            "assert 'mpi4py' not in sys.modules; "
            "import pytest\n"
            "try:\n    d.rank()\nexcept ValueError as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "call tapegrad.distribute.init() first" in proc.stdout


def test_fusion_plan_buckets_in_reverse_order_by_threshold_and_dtype():
    from tapegrad.distribute.fusion import Plan

    shapes = [(10,), (10,), (10,), (3,), (4,)]
    dtypes = [np.dtype("float32")] * 3 + [np.dtype("float64"), np.dtype("int32")]
    plan = Plan(shapes, dtypes, limit=80)
    # reversed: the int source has no bucket; float64 alone; float32 40 bytes each
    assert plan.buckets == [[3], [2, 1], [0]]
    assert Plan(shapes, dtypes, limit=1).buckets == [[3], [2], [1], [0]]
    assert Plan(shapes, dtypes, limit=1 << 20).buckets == [[3], [2, 1, 0]]
    assert plan.signature != Plan(shapes[::-1], dtypes[::-1], 80).signature


def test_launcher_command_line():
    from tapegrad.distribute.run import build_command

    cmd, env = build_command(["-n", "4", "--hosts", "a,b", "train.py", "--lr", "0.1"],
                             cpu_count=8)
    assert cmd[1:3] == ["-n", "4"] and cmd[3:5] == ["--hosts", "a,b"]
    assert cmd[5:] == [sys.executable, "train.py", "--lr", "0.1"]
    assert env["OMP_NUM_THREADS"] == os.environ.get("OMP_NUM_THREADS", "2")
    cmd, _ = build_command(["-n", "2", "-m", "tapegrad.demo", "--distributed"])
    assert cmd[-3:] == ["-m", "tapegrad.demo", "--distributed"]
    with pytest.raises(SystemExit):
        build_command(["-n", "0", "x.py"])


@needs_mpi
def test_demo_trains_the_cnn_on_two_processes():
    cmd = [_mpiexec(), "-n", "2", sys.executable, "-m", "tapegrad.demo", "--distributed",
           "--quick", "--no-progress"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    # one report for the job, from rank 0, and a model that learned something
    assert out.count("test accuracy:") == 1, out
    assert "distributed: 2 MPI processes, 32 images per step on each" in out
    accuracy = float(out.split("test accuracy:")[1].split()[0])
    assert accuracy > 0.3, out
