"""Fault matrix, the store (issue 11): full, or read-only, at the worst
moments; recovery needs no admin action beyond fixing the disk.

  full at the first registration   the store is a small tmpfs, filled up
                                   (by a root-owned file) after httpd
                                   started: before the account key is
                                   written, or once the CA registered the
                                   account, before account.json is
  full at staging                  the renewal's certificate arrives while
                                   the store is full
  read-only while driving          the store turns read-only under the driver
  read-only at activation          a set is staged (SacmeAutoRestart off),
                                   the store turns read-only, the admin
                                   restarts gracefully

Each case asserts: httpd stays up serving what it served (the fallback at
a first issuance, the old certificate otherwise); the log names the cause
(the OS's "No space left on device" / "Read-only file system", with a
SACMEnnnnn tag); nothing is lost (one account, its key unchanged; the
renewal resumes its order rather than making another); and once the
filler file is removed (the mount made writable again) the certificate is
issued and served by itself (a graceful restart for the read-only case,
which is how a staged set goes live anyway). Full during ACTIVATION is
tested elsewhere."""

import os

import pytest

from sacmetest import faults
from sacmetest.httpd import serial_in
from sacmetest.module import (ACTIVATED, ERRORED, ISSUE_LIMIT, LOG_LIMIT, RESTART_NEEDED,
                              STAGED, account_dirs, all_files, assert_served_verified, make_httpd,
                              names_for, root_file)
from sacmetest.quirkproxy import QuirkProxy, proxied_httpd
from sacmetest.sacmectl import EXIT_OK, store_cmd

RETRY = ["SacmeRetryDelay 2s"]
NO_SPACE = "No space left on device"
READ_ONLY = "Read-only file system"
STORE_DOWN = "SACME10170"       # the store cannot be set up: mod_sacme stands down
TMPFS_KIB = 1024


@pytest.fixture
def pebble_own():
    # No authorization reused: a renewal publishes its challenge answers
    # (the staging test pins them so their removal frees no space).
    p = faults.exact_pebble(authz_reuse=0)
    yield p
    p.stop()


@pytest.fixture
def mounts(httpds):
    """Paths to unmount at teardown (after the report has the logs, before
    the httpds are stopped and their roots removed)."""
    faults.need_root()
    paths = []
    yield paths
    for path in reversed(paths):
        faults.umount(path)


def _store_on_tmpfs(h, mounts):
    faults.mount_tmpfs(h.store_dir, TMPFS_KIB)
    mounts.append(h.store_dir)
    return os.path.join(h.store_dir, "filler")


def _account_key(h):
    """The account key file's content (b"" if there is none yet)."""
    dirs = account_dirs(h)
    assert len(dirs) <= 1, "one account directory expected: %r" % dirs
    return faults.read_bytes(os.path.join(dirs[0], "account.key")) if dirs else b""


def _errors_naming(h, name, cause, since=0):
    return [l for l in h.log_lines(ERRORED, since) if name in l and cause in l]


# where the first registration meets the full store: the account key is
# written right after the directory is fetched; account.json right after
# the CA answered the registration (the account then exists at the CA, and
# only its key in the store leads back to it)
REGISTRATION_STEPS = {
    "account-key": ("/dir", "request"),
    "account-json": ("/sign-me-up", "response"),
}


@pytest.mark.parametrize("step", list(REGISTRATION_STEPS))
def test_store_full_at_the_first_registration(step, pebble_own, httpds, mounts, tmp_path):
    names = names_for("full-" + step)
    proxy = QuirkProxy(pebble_own, quirks={"hold": REGISTRATION_STEPS[step]}).start()
    try:
        h = httpds.add(proxied_httpd(proxy, [names], more=RETRY))
        filler = _store_on_tmpfs(h, mounts)
        h.start()
        assert proxy.wait_held(LOG_LIMIT), "the driver never reached the registration"
        faults.fill(filler)
        proxy.release(deliver=True)

        h._wait(lambda: _errors_naming(h, names[0], NO_SPACE), "an attempt failing for want of space",
                ISSUE_LIMIT)
        r = h.tls_get(names[0])
        assert r.is_fallback, r.describe()
        registered = faults.registrations(proxy)
        assert registered == (1 if step == "account-json" else 0), \
            "%d accounts registered before the space was freed" % registered
        key = _account_key(h)
        if step == "account-json":
            assert key, "the key of the registered account is not in the store"

        os.unlink(filler)
        h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
        assert_served_verified(h, names, root_file(pebble_own, str(tmp_path)))
        assert faults.registrations(proxy) == 1, "%d accounts" % faults.registrations(proxy)
        if step == "account-json":
            assert _account_key(h) == key, "the account key changed"
        assert _account_key(h), "no account key"
    finally:
        proxy.stop()


def _pin_challenges(h, filler):
    """Hard links (next to the filler) to the challenge answers in the
    store: when the driver removes them after the download, as it does
    before staging, no space comes free, so the staging meets a full
    disk. Returns the links."""
    links = []
    for path in all_files(h.store("challenges")):
        link = "%s.pin%d" % (filler, len(links))
        os.link(path, link)
        links.append(link)
    return links


def test_store_full_at_staging_keeps_the_old_certificate(pebble_own, httpds, mounts, tmp_path):
    names = names_for("full-staging")
    proxy = QuirkProxy(pebble_own).start()
    try:
        h = httpds.add(proxied_httpd(proxy, [names], more=RETRY))
        filler = _store_on_tmpfs(h, mounts)
        h.start()
        serial1 = h.wait_managed_cert(names[0], limit=ISSUE_LIMIT).serial
        key1 = _account_key(h)

        # a renewal whose certificate arrives when the store is full
        proxy.set(hold=("/certZ/", "response"))
        mark = h.mark()
        res = store_cmd(h, "renew", "--force", names[0])
        assert res.rc == EXIT_OK, res.describe()
        assert proxy.wait_held(ISSUE_LIMIT), "the renewal never downloaded its certificate"
        pins = _pin_challenges(h, filler)
        assert pins, "no challenge answer in the store"
        faults.fill(filler)
        proxy.release(deliver=True)

        h._wait(lambda: _errors_naming(h, names[0], NO_SPACE, mark),
                "the staging failing for want of space", ISSUE_LIMIT)
        r = h.tls_get(names[0])
        assert not r.is_fallback and r.serial == serial1, r.describe()

        for path in [filler] + pins:
            os.unlink(path)
        served = h.wait_managed_cert(names[0], limit=ISSUE_LIMIT, not_serial=serial1)
        assert_served_verified(h, names, root_file(pebble_own, str(tmp_path)))
        assert served.serial != serial1
        assert faults.new_orders(proxy) == 2, \
            "%d orders: the renewal's order was not resumed" % faults.new_orders(proxy)
        assert faults.registrations(proxy) == 1
        assert _account_key(h) == key1, "the account key changed"
    finally:
        proxy.stop()


def test_store_read_only_at_activation_keeps_serving_then_activates(pebble_own, httpds,
                                                                    mounts, tmp_path):
    names = names_for("ro-activation")
    h = httpds.add(make_httpd(pebble_own, [names], auto_restart=False, more=RETRY))
    h.start()
    # the first certificate goes live at the admin's graceful restart
    h.wait_log(RESTART_NEEDED, limit=ISSUE_LIMIT)
    h.graceful()
    serial1 = h.wait_managed_cert(names[0], limit=LOG_LIMIT).serial
    key1 = _account_key(h)

    # a renewal, staged, waiting for activation
    mark = h.mark()
    res = store_cmd(h, "renew", "--force", names[0])
    assert res.rc == EXIT_OK, res.describe()
    staged = serial_in(h.wait_log(STAGED, since=mark, limit=ISSUE_LIMIT))
    assert staged != serial1

    faults.mount_read_only(h.store_dir)
    mounts.append(h.store_dir)
    mark = h.mark()
    h.graceful()
    _, line = h.wait_log_any([STORE_DOWN, ACTIVATED], since=mark, limit=LOG_LIMIT)
    assert READ_ONLY in line, line
    assert not h.log_lines(ACTIVATED, since=mark), "activated on a read-only store"
    r = h.tls_get(names[0])
    assert not r.is_fallback and r.serial == serial1, r.describe()

    mounts.remove(h.store_dir)
    faults.umount(h.store_dir)
    mark = h.mark()
    h.graceful()
    act = h.wait_log(ACTIVATED, since=mark, limit=LOG_LIMIT)
    assert names[0] in act and serial_in(act) == staged, act
    served = h.wait_managed_cert(names[0], limit=LOG_LIMIT, not_serial=serial1)
    assert served.serial == staged
    assert_served_verified(h, names, root_file(pebble_own, str(tmp_path)))
    assert _account_key(h) == key1


def test_store_read_only_while_driving_then_issues(pebble_own, httpds, mounts, tmp_path):
    """The store turns read-only under a running driver (no restart): its
    attempts fail and say why, and once the store is writable again the
    next attempt issues, without a restart."""
    names = names_for("ro-driving")
    proxy = QuirkProxy(pebble_own, quirks={"hold": ("/dir", "request")}).start()
    try:
        h = httpds.add(proxied_httpd(proxy, [names], more=RETRY))
        h.start()
        assert proxy.wait_held(LOG_LIMIT), "the driver never asked for the directory"
        faults.mount_read_only(h.store_dir)
        mounts.append(h.store_dir)
        proxy.release(deliver=True)

        h._wait(lambda: _errors_naming(h, names[0], READ_ONLY),
                "an attempt failing on the read-only store", ISSUE_LIMIT)
        assert faults.registrations(proxy) == 0
        r = h.tls_get(names[0])
        assert r.is_fallback, r.describe()

        mounts.remove(h.store_dir)
        faults.umount(h.store_dir)
        h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
        assert_served_verified(h, names, root_file(pebble_own, str(tmp_path)))
        assert faults.registrations(proxy) == 1
        assert _account_key(h)
    finally:
        proxy.stop()
