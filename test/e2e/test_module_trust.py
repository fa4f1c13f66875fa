"""Only certificates that chain to a trust anchor go into service: the
system's CA certificates, plus the roots of SacmeTrustedRoots (here:
Pebble's, which Pebble makes anew at every start and no system bundle
holds).

- Without SacmeTrustedRoots, the driver does not stage what Pebble issues:
  the parent would refuse it at every restart and the driver order again
  in a loop.  It records one error, with an input error's backoff, names
  the directive, and keeps the order and the key, so that once the admin
  names the root the very same order is fetched again.
- Code running as the httpd User can write the staging area: a self-made
  chain (a throwaway CA and a leaf for the managed names, well formed in
  every other respect) staged there is refused at the restart, and the
  certificate in service stays."""

import datetime
import glob
import json
import os
import subprocess
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sacmetest import certcheck
from sacmetest.httpd import USER, serial_in, user_ids
from sacmetest.module import (ACTIVATED, ERRORED, ISSUE_LIMIT, LOG_LIMIT, ORDERING, REFUSED,
                              RESUMING, STAGED, assert_served_verified, live_chain,
                              make_httpd, names_for, order_url_in, reconfigure, root_file,
                              wait_job)
from sacmetest.sacmectl import EXIT_OK, serial_int, store_cmd

HOUR = 3600


def _orders_of(h, name):
    """The orders this httpd's driver made or resumed for name (SACME10011
    names each one's URL). Counted from our log, not from the shared
    Pebble's, where a previous test's server may still be finishing."""
    return {order_url_in(l) for l in h.log_lines("SACME10011") if name in l} - {None}


def _lines_for(h, tag, name, since=0):
    return [l for l in h.log_lines(tag, since) if name in l]


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def test_chain_to_an_unknown_root_is_not_staged_nor_ordered_again(http01_pebble, httpds,
                                                                  tmp_path):
    pebble = http01_pebble
    names = names_for("trust-unknown-root")
    h = httpds.add(make_httpd(pebble, [names], trusted_roots=False))
    h.start()

    # one error, naming the directive the admin needs
    h._wait(lambda: _lines_for(h, ERRORED, names[0]), "the error for %s" % names[0],
            ISSUE_LIMIT)
    line = _lines_for(h, ERRORED, names[0])[0]
    assert ":error]" in line, line
    assert "not staged" in line and "does not reach a trusted root" in line, line
    assert "SacmeTrustedRoots" in line, "the log line does not name SacmeTrustedRoots: " + line
    failed_at = time.time()

    # nothing staged; the order and the certificate key are kept
    staging = h.store("staging", names[0])
    assert not os.path.exists(os.path.join(staging, "fullchain.pem"))
    assert os.path.isfile(os.path.join(staging, "privkey.pem")), "the key was lost"
    order_url = order_url_in(open(os.path.join(staging, "order.json")).read())
    assert order_url, "the order was not kept"

    # the next attempt is an input error's: an hour away, not a minute
    job = _read_json(wait_job(h, names[0]))
    assert job["errors"] == 1, job
    assert job["next-attempt"] >= failed_at + HOUR - 120, \
        "next attempt in %ds only" % (job["next-attempt"] - failed_at)
    assert "SacmeTrustedRoots" in json.dumps(job["last"]), job

    # no loop: one order, and the fallback keeps being served. A driver
    # that does not retry logs nothing, so only a wait can show it; 6 s are
    # many of its 200 ms scheduling rounds (a retry that ignored job.json's
    # hour would come in one of them).
    time.sleep(6)
    assert len(_lines_for(h, ORDERING, names[0])) == 1, h.log_lines(ORDERING)
    assert len(_orders_of(h, names[0])) == 1, _orders_of(h, names[0])
    assert not h.log_lines(STAGED) and not h.log_lines(ACTIVATED)
    assert len(_lines_for(h, ERRORED, names[0])) == 1, h.log_lines(ERRORED)
    r = h.tls_get(names[0])
    assert r.is_fallback and r.status == 503, r.describe()

    # the admin names Pebble's root and asks again: the same order is
    # fetched (nothing was lost), activated and served
    reconfigure(h, pebble, [names])
    h.graceful()
    mark = h.mark()
    res = store_cmd(h, "renew", "--force", names[0])
    assert res.rc == EXIT_OK, res.describe()
    resumed = h.wait_log(RESUMING, since=mark, limit=ISSUE_LIMIT)
    assert order_url in resumed, resumed
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    assert_served_verified(h, names, root_file(pebble, str(tmp_path)))
    assert _orders_of(h, names[0]) == {order_url}, "the order was made again"


# --- the attacker: code running as the httpd User --------------------------------------

def _foreign_set(names):
    """A throwaway CA and a leaf for names signed by it, valid now, and the
    leaf's key: (key PEM, chain PEM, the leaf's serial)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Totally Legit Root CA")])
    ca = (x509.CertificateBuilder()
          .subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=365))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(
              digital_signature=True, content_commitment=False, key_encipherment=False,
              data_encipherment=False, key_agreement=False, key_cert_sign=True,
              crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    chain_pem = (leaf.public_bytes(serialization.Encoding.PEM)
                 + ca.public_bytes(serialization.Encoding.PEM)).decode()
    return key_pem, chain_pem, leaf.serial_number


# Run as the User: writes the set the way the driver does, key (0600) first.
STAGE_AS_USER = r"""
import json, os, sys
d = sys.argv[1]
s = json.load(sys.stdin)
for name, mode in (("privkey.pem", 0o600), ("fullchain.pem", 0o644)):
    fd = os.open(os.path.join(d, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as f:
        f.write(s[name])
"""


def _stage_as_user(directory, key_pem, chain_pem):
    subprocess.run(["setpriv", "--reuid=" + USER, "--regid=" + USER, "--clear-groups",
                    "/usr/bin/python3", "-c", STAGE_AS_USER, directory],
                   input=json.dumps({"privkey.pem": key_pem, "fullchain.pem": chain_pem}),
                   text=True, cwd="/", check=True, timeout=30)


def test_self_made_chain_staged_by_the_user_is_refused(http01_pebble, httpds, tmp_path):
    pebble = http01_pebble
    names = names_for("trust-attacker")
    h = httpds.add(make_httpd(pebble, [names], auto_restart=False))
    h.start()
    h._wait(lambda: _lines_for(h, STAGED, names[0]), "%s staged" % names[0], ISSUE_LIMIT)
    h.graceful()
    h.wait_managed_cert(names[0], limit=LOG_LIMIT)
    root = root_file(pebble, str(tmp_path))
    serial1 = assert_served_verified(h, names, root)[0].serial_number

    # the attacker's set: right names, matching key, valid now, each
    # certificate issued by the next; only the CA is nobody's
    key_pem, chain_pem, foreign = _foreign_set(names)
    staging = h.store("staging", names[0])
    _stage_as_user(staging, key_pem, chain_pem)
    uid, _ = user_ids(USER)
    for f in ("privkey.pem", "fullchain.pem"):
        assert os.stat(os.path.join(staging, f)).st_uid == uid, f

    mark = h.mark()
    h.graceful()
    refused = h.wait_log(REFUSED, since=mark, limit=LOG_LIMIT)
    assert names[0] in refused and ":error]" in refused, refused
    assert "does not reach a trusted root" in refused, refused
    assert "the current certificate stays in service" in refused, refused
    assert not h.log_lines(ACTIVATED, since=mark), "the self-made set was activated"

    # the certificate in service stays, served and in the store
    leaf = assert_served_verified(h, names, root)[0]
    assert leaf.serial_number == serial1
    assert live_chain(h, names[0])[0].serial_number == serial1
    assert not os.path.exists(os.path.join(staging, "fullchain.pem"))
    kept = glob.glob(h.store("archive", names[0], "refused-*", "fullchain.pem"))
    assert len(kept) == 1, "the refused set is not kept for inspection"
    assert certcheck.load_pem_chain(kept[0])[0].serial_number == foreign

    # sacmectl does not report the foreign certificate as live
    res = store_cmd(h, "show", names[0])
    assert res.rc == EXIT_OK, res.describe()
    serials = [serial_int(c["serial"]) for c in res.json["certificates"]]
    assert serials == [serial1], res.describe()
    assert ("%X" % foreign) not in res.stdout.upper().replace(":", ""), res.describe()
    assert serial_in(h.log_lines(ACTIVATED)[-1]) == serial1
