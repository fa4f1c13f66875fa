"""pytest fixtures for the end-to-end tests against a real Pebble.

Run from the repository top:  /usr/bin/python3 -m pytest test/e2e
(in parallel, as test/run-tests does: add -n 6, pytest-xdist).
The sacmectl under test is $SACME_BUILD_DIR/mod_sacme/cli/sacmectl
(default: ./build).

In a parallel run every worker has its own session fixtures (its own
Pebbles), its own ports (sacmetest.ports) and its own temporary
directories; the long tests are handed out first (sacmetest.ordering).
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sacmetest import sacmectl  # noqa: E402
from sacmetest.bind import Bind  # noqa: E402
from sacmetest.cluster import Cluster  # noqa: E402
from sacmetest.etcd import EtcdCluster  # noqa: E402
from sacmetest.pebble import Pebble, random_mac_key_with_distinct_encodings  # noqa: E402

pytest_plugins = ["sacmetest.ordering"]

# A kid whose MAC key has distinct base64url / padded / standard encodings,
# used only by the lenient-decoding tests.
LENIENT_KID = "kid-lenient"

_running_pebbles = []
_running_httpds = []
_running_clusters = []
_running_etcds = []


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


@pytest.fixture(scope="session")
def http01_pebble():
    """Pebble with EAB required and REAL HTTP-01 validation (no
    PEBBLE_VA_ALWAYS_VALID), no validation sleep.  Its httpPort is the
    plain-HTTP port of every httpd made by make_httpd: the tests run one
    httpd at a time."""
    p = Pebble(always_valid=False, nosleep=True)
    p.start()
    _running_pebbles.append(p)
    yield p
    _running_pebbles.remove(p)
    p.stop()


@pytest.fixture(scope="session")
def bind():
    """A BIND 9 authoritative for the zone test. (every name 127.0.0.1),
    taking TSIG-signed updates of TXT records (sacmetest.bind)."""
    b = Bind(zones=("test",))
    b.start()
    yield b
    b.stop()


@pytest.fixture(scope="session")
def dns01_pebble(bind):
    """Pebble with real validation whose VA asks the BIND of `bind` (so
    dns-01 TXT records must really be in that zone)."""
    p = Pebble(always_valid=False, nosleep=True, dns_server=bind.address)
    p.start()
    _running_pebbles.append(p)
    yield p
    _running_pebbles.remove(p)
    p.stop()


@pytest.fixture
def slow_pebble():
    """A Pebble of its own whose validations take seconds
    (PEBBLE_VA_SLEEPTIME=10, no NOSLEEP), with no rejected nonces so the
    newOrder requests in its log are counted exactly."""
    p = Pebble(always_valid=False, nosleep=False, nonce_reject=0,
               env={"PEBBLE_VA_SLEEPTIME": "10"})
    p.start()
    _running_pebbles.append(p)
    yield p
    _running_pebbles.remove(p)
    p.stop()


@pytest.fixture
def httpds():
    """Track httpds a test starts: httpds.add(h) -> h.  All are stopped at
    teardown, and their error logs go into the report of a failed test."""
    class Tracker(list):
        def add(self, h):
            self.append(h)
            _running_httpds.append(h)
            return h
    t = Tracker()
    yield t
    for h in t:
        try:
            h.stop()
        finally:
            _running_httpds.remove(h)


@pytest.fixture
def make_cluster(httpds):
    """make_cluster(n, **kw) -> a started sacmetest.cluster.Cluster (the
    arguments of Cluster), its nodes tracked like httpds'; every cluster is
    cleaned up at teardown, and a failed test's report shows its HAProxy
    log."""
    made = []

    def make(n, **kw):
        kw.setdefault("track", httpds.add)
        c = Cluster(n, **kw)
        made.append(c)
        _running_clusters.append(c)
        c.start()
        if c.own_pebble:
            _running_pebbles.append(c.pebble)
        return c
    yield make
    for c in made:
        if c.own_pebble and c.pebble in _running_pebbles:
            _running_pebbles.remove(c.pebble)
        try:
            c.cleanup()
        finally:
            _running_clusters.remove(c)


@pytest.fixture
def etcd3():
    """A real 3-member etcd of the test's own (sacmetest.etcd.EtcdCluster,
    plain http on loopback), stopped at teardown; a failed test's report
    shows its members' logs."""
    e = EtcdCluster(3)
    e.start()
    _running_etcds.append(e)
    yield e
    _running_etcds.remove(e)
    e.stop()


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
    if report.failed and _running_httpds:
        for h in _running_httpds:
            h.keep_on_failure = True
            report.sections.append(("httpd error log %s (tail)" % h.error_log,
                                    h.log()[-15000:]))
    if report.failed:
        for c in _running_clusters:
            if c.lb:
                report.sections.append(("haproxy log %s (tail)" % c.lb.log_file,
                                        c.lb.log_text()[-8000:] + c.lb.stderr_text()[-2000:]))
    if report.failed:
        for e in _running_etcds:
            report.sections.append(("etcd logs (tail)", e.logs(tail=3000)))
    if report.failed and _running_pebbles:
        for p in _running_pebbles:
            logs = p.logs()
            if logs:
                report.sections.append(("pebble logs (tail)", logs[-8000:]))
