"""Several CAs and accounts on one server, and failover (issue 12, points 2
and 3): a <SacmeDomainSet> with its own SacmeServer and SacmeEAB is ordered
from its own CA with its own account; SacmeServer URL URL... moves to the
next CA after SacmeRetryFailover failed attempts in a row."""

import json
import os

import pytest

from sacmetest import certcheck
from sacmetest.faults import exact_pebble
from sacmetest.httpd import Vhost
from sacmetest.module import (ERRORED, ISSUE_LIMIT, STAGED, assert_served_verified,
                              live_chain, make_httpd, names_for, readable_ca_file,
                              root_file)
from sacmetest.pebble import free_port
from sacmetest.quirkproxy import QuirkProxy
from sacmetest.sacmectl import EXIT_OK, EXIT_USAGE, store_cmd
from test_module_status import STATUS_CONF, get_json

FAILED_OVER = "SACME10330"


def _eab_file(directory, kid, hmac, name):
    """An EAB file as SacmeEAB file: wants it: root's, 0600."""
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        json.dump({"kid": kid, "hmac": hmac}, f)
    os.chmod(path, 0o600)
    return path


def _bundle(directory, name, pems):
    """One PEM file of several certificates, readable by the driver."""
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write("".join(p if p.endswith("\n") else p + "\n" for p in pems))
    os.chmod(path, 0o644)
    return path


@pytest.fixture
def two_pebbles():
    """Two Pebbles, each with its own API CA, issuing root and EAB keys, both
    validating http-01 on the same port (the one httpd's)."""
    one = exact_pebble()
    two = None
    try:
        two = exact_pebble(http_port=one.http_port)
        yield one, two
    finally:
        for p in (two, one):
            if p:
                p.stop()


def _common(h, cas, roots):
    """The lines every domain shares, for CAs `cas` (Pebble-like objects
    with ca_file) and issuing roots `roots` (PEM texts)."""
    api = _bundle(h.root, "api-cas.pem", [open(readable_ca_file(c, _own_dir(h, c))).read()
                                         for c in cas])
    return ["SacmeCACertificate %s" % api,
            "SacmeTrustedRoots %s" % _bundle(h.root, "roots.pem", roots),
            "SacmeContact admin@example.test", "SacmeAgreement accepted",
            "SacmeRetryDelay 1s"]


def _own_dir(h, pebble):
    d = os.path.join(h.root, "ca-%d" % pebble.port)
    os.makedirs(d, exist_ok=True)
    return d


def test_two_cas_each_domain_from_its_own(two_pebbles, httpds, tmp_path):
    one, two = two_pebbles
    a, b = names_for("mca-a"), names_for("mca-b")
    h0 = make_httpd(one, [], vhosts=[Vhost(a), Vhost(b)], extra=STATUS_CONF)
    eab1 = _eab_file(h0.root, "kid-1", one.eab["kid-1"], "eab-one.json")
    eab2 = _eab_file(h0.root, "kid-2", two.eab["kid-2"], "eab-two.json")
    h0.configure(sacme=["SacmeServer %s" % one.directory_url,
                        "SacmeEAB file:%s" % eab1]
                 + _common(h0, [one, two], [one.root_pem(), two.root_pem()])
                 + ["SacmeDomain %s" % " ".join(a),
                    "<SacmeDomainSet %s>" % " ".join(b),
                    "    SacmeServer %s" % two.directory_url,
                    "    SacmeEAB file:%s" % eab2,
                    "</SacmeDomainSet>"])
    h = httpds.add(h0)
    h.start()
    h.wait_managed_cert(a[0], limit=ISSUE_LIMIT)
    h.wait_managed_cert(b[0], limit=ISSUE_LIMIT)

    # each name is served a chain to its own CA's root, and not the other's
    leaf_a = assert_served_verified(h, a, root_file(one, str(tmp_path)))[0]
    leaf_b = assert_served_verified(h, b, root_file(two, str(tmp_path)))[0]
    for name, leaf, mine, other in ((a[0], leaf_a, one, two), (b[0], leaf_b, two, one)):
        serial = certcheck.serial_hex(leaf)
        assert mine.cert_status(serial).get("Status") == "Valid"
        live = live_chain(h, name)
        assert live[0] == leaf
        certcheck.verify_chain(live[0], live[1:], certcheck.load_cert(mine.root_pem()))
        with pytest.raises(certcheck.CertCheckError):
            certcheck.verify_chain(live[0], live[1:], certcheck.load_cert(other.root_pem()))

    # one account per CA in the store, each registered once
    accounts = sorted(os.listdir(h.store("accounts")))
    assert len(accounts) == 2, accounts
    servers = set()
    for acct in accounts:
        with open(h.store("accounts", acct, "account.json")) as f:
            servers.add(json.load(f).get("server"))
    assert servers == {one.directory_url, two.directory_url}, servers

    # status: which CA each domain uses, and where each certificate came from
    doms = {d["name"]: d for d in get_json(h, "/sacme-status/")["domains"]}
    for name, ca, kid in ((a[0], one, "kid-1"), (b[0], two, "kid-2")):
        assert doms[name]["ca"] == ca.directory_url, doms[name]
        assert doms[name]["cas"] == [{"server": ca.directory_url, "eab-kid": kid}]
        assert doms[name]["certificates"][0]["ca"] == ca.directory_url, doms[name]
    staged = [l for l in h.log_lines(STAGED)]
    assert any(b[0] + ": " in l and "from " + two.directory_url in l for l in staged), staged

    # sacmectl: several accounts need naming; each is found by CA or domain
    res = store_cmd(h, "account", "show")
    assert res.rc == EXIT_USAGE, res.describe()
    msg = res.error["message"]
    assert one.directory_url in msg and two.directory_url in msg and "--server" in msg, msg
    res = store_cmd(h, "account", "show", "--server", two.directory_url)
    assert res.rc == EXIT_OK, res.describe()
    assert (res.json["server"], res.json["eab-kid"]) == (two.directory_url, "kid-2"), res.json
    res = store_cmd(h, "account", "show", "--domain", a[1])
    assert res.rc == EXIT_OK, res.describe()
    assert (res.json["server"], res.json["eab-kid"]) == (one.directory_url, "kid-1"), res.json
    res = store_cmd(h, "show", b[0])
    assert res.json["ca"] == two.directory_url, res.json


def test_domains_of_one_ca_and_key_id_share_one_account(http01_pebble, httpds):
    """Two sets naming the same CA and EAB key id: one account, registered
    once, used by both (EAB keys are often single-use)."""
    pebble = http01_pebble
    a, b = names_for("mca-share-a"), names_for("mca-share-b")
    h0 = make_httpd(pebble, [], vhosts=[Vhost(a), Vhost(b)])
    h0.configure(sacme=h0.sacme + [
        "<SacmeDomainSet %s>" % " ".join(a), "    SacmeKeyType p384", "</SacmeDomainSet>",
        "<SacmeDomainSet %s>" % " ".join(b),
        "    SacmeServer %s" % pebble.directory_url,
        "    SacmeEAB kid-1 %s" % pebble.eab["kid-1"],
        "</SacmeDomainSet>"])
    h = httpds.add(h0)
    h.start()
    h.wait_managed_cert(a[0], limit=ISSUE_LIMIT)
    h.wait_managed_cert(b[0], limit=ISSUE_LIMIT)
    assert len(os.listdir(h.store("accounts"))) == 1
    assert len(h.log_lines("SACME10007")) == 1, h.log_lines("SACME10007")


def _failover_httpd(pebble, httpds, tag, first_url, first_has_eab):
    names = names_for(tag)
    h0 = make_httpd(pebble, [], vhosts=[Vhost(names)], extra=STATUS_CONF)
    eab = _eab_file(h0.root, "kid-1", pebble.eab["kid-1"], "eab.json")
    h0.configure(sacme=["SacmeServer %s %s" % (first_url, pebble.directory_url),
                        "SacmeEAB %s file:%s" % ("file:" + eab if first_has_eab else "none",
                                                 eab),
                        "SacmeRetryFailover 2"]
                 + _common(h0, [pebble], [pebble.root_pem()])
                 + ["SacmeDomain %s" % " ".join(names)])
    return httpds.add(h0), names


def _assert_failed_over(h, names, first_url, pebble, tmp_path):
    h.start()
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    assert_served_verified(h, names, root_file(pebble, str(tmp_path)))
    # two attempts at the first CA, then the switch, logged with both URLs
    errors = h.log_lines(ERRORED)
    assert len(errors) == 2, errors
    switched = h.log_lines(FAILED_OVER)
    assert len(switched) == 1, switched
    assert first_url in switched[0] and pebble.directory_url in switched[0], switched
    assert "SacmeRetryFailover" in switched[0], switched
    staged = h.log_lines(STAGED)
    assert staged and "from " + pebble.directory_url in staged[-1], staged
    # the status names the CA the certificate came from; the next order
    # starts at the first again (the count of failures is reset)
    d = get_json(h, "/sacme-status/")["domains"][0]
    assert d["certificates"][0]["ca"] == pebble.directory_url, d
    assert [c["server"] for c in d["cas"]] == [first_url, pebble.directory_url], d
    assert d["ca"] == first_url, d


def test_failover_from_a_closed_port(httpds, tmp_path):
    pebble = exact_pebble()
    try:
        closed = "https://127.0.0.1:%d/dir" % free_port()
        h, names = _failover_httpd(pebble, httpds, "mca-closed", closed, False)
        _assert_failed_over(h, names, closed, pebble, tmp_path)
    finally:
        pebble.stop()


def test_failover_from_a_ca_answering_500(httpds, tmp_path):
    pebble = exact_pebble()
    proxy = None
    try:
        proxy = QuirkProxy(pebble, quirks={"server_internal": True}).start()
        h, names = _failover_httpd(pebble, httpds, "mca-500", proxy.directory_url, True)
        _assert_failed_over(h, names, proxy.directory_url, pebble, tmp_path)
        assert proxy.stats["server_internal"] >= 2, dict(proxy.stats)
        errors = h.log_lines(ERRORED)
        assert all("serverInternal" in l or "500" in l for l in errors), errors
    finally:
        if proxy:
            proxy.stop()
        pebble.stop()


def test_refusal_moves_to_the_next_ca_at_once(httpds, tmp_path):
    """A CA that refuses for a reason retrying cannot fix (here: an EAB key
    id it does not know) is not asked again and again: the next attempt
    goes to the next CA, whatever SacmeRetryFailover says."""
    pebble = exact_pebble()
    proxy = None
    try:
        # the same Pebble through a proxy is another CA URL; kid-9 is unknown there
        proxy = QuirkProxy(pebble).start()
        names = names_for("mca-refused")
        h0 = make_httpd(pebble, [], vhosts=[Vhost(names)], extra=STATUS_CONF)
        bad = _eab_file(h0.root, "kid-9", pebble.eab["kid-1"], "eab-bad.json")
        good = _eab_file(h0.root, "kid-1", pebble.eab["kid-1"], "eab.json")
        h0.configure(sacme=["SacmeServer %s %s" % (proxy.directory_url, pebble.directory_url),
                            "SacmeEAB file:%s file:%s" % (bad, good)]
                     + _common(h0, [pebble], [pebble.root_pem()])
                     + ["SacmeDomain %s" % " ".join(names)])
        h = httpds.add(h0)
        h.start()
        h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
        errors = h.log_lines(ERRORED)
        assert len(errors) == 1, errors          # not the default 13
        switched = h.log_lines(FAILED_OVER)
        assert len(switched) == 1 and "retrying there cannot fix" in switched[0], switched
        with proxy._lock:
            accounts = [r for r in proxy.requests if "/sign-me-up" in r[1]]
        assert len(accounts) == 1, accounts
    finally:
        if proxy:
            proxy.stop()
        pebble.stop()
