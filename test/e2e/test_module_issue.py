"""From an empty store to a Pebble-issued certificate served by httpd, with
no manual step: mod_sacme orders over ACME with EAB, answers Pebble's real
HTTP-01 validation on the plain-HTTP port, stages the certificate and
triggers the graceful restart that activates it."""

import os

import pytest

from sacmetest import certcheck
from sacmetest.httpd import Vhost, serial_in
from sacmetest.module import (ACTIVATED, DRIVER_STARTED, ISSUE_LIMIT, ORDERING,
                              DRIVER_STAGED, RESTART_NEEDED, STAGED, assert_served_verified,
                              live_chain, make_httpd, names_for, root_file)


def _first_index(log, tag):
    i = log.find(tag)
    assert i >= 0, "%s is not in the error log" % tag
    return i


def test_from_empty_store_to_served_certificate(http01_pebble, httpds, tmp_path):
    pebble = http01_pebble
    names = names_for("first")
    h = httpds.add(make_httpd(pebble, [names]))
    assert not os.path.exists(h.store_dir), "the store is not empty before the start"
    h.start()

    # right after the start the certificate may or may not be there yet;
    # if the fallback is served, the vhost must answer 503 (the wrong-EAB
    # test checks the fallback deterministically)
    early = h.tls_get(names[0])
    if early.is_fallback:
        assert early.status == 503, "fallback certificate but: " + early.describe()

    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    root = root_file(pebble, str(tmp_path))
    leaves = assert_served_verified(h, names, root)   # 3 TLS connections with SNI
    leaf = leaves[0]
    assert certcheck.common_name(leaf) == names[0]

    # it is the certificate Pebble issued, kept as the live set in the store
    status = pebble.cert_status(certcheck.serial_hex(leaf))
    assert status.get("Status") == "Valid", status
    live = live_chain(h, names[0])
    assert live[0] == leaf, "the served leaf is not domains/<primary>/fullchain.pem"
    certcheck.verify_chain(live[0], live[1:], certcheck.load_cert(pebble.root_pem()))
    key = certcheck.load_private_key(h.store("domains", names[0], "privkey.pem"))
    assert certcheck.key_matches(key, leaf)
    assert certcheck.key_type(leaf.public_key()) == "p256", "default SacmeKeyType is p256"

    # the module told what it did, in this order, and restarted by itself
    # (the driver exits for the set it staged, the parent restarts at once)
    log = h.log()
    order = [_first_index(log, t) for t in (DRIVER_STARTED, ORDERING, STAGED,
                                            DRIVER_STAGED, ACTIVATED)]
    assert order == sorted(order), "log tags out of order: %r" % order
    ordering = h.log_lines(ORDERING)[0]
    assert names[0] in ordering
    for n in names:
        assert n in ordering, "the ordering line does not name %s: %s" % (n, ordering)
    assert serial_in(h.log_lines(STAGED)[0]) == leaf.serial_number
    assert serial_in(h.log_lines(ACTIVATED)[-1]) == leaf.serial_number
    assert not h.log_lines(RESTART_NEEDED), "SacmeAutoRestart is on by default"
    assert h.restarts() >= 2, "no graceful restart happened"

    # stopping httpd ends the driver as well
    driver = h.driver_pid()
    assert driver, "no driver.pid in the store"
    h.stop()
    assert h.leftover_driver is None, \
        "the driver process %d outlived httpd -k stop" % h.leftover_driver


def test_two_domains_on_two_vhosts(http01_pebble, httpds, tmp_path):
    pebble = http01_pebble
    alpha, beta = names_for("alpha"), names_for("beta")
    h = httpds.add(make_httpd(pebble, [alpha, beta], vhosts=[Vhost(alpha), Vhost(beta)]))
    h.start()
    h.wait_managed_cert(alpha[0], limit=ISSUE_LIMIT)
    h.wait_managed_cert(beta[0], limit=ISSUE_LIMIT)
    root = root_file(pebble, str(tmp_path))
    a = assert_served_verified(h, alpha, root)[0]
    b = assert_served_verified(h, beta, root)[0]
    assert a.serial_number != b.serial_number
    assert set(certcheck.dns_sans(a)) == set(alpha)
    assert set(certcheck.dns_sans(b)) == set(beta)
    assert certcheck.common_name(a) == alpha[0]
    assert certcheck.common_name(b) == beta[0]
    assert live_chain(h, alpha[0])[0] == a
    assert live_chain(h, beta[0])[0] == b
    # one ordering line per certificate
    assert any(alpha[0] in l for l in h.log_lines(ORDERING))
    assert any(beta[0] in l for l in h.log_lines(ORDERING))


@pytest.mark.parametrize("key_type", ["p384", "rsa2048"])
def test_key_type_of_the_served_certificate(http01_pebble, httpds, tmp_path, key_type):
    pebble = http01_pebble
    names = names_for("key-" + key_type)
    h = httpds.add(make_httpd(pebble, [names], more=["SacmeKeyType %s" % key_type]))
    h.start()
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    leaf = assert_served_verified(h, names, root_file(pebble, str(tmp_path)))[0]
    assert certcheck.key_type(leaf.public_key()) == key_type
    key = certcheck.load_private_key(h.store("domains", names[0], "privkey.pem"))
    assert certcheck.key_matches(key, leaf)
