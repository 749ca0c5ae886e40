"""``python -m tapegrad.distribute.run -n 4 train.py [args...]``: mpiexec with defaults.

It finds ``mpiexec`` (beside this Python first, so the mpich wheel's is used inside a
virtual environment), runs the script with this same interpreter, and sets defaults
that suit one process per core:
- ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` = cores // processes (at least 1), so
  N ranks on one machine do not each start a BLAS pool as wide as the machine;
- ``TAPEGRAD_MPI_TIMEOUT`` (seconds a collective may wait for a missing rank) kept if
  set.
Any option before the script that it does not know is passed to mpiexec unchanged
(``--hosts a,b`` and the like).
"""

import os
import shutil
import subprocess
import sys


def find_mpiexec():
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.exists(here):
        return here
    found = shutil.which("mpiexec") or shutil.which("mpirun")
    if found is None:
        raise SystemExit("tapegrad.distribute.run: no mpiexec found; pip install "
                         "'tapegrad[mpi]' (the mpich wheel brings one) or load your "
                         "cluster's MPI module")
    return found


def _usage(msg):
    raise SystemExit("usage: python -m tapegrad.distribute.run -n N [mpiexec options] "
                     "(script.py | -m module) [args...]\n" + msg)


def build_command(argv, cpu_count=None):
    """(command, environment) for ``argv``; the script is the first argument ending in
    ``.py`` (or the module after ``-m``): what comes before it, other than ``-n N``, goes
    to mpiexec, what comes after it to the script."""
    n = None
    extra = []
    target = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-n", "-np", "--np") and i + 1 < len(argv):
            try:
                n = int(argv[i + 1])
            except ValueError:
                _usage("-n needs a number, got %r" % argv[i + 1])
            i += 2
            continue
        if a == "-m" and i + 1 < len(argv):
            target = ["-m", argv[i + 1]]
            i += 2
            break
        if a.endswith(".py"):
            target = [a]
            i += 1
            break
        extra.append(a)
        i += 1
    if n is None or n < 1:
        _usage("give the number of processes with -n N (N >= 1)")
    if target is None:
        _usage("give a script ending in .py or -m module")
    cmd = [find_mpiexec(), "-n", str(n)] + extra + [sys.executable] + target + argv[i:]
    cores = cpu_count or os.cpu_count() or 1
    env = dict(os.environ)
    threads = str(max(1, cores // n))
    env.setdefault("OMP_NUM_THREADS", threads)
    env.setdefault("OPENBLAS_NUM_THREADS", threads)
    return cmd, env


def main(argv=None):
    cmd, env = build_command(sys.argv[1:] if argv is None else argv)
    return subprocess.call(cmd, env=env)


if __name__ == "__main__":
    sys.exit(main())
