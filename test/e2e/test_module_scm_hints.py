"""When the CA refuses names for a reason Sectigo SCM decides, the error
names the SCM step that fixes it; with `SacmeSCM file:` the driver asks
SCM (here the harness's stand-in, sacmetest/scm.py) whether the names are
in the ACME account's domain list and says which are missing, with the
command that adds them (issue 16, point 2).

The refusal is a real one: Pebble's domainBlocklist answers newOrder with
rejectedIdentifier, as a CA does for a name not delegated to the account.
"""

import http.client
import json
import os
import tempfile
import urllib.parse

import pytest

from sacmetest import sacmectl
from sacmetest.module import ERRORED, ISSUE_LIMIT, make_httpd
from sacmetest.pebble import Pebble
from sacmetest.scm import ScmServer, make_eab_pool

from test_module_config import _base, refused_output

ORG = 6339
ALLOWED = "scmhint.test"
REFUSED = "refused.scmhint.test"
NAMES = [ALLOWED, REFUSED]


@pytest.fixture
def scm_pebble():
    """An SCM stand-in and a Pebble sharing its EAB pool; Pebble refuses
    REFUSED."""
    pool = make_eab_pool(2)
    with ScmServer(organizations={ORG: "Example Org"}, eab_pool=pool) as scm, \
            Pebble(always_valid=True, extra_eab_keys=pool,
                   domain_blocklist=[REFUSED]) as pebble:
        yield scm, pebble


def _account(scm, name, domains):
    """Creates an SCM account holding domains (through the API, as an admin
    would); returns (id, macId, macKey)."""
    url = urllib.parse.urlsplit(scm.base_url)

    def call(method, path, doc):
        conn = http.client.HTTPSConnection(url.hostname, url.port, timeout=10,
                                           context=scm.ssl_context())
        try:
            headers = dict(scm.credentials)
            headers["Content-Type"] = "application/json"
            conn.request(method, url.path + path, body=json.dumps(doc).encode(),
                         headers=headers)
            r = conn.getresponse()
            r.read()
            return r.status, r.getheader("Location")
        finally:
            conn.close()

    status, loc = call("POST", "/acme/v1/account",
                       {"name": name, "acmeServer": "https://acme.example/dir",
                        "organizationId": ORG})
    assert status == 201, status
    acct_id = int(loc.rstrip("/").rsplit("/", 1)[1])
    if domains:
        status, _ = call("POST", "/acme/v1/account/%d/domains" % acct_id,
                         {"domains": [{"name": d} for d in domains]})
        assert status == 200
    acct = scm.accounts[acct_id]
    return acct_id, acct["macId"], acct["macKey"]


def _creds_file(scm, mode=0o600, org=ORG, password=None):
    doc = {"url": scm.base_url, "login": scm.login,
           "password": scm.password if password is None else password,
           "customerUri": scm.customer_uri, "trust": scm.ca_file}
    if org is not None:
        doc["organizationId"] = org
    fd, path = tempfile.mkstemp(prefix="sacme-scm-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
    os.chmod(path, mode)
    return path


def _refused_httpd(httpds, pebble, kid, hmac, creds=None):
    more = ["SacmeRetryDelay 2s"]
    if creds:
        more.append("SacmeSCM file:%s" % creds)
    h = httpds.add(make_httpd(pebble, [NAMES], kid=kid, hmac=hmac, more=more))
    h.start()
    return h


def _hint_in_status(h):
    """The error hint the status gives for the domain (sacmectl show)."""
    res = sacmectl.store_cmd(h, "show", ALLOWED)
    doc = json.loads(res.stdout)
    text = json.dumps(doc)
    assert "rejectedIdentifier" in text, res.describe()
    return text


def _no_secrets(h, scm, hmac, outputs=()):
    texts = [h.log()] + list(outputs)
    for root, _, files in os.walk(h.store_dir):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                texts.append(fh.read().decode("latin-1"))
    for t in texts:
        assert scm.password not in t, "the SCM password was written out"
        assert hmac not in t, "the EAB HMAC was written out"


def test_refusal_names_the_scm_step_without_scm_credentials(scm_pebble, httpds):
    scm, pebble = scm_pebble
    _, kid, hmac = _account(scm, "web-1", [ALLOWED])
    before = len(scm.requests)
    h = _refused_httpd(httpds, pebble, kid, hmac)
    line = h.wait_log(ERRORED, limit=ISSUE_LIMIT)
    assert "rejectedIdentifier" in line, line
    assert "In Sectigo SCM" in line and "Delegate" in line, line
    assert "sacmectl scm domains add" in line, line
    # nobody asked SCM: no credentials were given
    assert len(scm.requests) == before, scm.requests
    assert "SCM: the ACME account" not in line
    assert "In Sectigo SCM" in _hint_in_status(h)


def test_scm_says_which_names_the_account_lacks(scm_pebble, httpds):
    scm, pebble = scm_pebble
    acct_id, kid, hmac = _account(scm, "web-1", [ALLOWED])
    h = _refused_httpd(httpds, pebble, kid, hmac, creds=_creds_file(scm))
    line = h.wait_log(ERRORED, limit=ISSUE_LIMIT)
    assert "rejectedIdentifier" in line, line
    assert "SCM: the ACME account %d (web-1) does not have %s in its domains" % (
        acct_id, REFUSED) in line, line
    assert "'sacmectl scm domains add --account %d %s'" % (acct_id, REFUSED) in line, line
    # the allowed name is not reported as missing
    assert "have %s " % ALLOWED not in line, line
    status = _hint_in_status(h)
    assert "does not have %s" % REFUSED in status, status

    # the admin adds the name and asks for a new attempt (a refusal waits
    # long before the next); the CA still refuses (delegation not approved,
    # here Pebble's blocklist): SCM now has every name, and the failure says
    # to look at what comes after the domain list
    mark = h.mark()
    scm.accounts[acct_id]["domains"].append({"name": REFUSED})
    res = sacmectl.store_cmd(h, "renew", "--force", ALLOWED, json_output=False)
    assert res.rc == 0, res.describe()
    line = h.wait_log("has every name of this domain", limit=ISSUE_LIMIT, since=mark)
    assert ERRORED in line and "rejectedIdentifier" in line, line
    assert "approval" in line and "(DCV)" in line, line
    _no_secrets(h, scm, hmac, [status])


def test_scm_that_cannot_be_asked_is_said_and_the_order_fails_as_before(scm_pebble,
                                                                         httpds):
    """A wrong password in the credentials file: the refusal is still
    reported with its SCM step, the hint says SCM could not be asked and
    why, and the password is nowhere."""
    scm, pebble = scm_pebble
    _, kid, hmac = _account(scm, "web-1", [ALLOWED])
    creds = _creds_file(scm, password="not-the-password")
    h = _refused_httpd(httpds, pebble, kid, hmac, creds=creds)
    line = h.wait_log(ERRORED, limit=ISSUE_LIMIT)
    assert "rejectedIdentifier" in line and "Delegate" in line, line
    assert "SCM could not tell whether the names are in the ACME account's domains" \
        in line, line
    assert "not-the-password" not in h.log()
    # a wrong password is not retried: one request per refusal
    assert scm.request_count("GET", "/acme/v1/account", 401) == 1, scm.requests


def test_without_organization_the_driver_says_what_to_add(scm_pebble, httpds):
    scm, pebble = scm_pebble
    _, kid, hmac = _account(scm, "web-1", [ALLOWED])
    creds = _creds_file(scm, org=None)
    h = _refused_httpd(httpds, pebble, kid, hmac, creds=creds)
    checked = h.check_config()
    assert checked.returncode == 0, checked.stderr
    assert "SACME10625" in checked.stderr and "organizationId" in checked.stderr, \
        checked.stderr
    line = h.wait_log(ERRORED, limit=ISSUE_LIMIT)
    assert 'give "organizationId" in %s' % creds in line, line


def test_organization_mismatch_of_ov_ev_gets_its_own_hint(scm_pebble, httpds):
    """Sectigo's OV/EV refusal (win-acme #1644): the quirk proxy answers
    newOrder as Sectigo does; the hint is about the organization, and SCM is
    asked as for any refusal."""
    from sacmetest.quirkproxy import QuirkProxy, proxied_httpd
    scm, pebble = scm_pebble
    acct_id, kid, hmac = _account(scm, "web-ov", NAMES)
    proxy = QuirkProxy(pebble, quirks={"org_mismatch": True}).start()
    try:
        h = httpds.add(proxied_httpd(proxy, [["ov.scmhint.test"]], kid=kid, hmac=hmac,
                                     more=["SacmeSCM file:%s" % _creds_file(scm)]))
        h.start()
        line = h.wait_log(ERRORED, limit=ISSUE_LIMIT)
    finally:
        proxy.stop()
    assert "preauthorized Subject organization" in line, line
    assert "OV or EV certificate only for names that SCM ties to the one organization" \
        in line, line
    assert "does not have ov.scmhint.test" in line, line


def test_config_check_refuses_an_unsafe_or_broken_credentials_file():
    with ScmServer(organizations={ORG: "Org"}) as scm:
        good = "SacmeSCM file:%s" % _creds_file(scm)
        out = refused_output(_base(more=["SacmeSCM file:%s" % _creds_file(scm, 0o644)]),
                             _base(more=[good]))
        assert "SacmeSCM" in out and "chmod" in out, out
        assert scm.password not in out
        fd, broken = tempfile.mkstemp(prefix="sacme-scm-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            f.write('{"login": "x", "password": "p4ss-in-a-broken-file"')
        os.chmod(broken, 0o600)
        out = refused_output(_base(more=["SacmeSCM file:%s" % broken]), _base(more=[good]))
        assert "SacmeSCM" in out and broken in out, out
        assert "p4ss-in-a-broken-file" not in out
        out = refused_output(_base(more=["SacmeSCM %s" % broken]), _base(more=[good]))
        assert "SacmeSCM: give file:PATH" in out, out
