"""The spread of ``bench/compare.py`` over N runs: min / median / max per row.

    python bench/spread.py 5                      # five full runs of compare.py
    python bench/spread.py 5 --quick --threads 1  # other arguments go to compare.py
    python bench/spread.py 5 --output spread.md --keep-json runs/

Each run is a separate ``compare.py --json`` subprocess (so each framework gets fresh
worker processes every run, as in a single compare.py run).  The rows, their labels and
budgets are compare.py's ``WORKLOADS``: per row the table gives the tapegrad value and the
tg/NumPy and tg/PyTorch ratios as min / median / max over the runs (each run's value is
that run's median), and in how many runs the row met its budget.  Issue 25 asks for the
spread over at least 5 runs in its closing notes.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import compare  # noqa: E402  (bench/ is not a package)

COMPARE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compare.py")


def run_compare(passthrough, json_path):
    """One compare.py run; its Markdown report (stdout) and raw results."""
    load = os.getloadavg()[0]
    proc = subprocess.run([sys.executable, COMPARE, "--json", json_path] + passthrough,
                          stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit("spread.py: compare.py failed (exit %d)" % proc.returncode)
    with open(json_path) as f:
        return proc.stdout, json.load(f), load


def _triple(values, fmt):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    return " / ".join(fmt(v) for v in (min(values), statistics.median(values), max(values)))


def spread_table(runs):
    """Markdown: one line per WORKLOADS row present in any run."""
    lines = ["| workload | runs | tapegrad min / median / max | tg/NumPy min / median / max "
             "| tg/PyTorch min / median / max | budget | met |",
             "| --- | ---: | --- | --- | --- | --- | ---: |"]
    for key, label, budget, check in compare.WORKLOADS:
        ts, rns, rps, met, judged = [], [], [], 0, 0
        for results in runs:
            t, n, p = (compare._median(results, fw, key) for fw in compare.FRAMEWORKS)
            if t is None:
                continue
            rn, rp = compare._ratio(t, n), compare._ratio(t, p)
            ts.append(t)
            rns.append(rn)
            rps.append(rp)
            ok = check(t, n, p, rn, rp)
            if ok is not None:
                judged += 1
                met += bool(ok)
        if not ts:
            continue
        lines.append("| %s | %d | %s | %s | %s | %s | %s |" % (
            label, len(ts), _triple(ts, lambda v, k=key: compare.fmt_value(k, v)),
            _triple(rns, compare._fmt_ratio), _triple(rps, compare._fmt_ratio), budget,
            "%d/%d" % (met, judged) if judged else "n/a"))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Any other arguments (--quick, --threads, --frameworks, --epochs, ...) are "
               "passed to every compare.py run.")
    parser.add_argument("runs", type=int, help="how many compare.py runs (issue 25: >= 5)")
    parser.add_argument("--output", help="also write the Markdown report to this file")
    parser.add_argument("--keep-json", metavar="DIR",
                        help="keep each run's raw results as DIR/run<i>.json and its report "
                             "as DIR/run<i>.md")
    args, passthrough = parser.parse_known_args(argv)
    if args.runs < 1:
        parser.error("runs must be >= 1")
    for reserved in ("--json", "--output", "--worker"):
        if any(a == reserved or a.startswith(reserved + "=") for a in passthrough):
            parser.error("%s is spread.py's to set" % reserved)
    directory = args.keep_json or tempfile.mkdtemp(prefix="tapegrad-spread-")
    os.makedirs(directory, exist_ok=True)
    runs, loads, first_report = [], [], None
    t0 = time.perf_counter()
    for i in range(args.runs):
        print("spread.py: run %d of %d ..." % (i + 1, args.runs), file=sys.stderr, flush=True)
        json_path = os.path.join(directory, "run%d.json" % (i + 1))
        report, results, load = run_compare(passthrough, json_path)
        if args.keep_json:
            with open(os.path.join(directory, "run%d.md" % (i + 1)), "w") as f:
                f.write(report)
        else:
            os.remove(json_path)
        first_report = first_report or report
        runs.append(results)
        loads.append(load)
    if not args.keep_json:
        os.rmdir(directory)
    header = first_report.split("\n\n")[0].splitlines()   # date, machine, versions, threads
    lines = ["Spread over %d runs of `compare.py %s` (%.0f s in all); the header of the "
             "first run:" % (args.runs, " ".join(passthrough), time.perf_counter() - t0), ""]
    lines += ["    " + line for line in header]
    lines += ["", "Load average (1 min) before each run: %s"
              % ", ".join("%.2f" % v for v in loads),
              "Each run's value of a row is that run's median; the columns give the min / "
              "median / max of those over the runs; *met* counts the runs within budget.",
              "", spread_table(runs)]
    text = "\n".join(lines)
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
