"""An order survives the process that drives it: after a graceful restart,
or after the driver is killed, the order in staging/<primary>/order.json is
resumed, not made again.

Pebble sleeps 0..9 s before each of its validation attempts here
(PEBBLE_VA_SLEEPTIME=10), so an order stays open long enough to interrupt;
the test only waits (bounded) for states, it never assumes durations."""

import os
import signal

from sacmetest.httpd import USER, process_uid, user_ids
from sacmetest.module import (DRIVER_DIED, DRIVER_DIED_EARLY, RESUMING, assert_served_verified,
                              make_httpd, names_for, order_url_in, root_file)

LIMIT = 150   # slow validations: bounded, generous


def _wait_order_in_progress(h, primary):
    path = h.store("staging", primary, "order.json")
    h._wait(lambda: os.path.isfile(path) and order_url_in(_read(path)),
            "staging/%s/order.json with an order URL" % primary, 60)
    return order_url_in(_read(path))


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _new_order_count(pebble):
    return pebble.request_count("POST", pebble.directory()["newOrder"])


def _finish(h, pebble, names, root, order_url):
    h.wait_managed_cert(names[0], limit=LIMIT)
    assert_served_verified(h, names, root)
    assert _new_order_count(pebble) == 1, \
        "%d newOrder requests: the order was made again" % _new_order_count(pebble)


def test_graceful_restart_during_an_order_resumes_it(slow_pebble, httpds, tmp_path):
    pebble = slow_pebble
    names = names_for("resume-graceful")
    h = httpds.add(make_httpd(pebble, [names]))
    h.start()
    order_url = _wait_order_in_progress(h, names[0])
    assert order_url.startswith(pebble.base_url + "/")
    assert _new_order_count(pebble) == 1

    mark = h.mark()
    h.graceful()
    line = h.wait_log(RESUMING, since=mark, limit=LIMIT)
    assert names[0] in line
    assert order_url_in(line) == order_url, "resumed another order: " + line
    _finish(h, pebble, names, root_file(pebble, str(tmp_path)), order_url)


def test_killed_driver_is_restarted_and_resumes_the_order(slow_pebble, httpds, tmp_path):
    pebble = slow_pebble
    names = names_for("resume-kill")
    h = httpds.add(make_httpd(pebble, [names]))
    h.start()
    order_url = _wait_order_in_progress(h, names[0])

    pid = h.driver_pid()
    assert pid, "no driver.pid in the store"
    assert process_uid(pid) == user_ids(USER)[0], "the driver does not run as %s" % USER
    mark = h.mark()
    os.kill(pid, signal.SIGKILL)

    # SACME10029; or SACME10038, the module's variant for a driver that dies
    # within seconds of its start (it restarts it after a short delay)
    _, died = h.wait_log_any([DRIVER_DIED, DRIVER_DIED_EARLY], since=mark, limit=60)
    assert str(pid) in died and "restarting" in died, died
    after = h.log().index(died)
    line = h.wait_log(RESUMING, since=after, limit=LIMIT)
    assert names[0] in line
    assert order_url_in(line) == order_url, "resumed another order: " + line
    new_pid = h.driver_pid()
    assert new_pid and new_pid != pid, "driver.pid still names the killed driver"
    _finish(h, pebble, names, root_file(pebble, str(tmp_path)), order_url)
