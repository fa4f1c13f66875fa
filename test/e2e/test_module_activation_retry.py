"""A staged certificate the store cannot take is held back, not restarted
for in a loop (issue 11, defect 2).

When the parent cannot promote a staged set for the store's sake (its
filesystem full, the live set's directory immutable), it keeps serving the
current certificate, keeps the new one staged, and logs SACME10230 with the
OS's word, what to do and when it tries again. It does not restart for that
set again before then (SacmeRetryDelay, doubling at every further failure):
each retry is announced (SACME10231). Once the cause is gone, the next retry
activates the set without anyone's help.

Before the fix, the monitor restarted httpd gracefully about every minute
for as long as the set could not be promoted (SACME10028 at each)."""

import os
import re
import subprocess

import pytest

from sacmetest import faults, sacmectl
from sacmetest.httpd import serial_in
from sacmetest.module import (ACTIVATED, ISSUE_LIMIT, LOG_LIMIT, REFUSED, STAGED,
                              make_httpd, names_for, reconfigure)

NOT_ACTIVATED = "SACME10230"    # the store could not take the set: held back
RETRYING = "SACME10231"         # a held set's delay has passed: restart to retry
GRACEFUL = "SIGUSR1 received"   # httpd's line at every graceful restart
RETRY_DELAY = 20                # SacmeRetryDelay of these tests (s)
# How long a retry may be waited for: its delay and a monitor round, with
# room for a loaded machine (a guard against a hang, not a timing claim).
RETRY_LIMIT = 4 * RETRY_DELAY + 60


def wait_staged_serial(h, name, since):
    h._wait(lambda: any(name in l for l in h.log_lines(STAGED, since)),
            "a certificate for %s staged" % name, ISSUE_LIMIT)
    return serial_in([l for l in h.log_lines(STAGED, since) if name in l][0])


def wait_after(h, text, after, limit):
    """Waits for a line with text in the log after position after; returns
    (the line, the position just past it)."""
    def found():
        return text in h.log()[after:]
    h._wait(found, "'%s' in the error log" % text, limit)
    log = h.log()
    start = log.index(text, after)
    end = log.index("\n", start) + 1
    return log[log.rindex("\n", 0, start) + 1:end], end


def announced_delay(line):
    m = re.search(r"tried again in (\d+) s, at ", line)
    assert m, "no retry time in: " + line
    return int(m.group(1))


def renew_staged(h, name, served):
    """sacmectl renew --force; returns the serial of the set staged for it."""
    mark = h.mark()
    res = sacmectl.store_cmd(h, "renew", "--force", name)
    assert res.rc == sacmectl.EXIT_OK, res.describe()
    staged = wait_staged_serial(h, name, mark)
    assert staged != served
    return staged


def test_full_store_holds_the_set_back_and_retries(pebble, httpds):
    names = names_for("fullstore")
    more = ["SacmeRetryDelay %ds" % RETRY_DELAY]
    h = httpds.add(make_httpd(pebble, [names], auto_restart=False, more=more))
    faults.need_root()
    faults.mount_tmpfs(h.store_dir, 4096)
    try:
        # the first certificate, activated by our restart
        h.start()
        wait_staged_serial(h, names[0], 0)
        h.graceful()
        served = h.wait_managed_cert(names[0], limit=LOG_LIMIT).serial

        # a second one staged (SacmeAutoRestart off: it waits for us), then
        # the store's filesystem full; the restart that should activate it
        # also turns SacmeAutoRestart on
        staged = renew_staged(h, names[0], served)
        filler = os.path.join(h.store_dir, "filler")
        faults.fill(filler)
        reconfigure(h, pebble, [names], auto_restart=True, more=more)
        mark = h.mark()
        h.graceful()
        line, pos = wait_after(h, NOT_ACTIVATED, mark, LOG_LIMIT)
        assert names[0] in line, line
        assert "No space left on device" in line, line                     # the cause
        assert "free space on the filesystem of %s" % h.store_dir in line, line
        assert "apachectl graceful" in line, line                          # what to do
        assert announced_delay(line) == RETRY_DELAY, line
        assert REFUSED not in h.log()[mark:], "the set was refused, not held"
        assert h.tls_get(names[0]).serial == served
        assert os.path.exists(h.store("staging", names[0], "fullchain.pem"))

        # no restart until the announced retry, which fails again (still
        # full) and waits twice as long
        retry, pos2 = wait_after(h, RETRYING, pos, RETRY_LIMIT)
        assert GRACEFUL not in h.log()[pos:pos2], \
            "a restart before the announced retry:\n" + h.log()[mark:]
        line, pos3 = wait_after(h, NOT_ACTIVATED, pos2, LOG_LIMIT)
        assert announced_delay(line) == 2 * RETRY_DELAY, line
        assert h.tls_get(names[0]).serial == served

        # space again: the next retry activates the set, nobody restarts
        os.unlink(filler)
        act, pos4 = wait_after(h, ACTIVATED, pos3, 2 * RETRY_LIMIT)
        assert serial_in(act) == staged, act
        between = h.log()[pos3:pos4]
        assert between.count(RETRYING) == 1 and between.count(GRACEFUL) == 1, between
        h.wait_served(names[0], lambda r: r.serial == staged,
                      "the new certificate served", LOG_LIMIT)
        assert NOT_ACTIVATED not in h.log()[pos4:]
    finally:
        h.stop()
        faults.umount(h.store_dir)


def test_immutable_live_set_holds_the_set_back(pebble, httpds):
    names = names_for("immutable")
    h = httpds.add(make_httpd(pebble, [names], more=["SacmeRetryDelay %ds" % RETRY_DELAY]))
    h.start()
    served = h.wait_managed_cert(names[0], limit=ISSUE_LIMIT).serial
    live = h.store("domains", names[0])
    r = subprocess.run(["chattr", "+i", live], capture_output=True, text=True)
    if r.returncode != 0:
        # A second way to make activation fail, where the filesystem of /tmp
        # has the immutable flag (ext4, tmpfs); the defect itself is proven
        # by the full tmpfs above, which runs wherever the suite runs as root.
        pytest.skip("chattr +i does not work here: %s" % r.stderr.strip())
    try:
        # staged and, SacmeAutoRestart on, restarted for at once; the live
        # set cannot go to the archive
        mark = h.mark()
        staged = renew_staged(h, names[0], served)
        line, pos = wait_after(h, NOT_ACTIVATED, mark, LOG_LIMIT)
        assert "Operation not permitted" in line and live in line, line
        assert "chattr -i" in line, line
        assert announced_delay(line) == RETRY_DELAY, line
        assert h.tls_get(names[0]).serial == served
    finally:
        subprocess.run(["chattr", "-i", live], check=False)
    # fixed: the retry activates it, after no other restart
    act, pos2 = wait_after(h, ACTIVATED, pos, RETRY_LIMIT)
    assert serial_in(act) == staged, act
    between = h.log()[pos:pos2]
    assert between.count(RETRYING) == 1 and between.count(GRACEFUL) == 1, between
    h.wait_served(names[0], lambda r: r.serial == staged, "the new certificate served",
                  LOG_LIMIT)
