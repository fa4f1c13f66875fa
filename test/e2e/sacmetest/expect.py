"""Assertions shared by the e2e tests: what a successful `sacmectl issue
--json` run must have produced, checked against Pebble and the files."""

import datetime
import json
import os

from . import certcheck


def _utc_naive(text):
    """RFC 3339 -> naive UTC datetime (what cryptography 38 returns)."""
    dt = datetime.datetime.fromisoformat(text.replace("z", "Z"))
    if dt.tzinfo is None:
        raise AssertionError("timestamp without offset: %r" % text)
    return dt.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def issued_ok(res, pebble, names, out_dir, account_dir, *, key_type=None,
              account_status=None):
    """Assert res (a sacmectl.Result of `issue --json`) succeeded and that
    its report, the files and Pebble agree.  Returns (leaf, report)."""
    assert res.rc == 0, res.describe()
    report = res.json
    assert isinstance(report, dict), "stdout is not one JSON object\n" + res.describe()

    # the account
    acct = report.get("account") or {}
    assert acct.get("url", "").startswith(pebble.base_url + "/"), res.describe()
    if account_status:
        assert acct.get("status") == account_status, res.describe()
    acct_json = os.path.join(account_dir, "account.json")
    acct_key = os.path.join(account_dir, "account.key")
    with open(acct_json) as f:
        stored = json.load(f)
    assert stored.get("url") == acct["url"]
    assert stored.get("server") == pebble.directory_url
    assert certcheck.file_mode(acct_key) == 0o600, "account.key mode %o" % certcheck.file_mode(acct_key)
    certcheck.load_private_key(acct_key)  # a PEM private key

    # the directories sacmectl made can be used by their owner (and only the
    # owner can write to them): a non-root admin must be able to read them
    for d in (out_dir, account_dir):
        mode = certcheck.file_mode(d)
        assert mode & 0o700 == 0o700, "%s has mode %o: not rwx for its owner" % (d, mode)
        assert mode & 0o022 == 0, "%s has mode %o: writable by group/others" % (d, mode)
    # the certificate files are readable (only the private key is 0600)
    for name in ("cert", "chain", "fullchain"):
        mode = certcheck.file_mode(os.path.join(out_dir, name + ".pem"))
        assert mode & 0o600 == 0o600, "%s.pem has mode %o" % (name, mode)

    # the files
    files = report.get("files") or {}
    for name in ("privkey", "cert", "chain", "fullchain"):
        expect = os.path.join(out_dir, name + ".pem")
        assert os.path.realpath(files.get(name, "")) == os.path.realpath(expect), \
            "files.%s = %r, expected %s" % (name, files.get(name), expect)
    leaf, chain = certcheck.check_issued(out_dir, names, pebble.root_pem(),
                                         key_type_expected=key_type)

    # the certificate report matches the certificate
    c = report.get("certificate") or {}
    assert int(c.get("serial", "x").replace(":", ""), 16) == leaf.serial_number, c
    assert sorted(c.get("sans") or []) == sorted(names), c
    assert names[0] in (c.get("subject") or ""), c
    assert certcheck.common_name(chain[0]) in (c.get("issuer") or ""), c
    assert _utc_naive(c["not-after"]) == leaf.not_valid_after, c
    assert _utc_naive(c["not-before"]) == leaf.not_valid_before, c

    # Pebble issued exactly this certificate
    status = pebble.cert_status(certcheck.serial_hex(leaf))
    assert status.get("Status") == "Valid", status
    issued = certcheck.load_pem_chain(status["Certificate"])[0]
    assert issued == leaf, "the leaf on disk is not the one Pebble issued"
    return leaf, report


def failed(res, rc):
    """Assert a failed run: exit code rc, a --json {"error": {...}} object
    on stdout whose message also went to stderr, and no certificate written.
    Returns the error object."""
    assert res.rc == rc, res.describe()
    err = res.error
    assert err, "no {\"error\": ...} object on stdout\n" + res.describe()
    assert err.get("message"), res.describe()
    assert err["message"].strip() in res.stderr, \
        "the error message is not on stderr\n" + res.describe()
    if "--out" in res.argv:
        out = res.argv[res.argv.index("--out") + 1]
        assert not os.path.exists(os.path.join(out, "cert.pem")), \
            "a failed run wrote cert.pem\n" + res.describe()
    return err
