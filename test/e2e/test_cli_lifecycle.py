"""The lifecycle commands of sacmectl against a running httpd with mod_sacme
and a real Pebble: list/show (the inventory, like `certbot certificates`),
renew --force, revoke, account show|rollover|deactivate.  Each effect is
checked where it matters: what httpd serves, what the store holds, what
Pebble says (its management port for revocation, a POST-as-GET of our own
for the account)."""

import fcntl
import os
import subprocess

import pytest

from sacmetest import certcheck, sacmectl
from sacmetest.httpd import USER, serial_in, user_ids
from sacmetest.module import (ACCOUNT_FOUND, ACCOUNT_REGISTERED, ACTIVATED, ERRORED,
                              ISSUE_LIMIT, LOG_LIMIT, STAGED, account_dirs, account_json,
                              make_httpd, names_for)
from sacmetest.pebble import eab_key_encodings
from sacmetest.sacmectl import (EXIT_CONFIG, EXIT_OK, EXIT_USAGE, ca_account_answer,
                                serial_int, store_cmd)

ACCOUNT_RELOADED = "SACME10076"   # the driver dropped its copy of the account


def serving(pebble, httpds, tag, domains=None, prepare=None):
    """httpd with SacmeAutoRestart off, its first certificate(s) activated by
    our graceful restart.  prepare(h), called before the start, returns
    more Sacme* lines.  Returns (h, names of the first domain, serial
    served for it)."""
    domains = domains or [names_for(tag)]
    h = make_httpd(pebble, domains, auto_restart=False)
    if prepare:
        h.configure(sacme=h.sacme + list(prepare(h)))
    h = httpds.add(h)
    h.start()
    for d in domains:
        h._wait(lambda d=d: any(d[0] in l for l in h.log_lines(STAGED)),
                "%s staged" % d[0], ISSUE_LIMIT)
    h.graceful()
    served = h.wait_managed_cert(domains[0][0], limit=LOG_LIMIT)
    return h, domains[0], served.serial


def wait_staged(h, name, since, not_serial):
    """The serial of the next set staged for name after mark since."""
    h._wait(lambda: any(name in l for l in h.log_lines(STAGED, since)),
            "a new certificate for %s staged" % name, ISSUE_LIMIT)
    serial = serial_in([l for l in h.log_lines(STAGED, since) if name in l][0])
    assert serial != not_serial, "the old certificate was staged again"
    return serial


def activate(h, name, serial):
    """A graceful restart activates serial, which is then served."""
    mark = h.mark()
    h.graceful()
    assert serial_in(h.wait_log(ACTIVATED, since=mark, limit=LOG_LIMIT)) == serial
    return h.wait_served(name, lambda r: r.serial == serial,
                         "serial %x served for %s" % (serial, name), LOG_LIMIT)


def secrets_of(pebble, kid="kid-1"):
    return set(eab_key_encodings(pebble.eab[kid]).values())


# --- list / show ------------------------------------------------------------------

def test_list_and_show_describe_what_is_served(pebble, httpds):
    first, second = names_for("cli-list"), names_for("cli-list2")
    h, names, serial = serving(pebble, httpds, None, domains=[first, second])

    # --json (found through the httpd config file): sacme_status_all's object
    res = store_cmd(h, "list", via_config=True)
    assert res.rc == EXIT_OK, res.describe()
    doms = {d["name"]: d for d in res.json["domains"]}
    assert sorted(doms) == sorted([first[0], second[0]]), res.describe()
    d = doms[first[0]]
    assert d["state"] == "ok", d
    assert sorted(d["names"]) == sorted(first), d
    assert d["key-types"] == ["p256"], d
    assert isinstance(d["days-left"], int) and d["days-left"] >= 0, d
    assert [serial_int(c["serial"]) for c in d["certificates"]] == [serial], \
        "the listed serial is not the one served over TLS: %r" % d["certificates"]

    # the table: one line per domain with state, key type, days left
    res = store_cmd(h, "list", json_output=False)
    assert res.rc == EXIT_OK, res.describe()
    lines = res.stdout.splitlines()
    assert lines[0].split()[:6] == ["DOMAIN", "STATE", "KEY", "EXPIRES", "DAYS", "CA"], \
        res.stdout
    row = [l.split() for l in lines if l.startswith(first[0] + " ")]
    assert len(row) == 1, res.stdout
    assert row[0][1:3] == ["ok", "p256"], res.stdout
    assert row[0][4] == str(d["days-left"]), res.stdout
    assert row[0][5] == d["ca"], res.stdout         # the CA it orders from
    assert row[0][6] == d["renew-at"] and row[0][7] == d["renew-source"], res.stdout
    assert sorted(row[0][8:]) == sorted(first), res.stdout
    assert any(l.startswith(second[0] + " ") for l in lines), res.stdout

    # show: any of the names finds the domain
    res = store_cmd(h, "show", first[1])
    assert res.rc == EXIT_OK, res.describe()
    assert res.json["name"] == first[0]
    assert serial_int(res.json["certificates"][0]["serial"]) == serial
    res = store_cmd(h, "show", first[2], json_output=False)
    assert res.rc == EXIT_OK and first[0] in res.stdout and "ok" in res.stdout, res.describe()

    # an unknown name: exit 2, naming the managed domains
    res = store_cmd(h, "show", "nowhere.test")
    assert res.rc == EXIT_CONFIG, res.describe()
    msg = res.error["message"]
    assert "nowhere.test" in msg and first[0] in msg and second[0] in msg, msg
    assert res.error["exit-code"] == EXIT_CONFIG
    assert msg in res.stderr


def test_a_store_without_server_is_a_clear_error(tmp_path):
    res = sacmectl.run(["list", "--store", str(tmp_path), "--json"])
    assert res.rc == EXIT_CONFIG, res.describe()
    assert "managed.json" in res.error["message"] and "SacmeStoreDir" in res.error["message"]


@pytest.mark.parametrize("value,ok", [
    ("99999999999", False), ("86401", False), ("9223372036854775807", False),
    ("0", False), ("10s", False), ("600", True), ("86400", True),
])
def test_issue_timeout_is_bounded(value, ok):
    """--timeout is added to now for the deadline: at most a day, a whole
    number of seconds (it took ~292,000 years before)."""
    res = sacmectl.run(["issue", "--timeout", value, "--server", "https://127.0.0.1:9/dir"])
    limit_said = "from 1 to 86400" in res.stderr
    if ok:
        assert not limit_said, res.describe()
    else:
        assert res.rc == EXIT_USAGE and limit_said, res.describe()


# --- renew --force ----------------------------------------------------------------

def test_renew_force_renews_now_and_the_restart_serves_it(pebble, httpds):
    h, names, serial1 = serving(pebble, httpds, "cli-renew")

    # without --force: renewal is automatic, nothing is requested
    res = store_cmd(h, "renew", names[0], json_output=False)
    assert res.rc == EXIT_USAGE, res.describe()
    assert "automatic" in res.stderr and "--force" in res.stderr, res.describe()
    assert not os.path.exists(h.store("requests", names[0] + ".json"))

    generations = h.restarts()
    mark = h.mark()
    res = store_cmd(h, "renew", "--force", names[1])
    assert res.rc == EXIT_OK, res.describe()
    assert res.json["domain"] == names[0]
    assert res.json["request"]["reason"] == "forced", res.json
    assert res.json["driver-pid"] == h.driver_pid(), res.json

    # the running server renews at once, no restart needed for that
    serial2 = wait_staged(h, names[0], mark, serial1)
    assert h.restarts() == generations, "httpd restarted to start the renewal"
    assert not os.path.exists(h.store("requests", names[0] + ".json")), \
        "the request is still there after the new certificate was staged"

    # activated by the graceful restart
    served = activate(h, names[0], serial2)
    assert served.serial == serial2
    # the status counts it as a renewal of the domain
    cert = store_cmd(h, "show", names[0]).json["certificates"][0]
    assert serial_int(cert["serial"]) == serial2 and cert["renewals"] == 1, cert


def test_renew_force_writes_its_request_under_the_store_lock(pebble, httpds):
    """A driver starting sweeps requests/ for temporary files of interrupted
    writes, under the store lock: sacmectl must write its request under the
    same lock, or the sweep could remove the file it is about to rename."""
    h, names, _ = serving(pebble, httpds, "cli-renew-lock")
    request = h.store("requests", names[0] + ".json")
    with open(h.store("sacme.lock"), "r+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)        # what the sweeping driver holds (APR: flock)
        p = subprocess.Popen([sacmectl.binary(), "renew", "--force", names[0],
                              "--store", h.store_dir],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            # An absence, so a bounded look: sacmectl waits for the lock
            # and writes nothing meanwhile.
            with pytest.raises(subprocess.TimeoutExpired):
                p.wait(timeout=3)
            assert not os.path.exists(request), "the request was written without the lock"
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    out, err = p.communicate(timeout=30)
    assert p.returncode == EXIT_OK, (out, err)
    assert b"renewal requested" in out, (out, err)


# --- revoke -----------------------------------------------------------------------

def test_revoke_at_the_ca_and_replace_with_a_new_key(pebble, httpds):
    h, names, serial1 = serving(pebble, httpds, "cli-revoke")
    old_leaf = h.tls_get(names[0]).cert
    assert pebble.cert_status(certcheck.serial_hex(old_leaf))["Status"] == "Valid"

    res = store_cmd(h, "revoke", names[0], "--reason", "sideways")
    assert res.rc == EXIT_USAGE, res.describe()
    assert "keyCompromise" in res.error["message"]

    mark = h.mark()
    res = store_cmd(h, "revoke", names[0], "--reason", "keyCompromise")
    assert res.rc == EXIT_OK, res.describe()
    assert serial_int(res.json["serial"]) == serial1
    assert res.json["reason"] == "keyCompromise" and not res.json["already-revoked"]
    assert res.json["request"]["reason"] == "revoked", res.json

    status = pebble.cert_status(certcheck.serial_hex(old_leaf))
    assert status["Status"] == "Revoked", status
    assert status.get("Reason") == 1, status

    # a new certificate, with a key that is not the revoked one, is served
    serial2 = wait_staged(h, names[0], mark, serial1)
    served = activate(h, names[0], serial2).cert
    assert served.serial_number == serial2
    assert certcheck.key_matches(
        certcheck.load_private_key(h.store("domains", names[0], "privkey.pem")), served)
    assert not certcheck.key_matches(
        certcheck.load_private_key(h.store("domains", names[0], "privkey.pem")), old_leaf), \
        "the replacement of a revoked certificate reuses its key"
    assert pebble.cert_status(certcheck.serial_hex(served))["Status"] == "Valid"

    # revoking again what is revoked is not an error
    res = store_cmd(h, "revoke", names[0])
    assert res.rc == EXIT_OK, res.describe()


# --- account ----------------------------------------------------------------------

def test_account_show_and_rollover(pebble, httpds):
    h, names, serial1 = serving(pebble, httpds, "cli-rollover")
    acct_dir = account_dirs(h)[0]
    url = account_json(h)["url"]
    hmacs = secrets_of(pebble)

    for as_json in (True, False):
        res = store_cmd(h, "account", "show", json_output=as_json)
        assert res.rc == EXIT_OK, res.describe()
        assert url in res.stdout, res.describe()
        for s in hmacs:
            assert s not in res.stdout and s not in res.stderr, "the EAB HMAC is shown"
    res = store_cmd(h, "account", "show")
    assert res.json["url"] == url and res.json["status"] == "valid", res.json
    assert res.json["eab-kid"] == "kid-1" and res.json["key-type"] == "p256", res.json
    old_thumb = res.json["thumbprint"]

    with open(os.path.join(acct_dir, "account.key"), "rb") as f:
        key1 = f.read()
    mark = h.mark()
    res = store_cmd(h, "account", "rollover", "--key-type", "p384")
    assert res.rc == EXIT_OK, res.describe()
    assert res.json["url"] == url, "the account URL changed"
    assert res.json["old-thumbprint"] == old_thumb and res.json["thumbprint"] != old_thumb

    key_path = os.path.join(acct_dir, "account.key")
    with open(key_path, "rb") as f:
        assert f.read() != key1, "account.key did not change"
    st = os.stat(key_path)
    assert st.st_mode & 0o777 == 0o600
    assert (st.st_uid, st.st_gid) == user_ids(USER), \
        "the new account key is not the httpd User's: the driver cannot read it"
    assert not os.path.exists(key_path + ".new")
    assert account_json(h)["url"] == url and account_json(h)["key-type"] == "p384"
    status, answer = ca_account_answer(pebble, acct_dir)
    assert status == 200 and answer.get("status") == "valid", (status, answer)
    h.wait_log(ACCOUNT_RELOADED, since=mark, limit=LOG_LIMIT)

    res = store_cmd(h, "account", "show")
    assert res.json["thumbprint"] != old_thumb and res.json["key-type"] == "p384", res.json

    # the running driver uses the new key: a renewal still works
    mark = h.mark()
    res = store_cmd(h, "renew", "--force", names[0])
    assert res.rc == EXIT_OK, res.describe()
    wait_staged(h, names[0], mark, serial1)
    assert h.log_lines(ACCOUNT_FOUND, since=mark), "the account was not looked up again"
    assert not h.log_lines(ACCOUNT_REGISTERED, since=mark), "a new account was registered"
    assert len(account_dirs(h)) == 1


NOTIFY_SCRIPT = """#!/bin/sh
echo "$1 $2" >> %s
"""


def _events(path):
    try:
        with open(path) as f:
            return [l.split()[0] for l in f if l.strip()]
    except OSError:
        return []


def test_account_deactivate_is_final_and_never_replaced(pebble, httpds):
    events = []

    def notify_cmd(h):
        # run as the User: its output directory must be the User's (and
        # inside the ServerRoot, which outlives the test like the config)
        out_dir = os.path.join(h.root, "notify-out")
        os.makedirs(out_dir)
        os.chown(out_dir, *user_ids(USER))
        events.append(os.path.join(out_dir, "events.txt"))
        script = os.path.join(h.root, "notify.sh")
        with open(script, "w") as f:
            f.write(NOTIFY_SCRIPT % events[0])
        os.chmod(script, 0o755)
        return ["SacmeNotifyCmd %s" % script]

    h, names, serial1 = serving(pebble, httpds, "cli-deact", prepare=notify_cmd)
    events = events[0]
    acct_dir = account_dirs(h)[0]
    before = account_json(h)

    # refused without --yes, saying what it would do
    res = store_cmd(h, "account", "deactivate")
    assert res.rc == EXIT_USAGE, res.describe()
    assert "--yes" in res.error["message"]
    assert account_json(h) == before
    status, answer = ca_account_answer(pebble, acct_dir)
    assert status == 200 and answer.get("status") == "valid", (status, answer)

    mark = h.mark()
    res = store_cmd(h, "account", "deactivate", "--yes")
    assert res.rc == EXIT_OK, res.describe()
    assert res.json["status"] == "deactivated"
    assert account_json(h)["status"] == "deactivated"
    status, answer = ca_account_answer(pebble, acct_dir)
    assert status in (401, 403) or answer.get("status") == "deactivated", (status, answer)
    h.wait_log(ACCOUNT_RELOADED, since=mark, limit=LOG_LIMIT)

    res = store_cmd(h, "account", "show")
    assert res.rc == EXIT_OK and res.json["status"] == "deactivated", res.describe()

    # the server's next attempts: the clear error every time, the event
    # once, and no new account
    for attempt in (1, 2, 3):
        mark = h.mark()
        res = store_cmd(h, "renew", "--force", names[0], json_output=False)
        assert res.rc == EXIT_OK and "deactivated" in res.stderr, res.describe()
        line = h.wait_log(ERRORED, since=mark, limit=LOG_LIMIT)
        assert "deactivated" in line and "sacmectl account deactivate" in line, line
        assert "SacmeEAB" in line, line
        h._wait(lambda: _events(events).count("errored") >= attempt,
                "errored event %d" % attempt, LOG_LIMIT)
    assert _events(events).count("account-deactivated") == 1, _events(events)
    assert len(h.log_lines(ACCOUNT_REGISTERED)) == 1, "a new account was registered"
    assert account_dirs(h) == [acct_dir]
    assert account_json(h)["url"] == before["url"]
    # the certificate in service stays
    assert h.tls_get(names[0]).serial == serial1
