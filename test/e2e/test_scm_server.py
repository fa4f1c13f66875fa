"""The SCM stand-in of the harness (sacmetest/scm.py) answers as the
`sacmectl scm` tests will rely on: over TLS that a client verifies against
its CA file, with SCM's headers, status codes, Location and error bodies,
EAB pairs from the pool that Pebble is given, and the faults it is asked
for.  A plain HTTPS client (http.client) stands in for sacmectl."""

import http.client
import json
import socket
import ssl
import urllib.parse

import pytest

from sacmetest import expect, sacmectl
from sacmetest.pebble import Pebble
from sacmetest.scm import ScmServer, make_eab_pool

ORG = 6339
OTHER_ORG = 7001
ACME = "https://acme.sectigo.example/v2/OV"


@pytest.fixture
def scm():
    server = ScmServer(organizations={ORG: "Example Org", OTHER_ORG: "Other Org"},
                       eab_pool=make_eab_pool(3))
    with server:
        yield server


def call(scm, method, path, doc=None, creds=None, timeout=5, headers=None):
    """(status, headers dict lower-cased, parsed JSON or None)."""
    url = urllib.parse.urlsplit(scm.base_url)
    conn = http.client.HTTPSConnection(url.hostname, url.port, timeout=timeout,
                                       context=scm.ssl_context())
    try:
        h = dict(scm.credentials if creds is None else creds)
        h.update(headers or {})
        body = None
        if doc is not None:
            body = json.dumps(doc).encode()
            h["Content-Type"] = "application/json"
        conn.request(method, url.path + path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        return r.status, hdrs, json.loads(data) if data else None
    finally:
        conn.close()


def create(scm, name, org=ORG, timeout=5, **extra):
    doc = {"name": name, "acmeServer": ACME, "organizationId": org}
    doc.update(extra)
    return call(scm, "POST", "/acme/v1/account", doc, timeout=timeout)


def test_tls_is_verified_against_its_ca_only(scm):
    url = urllib.parse.urlsplit(scm.base_url)
    assert url.hostname == "127.0.0.1" and url.path == "/api"
    conn = http.client.HTTPSConnection(url.hostname, url.port, timeout=5,
                                       context=ssl.create_default_context())
    with pytest.raises(ssl.SSLCertVerificationError):
        conn.request("GET", "/api/acme/v1/server")
    conn.close()
    assert call(scm, "GET", "/acme/v1/server")[0] == 200
    # HEAD: the status without a body
    assert call(scm, "HEAD", "/acme/v1/account/1")[::2] == (404, None)


@pytest.mark.parametrize("wrong", ["login", "password", "customerUri", None])
def test_wrong_or_missing_credentials_are_401_with_an_scm_error(scm, wrong):
    creds = dict(scm.credentials)
    if wrong is None:
        creds = {}
    else:
        creds[wrong] += "x"
    status, _, doc = call(scm, "GET", "/acme/v1/account?organizationId=%d" % ORG,
                          creds=creds)
    assert status == 401
    assert doc["code"] == -16 and doc["description"]
    # nothing was created through a refused request either
    status, _, doc = call(scm, "POST", "/acme/v1/account",
                          {"name": "x", "acmeServer": ACME, "organizationId": ORG},
                          creds=creds)
    assert status == 401 and not scm.accounts


def test_create_gives_location_then_list_and_show_the_account(scm):
    status, hdrs, doc = create(scm, "www.example.org")
    assert status == 201 and doc is None
    loc = hdrs["location"]
    assert loc.startswith(scm.base_url + "/acme/v1/account/")
    acct_id = int(loc.rsplit("/", 1)[1])

    status, _, listed = call(scm, "GET", "/acme/v1/account?organizationId=%d" % ORG)
    assert status == 200
    assert [a["id"] for a in listed] == [acct_id]
    a = listed[0]
    assert a["name"] == "www.example.org" and a["acmeServer"] == ACME
    assert a["organizationId"] == ORG and a["status"] == "Pending"
    assert a["certValidationType"] == "DV" and a["domains"] == []
    assert a["ovOrderNumber"] is None
    # the first pair of the pool, the one Pebble was given too
    kid, mac = next(iter(scm.eab_pool.items()))
    assert (a["macId"], a["macKey"]) == (kid, mac)

    status, _, shown = call(scm, "GET", urllib.parse.urlsplit(loc).path[len("/api"):])
    assert status == 200 and shown == a
    # by name; another organization does not list it
    assert [x["id"] for x in call(
        scm, "GET", "/acme/v1/account?organizationId=%d&name=www.example.org" % ORG)[2]] \
        == [acct_id]
    assert call(scm, "GET", "/acme/v1/account?organizationId=%d" % OTHER_ORG)[2] == []


def test_eab_pairs_are_handed_out_in_order_until_the_pool_is_empty():
    keys = make_eab_pool(2)
    with ScmServer(organizations={ORG: "Org"}, eab_pool=keys) as scm:
        macs = []
        for name in ("a", "b"):
            status, hdrs, _ = create(scm, name)
            assert status == 201
            path = urllib.parse.urlsplit(hdrs["location"]).path[len("/api"):]
            a = call(scm, "GET", path)[2]
            macs.append((a["macId"], a["macKey"]))
        assert macs == list(keys.items())
        status, hdrs, doc = create(scm, "c")
        assert status == 500 and doc["code"] == -1 and "location" not in hdrs
        assert len(scm.accounts) == 2


def test_an_accounts_eab_pair_is_one_pebble_accepts(sacmectl_binary, dirs):
    """The pool given to both: the pair SCM hands out registers at Pebble
    and obtains a certificate (the second account's, not just the first)."""
    keys = make_eab_pool(2)
    with ScmServer(organizations={ORG: "Org"}, eab_pool=keys) as scm, \
            Pebble(always_valid=True, extra_eab_keys=scm.eab_pool) as pebble:
        create(scm, "first")
        path = urllib.parse.urlsplit(create(scm, "second")[1]["location"]).path
        acct = call(scm, "GET", path[len("/api"):])[2]
        assert acct["macId"] == list(keys)[1]
        names = ["scm-pool.test"]
        res = sacmectl.issue(pebble, kid=acct["macId"], hmac=acct["macKey"],
                             account_dir=dirs.account, out=dirs.out, names=names)
        expect.issued_ok(res, pebble, names, dirs.out, dirs.account)


def test_create_validation_errors(scm):
    status, _, doc = call(scm, "POST", "/acme/v1/account",
                          {"acmeServer": ACME, "organizationId": ORG})
    assert (status, doc["code"]) == (400, -3) and "name" in doc["description"]
    status, _, doc = create(scm, "x", org=4242)
    assert (status, doc["code"]) == (400, -5) and "4242" in doc["description"]
    status, _, doc = create(scm, "x", org=str(ORG))
    assert (status, doc["code"]) == (400, -3)
    status, _, doc = call(scm, "POST", "/acme/v1/account", None,
                          headers={"Content-Type": "application/json"})
    assert (status, doc["code"]) == (400, -3)
    assert not scm.accounts

    assert create(scm, "dup")[0] == 201
    status, _, doc = create(scm, "dup")
    assert (status, doc["code"]) == (400, -6) and "dup" in doc["description"]
    # the same name in another organization is another account
    assert create(scm, "dup", org=OTHER_ORG)[0] == 201
    assert len(scm.accounts) == 2


def test_validation_type_comes_from_the_acme_server_or_the_body():
    servers = [{"url": ACME, "certValidationType": "OV", "name": "OV ACME"}]
    with ScmServer(organizations={ORG: "Org"}, eab_pool=make_eab_pool(3),
                   acme_servers=servers) as scm:
        assert call(scm, "GET", "/acme/v1/server")[2] == servers
        assert create(scm, "ov")[0] == 201
        assert create(scm, "ev", certValidationType="EV",
                      evDetails={"orgName": "Example"})[0] == 201
        by_name = {a["name"]: a for a in scm.accounts.values()}
        assert by_name["ov"]["certValidationType"] == "OV"
        assert by_name["ev"]["certValidationType"] == "EV"
        assert by_name["ev"]["evDetails"] == {"orgName": "Example"}
        status, _, doc = call(scm, "POST", "/acme/v1/account",
                              {"name": "y", "acmeServer": "https://elsewhere/",
                               "organizationId": ORG})
        assert (status, doc["code"]) == (400, -7)


def test_list_requires_organization_id(scm):
    status, _, doc = call(scm, "GET", "/acme/v1/account")
    assert (status, doc["code"]) == (400, -1001)


def test_unknown_account_is_404_and_delete_removes_it(scm):
    for method in ("GET", "DELETE"):
        status, _, doc = call(scm, method, "/acme/v1/account/999999")
        assert (status, doc["code"]) == (404, -4)
    status, _, doc = call(scm, "POST", "/acme/v1/account/999999/domains",
                          {"domains": [{"name": "a.example"}]})
    assert (status, doc["code"]) == (404, -4)

    loc = create(scm, "gone")[1]["location"]
    path = urllib.parse.urlsplit(loc).path[len("/api"):]
    assert call(scm, "DELETE", path)[0] == 204
    assert call(scm, "GET", path)[0] == 404
    assert call(scm, "GET", "/acme/v1/account?organizationId=%d" % ORG)[2] == []


def test_domains_add_and_remove_report_what_was_not_done(scm):
    scm.not_delegated = {"not-ours.example"}
    loc = create(scm, "d")[1]["location"]
    path = urllib.parse.urlsplit(loc).path[len("/api"):]
    body = {"domains": [{"name": "a.example"}, {"name": "Not-Ours.example"},
                        {"name": "b.example"}]}
    for _ in range(2):
        # the second time a and b are there already: accepted, not added twice
        status, _, doc = call(scm, "POST", path + "/domains", body)
        assert status == 200 and doc == {"notAddedDomains": ["Not-Ours.example"]}
    acct = call(scm, "GET", path)[2]
    assert acct["domains"] == [{"name": "a.example"}, {"name": "b.example"}]

    # delegated later: the test changes the set
    scm.not_delegated.clear()
    assert call(scm, "POST", path + "/domains",
                {"domains": [{"name": "not-ours.example"}]})[2] == {"notAddedDomains": []}

    status, _, doc = call(scm, "DELETE", path + "/domains",
                          {"domains": [{"name": "a.example"}, {"name": "never.example"}]})
    assert status == 200 and doc == {"notRemovedDomains": ["never.example"]}
    assert [d["name"] for d in call(scm, "GET", path)[2]["domains"]] \
        == ["b.example", "not-ours.example"]

    status, _, doc = call(scm, "POST", path + "/domains", {"domains": []})
    assert (status, doc["code"]) == (400, -3)


def test_new_account_appears_after_some_gets(scm):
    scm.appear_after = 2
    loc = create(scm, "slow")[1]["location"]
    path = urllib.parse.urlsplit(loc).path[len("/api"):]
    assert call(scm, "GET", path)[0] == 404
    assert call(scm, "GET", "/acme/v1/account?organizationId=%d" % ORG)[2] == []
    assert call(scm, "GET", path)[0] == 200


def test_injected_5xx_and_429_answer_the_next_requests_only(scm):
    scm.fail_next(2, status=502)
    for _ in range(2):
        status, _, doc = create(scm, "flaky")
        assert status == 502 and doc["code"] == -1
    assert not scm.accounts                    # refused requests did nothing
    assert create(scm, "flaky")[0] == 201

    scm.rate_limit_next(1, retry_after=7, method="POST", pathpart="/domains")
    acct_id = next(iter(scm.accounts))
    path = "/acme/v1/account/%d" % acct_id
    assert call(scm, "GET", path)[0] == 200    # does not match: not consumed
    status, hdrs, doc = call(scm, "POST", path + "/domains",
                             {"domains": [{"name": "a.example"}]})
    assert (status, hdrs["retry-after"], doc["code"]) == (429, "7", -9)
    assert call(scm, "GET", path)[2]["domains"] == []
    assert call(scm, "POST", path + "/domains",
                {"domains": [{"name": "a.example"}]})[0] == 200

    assert scm.request_count("POST", "/acme/v1/account", 502) == 2
    assert scm.request_count("POST", "/domains", 429) == 1
    assert scm.stats["POST /api/acme/v1/account"] == 3


@pytest.mark.parametrize("run", [False, True])
def test_hung_request_outlasts_the_client_timeout(scm, run):
    scm.hang_next(1, run=run)
    with pytest.raises((socket.timeout, TimeoutError)):
        create(scm, "hung", timeout=0.5)
    assert scm.release()
    # the server ended the hung request, and did it only with run=True
    status, _, listed = call(scm, "GET", "/acme/v1/account?organizationId=%d" % ORG)
    assert status == 200
    assert [a["name"] for a in listed] == (["hung"] if run else [])
    assert ("POST", "/api/acme/v1/account", "hung") in scm.requests


def test_nothing_secret_is_recorded(scm):
    create(scm, "s")
    acct = next(iter(scm.accounts.values()))
    seen = repr((scm.requests, dict(scm.stats), scm.errors))
    assert scm.password not in seen and acct["macKey"] not in seen
