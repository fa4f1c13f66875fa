"""tls-alpn-01 (RFC 8737) inside mod_ssl.

The responder, probed directly: a challenge certificate is put into the
store the way the driver writes it (challenges/<name>/tls-alpn-01.pem,
certificate and key, 0640), and TLS clients connect with and without ALPN
"acme-tls/1". The CA is unreachable there, so the driver never publishes or
withdraws anything while those tests run.

Then the whole way with a real Pebble whose tlsPort is httpd's HTTPS port
and whose httpPort nobody listens on: only tls-alpn-01 can succeed."""

import datetime
import hashlib
import os
import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

from sacmetest import certcheck, faults
from sacmetest.httpd import LOOPBACK, USER, Httpd, Vhost, free_port, is_fallback, user_ids
from sacmetest.module import (DRIVER_STARTED, ERRORED, ISSUE_LIMIT, LOG_LIMIT,
                              assert_served_verified, names_for, pebble_defaults, root_file,
                              sacme_lines)
from sacmetest.quirkproxy import QuirkProxy

ACME_TLS = "acme-tls/1"
ACME_IDENTIFIER = ObjectIdentifier("1.3.6.1.5.5.7.1.31")
ALPN_FILE = "tls-alpn-01.pem"
ANSWERED = "SACME10501"
LIMIT = 120    # bounds of the waits, not timing claims

NAMES = ["alpn.test", "www.alpn.test"]
OTHER = "other.alpn.test"          # managed, nothing published for it
FOREIGN = "foreign.test"           # not managed at all
UNSAFE = "unsafe.alpn.test"        # its answer is a file the store refuses


def challenge_pair(name, key_authz="token.thumbprint"):
    """A challenge certificate as RFC 8737 §3 describes it, and its key, in
    one PEM text (as the driver writes it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    digest = hashlib.sha256(key_authz.encode()).digest()
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "test challenge")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.UnrecognizedExtension(ACME_IDENTIFIER,
                                                      b"\x04\x20" + digest), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    return cert, pem


def publish(h, name, pem):
    """Writes the pair where and as the driver does (its user, 0640)."""
    uid, gid = user_ids(USER)
    d = h.store("challenges", name)
    if not os.path.isdir(d):
        os.mkdir(d)
        os.chown(d, uid, gid)
        os.chmod(d, 0o2750)
    path = os.path.join(d, ALPN_FILE)
    with open(path, "wb") as f:
        f.write(pem)
    os.chown(path, uid, gid)
    os.chmod(path, 0o640)
    return path


def handshake(h, sni, alpn=None, request=False):
    """A TLS handshake with the HTTPS port (nothing verified). Returns the
    leaf, the protocol agreed by ALPN, and with request what a GET / brings
    back (b"" when the server closes without answering)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    with socket.create_connection((LOOPBACK, h.https_port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as s:
            der = s.getpeercert(binary_form=True)
            proto = s.selected_alpn_protocol()
            answer = None
            if request:
                answer = b""
                try:
                    s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                               % sni).encode())
                    while True:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        answer += chunk
                except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
                    pass
    return x509.load_der_x509_certificate(der), proto, answer


def sacme_conf(ca_url, names, extra=()):
    return ["SacmeServer %s" % ca_url,
            "SacmeEAB kid-1 c2VjcmV0LWhtYWMta2V5LWZvci10aGUtdGVzdHM",
            "SacmeAgreement accepted",
            "SacmeChallenge tls-alpn-01"] + list(extra) + [
            "SacmeDomain %s" % " ".join(n) for n in names]


@pytest.fixture(scope="module")
def responder():
    h = Httpd(ssl=True, vhosts=[Vhost(NAMES), Vhost([OTHER]), Vhost([UNSAFE])],
              log_level="info ssl:warn sacme:debug",
              sacme=sacme_conf("https://127.0.0.1:%d/dir" % free_port(),   # nobody listens
                               [NAMES, [OTHER], [UNSAFE]]))
    h.start()
    try:
        h.wait_log(DRIVER_STARTED, limit=LOG_LIMIT)
        h.wait_log(ERRORED, limit=LOG_LIMIT)   # its first attempt is over
        cert, pem = challenge_pair(NAMES[0])
        publish(h, NAMES[0], pem)
        alias_cert, alias_pem = challenge_pair(NAMES[1])
        publish(h, NAMES[1], alias_pem)
        publish(h, FOREIGN, challenge_pair(FOREIGN)[1])
        os.chown(publish(h, UNSAFE, challenge_pair(UNSAFE)[1]), 0, 0)   # not the driver's
        h.challenge = {NAMES[0]: cert, NAMES[1]: alias_cert}
        yield h
    finally:
        h.stop()


def test_acme_tls_client_gets_the_challenge_certificate(responder):
    h = responder
    for name in NAMES:
        mark = h.mark()
        leaf, proto, _ = handshake(h, name, [ACME_TLS])
        assert proto == ACME_TLS
        assert leaf == h.challenge[name], "not the published certificate for %s" % name
        ext = leaf.extensions.get_extension_for_oid(ACME_IDENTIFIER)
        assert ext.critical
        line = h.wait_log(ANSWERED, since=mark)
        assert name in line, line


def test_no_http_on_an_acme_tls_connection(responder):
    # RFC 8737 §3: after the handshake nothing more; the server closes
    leaf, proto, answer = handshake(responder, NAMES[0], [ACME_TLS], request=True)
    assert proto == ACME_TLS and leaf == responder.challenge[NAMES[0]]
    assert b"HTTP/" not in answer, answer[:200]


@pytest.mark.parametrize("alpn", [None, ["http/1.1"], ["h2", "http/1.1"]],
                         ids=["no-alpn", "http1", "h2-http1"])
def test_ordinary_client_gets_the_normal_certificate(responder, alpn):
    # the same name while its challenge is open: the fallback (no
    # certificate yet), never the challenge one, and HTTP as usual
    h = responder
    leaf, proto, answer = handshake(h, NAMES[0], alpn, request=True)
    assert leaf != h.challenge[NAMES[0]]
    with pytest.raises(x509.ExtensionNotFound):
        leaf.extensions.get_extension_for_oid(ACME_IDENTIFIER)
    assert proto != ACME_TLS
    assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
    # acme-tls/1 is never announced to HTTP clients
    assert b"acme-tls" not in answer.lower()


def test_acme_tls_for_a_name_with_nothing_published(responder):
    # a managed name without an open challenge, and a name not managed even
    # though something lies in the store under it: no challenge certificate
    h = responder
    for name in (OTHER, FOREIGN):
        try:
            leaf, proto, _ = handshake(h, name, [ACME_TLS])
        except ssl.SSLError:
            continue                  # refused: no protocol in common
        assert proto != ACME_TLS, name
        with pytest.raises(x509.ExtensionNotFound):
            leaf.extensions.get_extension_for_oid(ACME_IDENTIFIER)


def test_an_answer_the_store_refuses_is_not_presented_and_said(responder):
    h = responder
    mark = h.mark()
    try:
        leaf, proto, _ = handshake(h, UNSAFE, [ACME_TLS])
        assert proto != ACME_TLS
        with pytest.raises(x509.ExtensionNotFound):
            leaf.extensions.get_extension_for_oid(ACME_IDENTIFIER)
    except ssl.SSLError:
        pass                          # refused: no protocol in common
    line = h.wait_log("SACME10503", since=mark)
    assert UNSAFE in line and "challenges/" in line, line


def test_plain_http_on_the_https_port_still_gets_its_error_page(responder):
    # the responder completes handshakes early; mod_ssl's answer to plain
    # HTTP on the TLS port must still come through
    with socket.create_connection((LOOPBACK, responder.https_port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: alpn.test\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 400"), data[:200]


# --- the whole way, with Pebble validating over TLS -------------------------------

def alpn_httpd(proxy, domains, more=()):
    """An httpd whose HTTPS port is Pebble's tlsPort and whose plain-HTTP port
    is not Pebble's httpPort (nobody listens there): only tls-alpn-01 can
    prove the names. SacmeServer is the proxy in front of Pebble."""
    pebble = proxy.pebble
    h = Httpd(ssl=True, https_port=pebble.tls_port, log_level="info ssl:warn sacme:debug",
              vhosts=[Vhost(d) for d in domains])
    assert h.port != pebble.http_port
    kw = {}
    pebble_defaults(pebble, h, kw)
    lines = sacme_lines(pebble, domains, more=list(more), **kw)
    h.configure(sacme=[("SacmeServer %s" % proxy.directory_url)
                       if l.startswith("SacmeServer ") else l for l in lines])
    return h


def published(h, names):
    return [n for n in names if os.path.exists(h.store("challenges", n, ALPN_FILE))]


def assert_issued_over_alpn(h, pebble, names, tmp_path):
    """The certificate Pebble issued is served for every name; Pebble's
    validation handshakes were answered for each; no answer is left."""
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    leaves = assert_served_verified(h, names, root_file(pebble, str(tmp_path)))
    assert pebble.cert_status(certcheck.serial_hex(leaves[0])).get("Status") == "Valid"
    for n in names:
        assert any(n in l for l in h.log_lines(ANSWERED)), "%s: no %s" % (n, ANSWERED)
    assert published(h, names) == []


def test_issued_over_tls_alpn_01_and_served(httpds, tmp_path):
    names = names_for("alpn-issue")
    pebble = faults.exact_pebble()
    # The driver's answer to the first challenge is held before Pebble sees
    # it: every challenge certificate is published, none validated yet.
    proxy = QuirkProxy(pebble, quirks={"hold": ("/chalZ/", "request")}).start()
    try:
        h = httpds.add(alpn_httpd(proxy, [names], more=["SacmeChallenge tls-alpn-01"]))
        h.start()
        assert proxy.wait_held(LIMIT), "the driver never answered a challenge"
        assert published(h, names) == names
        _, web_gid = user_ids(USER)
        for n in names:
            st = os.stat(h.store("challenges", n, ALPN_FILE))
            assert (st.st_mode & 0o7777, st.st_gid) == (0o640, web_gid), n
            # what the CA will see: the certificate the driver made for n
            leaf, proto, _ = handshake(h, n, [ACME_TLS])
            assert proto == ACME_TLS
            assert leaf.extensions.get_extension_for_class(
                x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == [n]
            assert leaf.extensions.get_extension_for_oid(ACME_IDENTIFIER).critical
            # and an ordinary client on the same port meanwhile: the fallback
            for alpn in (None, ["http/1.1"]):
                plain, proto, answer = handshake(h, n, alpn, request=True)
                assert plain != leaf and is_fallback(plain), plain.subject
                assert answer.startswith(b"HTTP/1.1 503"), answer[:100]
        proxy.release(deliver=True)

        assert_issued_over_alpn(h, pebble, names, tmp_path)
    finally:
        proxy.stop()
        pebble.stop()


def test_default_behind_port_forwarding_to_https_only_is_tls_alpn_01(httpds, tmp_path):
    # No SacmeChallenge: the CA's port 443 arrives at httpd's HTTPS port
    # (SacmePortMap), nothing reaches a plain-HTTP port of httpd's, so the
    # domain answers tls-alpn-01, and Pebble's validation over TLS succeeds.
    names = names_for("alpn-default")
    pebble = faults.exact_pebble()
    proxy = QuirkProxy(pebble).start()
    try:
        h = httpds.add(alpn_httpd(proxy, [names],
                                  more=["SacmePortMap https:%d" % pebble.tls_port]))
        h.start()
        assert_issued_over_alpn(h, pebble, names, tmp_path)
    finally:
        proxy.stop()
        pebble.stop()
