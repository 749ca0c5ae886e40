"""The array-api-tests expected-failures list stays well-formed: every entry is a test id
with its reason, and the conformance script reads exactly those ids."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _script():
    path = os.path.join(ROOT, "tools", "array_api_conformance.py")
    spec = importlib.util.spec_from_file_location("_aat_conformance", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_expected_failure_has_a_reason():
    path = os.path.join(ROOT, "tools", "array_api_xfails.txt")
    entries = []
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            test_id, sep, reason = line.partition("#")
            assert sep and reason.strip(), "no reason given: %r" % line
            assert test_id.strip().startswith("array_api_tests/test_"), line
            entries.append(test_id.strip())
    assert len(entries) == len(set(entries)), "duplicate entries"
    assert _script().read_xfails(path) == entries
