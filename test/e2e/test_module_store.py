"""The store on disk: who owns what, file modes, and the EAB HMAC nowhere
(not in a file under the store, not in the error log)."""

import json
import os
import shutil
import stat
import tempfile

from sacmetest import certcheck
from sacmetest.httpd import USER, process_ppid, process_uid, user_ids
from sacmetest.module import (ACTIVATED, ISSUE_LIMIT, LOG_LIMIT, RESTART_NEEDED,
                              account_dirs, all_files, assert_secret_nowhere, make_httpd,
                              names_for)
from sacmetest.pebble import decode_b64url


def _owner(path):
    return os.stat(path).st_uid


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_store_modes_owners_and_no_secret(http01_pebble, httpds):
    pebble = http01_pebble
    names = names_for("store")
    kid = "kid-3"
    hmac = pebble.eab[kid]
    uid, _ = user_ids(USER)
    h = httpds.add(make_httpd(pebble, [names], kid=kid, hmac=hmac, auto_restart=False))
    h.start()
    h.wait_log(RESTART_NEEDED, limit=ISSUE_LIMIT)

    # the driver: a child of the httpd parent, running as the User
    driver = h.driver_pid()
    assert driver, "no driver.pid"
    assert process_uid(driver) == uid, "the driver does not run as %s" % USER
    assert process_ppid(driver) == h.parent_pid(), "the driver is not a child of the parent"

    # accounts/<id>/: the driver's, key 0600, no HMAC in account.json
    assert _owner(h.store("accounts")) == uid
    dirs = account_dirs(h)
    assert len(dirs) == 1, dirs
    key = os.path.join(dirs[0], "account.key")
    assert _mode(key) == 0o600, "account.key mode %o" % _mode(key)
    assert _owner(key) == uid
    with open(os.path.join(dirs[0], "account.json")) as f:
        acct = json.load(f)
    assert _owner(os.path.join(dirs[0], "account.json")) == uid
    assert acct.get("url", "").startswith(pebble.base_url + "/"), acct
    assert acct.get("server") == pebble.directory_url, acct
    assert acct.get("eab-kid") == kid, acct
    assert not any("hmac" in k.lower() for k in acct), acct

    # staging/<primary>/: the driver's, key 0600
    staging = h.store("staging", names[0])
    assert _owner(h.store("staging")) == uid
    assert _owner(staging) == uid
    for f in ("privkey.pem", "fullchain.pem"):
        assert _owner(os.path.join(staging, f)) == uid, f
    assert _mode(os.path.join(staging, "privkey.pem")) == 0o600
    assert _owner(h.store("challenges")) == uid

    # activation: the live set belongs to root
    mark = h.mark()
    h.graceful()
    h.wait_log(ACTIVATED, since=mark, limit=LOG_LIMIT)
    live = h.store("domains", names[0])
    priv, full = os.path.join(live, "privkey.pem"), os.path.join(live, "fullchain.pem")
    assert _owner(priv) == 0 and _mode(priv) == 0o600, \
        "live privkey.pem: uid %d mode %o" % (_owner(priv), _mode(priv))
    assert _owner(full) == 0 and _mode(full) == 0o644, \
        "live fullchain.pem: uid %d mode %o" % (_owner(full), _mode(full))
    for d in (h.store("domains"), live):
        assert _owner(d) == 0, "%s not owned by root" % d
        assert _mode(d) & 0o022 == 0, "%s writable by group/others" % d
    certcheck.load_private_key(priv)

    # the challenges are closed: no key authorization is left behind
    left = list(all_files(h.store("challenges")))
    assert not left, "challenge files left after issuance: %r" % left

    # nothing under the store is writable by others, every key is 0600
    for path in all_files(h.store_dir):
        assert _mode(path) & 0o002 == 0, "%s is world-writable" % path
        with open(path, "rb") as f:
            if b"PRIVATE KEY-----" in f.read():
                assert _mode(path) == 0o600, "%s holds a key, mode %o" % (path, _mode(path))

    # the HMAC: in no file under the store, in no line of the error log
    assert_secret_nowhere(h, hmac)
    raw = decode_b64url(hmac)
    for path in all_files(h.store_dir):
        with open(path, "rb") as f:
            assert raw not in f.read(), "the raw HMAC key is in %s" % path


def test_store_dir_directive_moves_the_store(http01_pebble, httpds):
    pebble = http01_pebble
    names = names_for("storedir")
    store = tempfile.mkdtemp(prefix="sacme-store-")
    os.chmod(store, 0o755)
    target = os.path.join(store, "state")
    try:
        h = httpds.add(make_httpd(pebble, [names], more=["SacmeStoreDir %s" % target]))
        h.start()
        h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
        served = h.tls_get(names[0])
        live = certcheck.load_pem_chain(os.path.join(target, "domains", names[0],
                                                     "fullchain.pem"))
        assert live[0] == served.cert
        assert os.path.isfile(os.path.join(target, "driver.pid"))
        assert not os.path.exists(h.store_dir), \
            "the default store under the ServerRoot was used despite SacmeStoreDir"
    finally:
        shutil.rmtree(store, ignore_errors=True)
