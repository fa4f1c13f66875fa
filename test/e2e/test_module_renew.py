"""Renewal: a certificate renewed after a restart (forced with `sacmectl
renew --force`) is replaced by a new one from the same ACME account (found again with its stored key, not
registered a second time: Sectigo's EAB keys are single-use)."""

import os

from sacmetest import certcheck
from sacmetest.httpd import serial_in
from sacmetest.module import (ACCOUNT_FOUND, ACCOUNT_REGISTERED, ACCOUNT_UNKNOWN, ACTIVATED,
                              DRIVER_STARTED, ISSUE_LIMIT, LOG_LIMIT, ORDERING, RESTART_NEEDED, STAGED,
                              account_dirs, account_json, all_files, assert_served_verified, live_chain,
                              make_httpd, names_for, reconfigure, root_file)
from sacmetest.sacmectl import EXIT_OK, store_cmd


def test_renewal_after_a_restart_keeps_the_account(http01_pebble, httpds, tmp_path):
    pebble = http01_pebble
    names = names_for("renew")
    h = httpds.add(make_httpd(pebble, [names]))
    h.start()
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    root = root_file(pebble, str(tmp_path))
    serial1 = assert_served_verified(h, names, root)[0].serial_number

    acct1 = account_json(h)
    assert acct1.get("url", "").startswith(pebble.base_url + "/"), acct1
    key_path = os.path.join(account_dirs(h)[0], "account.key")
    with open(key_path, "rb") as f:
        key1 = f.read()
    registered_before = len(h.log_lines(ACCOUNT_REGISTERED))

    # restart (AutoRestart off, so the renewed set is activated by our
    # graceful): the new driver knows the account only from the store. Then
    # the admin forces a renewal (a window cannot: it is never more than
    # half of the lifetime, and the certificate is new).
    reconfigure(h, pebble, [names], auto_restart=False)
    mark = h.mark()
    h.graceful()
    h.wait_log(DRIVER_STARTED, since=mark, limit=LOG_LIMIT)
    res = store_cmd(h, "renew", "--force", names[0])
    assert res.rc == EXIT_OK, res.describe()
    assert res.json["driver-pid"] == h.driver_pid(), res.json
    ordering = h.wait_log(ORDERING, since=mark, limit=ISSUE_LIMIT)
    assert names[0] in ordering
    staged = h.wait_log(STAGED, since=mark, limit=ISSUE_LIMIT)
    serial2 = serial_in(staged)
    assert serial2 != serial1, "the renewal staged the old certificate again"
    h.wait_log(RESTART_NEEDED, since=mark, limit=LOG_LIMIT)

    # the same account, found again: no second registration
    assert account_json(h).get("url") == acct1["url"], "the account URL changed"
    assert len(account_dirs(h)) == 1, "a second account directory: %r" % account_dirs(h)
    with open(key_path, "rb") as f:
        assert f.read() == key1, "the account key file changed"
    assert not h.log_lines(ACCOUNT_REGISTERED, since=mark), \
        "the account was registered again:\n" + "\n".join(h.log_lines(ACCOUNT_REGISTERED))
    assert not h.log_lines(ACCOUNT_UNKNOWN, since=mark)
    assert len(h.log_lines(ACCOUNT_REGISTERED)) == registered_before
    assert h.log_lines(ACCOUNT_FOUND, since=mark), \
        "no %s (account found with the stored key) after the restart" % ACCOUNT_FOUND

    # activation serves the new certificate
    mark = h.mark()
    h.graceful()
    assert serial_in(h.wait_log(ACTIVATED, since=mark, limit=LOG_LIMIT)) == serial2
    h.wait_managed_cert(names[0], limit=30, not_serial=serial1)
    leaf = assert_served_verified(h, names, root)[0]
    assert leaf.serial_number == serial2
    assert live_chain(h, names[0])[0].serial_number == serial2

    # the previous set went to archive/
    archived = set()
    for path in all_files(h.store("archive")):
        try:
            archived |= {c.serial_number for c in certcheck.load_pem_chain(path)}
        except (OSError, ValueError):
            pass
    assert serial1 in archived, "the replaced certificate is not under archive/"
