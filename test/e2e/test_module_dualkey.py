"""Dual keys: `SacmeKeyType rsa2048 p256` gets one certificate per key type
for a domain from the real Pebble, and httpd serves both on the same vhost:
a client that only speaks RSA gets the RSA certificate, one that only speaks
ECDSA gets the P-256 one.  The status (sacmectl show) lists both."""

import os
import socket
import ssl
import time

from cryptography import x509

from sacmetest import certcheck
from sacmetest.httpd import LOOPBACK, is_fallback
from sacmetest.module import ISSUE_LIMIT, STAGED, live_chain, make_httpd, names_for
from sacmetest.sacmectl import EXIT_OK, serial_int, store_cmd

# TLS 1.2 only, so the cipher suite alone decides which certificate the
# server must present (TLS 1.3 suites do not name the signature algorithm).
RSA_ONLY = "ECDHE-RSA-AES128-GCM-SHA256"
ECDSA_ONLY = "ECDHE-ECDSA-AES128-GCM-SHA256"


def served_with(h, sni, ciphers):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(ciphers)
    with socket.create_connection((LOOPBACK, h.https_port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as s:
            return x509.load_der_x509_certificate(s.getpeercert(binary_form=True))


def wait_both(h, sni, limit):
    """Until an RSA-only and an ECDSA-only client each get a certificate
    of their kind (not the fallback, which is of one kind only)."""
    deadline = time.time() + limit
    last = None
    while time.time() < deadline:
        try:
            rsa = served_with(h, sni, RSA_ONLY)
            ec = served_with(h, sni, ECDSA_ONLY)
            kinds = (certcheck.key_type(rsa.public_key()),
                     certcheck.key_type(ec.public_key()))
            if kinds == ("rsa2048", "p256") and not (is_fallback(rsa) or is_fallback(ec)):
                return rsa, ec
            last = kinds
        except (OSError, ssl.SSLError) as e:
            last = repr(e)
        time.sleep(0.5)
    raise AssertionError("no RSA and ECDSA certificates for %s within %ss (last: %r)\n%s"
                         % (sni, limit, last, h.log()[-3000:]))


def test_one_certificate_per_key_type_both_served(http01_pebble, httpds):
    pebble = http01_pebble
    names = names_for("dual")
    h = httpds.add(make_httpd(pebble, [names], more=["SacmeKeyType rsa2048 p256"]))
    h.start()
    rsa, ec = wait_both(h, names[0], ISSUE_LIMIT)

    # two certificates, each for every configured name, from Pebble
    assert rsa.serial_number != ec.serial_number
    for leaf in (rsa, ec):
        assert sorted(certcheck.dns_sans(leaf)) == sorted(names)
        status = pebble.cert_status(certcheck.serial_hex(leaf))
        assert status.get("Status") == "Valid", status

    # each is the live set of its key type in the store, with its own key
    unit = names[0] + "+p256"
    assert live_chain(h, names[0])[0] == rsa
    assert live_chain(h, unit)[0] == ec
    for name, leaf in ((names[0], rsa), (unit, ec)):
        keyfile = h.store("domains", name, "privkey.pem")
        assert certcheck.file_mode(keyfile) == 0o600
        assert certcheck.key_matches(certcheck.load_private_key(keyfile), leaf)

    # every name of the domain gets both
    for sni in names[1:]:
        assert served_with(h, sni, RSA_ONLY).serial_number == rsa.serial_number
        assert served_with(h, sni, ECDSA_ONLY).serial_number == ec.serial_number

    # both orders were driven and staged, each logged with its unit's name
    staged = h.log_lines(STAGED)
    assert any(l.split("SACME10023: ")[-1].startswith(names[0] + ": ") for l in staged), staged
    assert any(unit + ":" in l for l in staged), staged

    # the status shows one domain with both key types and both serials
    res = store_cmd(h, "show", names[0])
    assert res.rc == EXIT_OK, res.describe()
    d = res.json
    assert d["name"] == names[0]
    assert d["key-types"] == ["rsa2048", "p256"]
    shown = {c["key-type"]: serial_int(c["serial"]) for c in d["certificates"]}
    assert shown == {"rsa2048": rsa.serial_number, "p256": ec.serial_number}, d
    assert d["state"] == "ok", d
    listed = store_cmd(h, "list")
    assert [x["name"] for x in listed.json["domains"]] == [names[0]], listed.stdout


def test_force_renewal_renews_both_key_types(http01_pebble, httpds):
    pebble = http01_pebble
    names = names_for("dualrenew")
    h = httpds.add(make_httpd(pebble, [names], more=["SacmeKeyType p256 rsa2048"]))
    h.start()
    rsa, ec = wait_both(h, names[0], ISSUE_LIMIT)
    unit = names[0] + "+rsa2048"
    assert live_chain(h, names[0])[0] == ec, "the first type names the domain's own set"
    assert live_chain(h, unit)[0] == rsa

    res = store_cmd(h, "renew", "--force", names[0])
    assert res.rc == EXIT_OK, res.describe()
    for name in (names[0], unit):
        assert os.path.exists(h.store("requests", name + ".json")) or \
            os.path.exists(h.store("staging", name, "fullchain.pem")) or \
            live_chain(h, name)[0].serial_number not in (rsa.serial_number,
                                                         ec.serial_number), name

    deadline = time.time() + ISSUE_LIMIT
    while time.time() < deadline:
        now_rsa, now_ec = served_with(h, names[0], RSA_ONLY), served_with(h, names[0], ECDSA_ONLY)
        if now_rsa.serial_number != rsa.serial_number and now_ec.serial_number != ec.serial_number:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("both certificates were not replaced:\n" + h.log()[-3000:])
    assert certcheck.key_type(now_rsa.public_key()) == "rsa2048"
    assert certcheck.key_type(now_ec.public_key()) == "p256"
    assert not os.path.exists(h.store("requests", names[0] + ".json"))
    assert not os.path.exists(h.store("requests", unit + ".json"))
