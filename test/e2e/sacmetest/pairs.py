"""Certificate and key pairs made by the tests, for what Pebble cannot
issue: certificates that have aged (Pebble's start now), and certificates
from elsewhere (SacmeCertificateFile)."""

import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def aged_pair(names, days_left=10, lifetime=90):
    """A self-signed P-256 certificate for names, valid for `lifetime` days
    of which days_left remain.  Returns (certificate, private key)."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    not_after = now + datetime.timedelta(days=days_left)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - datetime.timedelta(days=lifetime))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def write_pair(cert, key, cert_path, key_path):
    """The certificate as PEM, the key as PKCS#8 PEM with mode 0600."""
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


def serial_hex(cert):
    """The serial as the module writes it: upper-case hex, whole bytes."""
    text = "%X" % cert.serial_number
    return "0" * (len(text) % 2) + text
