"""Wildcards served: a vhost whose ServerName or a ServerAlias falls under a
wildcard name of a managed domain (one left-most label, RFC 6125) is served
that domain's certificate, and an exact name of another domain beats the
wildcard.  With a real httpd and a real Pebble: a wildcard pair from
elsewhere (SacmeCertificateFile) is served to a.w.example.test and
b.w.example.test, while c.w.example.test, a domain of its own, is served
the certificate Pebble issues for it over HTTP-01.  The HTTP-01 responder
still answers exact names only (no wildcard tokens over HTTP), and
SacmeRequireHttps redirects the names a wildcard covers.  `apache2 -t`
refuses a vhost with SSL whose names would need two certificates."""

import os

import pytest
from cryptography.hazmat.primitives import serialization

from sacmetest import certcheck
from sacmetest.httpd import USER, Httpd, Vhost, free_port, user_ids
from sacmetest.module import (DRIVER_STARTED, ERRORED, ISSUE_LIMIT, LOG_LIMIT, make_httpd,
                              root_file)
from test_module_certfile import make_pair
from test_module_status import STATUS_CONF, get_json

WILD = "*.w.example.test"
A, B, C = "a.w.example.test", "b.w.example.test", "c.w.example.test"
NOT_COVERED = ["w.example.test", "x.a.w.example.test"]   # empty label, two labels
TWO_CERTS = "SACME10370"
PREFIX = "/.well-known/acme-challenge/"


def _wild_set(cert_path, key_path, inside=()):
    return (["<SacmeDomainSet %s>" % WILD,
             "    SacmeCertificateFile %s" % cert_path,
             "    SacmeCertificateKeyFile %s" % key_path]
            + ["    " + l for l in inside] + ["</SacmeDomainSet>"])


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_wildcard_pair_served_and_exact_domain_wins(http01_pebble, httpds, tmp_path):
    pebble = http01_pebble
    # httpd takes a wildcard as a ServerAlias only (never as ServerName):
    # the vhost with the wildcard alias is the one httpd picks for
    # d.w.example.test, a name no other vhost carries
    vhosts = [Vhost([A]), Vhost(["b-site.example.test", B]), Vhost([C]),
              Vhost(["wild-alias.example.test", WILD])]
    h0 = make_httpd(pebble, [[C]], vhosts=vhosts, extra=STATUS_CONF)
    cert_path, key_path, wild = make_pair(h0.root, "wild", [WILD], days_left=60)
    h0.configure(sacme=_wild_set(cert_path, key_path) + h0.sacme)
    h = httpds.add(h0)
    h.start()

    # the wildcard pair, from the first request on, to the names it covers:
    # a ServerName (a), an alias (b), and the vhost whose alias is the
    # wildcard itself
    for sni in (A, B, "d.w.example.test"):
        r = h.tls_get(sni, cadata=_pem(wild), path="/index.html")   # verified
        assert r.serial == wild.serial_number, (sni, r.describe())
        assert r.status == 200, (sni, r.describe())
    # c.w.example.test is a domain of its own: the exact name wins over the
    # wildcard, so it is served Pebble's certificate (the fallback until then)
    r = h.wait_served(C, lambda r: not r.is_fallback, "a certificate for %s" % C,
                      limit=ISSUE_LIMIT)
    assert r.serial != wild.serial_number, "the wildcard pair is served to " + C
    root = root_file(pebble, str(tmp_path))
    r = h.tls_get(C, cafile=root)
    assert certcheck.dns_sans(r.cert) == [C], certcheck.dns_sans(r.cert)
    assert pebble.cert_status(certcheck.serial_hex(r.cert)).get("Status") == "Valid"
    # the wildcard names are still served the pair after the restart that
    # activated c's certificate
    for sni in (A, B):
        assert h.tls_get(sni).serial == wild.serial_number, sni

    # the wildcard domain is in the status, from its file, without trouble
    doms = {d["name"]: d for d in get_json(h, "/sacme-status/")["domains"]}
    assert doms[WILD]["source"] == "file" and doms[WILD]["state"] == "ok", doms[WILD]
    assert doms[C]["source"] == "acme", doms[C]
    assert not [l for l in h.log_lines(ERRORED) if WILD in l], h.log_lines(ERRORED)


# --- the HTTP-01 responder and SacmeRequireHttps, with a CA nobody answers ----------

TOKEN = "tok-wild-Aa0_bB1-cC2dD3eE4fF5gG6hH7iI8jJ9kK0"
KEYAUTH_A = TOKEN + ".KEYAUTH-FOR-A-NAME-UNDER-THE-WILDCARD"
KEYAUTH_C = TOKEN + ".KEYAUTH-FOR-THE-EXACT-NAME"


def _write(path, text):
    """A challenge file as the driver (the User) writes it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    uid, gid = user_ids(USER)
    os.chown(path, uid, gid)
    os.chown(os.path.dirname(path), uid, gid)


@pytest.fixture(scope="module")
def offline():
    """The wildcard pair (with SacmeRequireHttps temporary) and an exact
    domain for c, with a CA on a closed port: the driver never opens or
    cleans up challenges of its own while the tests run. Tokens for a
    (covered by the wildcard only) and c (an exact name) are written where
    the driver would write them during an order."""
    h = Httpd(ssl=True, vhosts=[Vhost([A]), Vhost([C])])
    cert_path, key_path, wild = make_pair(h.root, "wild", [WILD], days_left=60)
    h.configure(sacme=[
        "SacmeServer https://127.0.0.1:%d/dir" % free_port(),   # nobody listens
        "SacmeEAB kid-1 c2VjcmV0LWhtYWMta2V5LWZvci10aGUtdGVzdHM",
        "SacmeAgreement accepted",
        "SacmeDomain %s" % C,
    ] + _wild_set(cert_path, key_path, inside=["SacmeRequireHttps temporary"]))
    h.start()
    try:
        h.wait_log(DRIVER_STARTED, limit=LOG_LIMIT)
        h.wait_log(ERRORED, limit=LOG_LIMIT)   # its first attempt is over
        ch = h.store("challenges")
        _write(os.path.join(ch, A, TOKEN), KEYAUTH_A)
        _write(os.path.join(ch, C, TOKEN), KEYAUTH_C)
        yield h
    finally:
        h.stop()


def test_no_challenge_answered_for_a_name_only_a_wildcard_covers(offline):
    status, _, body = offline.http_get(PREFIX + TOKEN, host=A)
    assert status == 404, (status, body)
    assert KEYAUTH_A.encode() not in body
    # while the exact name's token is answered, as during its order
    status, _, body = offline.http_get(PREFIX + TOKEN, host=C)
    assert (status, body.decode()) == (200, KEYAUTH_C)


def test_require_https_covers_the_names_under_the_wildcard(offline):
    status, headers, _ = offline.http_get("/page?x=1", host=A)
    assert status == 302, (status, headers)
    assert headers.get("location") == "https://%s:%d/page?x=1" % (A, offline.https_port), \
        headers
    # the challenge path is never redirected
    status, _, _ = offline.http_get(PREFIX + "no-such-token-0123456789", host=A)
    assert status == 404
    # a name the wildcard does not cover is not redirected; nor is c, whose
    # domain has no certificate yet (and no SacmeRequireHttps)
    for host in NOT_COVERED + [C]:
        status, headers, _ = offline.http_get("/index.html", host=host)
        assert status == 200, (host, status, headers)


# --- apache2 -t: a vhost with SSL that would need two certificates ------------------

SERVER = "https://127.0.0.1:9/acme/directory"     # -t does no network I/O
HMAC = "c2VjcmV0LWhtYWMta2V5LWZvci10aGUtdGVzdHM"


def _lines(*domains):
    # the wildcard from a set pre-validated at the CA: -t reads no pair
    return (["SacmeServer %s" % SERVER, "SacmeEAB kid-1 " + HMAC, "SacmeAgreement accepted",
             "<SacmeDomainSet w.example.test %s>" % WILD, "    SacmeChallenge none",
             "</SacmeDomainSet>"]
            + ["SacmeDomain %s" % " ".join(d) for d in domains])


def _check(sacme, vhosts, extra=""):
    """apache2 -t: (exit code, output and log, the configuration's text and
    path)."""
    h = Httpd(ssl=True, sacme=sacme, vhosts=vhosts, extra=extra)
    try:
        r = h.check_config()
        return r.returncode, r.stdout + r.stderr + h.log(), (h.conf_text(), h.conf)
    finally:
        h.stop()


TWO_CERT_CASES = [
    # (id, vhost names, names the message must hold)
    ("exact-and-wildcard", [A, C], [C, A, WILD]),
    ("wildcard-and-exact", [C, B], [C, B, WILD]),
    ("two-exact-domains", ["shop.example.test", "blog.example.test"],
     ["shop.example.test", "blog.example.test"]),
]


@pytest.mark.parametrize("case", TWO_CERT_CASES, ids=[c[0] for c in TWO_CERT_CASES])
def test_vhost_needing_two_certificates_is_refused(case):
    _, names, words = case
    sacme = _lines([C], ["shop.example.test"], ["blog.example.test"])
    # the good twin: the same names, one vhost per certificate
    rc, out, _ = _check(sacme, [Vhost([n]) for n in names])
    assert rc == 0, out
    rc, out, (text, path) = _check(sacme, [Vhost(["first.example.test"]), Vhost(names)])
    assert rc != 0, "apache2 -t accepted the vhost:\n" + out
    (line,) = [l for l in out.splitlines() if TWO_CERTS in l]
    for w in words:
        assert w in line, "the message does not name %s: %s" % (w, line)
    # which vhost: its ServerName, file and line (the second <VirtualHost>)
    vhost_line = [i for i, l in enumerate(text.splitlines(), 1)
                  if l.startswith("<VirtualHost")][1]
    assert "vhost %s (%s:%d)" % (names[0], path, vhost_line) in line, line
    assert "SacmeDomain" in line and "<VirtualHost>" in line, line


def test_names_of_one_domain_and_unmanaged_ones_pass():
    """What is not refused: names of one domain, exact and under its
    wildcard, with names of no domain beside them (as before: the vhost is
    served the domain's certificate, which does not cover the others), a
    name the wildcard does not cover, and a vhost with the wildcard itself
    as an alias."""
    sacme = _lines([C])
    rc, out, _ = _check(sacme, [
        Vhost(["w.example.test", A, B, "elsewhere.example.org"]),
        Vhost(["wild-alias.example.org", WILD]),
        Vhost([C, "x.c.w.example.test", "unmanaged.example.org"]),
        Vhost(["x.a.w.example.test", C]),
    ])
    assert rc == 0, out
    assert TWO_CERTS not in out, out


def test_plain_http_vhost_with_names_of_several_domains_passes():
    """A vhost without SSL (the usual port 80 vhost sending every name to
    HTTPS) needs no certificate: its names may belong to several domains."""
    sacme = _lines([C], ["shop.example.test"])

    def plain(port, engine=""):
        return ("<VirtualHost 127.0.0.1:%d>\n    ServerName %s\n    ServerAlias %s %s\n"
                "%s</VirtualHost>\n" % (port, A, C, "shop.example.test", engine))
    port = free_port()
    rc, out, _ = _check(sacme, [Vhost([B])], extra=plain(port))
    assert rc == 0, out
    # the same vhost with SSL is refused
    rc, out, _ = _check(sacme, [Vhost([B])], extra=plain(port, "    SSLEngine on\n"))
    assert rc != 0 and TWO_CERTS in out, out


def test_wildcard_first_name_needs_a_certificate_file(tmp_path):
    """A wildcard may come first in a <SacmeDomainSet> with
    SacmeCertificateFile (nothing is ordered, nothing needs its name as a
    common name); anywhere else it is still refused. Such a set does not
    cover w.example.test itself: a vhost with it and a name of another
    domain passes."""
    cert_path, key_path, _ = make_pair(str(tmp_path), "wild", [WILD])
    head = ["SacmeServer %s" % SERVER, "SacmeEAB kid-1 " + HMAC, "SacmeAgreement accepted"]
    rc, out, _ = _check(head + ["SacmeDomain %s" % C] + _wild_set(cert_path, key_path),
                        [Vhost([A]), Vhost(["w.example.test", C])])
    assert rc == 0, out
    for bad in (["<SacmeDomainSet %s>" % WILD, "    SacmeChallenge none",
                 "</SacmeDomainSet>"],
                ["SacmeChallenge none", "SacmeDomain %s w.example.test" % WILD]):
        rc, out, _ = _check(head + bad, [Vhost([A])])
        assert rc != 0 and "may not be a wildcard" in out and WILD in out, out
