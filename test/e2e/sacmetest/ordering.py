"""Long tests first, so a parallel run (pytest-xdist) does not end with one
worker alone on a long test while the others are idle.

Every run records how long each test took (setup, call and teardown) in
pytest's cache (test/e2e/.pytest_cache, key sacme/durations); the next run
starts with the tests that took LONG seconds or more, the longest first,
and keeps the collection order for all the others (so the tests of one
module stay together and share their module fixtures).  Without a record
(a fresh checkout, CI) the tests of KNOWN_LONG go first.  Every xdist
worker reads the same record at collection, so all of them collect the
same order, as xdist requires.  In a parallel run the tests are then
handed out one at a time (pytest_xdist_make_scheduler below), so the long
ones start at once on different workers.

This plugin only orders; it changes no outcome.
"""

import pytest

CACHE_KEY = "sacme/durations"
LONG = 10.0          # seconds

# Seconds of the longest tests on the 2-core VM, for a run without a record:
# a test module or a test (parameters left out).
KNOWN_LONG = {
    # builds the Debian package (dpkg-buildpackage, lintian), then a whole
    # install / issue / remove / purge round on the system apache2
    "test_debian_package.py": 240.0,
    # several ten-second monitor rounds, by design
    "test_module_monitor_leak.py": 90.0,
    # two activations: the second waits for the once-a-minute bound on
    # automatic restarts
    "test_module_dualkey.py::test_force_renewal_renews_both_key_types": 80.0,
    "test_quirks_pebble.py::test_second_order_reuses_valid_authorizations": 75.0,
    "test_module_eab_secrets.py::test_driver_reads_the_eab_file_itself": 50.0,
    "test_module_resume.py::test_killed_driver_is_restarted_and_resumes_the_order": 30.0,
    "test_module_leftovers.py::test_killed_driver_leftovers_are_removed_at_the_next_start":
        27.0,
}

_durations = {}


def _estimate(item, record):
    if item.nodeid in record:
        return record[item.nodeid]
    test = item.nodeid.split("[")[0]
    return KNOWN_LONG.get(test, KNOWN_LONG.get(test.split("::")[0], 0.0))


def pytest_collection_modifyitems(session, config, items):
    cache = getattr(config, "cache", None)
    record = cache.get(CACHE_KEY, {}) if cache is not None else {}
    est = {item.nodeid: _estimate(item, record) for item in items}
    long_ones = [i for i in items if est[i.nodeid] >= LONG]
    long_ones.sort(key=lambda i: -est[i.nodeid])      # stable: ties keep their order
    rest = [i for i in items if est[i.nodeid] < LONG]
    items[:] = long_ones + rest


def pytest_runtest_logreport(report):
    # with xdist, the controller sees the reports of every worker
    _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session):
    config = session.config
    if hasattr(config, "workerinput") or not _durations:
        return      # an xdist worker: the controller writes the record
    cache = getattr(config, "cache", None)
    if cache is None:
        return
    record = cache.get(CACHE_KEY, {})
    record.update({k: round(v, 2) for k, v in _durations.items()})
    cache.set(CACHE_KEY, record)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """With --dist load (what -n gives): hand tests out one at a time.

    xdist's own load scheduler sends each worker a run of consecutive tests
    at first (a quarter of its share), so the longest tests, all at the
    front, would queue up behind each other on one worker.  Here every
    worker holds two tests (the one it runs and the next: a worker needs
    to know its next test before it runs one), the first ones go round the
    workers, and a worker that finishes a test gets the next in order."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScheduling

    class OneAtATime(LoadScheduling):
        AHEAD = 2

        def schedule(self):
            assert self.collection_is_completed
            if self.collection is not None:
                for node in self.nodes:
                    self.check_schedule(node)
                return
            if not self._check_nodes_have_same_collection():
                self.log("**Different tests collected, aborting run**")
                return
            self.collection = list(self.node2collection.values())[0]
            self.pending[:] = range(len(self.collection))
            for _ in range(self.AHEAD):
                for node in self.nodes:
                    self._send_tests(node, 1)
            if not self.pending:
                for node in self.nodes:
                    node.shutdown()

        def check_schedule(self, node, duration=0):
            if node.shutting_down:
                return
            if self.pending:
                missing = self.AHEAD - len(self.node2pending[node])
                if missing > 0:
                    self._send_tests(node, missing)
            else:
                node.shutdown()

    return OneAtATime(config, log)
