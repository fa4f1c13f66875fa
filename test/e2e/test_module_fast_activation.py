"""A staged certificate goes into service at once (issue 11, "faster to
serve").

With SacmeAutoRestart on, the driver that staged a set exits with a status
that says so (SACME10234); the parent reaps it and restarts gracefully right
away (SACME10232), not at its next monitor round, and not a minute after the
restart before: a certificate replaced right after an activation (sacmectl
renew --force, revoke) is activated by the same path. The exit is no crash:
no "driver died" line, no delayed start of the next driver. With
SacmeAutoRestart off, the driver keeps running and the parent asks for a
restart (SACME10026), as before.

The figures (staged to served) are in docs/performance.md and
test/bench/bench.py (scenario "serve"); the test asserts what the log shows
happened, and one generous bound that only the old behaviour (a restart at
most once a minute) exceeds."""

import datetime
import time

from sacmetest import faults, sacmectl
from sacmetest.faults import new_orders
from sacmetest.quirkproxy import QuirkProxy, proxied_httpd
from sacmetest.httpd import _alive, serial_in
from sacmetest.module import (ACTIVATED, DRIVER_DIED, DRIVER_DIED_EARLY, DRIVER_STAGED,
                              DRIVER_STARTED, ERRORED, ISSUE_LIMIT, LOG_LIMIT,
                              RESTART_NEEDED, RESTARTING, STAGED, make_httpd, names_for)

DRIVER_EXITS = "SACME10234"      # the driver: staged, exiting for the restart
NOT_ACTIVATED = "SACME10230"
NEW_ORDER = "SACME10011"       # an order made at the CA (INFO)
GRACEFUL = "SIGUSR1 received"
# The old guard let one restart of the monitor's follow another after 60 s
# at the earliest; a replacement activated well within that came another way.
OLD_GUARD = 60
BOUND = 40


def log_time(line):
    # [Sun Dec 06 05:07:41.404559 2026]
    stamp = line[1:line.index("]")]
    return datetime.datetime.strptime(stamp, "%a %b %d %H:%M:%S.%f %Y")


def lines_after(h, since, *tags):
    """The lines of the log after position since that carry any of tags,
    in order."""
    return [l for l in h.log()[since:].splitlines() if any(t in l for t in tags)]


def activation_path(h, since, serial):
    """Waits for the activation of serial after position since and returns
    the tagged lines from the staging of serial to its activation."""
    h._wait(lambda: any(serial_in(l) == serial for l in h.log_lines(ACTIVATED, since)),
            "serial %x activated" % serial, ISSUE_LIMIT)
    seq = lines_after(h, since, STAGED, DRIVER_EXITS, DRIVER_STAGED, RESTARTING, GRACEFUL,
                      ACTIVATED)
    first = next(i for i, l in enumerate(seq) if STAGED in l and serial_in(l) == serial)
    last = next(i for i, l in enumerate(seq) if ACTIVATED in l and serial_in(l) == serial)
    return seq[first:last + 1]


def assert_driver_path(path):
    """staged, the driver's exit, the parent's restart for it, activated:
    and no restart of the monitor's (SACME10025) on the way."""
    tags = [next(t for t in (STAGED, DRIVER_EXITS, DRIVER_STAGED, RESTARTING, GRACEFUL,
                             ACTIVATED) if t in l) for l in path]
    assert tags == [STAGED, DRIVER_EXITS, DRIVER_STAGED, GRACEFUL, ACTIVATED], \
        "\n".join(path)


def test_staged_certificate_is_activated_by_the_drivers_exit(pebble, httpds):
    names = names_for("fastserve")
    h = httpds.add(make_httpd(pebble, [names]))
    h.start()

    # the first certificate
    first = serial_in(h.wait_log(STAGED, limit=ISSUE_LIMIT))
    path = activation_path(h, 0, first)
    assert_driver_path(path)
    h.wait_served(names[0], lambda r: r.serial == first, "the first certificate served",
                  LOG_LIMIT)

    # replaced right after: renew --force as soon as the first is served
    mark = h.mark()
    res = sacmectl.store_cmd(h, "renew", "--force", names[0])
    assert res.rc == sacmectl.EXIT_OK, res.describe()
    second = serial_in(h.wait_log(STAGED, since=mark, limit=ISSUE_LIMIT))
    assert second != first
    path2 = activation_path(h, mark, second)
    assert_driver_path(path2)
    # not held back by a guard against restarting within a minute of the
    # last restart: the old one waited at least OLD_GUARD s
    gap = (log_time(path2[-1]) - log_time(path[-1])).total_seconds()
    assert gap < BOUND < OLD_GUARD, "replacement activated %.1f s after the first" % gap
    h.wait_served(names[0], lambda r: r.serial == second, "the second certificate served",
                  LOG_LIMIT)

    # the exits were no crashes: nothing said so, and each time the next
    # driver started at once with the new generation
    log = h.log()
    assert DRIVER_DIED not in log and DRIVER_DIED_EARLY not in log, log
    assert NOT_ACTIVATED not in log
    # the start-up warnings of this configuration (an inline EAB key, no
    # SacmeDriverUser) aside, nothing went wrong
    bad = [l for l in log.splitlines() if ("[sacme:error]" in l or "[sacme:warn]" in l)
           and "SACME10142" not in l and "SACME10110" not in l]
    assert not bad, "\n".join(bad)
    h._wait(lambda: h.log()[mark:].count(DRIVER_STARTED) >= 1, "the next driver",
            LOG_LIMIT)
    assert _alive(h.driver_pid())


def test_without_auto_restart_the_driver_keeps_running(pebble, httpds):
    names = names_for("fastoff")
    h = httpds.add(make_httpd(pebble, [names], auto_restart=False))
    h.start()
    h.wait_log(DRIVER_STARTED, limit=LOG_LIMIT)
    driver = h.driver_pid()
    h.wait_log(STAGED, limit=ISSUE_LIMIT)
    h.wait_log(RESTART_NEEDED, limit=LOG_LIMIT)
    # a driver that exits for the set does so within a fraction of a
    # second of staging it: give it that, and more
    time.sleep(2)
    assert _alive(driver) and h.driver_pid() == driver
    log = h.log()
    assert DRIVER_EXITS not in log and DRIVER_STAGED not in log and GRACEFUL not in log, log
    assert h.tls_get(names[0]).is_fallback


def test_many_domains_at_once_each_activated_once(pebble, httpds):
    # Ten orders in flight at once: every staged set ends its driver, whose
    # other orders the next driver resumes. None may be cut between its
    # chain staged and its order forgotten (the next driver would resume
    # that order after the activation and refuse its certificate for the
    # wrong key): each domain is ordered once, activated once, no error.
    domains = [names_for("fastmany%d" % i)[:1] for i in range(10)]
    h = httpds.add(make_httpd(pebble, domains, more=["SacmeMaxParallel 10"]))
    h.start()
    for d in domains:
        h.wait_managed_cert(d[0], limit=ISSUE_LIMIT)
    log = h.log()
    assert ERRORED not in log, "\n".join(h.log_lines(ERRORED))
    for d in domains:
        # A driver may end before a domain's order was made, and the next
        # one says "ordering" again; never after: each new order at the CA
        # (SACME10011) is recorded before the driver may end.
        ordered = [l for l in h.log_lines(NEW_ORDER) if "starting with %s:" % d[0] in l]
        activated = [l for l in h.log_lines(ACTIVATED) if "%s:" % d[0] in l]
        assert len(ordered) == 1 and len(activated) == 1, "\n".join(ordered + activated)
    assert log.count(DRIVER_STAGED) >= 1


def test_staged_exit_waits_until_a_new_order_is_recorded(httpds):
    # Two domains driven at once. The CA's answer to the first newOrder is
    # held at the proxy (the CA made that order) while the other domain is
    # issued and staged. The driver must not end for the staged set before
    # the held order is recorded: ended earlier, it would leave an order at
    # the CA that no one knows of, and the next driver would make another.
    pebble = faults.exact_pebble(always_valid=True)
    proxy = QuirkProxy(pebble, quirks={"hold": ("/order-plz", "response")}).start()
    try:
        domains = [names_for("guard-a")[:1], names_for("guard-b")[:1]]
        h = httpds.add(proxied_httpd(proxy, domains, more=["SacmeMaxParallel 2"]))
        h.start()
        assert proxy.wait_held(ISSUE_LIMIT), "no newOrder answer was held"
        h.wait_log(STAGED, limit=ISSUE_LIMIT)
        # An absence, so a bounded look: no exit while the order is held.
        try:
            h.wait_log(DRIVER_EXITS, limit=3)
        except RuntimeError:        # timed out: the driver is still there
            pass
        assert DRIVER_EXITS not in h.log(), \
            "the driver ended with an order made at the CA but not recorded"
        proxy.release(deliver=True)
        for d in domains:
            h.wait_managed_cert(d[0], limit=ISSUE_LIMIT)
        assert new_orders(proxy) == len(domains), \
            "%d orders made for %d domains" % (new_orders(proxy), len(domains))
        assert ERRORED not in h.log(), "\n".join(h.log_lines(ERRORED))
    finally:
        proxy.stop()
        pebble.stop()
