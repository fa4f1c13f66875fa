"""pytest fixtures for the end-to-end tests against a real Pebble.

Run from the repository top:  /usr/bin/python3 -m pytest test/e2e
The sacmectl under test is $SACME_BUILD_DIR/mod_sacme/cli/sacmectl
(default: ./build).
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sacmetest import sacmectl  # noqa: E402
from sacmetest.pebble import Pebble, random_mac_key_with_distinct_encodings  # noqa: E402

# A kid whose MAC key has distinct base64url / padded / standard encodings,
# used only by the lenient-decoding tests.
LENIENT_KID = "kid-lenient"

_running_pebbles = []


@pytest.fixture(scope="session")
def sacmectl_binary():
    exe = sacmectl.binary()
    assert os.access(exe, os.X_OK), (
        "sacmectl is not built at %s; build it (test/build) or set SACME_BUILD_DIR" % exe)
    return exe


@pytest.fixture(scope="session")
def pebble(sacmectl_binary):
    """Pebble with EAB required, authorizations always valid (the pre-validated
    case of a private CA), and Pebble's default 5% nonce rejection on."""
    p = Pebble(always_valid=True,
               extra_eab_keys={LENIENT_KID: random_mac_key_with_distinct_encodings()})
    p.start()
    _running_pebbles.append(p)
    yield p
    _running_pebbles.remove(p)
    p.stop()


@pytest.fixture
def dirs(tmp_path):
    """Fresh (not yet existing) account and output directories."""
    class Dirs:
        account = str(tmp_path / "account")
        out = str(tmp_path / "out")
    return Dirs


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, attach the tail of Pebble's log to the report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and _running_pebbles:
        for p in _running_pebbles:
            logs = p.logs()
            if logs:
                report.sections.append(("pebble logs (tail)", logs[-8000:]))
