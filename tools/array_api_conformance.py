"""Run the array API test suite (data-apis/array-api-tests) against tapegrad.numpy and
against NumPy with the same settings, and print pass/fail counts side by side.

    git clone --recursive https://github.com/data-apis/array-api-tests ~/array-api-tests
    pip install -r ~/array-api-tests/requirements.txt
    python tools/array_api_conformance.py --suite ~/array-api-tests --max-examples 20

The suite is not vendored.  Complex dtypes and the ``linalg`` and ``fft`` extensions
are tested by default, for both libraries.  ``--skip-complex`` (kept for comparison
with older counts) runs a temporary copy of the suite with complex64/complex128 skipped
(``ARRAY_API_TESTS_SKIP_DTYPES``) for *both*, after two one-line patches that let its
dtype table and signature tests be built without them (the suite cannot skip complex
on its own); ``--disable-extensions`` turns linalg and fft off for both.

``tools/array_api_xfails.txt`` lists the tests expected to fail for tapegrad, one id
per line with its reason after ``#``; the script hands the ids to the suite's
``--xfails-file``, then reports (a) the counts for both libraries, (b) tests NumPy
passes that tapegrad fails without being listed (regressions), and (c) listed tests
that now pass (stale entries).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
XFAILS = os.path.join(HERE, "array_api_xfails.txt")


def read_xfails(path):
    ids = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                ids.append(line)
    return ids


def without_complex(suite, tmp):
    """A copy of the suite whose dtype table tolerates skipped complex dtypes."""
    dst = os.path.join(tmp, "suite")
    shutil.copytree(suite, dst, ignore=shutil.ignore_patterns(".git", "__pycache__"))
    path = os.path.join(dst, "array_api_tests", "dtype_helpers.py")
    with open(path) as f:
        src = f.read()
    old = "widest_complex_dtype = max(\n    [(dt, dtype_nbits[dt]) for dt in complex_dtypes], " \
          "key=lambda x: x[1]\n)[0]"
    if old not in src:
        raise SystemExit("--skip-complex: this suite version's dtype_helpers.py differs; "
                         "update the patch in %s" % __file__)
    src = src.replace(old, "widest_complex_dtype = max(\n    [(dt, dtype_nbits[dt]) for dt in "
                      "complex_dtypes], key=lambda x: x[1]\n)[0] if complex_dtypes else None")
    with open(path, "w") as f:
        f.write(src)
    path = os.path.join(dst, "array_api_tests", "test_signatures.py")
    with open(path) as f:
        src = f.read()
    old = "cmplx_name = dh.dtype_to_name[dh.widest_complex_dtype]"
    if old not in src:
        raise SystemExit("--skip-complex: this suite version's test_signatures.py differs; "
                         "update the patch in %s" % __file__)
    with open(path, "w") as f:
        f.write(src.replace(old, "cmplx_name = dh.dtype_to_name[dh.widest_complex_dtype] "
                                 "if dh.widest_complex_dtype is not None else 'float64'"))
    return dst


def run(suite, module, max_examples, xfails, extra, timeout, skip_complex=False,
        disable_extensions=False):
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        cmd = [sys.executable, "-m", "pytest", "array_api_tests/", "-q", "-p",
               "no:cacheprovider", "--max-examples", str(max_examples), "--json-report",
               "--json-report-file", report, "-o", "addopts="] + list(extra)
        if disable_extensions:
            cmd += ["--disable-extension", "linalg", "fft"]
        if xfails:
            xf = os.path.join(tmp, "xfails.txt")
            with open(xf, "w") as f:
                f.write("\n".join(xfails) + "\n")
            cmd += ["--xfails-file", xf]
        env = dict(os.environ, ARRAY_API_TESTS_MODULE=module,
                   ARRAY_API_TESTS_XFAIL_MARK="xfail")
        if skip_complex:
            suite = without_complex(suite, tmp)
            env["ARRAY_API_TESTS_SKIP_DTYPES"] = "complex64,complex128"
        proc = subprocess.run(cmd, cwd=suite, env=env, capture_output=True, text=True,
                              timeout=timeout)
        if not os.path.exists(report):
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
            raise SystemExit("the suite did not run for %s" % module)
        with open(report) as f:
            data = json.load(f)
    if not data["tests"]:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit("the suite collected no tests for %s" % module)
    return {t["nodeid"]: t["outcome"] for t in data["tests"]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--suite", default=os.environ.get("ARRAY_API_TESTS_DIR",
                                                     os.path.expanduser("~/array-api-tests")),
                   help="checkout of data-apis/array-api-tests (with its array-api submodule)")
    p.add_argument("--max-examples", type=int, default=20)
    p.add_argument("--timeout", type=int, default=3600)
    p.add_argument("--skip-numpy", action="store_true", help="run tapegrad.numpy only")
    p.add_argument("--no-xfails", action="store_true", help="ignore the expected failures")
    p.add_argument("--skip-complex", action="store_true",
                   help="skip complex dtypes in both runs")
    p.add_argument("--disable-extensions", action="store_true",
                   help="leave the linalg and fft extensions untested in both runs")
    p.add_argument("--save", help="write every test's outcome per module to this JSON file")
    p.add_argument("pytest_args", nargs="*", help="extra pytest arguments (e.g. -k sort)")
    args = p.parse_args(argv)
    if not os.path.isdir(os.path.join(args.suite, "array_api_tests")):
        raise SystemExit("no array-api-tests checkout at %s (see --help)" % args.suite)
    xfails = [] if args.no_xfails else read_xfails(XFAILS)
    results = {"tapegrad.numpy": run(args.suite, "tapegrad.numpy", args.max_examples, xfails,
                                     args.pytest_args, args.timeout, args.skip_complex,
                                     args.disable_extensions)}
    if not args.skip_numpy:
        results["numpy"] = run(args.suite, "numpy", args.max_examples, [], args.pytest_args,
                               args.timeout, args.skip_complex, args.disable_extensions)
    if args.save:
        with open(args.save, "w") as f:
            json.dump(results, f, indent=0)
    print("array-api-tests, --max-examples %d (linalg, fft %s; complex dtypes %s)"
          % (args.max_examples, "disabled" if args.disable_extensions else "enabled",
             "skipped" if args.skip_complex else "tested"))
    print("%-16s %7s %7s %7s %8s %7s" % ("module", "passed", "failed", "skipped",
                                          "xfailed", "xpassed"))
    for name, res in results.items():
        c = Counter(res.values())
        print("%-16s %7d %7d %7d %8d %7d" % (name, c["passed"], c["failed"], c["skipped"],
                                             c["xfailed"], c["xpassed"]))
    ours = results["tapegrad.numpy"]
    if "numpy" in results:
        regress = sorted(t for t, o in ours.items()
                         if o == "failed" and results["numpy"].get(t) == "passed")
        print("\nNumPy passes, tapegrad fails, not listed in %s: %d"
              % (os.path.relpath(XFAILS), len(regress)))
        for t in regress:
            print("  " + t)
    stale = sorted(t for t, o in ours.items() if o == "xpassed")
    if stale:
        print("\nlisted as expected failures but passed this run (flaky or stale): %d"
              % len(stale))
        for t in stale:
            print("  " + t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
