"""A read-only store never takes the web server down (issue 11, defect 3).

With the store on a read-only mount (a read-only bind mount of the store
onto itself), a graceful restart and a cold start both bring httpd up: it
logs the store problem (SACME10170, naming the store and what to do), runs
no driver and activates nothing, and keeps serving the live certificate.
Once the store is writable again, a graceful restart brings the driver
back."""

import time

from sacmetest.faults import mount_read_only, umount
from sacmetest.httpd import _alive
from sacmetest.module import DRIVER_STARTED, ISSUE_LIMIT, LOG_LIMIT, make_httpd, names_for

STORE_DOWN = "SACME10170"       # the store cannot be set up: mod_sacme stands down
SETUP_FAILED = "SACME10036"     # what a read-only store used to stop httpd with


def assert_stood_down(h, mark):
    line = h.wait_log(STORE_DOWN, since=mark, limit=LOG_LIMIT)
    assert h.store_dir in line, line
    assert "Read-only file system" in line, line       # the cause, from the OS
    assert "apachectl graceful" in line and "writable" in line, line   # what to do
    assert SETUP_FAILED not in h.log()[mark:]


def log_after_stand_down(h, mark):
    """The log from the stand-down line on: a driver of the generation
    before the restart may still log its start after mark."""
    log = h.log()[mark:]
    return log[log.index(STORE_DOWN):]


def test_read_only_store_keeps_httpd_serving(http01_pebble, httpds):
    names = names_for("rostore")
    h = httpds.add(make_httpd(http01_pebble, [names]))
    h.start()
    served = h.wait_managed_cert(names[0], limit=ISSUE_LIMIT).serial
    old_driver = h.driver_pid()
    assert old_driver

    mount_read_only(h.store_dir)
    try:
        # graceful restart: the new generation stands down
        mark = h.mark()
        h.graceful()
        assert_stood_down(h, mark)
        h._wait(lambda: not _alive(old_driver), "the old driver to stop", LOG_LIMIT)
        r = h.tls_get(names[0])
        assert not r.is_fallback and r.serial == served, r.describe()
        # no driver: one would say so at once (SACME10020). There is no
        # event for a driver that is not started, so a short wait shows
        # its absence (the driver is forked before the restart finished and
        # logs its start as soon as its threads run, well within it).
        time.sleep(2)
        assert DRIVER_STARTED not in log_after_stand_down(h, mark), \
            "a driver runs on a read-only store"

        # cold start with the store still read-only
        h.keep_dir = True           # stop() must not remove the server root
        h.stop()
        mark = h.mark()
        h.start()
        assert_stood_down(h, mark)
        r = h.tls_get(names[0])
        assert not r.is_fallback and r.serial == served, r.describe()
        time.sleep(2)       # the absence of a driver again (see above)
        assert DRIVER_STARTED not in log_after_stand_down(h, mark), \
            "a driver runs on a read-only store"
    finally:
        umount(h.store_dir)
        h.keep_dir = False

    # writable again: the next graceful restart brings the driver back
    mark = h.mark()
    h.graceful()
    h.wait_log(DRIVER_STARTED, since=mark, limit=LOG_LIMIT)
    assert STORE_DOWN not in h.log()[mark:]
    assert h.driver_pid() != old_driver
    assert h.tls_get(names[0]).serial == served
