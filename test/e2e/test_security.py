"""A hostile web user gains nothing (issue 10).

Code running as the httpd User (www-data: a compromised PHP application, a
CGI script) is played here by commands run through setpriv as www-data.
With SacmeDriverUser it cannot read the account key or any private key;
without it (the driver is www-data), what it plants in the store (symbolic
links, hard links, a directory swapped for a link) never makes root read,
change, move or remove anything outside the store, and a store whose
location others can change makes mod_sacme stand down."""

import grp
import hashlib
import json
import os
import pwd
import stat
import subprocess

import pytest

from sacmetest.httpd import MODULES, USER, process_uid, serial_in, _alive
from sacmetest.module import (ACTIVATED, DRIVER_STARTED, ERRORED, ISSUE_LIMIT, LOG_LIMIT,
                              STAGED, account_dirs, make_httpd, names_for)
from sacmetest.sacmectl import EXIT_OK, store_cmd
from sacmetest.sysuser import ensure_system_user

ACCOUNT_RELOADED = "SACME10076"   # the driver read the account again (sacmectl changed it)

DRIVER_USER = "sacme"
NO_DRIVER_USER = "SACME10110"     # the key is readable by the httpd User
STANDS_DOWN = "SACME10111"        # the store's location cannot be trusted

SETPRIV = ["setpriv", "--reuid=%s" % USER, "--regid=%s" % USER, "--clear-groups"]


@pytest.fixture(scope="session")
def driver_user():
    """A system account of the driver's own, as the docs tell admins (made
    once for every worker of a parallel run, and never removed)."""
    return ensure_system_user(DRIVER_USER)


STATUS_CONF = """
LoadModule authz_host_module %s/mod_authz_host.so
<Location /sacme-status>
    SetHandler sacme-status
    Require local
</Location>
""" % MODULES


def status_of(h, name):
    """The sacme-status handler's JSON for one domain (served by a request
    child, running as www-data)."""
    status, _, body = h.http_get("/sacme-status/%s" % name)
    assert status == 200, (status, body[:300])
    return json.loads(body)


def as_web_user(*argv):
    """Runs argv as www-data; returns the CompletedProcess."""
    return subprocess.run(SETPRIV + list(argv), capture_output=True, text=True, timeout=60)


def web_user_py(code, *args):
    """Runs a Python snippet as www-data (sys.argv[1:] = args)."""
    return as_web_user("/usr/bin/python3", "-c", code, *args)


def web_user_can_read(path):
    return as_web_user("cat", path).returncode == 0


def owner_mode(path):
    st = os.lstat(path)
    return pwd.getpwuid(st.st_uid).pw_name, stat.S_IMODE(st.st_mode)


# --- SacmeDriverUser --------------------------------------------------------------

def test_driver_user_keeps_every_key_from_the_web_user(http01_pebble, httpds,
                                                        driver_user):
    names = names_for("drvuser")
    h = httpds.add(make_httpd(http01_pebble, [names], auto_restart=False,
                              more=["SacmeDriverUser %s" % driver_user],
                              extra=STATUS_CONF))
    h.start()
    staged = serial_in(h.wait_log(STAGED, limit=ISSUE_LIMIT))

    # the driver runs as its own account; real HTTP-01 validation went
    # through the request children, which read the challenges as www-data
    drv = h.driver_pid()
    assert process_uid(drv) == pwd.getpwnam(driver_user).pw_uid
    assert not h.log_lines(NO_DRIVER_USER), "warned although SacmeDriverUser is set"

    acct = account_dirs(h)[0]
    key = os.path.join(acct, "account.key")
    staged_key = h.store("staging", names[0], "privkey.pem")
    assert owner_mode(h.store("accounts")) == (driver_user, 0o700)
    assert owner_mode(key) == (driver_user, 0o600)
    assert owner_mode(staged_key) == (driver_user, 0o600)
    st = os.stat(h.store("staging"))
    assert (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
            stat.S_IMODE(st.st_mode)) == (driver_user, USER, 0o2750)
    for path in (key, staged_key, os.path.join(acct, "account.json")):
        assert not web_user_can_read(path), "www-data can read %s" % path
    # what request children need stays readable: the status of the domain,
    # which the sacme-status handler (a request child) reads from staging/
    assert web_user_can_read(h.store("staging", names[0], "fullchain.pem"))
    dom = status_of(h, names[0])
    assert dom["state"] == "pending-activation", dom
    assert int(dom["staged"]["serial"], 16) == staged, dom

    h.graceful()
    assert serial_in(h.wait_log(ACTIVATED, limit=LOG_LIMIT)) == staged
    served = h.wait_managed_cert(names[0], limit=LOG_LIMIT)
    assert served.serial == staged
    live_key = h.store("domains", names[0], "privkey.pem")
    assert owner_mode(live_key) == ("root", 0o600)
    assert not web_user_can_read(live_key)
    # sacmectl (root) works in the driver's parts and leaves them the driver's
    rc, out, err, _ = store_cmd(h, "renew", "--force", names[0])
    assert rc == EXIT_OK, err
    request = h.store("requests", names[0] + ".json")
    assert owner_mode(request)[0] == driver_user
    assert status_of(h, names[0])["request"] is not None


def test_without_driver_user_the_admin_is_told_once(http01_pebble, httpds):
    names = names_for("nodrv")
    h = httpds.add(make_httpd(http01_pebble, [names]))
    h.start()
    line = h.wait_log(NO_DRIVER_USER, limit=LOG_LIMIT)
    assert ":warn]" in line, line
    assert "SacmeDriverUser" in line and USER in line, line
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    h.graceful()
    assert len(h.log_lines(NO_DRIVER_USER)) == 1


def test_driver_user_must_exist_and_not_be_root(http01_pebble, httpds):
    h = httpds.add(make_httpd(http01_pebble, [names_for("badusr")],
                              more=["SacmeDriverUser no-such-sacme-user"]))
    r = h.check_config()
    assert r.returncode != 0
    assert "SacmeDriverUser" in r.stderr and "no-such-sacme-user" in r.stderr, r.stderr
    h.configure(sacme=[l for l in h.sacme if not l.startswith("SacmeDriverUser")]
                + ["SacmeDriverUser root"])
    r = h.check_config()
    assert r.returncode != 0 and "SacmeDriverUser" in r.stderr, r.stderr
    h.configure(sacme=[l for l in h.sacme if not l.startswith("SacmeDriverUser")]
                + ["SacmeDriverUser %s" % USER])
    r = h.check_config()
    assert r.returncode != 0 and "httpd User" in r.stderr, r.stderr


# --- planted links ----------------------------------------------------------------

def snapshot(top):
    """Every entry under top with its type, owner, mode and content hash
    (not its link count: an attacker's hard link that root's write replaced
    by a file of its own changes that, and harms nothing)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            digest = None
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            out[p] = (stat.S_IFMT(st.st_mode), st.st_uid, stat.S_IMODE(st.st_mode),
                      digest)
    return out


PLANT = """
import os, sys
target, links = sys.argv[1], sys.argv[2:]
for l in links:
    try:
        if os.path.lexists(l):
            os.unlink(l)
        os.symlink(target, l)
    except OSError as e:
        print("cannot plant %s: %s" % (l, e))
        sys.exit(1)
"""

HARDLINK = """
import os, sys
try:
    os.link(sys.argv[1], sys.argv[2])
    print("linked")
except OSError as e:
    print("refused: %s" % e)
"""

# A link to the victim in every directory of the store www-data can write.
PLANT_ALL = """
import os, sys
target, top = sys.argv[1], sys.argv[2]
planted = []
for dirpath, dirnames, filenames in os.walk(top):
    if os.access(dirpath, os.W_OK):
        os.symlink(target, os.path.join(dirpath, "planted-link"))
        planted.append(dirpath)
print("\\n".join(planted))
"""


def plant_hard_link(victim, path):
    """A hard link to root's file at path: made by www-data where the kernel
    allows it; Debian's fs.protected_hardlinks refuses it for a file
    www-data cannot write, so then root makes it, as such a kernel would
    have let www-data do."""
    r = web_user_py(HARDLINK, str(victim), path)
    if "linked" not in r.stdout:
        os.link(str(victim), path)

SWAP_DIR = """
import os, shutil, sys
d, target = sys.argv[1], sys.argv[2]
shutil.rmtree(d, ignore_errors=True)
os.symlink(target, d)
"""


def serving_manual_restart(pebble, httpds, tag):
    """httpd with SacmeAutoRestart off, its first certificate activated by
    our graceful restart: (h, primary name, serial served)."""
    names = names_for(tag)
    h = httpds.add(make_httpd(pebble, [names], auto_restart=False))
    h.start()
    h.wait_log(STAGED, limit=ISSUE_LIMIT)
    h.graceful()
    return h, names[0], h.wait_managed_cert(names[0], limit=LOG_LIMIT).serial


def make_victim(outside):
    """root's secret outside the store: outside/victim, 0600, known text."""
    outside.mkdir(mode=0o755)
    victim = outside / "victim"
    victim.write_text("root's secret\n")
    os.chmod(victim, 0o600)
    return victim


# A racing attacker: as www-data, watches the given directories with inotify
# and, the moment a file appears there (a temporary file, or one renamed
# into place), swaps it for a symbolic link to the victim. A root that
# chmods, chowns or opens by path after creating or renaming loses this
# race sooner or later; one that works on descriptors never does.
RACER = r"""
import ctypes, os, struct, sys, time
libc = ctypes.CDLL("libc.so.6", use_errno=True)
IN_CREATE, IN_MOVED_TO = 0x100, 0x80
victim, deadline, dirs = sys.argv[1], time.time() + float(sys.argv[2]), sys.argv[3:]
fd = libc.inotify_init1(os.O_NONBLOCK)
wds = {}
for d in dirs:
    wd = libc.inotify_add_watch(fd, d.encode(), IN_CREATE | IN_MOVED_TO)
    if wd >= 0:
        wds[wd] = d
print("watching %d" % len(wds), flush=True)
while time.time() < deadline:
    try:
        buf = os.read(fd, 65536)
    except BlockingIOError:
        time.sleep(0.0005)
        continue
    i = 0
    while i < len(buf):
        wd, mask, cookie, n = struct.unpack_from("iIII", buf, i)
        name = buf[i + 16:i + 16 + n].rstrip(b"\0").decode()
        i += 16 + n
        path = os.path.join(wds.get(wd, ""), name)
        try:
            os.unlink(path)
            os.symlink(victim, path)
            print("swapped %s" % path, flush=True)
        except OSError:
            pass
"""


def test_racing_web_user_never_turns_root_against_a_file(http01_pebble, httpds,
                                                          tmp_path):
    h, primary, _ = serving_manual_restart(http01_pebble, httpds, "racer")
    victim = make_victim(tmp_path / "outside")
    outside = victim.parent
    before = snapshot(str(outside))
    acct = account_dirs(h)[0]
    racer = subprocess.Popen(SETPRIV + ["/usr/bin/python3", "-c", RACER, str(victim), "60",
                                        h.store("requests"), acct],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert racer.stdout.readline().startswith("watching 2")
        # what root writes in the driver's parts: requests (renew --force)
        # and the account's files (rollover), again and again
        for _ in range(5):
            store_cmd(h, "renew", "--force", primary)
            store_cmd(h, "account", "rollover")
            assert snapshot(str(outside)) == before, "root's file was changed"
    finally:
        racer.kill()
        out = racer.communicate()[0]
    # the attack did run: files root made were swapped under it
    assert "swapped " in out, out
    assert victim.read_text() == "root's secret\n"
    assert owner_mode(str(victim)) == ("root", 0o600)
    assert snapshot(str(outside)) == before, out


def test_links_planted_by_the_web_user_gain_nothing(http01_pebble, httpds, tmp_path):
    h, primary, served = serving_manual_restart(http01_pebble, httpds, "planted")
    # root's things outside the store: a secret file, and a root-only
    # directory holding a key pair for the managed names
    victim = make_victim(tmp_path / "outside")
    outside = victim.parent
    rootdir = outside / "rootonly"
    rootdir.mkdir(mode=0o700)
    for f in ("privkey.pem", "fullchain.pem"):
        with open(h.store("domains", primary, f), "rb") as src:
            (rootdir / f).write_bytes(src.read())
        os.chmod(rootdir / f, 0o600)
    before = snapshot(str(outside))

    acct = account_dirs(h)[0]
    links = [
        h.store("requests", primary + ".json"),
        os.path.join(acct, "account.key.new"),
        h.store("staging", primary, "order.json"),
        h.store("staging", primary, "job.json"),
        h.store("staging", primary, "alerts.json"),
        h.store("staging", primary, "privkey.pem"),
        h.store("staging", primary, "fullchain.pem"),
    ]
    r = web_user_py(PLANT, str(victim), *links)
    assert r.returncode == 0, r.stdout + r.stderr
    r = web_user_py(PLANT_ALL, str(victim), h.store_dir)
    assert r.returncode == 0, r.stdout + r.stderr
    writable = set(r.stdout.split())
    for d in (h.store("accounts"), acct, h.store("staging"), h.store("staging", primary),
              h.store("challenges"), h.store("requests")):
        assert d in writable, "www-data cannot write %s: %r" % (d, writable)
    assert not any(d.startswith((h.store("domains"), h.store("archive"))) for d in writable)
    plant_hard_link(victim, os.path.join(acct, "account.json.planted"))
    before = snapshot(str(outside))

    # every sacmectl command, as the admin (root)
    mark = h.mark()
    for args in (("list",), ("show", primary), ("renew", "--force", primary),
                 ("revoke", primary, "--reason", "superseded"),
                 ("account", "show"), ("account", "rollover")):
        store_cmd(h, *args)
        assert snapshot(str(outside)) == before, "sacmectl %s touched root's files" \
            % " ".join(args)
    # The rollover may land while the driver orders for the revocation:
    # the CA then refuses that attempt's old key (SACME10024), and the
    # next attempt waits the backoff. Once the driver has read the new key
    # (SACME10076), a forced renewal orders at once with it.
    h.wait_log(ACCOUNT_RELOADED, since=mark, limit=LOG_LIMIT)
    if ERRORED in h.log()[mark:]:
        store_cmd(h, "renew", "--force", primary)
        assert snapshot(str(outside)) == before, "sacmectl renew touched root's files"
    # the driver takes the requests up and stages a new set: a graceful
    # restart with it staged and links all around it activates it, and
    # nothing else
    h._wait(lambda: any(primary in l for l in h.log_lines(STAGED)[1:]),
            "a new certificate staged after the revocation", ISSUE_LIMIT)
    new = serial_in([l for l in h.log_lines(STAGED)[1:] if primary in l][-1])
    r = web_user_py(PLANT, str(victim), h.store("staging", primary, "order.json"),
                    h.store("staging", primary, "job.json"),
                    h.store("staging", primary, "alerts.json"))
    assert r.returncode == 0, r.stdout + r.stderr
    plant_hard_link(victim, h.store("staging", primary, "history.json"))
    before = snapshot(str(outside))
    mark = h.mark()
    h.graceful()
    assert serial_in(h.wait_log(ACTIVATED, since=mark, limit=LOG_LIMIT)) == new
    served = h.wait_served(primary, lambda r: r.serial == new, "the new certificate",
                           LOG_LIMIT).serial
    assert snapshot(str(outside)) == before, "the graceful restart touched root's files"

    # another one staged; the web user swaps the domain's staging directory
    # for a link to a root-only directory with a key pair for the names
    mark = h.mark()
    store_cmd(h, "renew", "--force", primary)
    h.wait_log(STAGED, since=mark, limit=ISSUE_LIMIT)
    r = web_user_py(SWAP_DIR, h.store("staging", primary), str(rootdir))
    assert r.returncode == 0, r.stdout + r.stderr
    mark = h.mark()
    h.graceful()
    assert not h.log_lines(ACTIVATED, since=mark), \
        "something was activated through a link to a root-only directory"
    assert h.tls_get(primary).serial == served
    store_cmd(h, "account", "deactivate", "--yes")
    assert snapshot(str(outside)) == before, "root's files outside the store changed"
    assert victim.read_text() == "root's secret\n"
    assert owner_mode(str(victim)) == ("root", 0o600)


# --- the store's location ---------------------------------------------------------

def test_store_in_a_world_writable_directory_stands_down(http01_pebble, httpds):
    names = names_for("standdown")
    h = httpds.add(make_httpd(http01_pebble, [names]))
    h.start()
    served = h.wait_managed_cert(names[0], limit=ISSUE_LIMIT).serial
    old_driver = h.driver_pid()

    os.chmod(h.root, 0o777)       # the store's parent: anyone can swap the store
    try:
        r = h.check_config()
        assert r.returncode == 0, r.stderr    # httpd itself still starts
        assert STANDS_DOWN in r.stderr and h.root in r.stderr, r.stderr
        mark = h.mark()
        h.graceful()
        line = h.wait_log(STANDS_DOWN, since=mark, limit=LOG_LIMIT)
        assert h.root in line and "SacmeStoreDir" in line, line
        # no driver: the old one was stopped, no new one was made
        h._wait(lambda: not _alive(old_driver), "the old driver to stop", LOG_LIMIT)
        assert h.driver_pid() == old_driver, "a driver was started for an unsafe store"
        # what is in service keeps being served
        assert h.tls_get(names[0]).serial == served
    finally:
        os.chmod(h.root, 0o755)
    mark = h.mark()
    h.graceful()
    h.wait_log(DRIVER_STARTED, since=mark, limit=LOG_LIMIT)
    assert h.driver_pid() != old_driver
