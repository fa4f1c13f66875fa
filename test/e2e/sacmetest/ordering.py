"""Long tests first, so a parallel run (pytest-xdist) does not end with one
worker alone on a long test while the others are idle.

Every run records how long each test took (setup, call and teardown) in
pytest's cache (test/e2e/.pytest_cache, key sacme/durations); the next run
starts with the tests that took LONG seconds or more, the longest first,
and keeps the collection order for all the others (so the tests of one
module stay together and share their module fixtures).  Without a record
(a fresh checkout, CI) the tests of KNOWN_LONG go first.  Every xdist
worker reads the same record at collection, so all of them collect the
same order, as xdist requires.

This plugin only orders; it changes no outcome.
"""

CACHE_KEY = "sacme/durations"
LONG = 10.0          # seconds

# Long by design (when no record says otherwise): the monitor-leak test
# watches the httpd parent over several ten-second monitor rounds.
KNOWN_LONG = {
    "test_module_monitor_leak.py": 90.0,
}

_durations = {}


def _estimate(item, record):
    if item.nodeid in record:
        return record[item.nodeid]
    return KNOWN_LONG.get(item.nodeid.split("::")[0].rsplit("/", 1)[-1], 0.0)


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
