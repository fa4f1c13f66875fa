"""System accounts the tests need (such as a SacmeDriverUser), made once.

Tests of several processes (pytest-xdist workers, other test runs) may ask
for the same account at the same moment: two useradd at once fail (the
account exists, or /etc/passwd is locked by the other one).  So the check
and the useradd run under an flock shared by every process of this
harness, and a failed useradd is followed by another look: an account made
meanwhile by a process outside the lock counts as made.  Accounts are
never removed here: another worker may be using one.
"""

import fcntl
import os
import pwd
import subprocess
import time

from .ports import LOCK_DIR

ATTEMPTS = 20        # useradd retried while someone else holds /etc/passwd


def _exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def ensure_system_user(name):
    """A system account `name` (no home, no shell) exists afterwards."""
    if _exists(name):
        return name
    os.makedirs(LOCK_DIR, exist_ok=True)
    fd = os.open(os.path.join(LOCK_DIR, "useradd.lock"),
                 os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last = None
        for _ in range(ATTEMPTS):
            if _exists(name):
                return name
            last = subprocess.run(["useradd", "--system", "--home-dir", "/nonexistent",
                                   "--shell", "/usr/sbin/nologin", name],
                                  capture_output=True, text=True)
            if last.returncode == 0:
                return name
            # /etc/passwd locked by a useradd outside this lock: try again
            time.sleep(0.2)
        if _exists(name):
            return name
        raise RuntimeError("useradd %s failed: %s" % (name, last.stderr))
    finally:
        os.close(fd)
