"""`sacmectl scm` (issue 16, point 1): Sectigo SCM's ACME accounts through
its REST API, against the harness's SCM stand-in (sacmetest/scm.py) and a
real Pebble that knows the EAB pairs SCM hands out.

End to end: `scm account create` writes the EAB file, an httpd configured
with `SacmeEAB file:` that file obtains and serves the certificate, and
`scm sync` puts the server's names into the account.  Then each class of
failure: its message (the cause and what to do) and its exit code; no
retry on a 4xx, retries on a 5xx, a create that went unanswered found by
its name instead of being sent twice; and the secrets (the HMAC, the
password) in no output, log or file but the EAB file."""

import json
import os
import subprocess
import time

import pytest

from sacmetest import sacmectl
from sacmetest.module import (ISSUE_LIMIT, STAGED, assert_secret_nowhere,
                              assert_served_verified, make_httpd, names_for, root_file)
from sacmetest.pebble import Pebble
from sacmetest.sacmectl import (EXIT_CA_REFUSED, EXIT_CONFIG, EXIT_LOCAL, EXIT_OK,
                                EXIT_TRANSPORT, run)
from sacmetest.scm import ScmServer, make_eab_pool

ORG = 6339
ACME = "https://acme.sectigo.example/v2/DV"


def write_creds(scm, directory, mode=0o600, **over):
    doc = {"url": scm.base_url, "organizationId": ORG, "trust": scm.ca_file}
    doc.update(scm.credentials)
    doc.update(over)
    path = os.path.join(str(directory), "sacme-scm.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    os.chmod(path, mode)
    return path


def scm_run(scm, creds, *args, timeout=10, json_output=False, extra=()):
    """sacmectl scm ARGS; then waits until the ScmServer scm has recorded
    every request of the run."""
    argv = ["scm"] + list(args) + ["--credentials", creds, "--timeout", str(timeout)]
    if json_output:
        argv.append("--json")
    res = run(argv + list(extra))
    assert scm.wait_idle(), "SCM still handles a request of the finished run"
    return res


def create_args(name, eab_file, org=ORG):
    return ["account", "create", "--name", name, "--org-id", str(org),
            "--acme-server", ACME, "--eab-file", eab_file]


def assert_no_secret(scm, results, *more):
    """Neither the password nor any macKey of the pool in any output."""
    secrets = [scm.password] + list(scm.eab_pool.values()) + list(more)
    for r in results:
        for s in secrets:
            assert s not in r.stdout and s not in r.stderr, \
                "a secret is in the output:\n" + r.describe()


@pytest.fixture
def scm():
    with ScmServer(organizations={ORG: "Example Org"}, eab_pool=make_eab_pool(4)) as s:
        yield s


@pytest.fixture
def creds(scm, tmp_path):
    return write_creds(scm, tmp_path)


# --- end to end --------------------------------------------------------------------

def test_create_eab_file_then_httpd_serves_the_certificate(httpds, tmp_path):
    pool = make_eab_pool(2)
    with ScmServer(organizations={ORG: "Example Org"}, eab_pool=pool) as scm, \
            Pebble(always_valid=True, extra_eab_keys=pool) as pebble:
        scm.appear_after = 2           # SCM shows the new account a little later
        creds = write_creds(scm, tmp_path)
        eab = str(tmp_path / "eab" / "scm-eab.json")
        os.makedirs(os.path.dirname(eab))
        res = scm_run(scm, creds, *create_args("www.scm-e2e.test", eab), extra=(
            "--acme-server", pebble.directory_url))
        assert res.rc == EXIT_OK, res.describe()
        (acct_id, acct), = scm.accounts.items()
        assert acct["acmeServer"] == pebble.directory_url
        kid, hmac = next(iter(pool.items()))
        # the new file: root's, 0600, exactly the pair
        st = os.stat(eab)
        assert (st.st_uid, st.st_mode & 0o777) == (0, 0o600)
        with open(eab) as f:
            assert json.load(f) == {"kid": kid, "hmac": hmac}
        assert "SacmeEAB file:%s" % eab in res.stdout and str(acct_id) in res.stdout
        outputs = [res]

        # what list and show tell, macKey never
        for args in (["account", "list"], ["account", "show", str(acct_id)]):
            for js in (False, True):
                r = scm_run(scm, creds, *args, json_output=js)
                assert r.rc == EXIT_OK, r.describe()
                assert kid in r.stdout and "www.scm-e2e.test" in r.stdout
                assert "macKey" not in r.stdout
                outputs.append(r)

        names = names_for("scm-e2e")
        h = httpds.add(make_httpd(pebble, [names], eab="file:" + eab))
        h.start()
        # the names go into the account, found by the EAB key id the server uses
        r = scm_run(scm, creds, "sync", extra=("--config", h.conf))
        assert r.rc == EXIT_OK, r.describe()
        assert sorted(d["name"] for d in acct["domains"]) == sorted(names)
        outputs.append(r)

        h.wait_log(STAGED, limit=ISSUE_LIMIT)
        h.graceful()
        h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
        assert_served_verified(h, names, root_file(pebble, str(tmp_path)))

        assert_no_secret(scm, outputs)
        assert_secret_nowhere(h, hmac, scm.password)
        # no file of the test's tree nor of the server's but the EAB file
        # holds the HMAC; the password is only in the credentials file
        for tree in (str(tmp_path), h.root):
            for top, _, files in os.walk(tree):
                for n in files:
                    path = os.path.join(top, n)
                    if path in (eab, creds) or not os.path.isfile(path):
                        continue
                    with open(path, "rb") as f:
                        data = f.read()
                    assert hmac.encode() not in data, path
                    assert scm.password.encode() not in data, path


# --- each class of failure -------------------------------------------------------

def test_wrong_password_fails_at_once_with_one_request(scm, tmp_path):
    creds = write_creds(scm, tmp_path, password="not-" + scm.password)
    res = scm_run(scm, creds, "account", "list", json_output=True)
    assert res.rc == EXIT_CONFIG, res.describe()
    msg = res.error["message"]
    assert "login, password and customerUri" in msg and creds in msg, msg
    assert "-16" in msg                            # SCM's code and description
    assert res.error["class"] == "auth"
    assert len(scm.requests) == 1, scm.requests    # no retry on a 4xx
    assert_no_secret(scm, [res], "not-" + scm.password)


def test_unknown_organization(scm, creds, tmp_path):
    eab = str(tmp_path / "eab.json")
    res = scm_run(scm, creds, *create_args("x.test", eab, org=4242))
    assert res.rc == EXIT_CA_REFUSED, res.describe()
    assert "Organization 4242 not found" in res.stderr
    assert "organization (or department) id" in res.stderr
    assert not os.path.exists(eab) and not scm.accounts
    assert scm.request_count("POST", "/account") == 1


def test_duplicate_name(scm, creds, tmp_path):
    assert scm_run(scm, creds, *create_args("dup.test", str(tmp_path / "a.json"))).rc == EXIT_OK
    res = scm_run(scm, creds, *create_args("dup.test", str(tmp_path / "b.json")))
    assert res.rc == EXIT_CA_REFUSED, res.describe()
    assert "already exists" in res.stderr and "choose another --name" in res.stderr
    assert not os.path.exists(str(tmp_path / "b.json")) and len(scm.accounts) == 1


def test_rate_limited_says_how_long_to_wait(scm, creds):
    scm.rate_limit_next(1, retry_after=42)
    res = scm_run(scm, creds, "account", "list", json_output=True)
    assert res.rc == EXIT_CA_REFUSED, res.describe()
    assert "rate-limiting" in res.stderr and ("wait 42 s" in res.stderr
                                              or "wait 43 s" in res.stderr), res.stderr
    assert res.error["class"] == "rate-limited" and res.error["http-status"] == 429
    assert len(scm.requests) == 1


def test_503_is_retried_then_succeeds(scm, creds):
    scm.fail_next(2, status=503)
    res = scm_run(scm, creds, "account", "list", "--retries", "2", json_output=True)
    assert res.rc == EXIT_OK, res.describe()
    assert res.json["accounts"] == []
    assert [r[2] for r in scm.requests] == [503, 503, 200]


def test_503_persisting_is_a_network_exit(scm, creds):
    scm.fail_next(10, status=503)
    res = scm_run(scm, creds, "account", "list", "--retries", "1", json_output=True)
    assert res.rc == EXIT_TRANSPORT, res.describe()
    assert "HTTP 503" in res.stderr and "2 times in a row" in res.stderr
    assert "try again later" in res.stderr
    assert res.error["class"] == "server" and len(scm.requests) == 2


def test_hang_times_out(scm, creds):
    scm.hang_next(5)
    try:
        t0 = time.monotonic()
        res = scm_run(scm, creds, "account", "list", "--retries", "0", timeout=1,
                      json_output=True)
        assert res.rc == EXIT_TRANSPORT, res.describe()
        assert "no answer from SCM" in res.stderr and "more time" in res.stderr
        assert res.error["class"] == "network"
        assert time.monotonic() - t0 < 30      # a guard, not a timing claim
    finally:
        scm.release()


def test_unanswered_create_that_scm_ran_is_found_by_name(scm, creds, tmp_path):
    eab = str(tmp_path / "eab.json")
    scm.hang_next(1, run=True, method="POST")
    argv = [sacmectl.binary(), "scm"] + create_args("hung.test", eab) + [
        "--credentials", creds, "--timeout", "30"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while scm._hung == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert scm._hung == 1, "the create never reached SCM"
        # SCM runs the create, and closes the connection without an answer
        assert scm.release()
        out, err = proc.communicate(timeout=60)
        assert scm.wait_idle()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == EXIT_OK, err.decode()
    assert "found it by its name" in err.decode()
    assert len(scm.accounts) == 1 and scm.request_count("POST", "/account") == 1
    (acct,) = scm.accounts.values()
    with open(eab) as f:
        assert json.load(f)["kid"] == acct["macId"]


def test_existing_eab_file_is_refused_and_left_alone(scm, creds, tmp_path):
    eab = tmp_path / "eab.json"
    eab.write_text("keep me")
    res = scm_run(scm, creds, *create_args("exists.test", str(eab)), json_output=True)
    assert res.rc == EXIT_LOCAL, res.describe()
    assert str(eab) in res.error["message"] and "exists already" in res.error["message"]
    assert eab.read_text() == "keep me"
    assert not scm.accounts and not scm.requests


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620])
def test_credentials_file_open_to_others_is_refused(scm, tmp_path, mode):
    creds = write_creds(scm, tmp_path, mode=mode)
    res = scm_run(scm, creds, "account", "list")
    assert res.rc == EXIT_CONFIG, res.describe()
    assert creds in res.stderr and "chmod 0600 %s" % creds in res.stderr
    assert "chown root:root" in res.stderr
    assert not scm.requests
    assert_no_secret(scm, [res])


def test_missing_credentials_file(scm, tmp_path):
    res = scm_run(scm, str(tmp_path / "nope.json"), "account", "list")
    assert res.rc == EXIT_CONFIG and "does not exist" in res.stderr, res.describe()


def test_unknown_account_is_not_found(scm, creds):
    res = scm_run(scm, creds, "account", "show", "999", json_output=True)
    assert res.rc == EXIT_CA_REFUSED, res.describe()
    assert res.error["class"] == "not-found" and "account list" in res.error["message"]


def test_create_in_a_department(scm, creds, tmp_path):
    scm.organizations[7001] = "Example Org / Web department"
    eab = str(tmp_path / "eab.json")
    res = run(["scm", "account", "create", "--name", "dept.test", "--department", "7001",
               "--acme-server", ACME, "--eab-file", eab, "--credentials", creds,
               "--json"])
    assert res.rc == EXIT_OK, res.describe()
    (acct,) = scm.accounts.values()
    assert acct["organizationId"] == 7001 and res.json["organization-id"] == 7001


def test_create_waits_until_scm_shows_the_account(scm, creds, tmp_path):
    scm.appear_after = 3
    eab = str(tmp_path / "eab.json")
    res = scm_run(scm, creds, *create_args("later.test", eab), json_output=True)
    assert res.rc == EXIT_OK, res.describe()
    kid = next(iter(scm.eab_pool))
    assert res.json["eab-kid"] == kid and res.json["directive"] == "SacmeEAB file:" + eab
    assert_no_secret(scm, [res])
    assert scm.request_count("GET", "/account/") >= 4


def test_create_gives_up_waiting_with_a_message(scm, creds, tmp_path):
    scm.appear_after = 1000
    eab = str(tmp_path / "eab.json")
    res = scm_run(scm, creds, *create_args("never.test", eab), extra=("--wait", "1"))
    assert res.rc == EXIT_CA_REFUSED, res.describe()
    assert "has not shown it" in res.stderr and "--wait" in res.stderr
    assert not os.path.exists(eab)


# --- domains and sync ----------------------------------------------------------------

def new_account(scm, creds, tmp_path, name="acct.test"):
    res = scm_run(scm, creds, *create_args(name, str(tmp_path / (name + ".json"))),
                  json_output=True)
    assert res.rc == EXIT_OK, res.describe()
    return res.json["id"]


def test_domains_add_and_remove_report_what_scm_refused(scm, creds, tmp_path):
    acct = new_account(scm, creds, tmp_path)
    scm.not_delegated = {"elsewhere.test"}
    res = scm_run(scm, creds, "domains", "add", "--account", str(acct), "ok.test",
                  "elsewhere.test")
    assert res.rc == EXIT_CA_REFUSED, res.describe()
    assert "NOT added: elsewhere.test" in res.stdout and "not delegated" in res.stdout
    assert "added:     ok.test" in res.stdout
    assert [d["name"] for d in scm.accounts[acct]["domains"]] == ["ok.test"]

    res = scm_run(scm, creds, "domains", "add", "--account", str(acct), "www.ok.test",
                  json_output=True)
    assert res.rc == EXIT_OK and res.json["not-added"] == [], res.describe()

    res = scm_run(scm, creds, "domains", "remove", "--account", str(acct), "ok.test",
                  "gone.test", json_output=True)
    assert res.rc == EXIT_CA_REFUSED, res.describe()
    assert res.json["removed"] == ["ok.test"] and res.json["not-removed"] == ["gone.test"]
    assert [d["name"] for d in scm.accounts[acct]["domains"]] == ["www.ok.test"]


def make_store(path, kid, names):
    os.makedirs(path, mode=0o755)
    with open(os.path.join(path, "managed.json"), "w") as f:
        json.dump({"server": ACME, "eab-kid": kid,
                   "domains": [{"name": names[0], "names": names, "key-type": "p256",
                                "challenge": "http-01"}]}, f)
    return path


def test_sync_adds_only_the_missing_names(scm, creds, tmp_path):
    acct = new_account(scm, creds, tmp_path)
    kid = scm.accounts[acct]["macId"]
    names = ["sync.test", "www.sync.test", "api.sync.test", "shop.wild.test"]
    store = make_store(str(tmp_path / "store"), kid, names)
    assert scm_run(scm, creds, "domains", "add", "--account", str(acct), "www.sync.test",
                   "*.wild.test").rc == EXIT_OK
    scm.not_delegated = {"api.sync.test"}
    res = scm_run(scm, creds, "sync", extra=("--store", store, "--json"))
    assert res.rc == EXIT_CA_REFUSED, res.describe()
    (one,) = res.json["accounts"]
    assert one["account"] == acct
    # www is there, shop.wild.test is covered by *.wild.test
    assert sorted(one["present"]) == ["shop.wild.test", "www.sync.test"]
    assert one["added"] == ["sync.test"] and one["not-added"] == ["api.sync.test"]
    assert sorted(d["name"] for d in scm.accounts[acct]["domains"]) == \
        ["*.wild.test", "sync.test", "www.sync.test"]

    # once delegated, the next sync adds the rest; then nothing is left to send
    scm.not_delegated = set()
    res = scm_run(scm, creds, "sync", extra=("--store", store))
    assert res.rc == EXIT_OK and "added:                  api.sync.test" in res.stdout
    posts = scm.request_count("POST", "/domains")
    res = scm_run(scm, creds, "sync", extra=("--store", store, "--account", str(acct)))
    assert res.rc == EXIT_OK, res.describe()
    assert scm.request_count("POST", "/domains") == posts


def test_sync_without_the_kid_in_the_organization(scm, creds, tmp_path):
    store = make_store(str(tmp_path / "store"), "not-an-scm-kid", ["a.test"])
    res = scm_run(scm, creds, "sync", extra=("--store", store))
    assert res.rc == EXIT_CA_REFUSED, res.describe()
    assert "not-an-scm-kid" in res.stderr and str(ORG) in res.stderr


def test_usage_errors(scm, creds):
    assert scm_run(scm, creds, "account", "create", "--name", "x").rc == sacmectl.EXIT_USAGE
    assert run(["scm", "frobnicate"]).rc == sacmectl.EXIT_USAGE
    res = run(["scm", "--help"])
    assert res.rc == EXIT_OK and "exit codes" in res.stdout
    assert not scm.requests
