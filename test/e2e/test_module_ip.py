"""IP identifiers (RFC 8738): `SacmeDomain 127.0.0.1` is ordered from a real
Pebble as an "ip" identifier, proved over HTTP-01 (Pebble connects to the
address itself on its httpPort, with the address as Host), and the
certificate, with an iPAddress SAN, is served to a TLS client that connects
to the address.  Such a client sends no SNI (RFC 6066 allows host names
only), so httpd serves it the first <VirtualHost> of the address and port:
the vhost whose ServerName is the address comes first, as an admin writes
it.  A domain of a DNS name and an address gets both, each as what it is.
::1 the same when the machine has IPv6 loopback.  The HTTP-01 responder
answers for the address in Host however it is written.  `apache2 -t`
refuses what cannot work."""

import os
import socket
import ssl

import pytest
from cryptography import x509

from sacmetest import certcheck, faults
from sacmetest.httpd import Httpd, Vhost, _read_http_response, free_port, is_fallback
from sacmetest.module import (DRIVER_STARTED, ERRORED, ISSUE_LIMIT, LOG_LIMIT, make_httpd,
                              root_file)
from sacmetest.quirkproxy import QuirkProxy
from sacmetest.sacmectl import store_cmd
from test_module_alpn import ANSWERED as ALPN_ANSWERED, alpn_httpd
from test_module_config import _base, _check, refused_output
from test_module_status import STATUS_CONF, get_json
from test_module_wildcard import _write   # a challenge file as the driver writes it

MIXED = "ip-mixed.example.test"
PREFIX = "/.well-known/acme-challenge/"


def _ip_sans(cert):
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(a) for a in san.get_values_for_type(x509.IPAddress)]


def _no_sni_get(addr, port, cafile=None, path="/index.html", timeout=10):
    """TLS to addr:port as a client that was given the address: no SNI (the
    ssl module never sends an IP as server_name); verified against cafile
    (chain and the address in an iPAddress SAN) when given.  Returns
    (leaf certificate, status)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile=cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    host = "[%s]" % addr if ":" in addr else addr
    with socket.create_connection((addr, port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=addr) as s:
            der = s.getpeercert(binary_form=True)
            s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                       % (path, host)).encode("ascii"))
            status, _, _ = _read_http_response(s)
    return x509.load_der_x509_certificate(der), status


def _wait_no_sni_managed(h, addr, port, limit=ISSUE_LIMIT):
    """Wait until a client of addr:port (no SNI) is served a certificate
    that is not the fallback; returns it."""
    got = []

    def ok():
        try:
            cert, _ = _no_sni_get(addr, port)
        except (OSError, ssl.SSLError):
            return False
        got.append(cert)
        return not is_fallback(cert)
    h._wait(ok, "a managed certificate for %s without SNI" % addr, limit, interval=0.5)
    return got[-1]


def _assert_served_for_address(h, pebble, addr, tmp_path):
    """Once issued: a client of addr (no SNI) verifies the certificate
    (Pebble's chain, and addr in an iPAddress SAN: the ssl module checks an
    IP server_hostname against iPAddress entries only), which names addr
    and nothing else, and which Pebble says is valid. Returns it."""
    _wait_no_sni_managed(h, addr, h.https_port)
    cert, status = _no_sni_get(addr, h.https_port, cafile=root_file(pebble, str(tmp_path)))
    assert status == 200
    assert _ip_sans(cert) == [addr], _ip_sans(cert)
    assert certcheck.dns_sans(cert) == [], certcheck.dns_sans(cert)
    assert pebble.cert_status(certcheck.serial_hex(cert)).get("Status") == "Valid"
    return cert


def test_ipv4_issued_over_http01_and_served_without_sni(http01_pebble, httpds, tmp_path):
    pebble = http01_pebble
    # the address's vhost first: the one a client without SNI gets. Beside
    # it a domain of a DNS name and another address (127.0.0.2, where httpd
    # listens too: Pebble validates it there), served by SNI.
    h = make_httpd(pebble, [["127.0.0.1"], [MIXED, "127.0.0.2"]],
                   vhosts=[Vhost(["127.0.0.1"]), Vhost([MIXED])])
    h.configure(extra=STATUS_CONF + "Listen 127.0.0.2:%d\n" % h.port)
    httpds.add(h).start()
    cert = _assert_served_for_address(h, pebble, "127.0.0.1", tmp_path)
    # the mixed domain by SNI: its DNS name (also the common name) and its
    # address, each as what it is
    r = h.wait_managed_cert(MIXED)
    assert certcheck.dns_sans(r.cert) == [MIXED]
    assert _ip_sans(r.cert) == ["127.0.0.2"]
    assert certcheck.common_name(r.cert) == MIXED
    assert r.serial != cert.serial_number
    # the store and the status know the domain by the address
    assert os.path.isfile(h.store("domains", "127.0.0.1", "fullchain.pem"))
    doms = {d["name"]: d for d in get_json(h, "/sacme-status/")["domains"]}
    assert doms["127.0.0.1"]["state"] == "ok", doms


def _has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(),
                    reason="this machine has no IPv6 loopback (::1 cannot be bound)")
def test_ipv6_issued_over_http01_and_served_without_sni(http01_pebble, httpds, tmp_path):
    pebble = http01_pebble
    # httpd listens on ::1 as well, on Pebble's httpPort (Pebble's VA
    # connects to [::1]:httpPort for the identifier ::1) and on the HTTPS
    # port, where the address's own <VirtualHost> serves it. httpd takes no
    # IPv6 address as ServerName (it reads the first ':' as the port's), so
    # the vhost names it with ServerAlias, in brackets as in a URL. The
    # domain is written in a long form: it is the one address ::1 all the
    # same.
    h = make_httpd(pebble, [], vhosts=[], extra=STATUS_CONF,
                   more=["<SacmeDomainSet 0:0:0:0:0:0:0:1>",
                         "    SacmeRequireHttps temporary",
                         "</SacmeDomainSet>"])
    h.configure(extra=STATUS_CONF + "\n".join([
        "Listen [::1]:%d" % h.port,
        "Listen [::1]:%d" % h.https_port,
        "<VirtualHost [::1]:%d>" % h.https_port,
        "    ServerAlias [::1]",
        "    DocumentRoot %s" % h.htdocs,
        "    SSLEngine on",
        "</VirtualHost>",
    ]))
    httpds.add(h).start()
    _assert_served_for_address(h, pebble, "::1", tmp_path)
    # known by its canonical text in the store and the status
    assert os.path.isfile(h.store("domains", "::1", "fullchain.pem"))
    doms = {d["name"]: d for d in get_json(h, "/sacme-status/")["domains"]}
    assert doms["::1"]["state"] == "ok", doms
    # plain HTTP for the address is sent to HTTPS (SacmeRequireHttps), at
    # a URL with the address in brackets
    status, headers, _ = h.http_get("/index.html?x=1", host="[::1]")
    assert status == 302, (status, headers)
    assert headers.get("location") == "https://[::1]:%d/index.html?x=1" % h.https_port, \
        headers
    # sacmectl lists it so and finds it however the admin writes it
    res = store_cmd(h, "list")
    assert res.rc == 0 and "::1" in res.stdout, res.describe()
    res = store_cmd(h, "show", "[0:0::1]")
    assert res.rc == 0 and "::1" in res.stdout, res.describe()


def test_ipv4_issued_over_tls_alpn_01(httpds, tmp_path):
    """Pebble validates 127.0.0.1 over TLS on its tlsPort (httpd's HTTPS
    port; nobody listens on its httpPort), naming the address by its
    reverse-DNS name in SNI (RFC 8738 §6)."""
    pebble = faults.exact_pebble()
    proxy = QuirkProxy(pebble).start()
    try:
        h = httpds.add(alpn_httpd(proxy, [["127.0.0.1"]],
                                  more=["SacmeChallenge tls-alpn-01 http-01"]))
        h.start()
        _assert_served_for_address(h, pebble, "127.0.0.1", tmp_path)
        assert any("127.0.0.1" in l for l in h.log_lines(ALPN_ANSWERED)), \
            h.log_lines("SACME105")
    finally:
        proxy.stop()
        pebble.stop()


# --- the HTTP-01 responder, with a CA nobody answers -------------------------

TOKEN = "tok-ip-Aa0_bB1-cC2dD3eE4fF5gG6hH7iI8jJ9kK0"
KEYAUTH_V4 = TOKEN + ".KEYAUTH-FOR-127-0-0-1"
KEYAUTH_V6 = TOKEN + ".KEYAUTH-FOR-COLON-COLON-1"


def test_http01_answered_for_the_address_in_host(httpds):
    """Pebble (like any CA) sends Host: the address, an IPv6 one in
    brackets (RFC 8738 §3); the answer lies in challenges/<address>/."""
    h = httpds.add(Httpd(ssl=True, vhosts=[Vhost(["127.0.0.1"])], sacme=[
        "SacmeServer https://127.0.0.1:%d/dir" % free_port(),   # nobody listens
        "SacmeEAB kid-1 c2VjcmV0LWhtYWMta2V5LWZvci10aGUtdGVzdHM",
        "SacmeAgreement accepted",
        "SacmeDomain 127.0.0.1",
        "SacmeDomain ::1",
    ]))
    h.start()
    h.wait_log(DRIVER_STARTED, limit=LOG_LIMIT)
    h.wait_log(ERRORED, limit=LOG_LIMIT)   # its first attempt is over
    _write(h.store("challenges", "127.0.0.1", TOKEN), KEYAUTH_V4)
    _write(h.store("challenges", "::1", TOKEN), KEYAUTH_V6)
    for host, want in (("127.0.0.1", KEYAUTH_V4), ("127.0.0.1:%d" % h.port, KEYAUTH_V4),
                       ("[::1]", KEYAUTH_V6), ("[0:0::1]:%d" % h.port, KEYAUTH_V6),
                       ("[0:0:0:0:0:0:0:1]", KEYAUTH_V6)):
        status, _, body = h.http_get(PREFIX + TOKEN, host=host)
        assert (status, body.decode(errors="replace")) == (200, want), host
    # an address that is no managed name is not answered, nor a name
    # written like one
    for host in ("127.0.0.2", "[::2]", "localhost"):
        status, _, body = h.http_get(PREFIX + TOKEN, host=host)
        assert status == 404 and TOKEN.encode() not in body, (host, status)


# --- apache2 -t -------------------------------------------------------------

IP_DNS_ONLY = "SACME10520"


def _dns_cmd_lines():
    """SacmeDnsCmd, where the module has it: a dns-01 list may need a
    command, and these twins differ in the IP address only."""
    rc, out = _check(_base(more=["SacmeDnsCmd /bin/true"]))
    return [] if "Invalid command" in out else ["SacmeDnsCmd /bin/true"]


def test_ip_with_dns01_only_is_refused():
    dns = _dns_cmd_lines()
    # a domain set that proves names over DNS only: an address cannot
    bad = _base(more=dns + ["<SacmeDomainSet dns-only.test 192.0.2.10>",
                            "    SacmeChallenge dns-01", "</SacmeDomainSet>"])
    good = _base(more=dns + ["<SacmeDomainSet dns-only.test 192.0.2.10>",
                             "    SacmeChallenge dns-01 http-01", "</SacmeDomainSet>"])
    out = refused_output(bad, good)
    assert IP_DNS_ONLY in out and "192.0.2.10" in out and "SacmeChallenge" in out, out
    # the same from the global list
    bad = _base(domains=[["dns-only.test", "2001:db8::10"]],
                more=dns + ["SacmeChallenge dns-01"])
    good = _base(domains=[["dns-only.test", "2001:db8::10"]],
                 more=dns + ["SacmeChallenge dns-01 http-01"])
    out = refused_output(bad, good)
    assert IP_DNS_ONLY in out and "2001:db8::10" in out, out


def test_ips_mixed_with_names_are_accepted():
    rc, out = _check(_base(domains=[["conf.test", "www.conf.test", "192.0.2.10"],
                                    ["2001:DB8::10", "v6.conf.test"]]))
    assert rc == 0, out
    # one address in two spellings is one name: given to two domains, refused
    rc, out = _check(_base(domains=[["conf.test", "2001:db8::10"],
                                    ["2001:DB8:0::10"]]))
    assert rc != 0 and "already part of the managed domain" in out, out
