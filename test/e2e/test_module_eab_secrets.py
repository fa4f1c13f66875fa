"""The EAB HMAC key as a secret of the running server (issue 10, item 6).

With `SacmeEAB file:PATH` the key is read by the driving process itself and
wiped once the account is there: neither the HMAC text of the file nor its
decoded bytes are in the memory of the httpd parent, of a request child or
(after the account is registered) of the driver.  The memory scan is shown
able to find the key where it is (the inline form keeps it in the
configuration, so every request child holds it), and the inline form is
warned about once."""

import json
import os
import signal
import time

from sacmetest import memscan
from sacmetest.module import (ACCOUNT_REGISTERED, DRIVER_DIED_EARLY, DRIVER_STARTED,
                              ISSUE_LIMIT,
                              STAGED, assert_secret_nowhere, assert_served_verified,
                              make_httpd, names_for, root_file)
from sacmetest.httpd import Httpd
from sacmetest.pebble import decode_b64url

READ_FAILED = "SACME10140"      # the driver cannot read SacmeEAB file:
KID_CHANGED = "SACME10141"      # the file's kid is not the configured one
INLINE_WARNING = "SACME10142"   # SacmeEAB KID HMAC exposes the key
WIPED = "SACME10143"            # the driver forgot the key: the account is there


def _eab_file(tmp_path, kid, hmac, name="sacme-eab.json"):
    path = str(tmp_path / name)
    with open(path, "w") as f:
        json.dump({"kid": kid, "hmac": hmac}, f)
    os.chmod(path, 0o600)
    return path


def _needles(secret):
    """The HMAC text as written in the file and the key's bytes, each also
    by its second half: free() writes its list pointers over the first 16
    bytes of a freed block, and what follows them is a copy all the same."""
    text, raw = secret.encode(), decode_b64url(secret)
    return [text, raw, text[len(text) // 2:], raw[len(raw) // 2:]]


def _request_children(h, limit=30):
    """The children of the httpd parent other than the driver (waits until
    the parent wrote its pid file and started them)."""
    deadline = time.time() + limit
    while True:
        parent, driver = h.parent_pid(), h.driver_pid()
        kids = [k for k in memscan.children(parent) if k != driver] if parent else []
        if kids or time.time() > deadline:
            break
        time.sleep(0.2)
    assert parent, "no httpd.pid"
    assert kids, "the httpd parent %d has no request children" % parent
    return kids


def _scan(pid, secret):
    found, total = memscan.find(pid, _needles(secret))
    assert total > 1 << 20, "read only %d bytes of process %d" % (total, pid)
    return found


def _assert_not_in(pid, what, secret):
    found = _scan(pid, secret)
    assert not found, "the EAB HMAC key is in the memory of the %s (pid %d): %s" \
        % (what, pid, memscan.describe(found))


def _assert_not_in_server(h, secret):
    kids = _request_children(h)
    _assert_not_in(h.parent_pid(), "httpd parent", secret)
    for kid in kids:
        _assert_not_in(kid, "request child", secret)


def test_eab_file_key_is_in_no_process_memory(http01_pebble, httpds, tmp_path):
    pebble = http01_pebble
    secret = pebble.eab["kid-1"]
    names = names_for("eabmem")
    path = _eab_file(tmp_path, "kid-1", secret)
    # no automatic restart: the driver that registered the account stays
    # until the test restarts httpd
    h = httpds.add(make_httpd(pebble, [names], eab="file:" + path, auto_restart=False))
    h.start()

    # the driver registered the account with the key, then forgot it
    wiped = h.wait_log(WIPED, limit=ISSUE_LIMIT)
    assert "kid-1" in wiped and secret not in wiped, wiped
    assert h.log_lines(ACCOUNT_REGISTERED), "the account was not registered"
    driver = h.driver_pid()
    assert driver and driver in memscan.children(h.parent_pid())
    _assert_not_in(driver, "driver", secret)
    _assert_not_in_server(h, secret)

    # and the module gets and serves the certificate
    h.wait_log(STAGED, limit=ISSUE_LIMIT)
    h.graceful()
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    assert_served_verified(h, names, root_file(pebble, str(tmp_path)))
    # the parent read the file again at the restart; the new children
    # inherit nothing of it either
    _assert_not_in_server(h, secret)
    assert not h.log_lines(INLINE_WARNING), "the file: form is warned about"
    assert_secret_nowhere(h, secret)


def test_inline_key_is_in_memory_and_warned_once(http01_pebble, httpds):
    pebble = http01_pebble
    secret = pebble.eab["kid-2"]
    h = httpds.add(make_httpd(pebble, [names_for("eabinline")], kid="kid-2",
                              auto_restart=False))
    h.start()

    # the scan finds the key where it is: the inline form leaves the HMAC
    # text (and its decoded bytes) in the configuration every child holds
    for kid in _request_children(h):
        found = _scan(kid, secret)
        assert secret.encode() in found, \
            "the scan does not find the inline HMAC text in request child %d" % kid
        assert decode_b64url(secret) in found, \
            "the scan does not find the inline key's bytes in request child %d" % kid

    lines = h.log_lines(INLINE_WARNING)
    assert len(lines) == 1, lines
    line = lines[0]
    assert "kid-2" in line, line
    for words in ("SacmeEAB file:", "0600", "root", "apachectl -S", "mod_info",
                  "DUMP_CONFIG"):
        assert words in line, "the warning does not say %r: %s" % (words, line)
    for i in range(len(secret) - 5):
        assert secret[i:i + 6] not in h.log(), "a piece of the HMAC key is in the log"

    # once at start: a graceful restart does not repeat it
    h.graceful()
    assert len(h.log_lines(INLINE_WARNING)) == 1


def test_driver_reads_the_eab_file_itself(http01_pebble, httpds, tmp_path):
    """A new driver (after a crash) reads the file again: a changed key id
    or a missing file stops it with what to do, and httpd keeps serving."""
    pebble = http01_pebble
    secret = pebble.eab["kid-3"]
    path = _eab_file(tmp_path, "kid-3", secret)
    h = httpds.add(make_httpd(pebble, [names_for("eabgone")], eab="file:" + path,
                              auto_restart=False))
    h.start()
    h.wait_log(DRIVER_STARTED)
    driver = h.driver_pid()
    assert driver

    try:
        _eab_file(tmp_path, "kid-1", pebble.eab["kid-1"])
        mark = h.mark()
        os.kill(driver, signal.SIGKILL)
        line = h.wait_log(KID_CHANGED, limit=60, since=mark)
        assert path in line and "kid-1" in line and "kid-3" in line, line
        assert "apachectl graceful" in line, line

        os.unlink(path)
        mark = h.mark()
        line = h.wait_log(READ_FAILED, limit=90, since=mark)
        assert path in line, line
        for words in ("SacmeEAB", "0600", "root", "apachectl graceful"):
            assert words in line, "the message does not say %r: %s" % (words, line)
        h.wait_log(DRIVER_DIED_EARLY, limit=30, since=mark)
        status, _, body = h.http_get("/index.html")
        assert status == 200, "httpd stopped serving"
        for i in range(len(secret) - 5):
            assert secret[i:i + 6] not in h.log(), "a piece of the HMAC key is in the log"
    finally:
        # apache2 -k stop reads the configuration too: without the file it
        # would refuse to stop the server
        _eab_file(tmp_path, "kid-3", secret)


def test_malformed_eab_file_fails_the_check_without_showing_the_key(tmp_path):
    secret = "c2VjcmV0LWhtYWMta2V5LWZvci10aGUtdGVzdHM"
    bad = tmp_path / "bad.json"
    bad.write_text('{"kid": "kid-1", "hmac": %s}' % secret)   # not quoted: bad JSON
    good = _eab_file(tmp_path, "kid-1", secret, name="good.json")
    for path, ok in ((str(bad), False), (good, True)):
        h = Httpd(ssl=True, sacme=["SacmeServer https://127.0.0.1:9/acme/directory",
                                   "SacmeEAB file:%s" % path,
                                   "SacmeDomain eabcheck.test"])
        try:
            r = h.check_config()
        finally:
            h.stop()
        out = r.stdout + r.stderr
        if ok:
            assert r.returncode == 0, out
            continue
        assert r.returncode != 0, out
        assert "SacmeEAB" in out and path in out and "not valid JSON" in out, out
        for i in range(len(secret) - 5):
            assert secret[i:i + 6] not in out, "the check shows the key: " + out
