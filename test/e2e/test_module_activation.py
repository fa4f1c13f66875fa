"""Activation at a graceful restart: with SacmeAutoRestart off the staged
certificate waits for the admin's `-k graceful`; a broken staged set is
refused there and the certificate in service stays."""

import datetime
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sacmetest import certcheck
from sacmetest.httpd import serial_in
from sacmetest.module import (ACTIVATED, DRIVER_STARTED, ISSUE_LIMIT, LOG_LIMIT, REFUSED,
                              RESTARTING, RESTART_NEEDED, STAGED, assert_served_verified,
                              live_chain, make_httpd, names_for, reconfigure, root_file,
                              staged_chain)
from sacmetest.sacmectl import EXIT_OK, store_cmd


def test_auto_restart_off_stages_and_waits_for_graceful(http01_pebble, httpds, tmp_path):
    pebble = http01_pebble
    names = names_for("manual")
    h = httpds.add(make_httpd(pebble, [names], auto_restart=False))
    h.start()

    need = h.wait_log(RESTART_NEEDED, limit=ISSUE_LIMIT)
    assert names[0] in need
    staged_line = h.wait_log(STAGED)
    assert names[0] in staged_line
    for f in ("fullchain.pem", "privkey.pem"):
        assert os.path.isfile(h.store("staging", names[0], f)), "staging/%s/%s missing" \
            % (names[0], f)
    staged = staged_chain(h, names[0])
    assert serial_in(staged_line) == staged[0].serial_number
    assert sorted(certcheck.dns_sans(staged[0])) == sorted(names)

    # nothing restarts by itself: the fallback is still served, with 503.
    # SACME10026 (waited for above) is logged by the very monitor round
    # that would have restarted httpd with SacmeAutoRestart on, so the
    # decision is already made; the next round is ten seconds away and
    # decides the same, so no wait here would show anything more.
    generations = h.restarts()
    assert generations == 1, "httpd restarted although SacmeAutoRestart is off"
    r = h.tls_get(names[0])
    assert r.is_fallback, "a certificate went live without a restart: " + r.describe()
    assert r.status == 503, r.describe()
    assert not h.log_lines(RESTARTING)
    assert not h.log_lines(ACTIVATED)

    # the admin's graceful restart activates it
    mark = h.mark()
    h.graceful()
    act = h.wait_log(ACTIVATED, since=mark, limit=LOG_LIMIT)
    assert names[0] in act
    assert serial_in(act) == staged[0].serial_number
    h.wait_managed_cert(names[0], limit=30)
    root = root_file(pebble, str(tmp_path))
    leaf = assert_served_verified(h, names, root)[0]
    assert leaf.serial_number == staged[0].serial_number
    assert live_chain(h, names[0])[0] == leaf
    assert not os.path.exists(h.store("staging", names[0], "fullchain.pem")), \
        "the activated set is still waiting in staging/"


# -- a broken staged set is refused ---------------------------------------------

def _cert(key, names, *, days_valid=(-1, 30)):
    now = datetime.datetime.utcnow()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    return (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=days_valid[0]))
            .not_valid_after(now + datetime.timedelta(days=days_valid[1]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                           critical=False)
            .sign(key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM))


def _staged_key(h, primary):
    return certcheck.load_private_key(h.store("staging", primary, "privkey.pem"))


def _garbage(h, names):
    return b"this is not a certificate\n"


def _other_names(h, names):
    # the staged key, so only the names are wrong
    return _cert(_staged_key(h, names[0]), ["other.example.test", "www.other.example.test"])


def _other_key(h, names):
    # the right names, but not the staged key
    return _cert(ec.generate_private_key(ec.SECP256R1()), names)


def _expired(h, names):
    return _cert(_staged_key(h, names[0]), names, days_valid=(-30, -1))


@pytest.mark.parametrize("corrupt", [_garbage, _other_names, _other_key, _expired],
                         ids=["garbage", "other-names", "key-mismatch", "expired"])
def test_broken_staged_certificate_is_refused(http01_pebble, httpds, tmp_path, corrupt):
    pebble = http01_pebble
    names = names_for("refuse-" + corrupt.__name__.strip("_").replace("_", "-"))
    h = httpds.add(make_httpd(pebble, [names]))
    h.start()
    first = h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    root = root_file(pebble, str(tmp_path))
    serial1 = assert_served_verified(h, names, root)[0].serial_number
    assert first.serial == serial1

    # renew (forced: no window renews a certificate this young) with
    # AutoRestart off, so the new set waits in staging/
    reconfigure(h, pebble, [names], auto_restart=False)
    mark = h.mark()
    h.graceful()
    h.wait_log(DRIVER_STARTED, since=mark, limit=LOG_LIMIT)
    res = store_cmd(h, "renew", "--force", names[0])
    assert res.rc == EXIT_OK, res.describe()
    h.wait_log(RESTART_NEEDED, since=mark, limit=ISSUE_LIMIT)
    staged_path = h.store("staging", names[0], "fullchain.pem")
    assert os.path.isfile(staged_path)
    assert staged_chain(h, names[0])[0].serial_number != serial1

    with open(staged_path, "wb") as f:
        f.write(corrupt(h, names))

    mark = h.mark()
    h.graceful()
    refused = h.wait_log(REFUSED, since=mark, limit=LOG_LIMIT)
    assert names[0] in refused
    assert ":error]" in refused, "SACME10028 is not logged at level error: " + refused
    assert not h.log_lines(ACTIVATED, since=mark), "a broken set was activated"

    # the certificate in service stays
    leaf = assert_served_verified(h, names, root)[0]
    assert leaf.serial_number == serial1
    assert live_chain(h, names[0])[0].serial_number == serial1
