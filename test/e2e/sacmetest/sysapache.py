"""The machine's own apache2 (Debian's /etc/apache2 layout, apache2ctl,
a2enmod, a2ensite), for the test of the Debian package.

Unlike sacmetest.httpd, which runs /usr/sbin/apache2 in private
ServerRoots, this touches what the machine's admin owns: /etc/apache2, the
a2enmod records in /var/lib/apache2, the system instance.  So:

  * machine_lock() serialises every user of the system instance on this
    machine (pytest-xdist workers, other test runs);
  * Snapshot copies a directory tree and puts it back exactly (contents,
    modes, owners, symbolic links), and fingerprint() tells whether it did;
  * SystemApache starts and stops the system instance with apache2ctl (no
    systemd here) and reads its error log from where the test began.

The TLS and log helpers are Httpd's: SystemApache is an Httpd whose
ServerRoot is /etc/apache2 and whose control is apache2ctl.
"""

import contextlib
import fcntl
import hashlib
import os
import shutil
import stat
import subprocess

from .httpd import Httpd, _alive
from .ports import LOCK_DIR

CONF_DIR = "/etc/apache2"
# what a2enmod/a2ensite/a2enconf record (enabled_by_admin, enabled_by_maint)
A2_STATE_DIRS = ("/var/lib/apache2/conf", "/var/lib/apache2/module",
                 "/var/lib/apache2/site")
PID_FILE = "/var/run/apache2/apache2.pid"
ERROR_LOG = "/var/log/apache2/error.log"


@contextlib.contextmanager
def machine_lock():
    """Held while a test uses the system instance and /etc/apache2."""
    os.makedirs(LOCK_DIR, exist_ok=True)
    fd = os.open(os.path.join(LOCK_DIR, "system-apache2.lock"),
                 os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def fingerprint(top):
    """Every entry under top (top included): path, type, mode, owner,
    link target, and a digest of a file's content.  Equal fingerprints:
    the trees are the same for anything apache2 or an admin would see."""
    if not os.path.lexists(top):
        return None
    entries = []
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for name in [""] + sorted(dirs) + sorted(files):
            # a link to a directory is listed (os.walk does not follow it)
            path = os.path.join(root, name) if name else root
            st = os.lstat(path)
            what = "%s %o %d:%d" % (os.path.relpath(path, top), st.st_mode,
                                    st.st_uid, st.st_gid)
            if stat.S_ISLNK(st.st_mode):
                what += " -> " + os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    what += " " + hashlib.sha256(f.read()).hexdigest()
            entries.append(what)
    return entries


class Snapshot:
    """A copy of the directory trees `tops` in `keep_dir`; restore() makes
    each tree what it was (a tree that did not exist is removed)."""

    def __init__(self, tops, keep_dir):
        self.tops = list(tops)
        self.keep_dir = keep_dir
        self.before = {}
        for i, top in enumerate(self.tops):
            self.before[top] = fingerprint(top)
            if os.path.lexists(top):
                _copy_tree(top, self._copy_of(i))

    def _copy_of(self, i):
        return os.path.join(self.keep_dir, "snapshot-%d" % i)

    def restore(self):
        for i, top in enumerate(self.tops):
            if os.path.lexists(top):
                shutil.rmtree(top)
            if self.before[top] is not None:
                _copy_tree(self._copy_of(i), top)

    def changed(self):
        """The trees whose fingerprint differs from the snapshot's."""
        return [t for t in self.tops if fingerprint(t) != self.before[t]]


def _copy_tree(src, dst):
    """copytree keeping links as links, modes and owners."""
    shutil.copytree(src, dst, symlinks=True)
    for root, dirs, files in os.walk(src):
        for name in [""] + dirs + files:
            s = os.path.join(root, name) if name else root
            d = os.path.join(dst, os.path.relpath(s, src))
            st = os.lstat(s)
            os.lchown(d, st.st_uid, st.st_gid)
            if not stat.S_ISLNK(st.st_mode):
                os.chmod(d, stat.S_IMODE(st.st_mode))


def system_pid():
    """The system instance's parent, or None when it does not run."""
    try:
        with open(PID_FILE) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def run(*argv, timeout=600, env=None, cwd=None):
    """A command (non-interactive for apt and dpkg); returns the
    CompletedProcess (text, output captured)."""
    full_env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    full_env.update(env or {})
    return subprocess.run(list(argv), capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=cwd)


class SystemApache(Httpd):
    """The system instance, listening on 127.0.0.1:http_port and
    127.0.0.1:https_port (the test writes ports.conf), with its store in
    store_dir.  Its error log is read from the position it had when this
    object was made."""

    def __init__(self, http_port, https_port, store_dir):
        # not Httpd.__init__: no private ServerRoot, no generated httpd.conf
        self.root = CONF_DIR
        self.port = http_port
        self.https_port = https_port
        self.ssl = True
        self.error_log = ERROR_LOG
        self.started = False
        self.keep_dir = True
        self.leftover_driver = None
        self._store_dir = store_dir
        self._log_start = os.path.getsize(ERROR_LOG) if os.path.exists(ERROR_LOG) else 0

    @property
    def store_dir(self):
        return self._store_dir

    def log(self):
        try:
            with open(self.error_log, "rb") as f:
                f.seek(self._log_start)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def parent_pid(self):
        return system_pid()

    def run(self, *args):
        return run("apache2ctl", *args, timeout=60)

    def control(self, action):
        """apache2ctl start|graceful|stop: Debian's way, envvars read."""
        return self.run(action)

    def stop(self, cleanup=False):
        """apache2ctl stop; waits until the parent and the driver are gone."""
        driver = self.driver_pid()
        parent = system_pid()
        if parent:
            self.control("stop")
            self._wait(lambda: not _alive(parent), "the system apache2 to stop")
        self.started = False
        if driver:
            self._wait(lambda: not _alive(driver), "the driving process to end", limit=15)

    def _cleanup(self):
        pass
