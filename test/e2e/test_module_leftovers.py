"""What a driver killed in the middle of its work leaves in the store (the
temporary files of interrupted writes, a key among them; the challenge
answers of orders abandoned since) is removed by the next driver at its
start (SACME10201), and nothing else is."""

import os
import signal

from sacmetest.httpd import USER, user_ids
from sacmetest.module import ISSUE_LIMIT, make_httpd, names_for


def _plant(path, uid, gid, text="-----BEGIN PRIVATE KEY-----\n"):
    with open(path, "w") as f:
        f.write(text)
    os.chown(path, uid, gid)
    os.chmod(path, 0o600)


def test_killed_driver_leftovers_are_removed_at_the_next_start(http01_pebble, httpds):
    names = names_for("leftovers")
    h = httpds.add(make_httpd(http01_pebble, [names]))
    h.start()
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)

    # The driver that runs now (the one started by the activation's restart)
    # sweeps the store before it says it started: plant only after that, or
    # it may take the planted files (or the answers' directory) away first.
    pid = h.driver_pid()
    assert pid
    h.wait_log("driver started (pid %d)" % pid, limit=40)

    # The driver runs as the User here: what it would have left is its own.
    uid, gid = user_ids(USER)
    answers = h.store("challenges", names[0])
    if not os.path.isdir(answers):
        os.mkdir(answers, 0o750)
        os.chown(answers, uid, gid)
    gone = [h.store("staging", names[0], "privkey.pem.tmp.0123456789abcdef"),
            h.store("requests", names[0] + ".json.tmp.fedcba9876543210"),
            os.path.join(answers, "abandonedTokenOfAnOldOrder0123")]
    kept = [h.store("staging", names[0], "notes.tmp.txt")]
    for path in gone + kept:
        _plant(path, uid, gid)

    assert h.driver_pid() == pid
    mark = h.mark()
    os.kill(pid, signal.SIGKILL)
    # restarted at once, or after 10 s if it had only just started
    line = h.wait_log("SACME10201", limit=40, since=mark)
    assert "2 temporary file(s)" in line and "1 stale challenge answer(s)" in line, line
    for path in gone:
        assert not os.path.exists(path), "%s survived the driver's start" % path
    for path in kept:
        assert os.path.exists(path), "%s was removed" % path
    assert not os.path.exists(answers), "the emptied answer directory stayed"
    # the store is otherwise intact: the live set is still served
    assert not h.log_lines("SACME10202", since=mark), h.log()[mark:]
    assert os.path.exists(h.store("domains", names[0], "fullchain.pem"))
