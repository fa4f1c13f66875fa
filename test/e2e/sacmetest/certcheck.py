"""Checks on what sacmectl writes, with the `cryptography` package.

Written against cryptography 38 (Debian 12): no Certificate.verify_directly_
issued_by there, so signatures are checked by hand.
"""

import datetime
import os
import re
import stat

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, ed448, padding, rsa
from cryptography.x509.oid import NameOID

_PEM_RE = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----",
                     re.DOTALL)


class CertCheckError(AssertionError):
    pass


def load_pem_chain(data_or_path):
    """All certificates of a PEM bundle (bytes, str or a file path), in order."""
    data = data_or_path
    if isinstance(data, str) and "-----BEGIN" not in data:
        with open(data, "rb") as f:
            data = f.read()
    if isinstance(data, str):
        data = data.encode("ascii")
    blocks = _PEM_RE.findall(data)
    return [x509.load_pem_x509_certificate(b + b"\n") for b in blocks]


def load_cert(data_or_path):
    certs = load_pem_chain(data_or_path)
    if len(certs) != 1:
        raise CertCheckError("expected exactly one certificate, found %d" % len(certs))
    return certs[0]


def load_private_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def signed_by(cert, issuer):
    """True if issuer's key made cert's signature and the names chain."""
    if cert.issuer != issuer.subject:
        return False
    key = issuer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes,
                       padding.PKCS1v15(), cert.signature_hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes,
                       ec.ECDSA(cert.signature_hash_algorithm))
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _is_ca(cert):
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def verify_chain(leaf, intermediates, root, at=None):
    """Verify leaf -> intermediates... -> root.

    intermediates is the list in chain.pem order (issuer of the previous one
    first); a copy of the root at its end is tolerated.  Every signature,
    every issuer/subject link, CA flags and validity at `at` (default now)
    are checked.  Raises CertCheckError with what is wrong."""
    at = at or datetime.datetime.utcnow()
    chain = list(intermediates)
    if chain and chain[-1] == root:
        chain = chain[:-1]
    path = [leaf] + chain + [root]
    for i, cert in enumerate(path):
        if not (cert.not_valid_before <= at <= cert.not_valid_after):
            raise CertCheckError("certificate %d (%s) is not valid at %s (%s .. %s)"
                                 % (i, cert.subject.rfc4514_string(), at,
                                    cert.not_valid_before, cert.not_valid_after))
    for i in range(len(path) - 1):
        cert, issuer = path[i], path[i + 1]
        if not _is_ca(issuer):
            raise CertCheckError("%s is not a CA certificate" % issuer.subject.rfc4514_string())
        if not signed_by(cert, issuer):
            raise CertCheckError("%s is not signed by %s"
                                 % (cert.subject.rfc4514_string(),
                                    issuer.subject.rfc4514_string()))
    if not signed_by(root, root):
        raise CertCheckError("the root %s is not self-signed" % root.subject.rfc4514_string())
    if _is_ca(leaf):
        raise CertCheckError("the leaf is a CA certificate")
    return True


def dns_sans(cert):
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return ext.value.get_values_for_type(x509.DNSName)


def common_name(cert):
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return attrs[0].value if attrs else None


def key_type(key):
    """'p256', 'p384', 'p521', 'rsa2048', 'rsa3072', 'rsa4096', 'ed25519'...
    for a public or private key (same names as sacmectl --key-type)."""
    if isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
        return "rsa%d" % key.key_size
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        return {"secp256r1": "p256", "secp384r1": "p384",
                "secp521r1": "p521"}.get(key.curve.name, key.curve.name)
    if isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return "ed25519"
    return type(key).__name__


def _public_der(key):
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def key_matches(private_key, cert):
    return _public_der(private_key.public_key()) == _public_der(cert.public_key())


def file_mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def serial_hex(cert):
    return "%x" % cert.serial_number


def check_issued(out_dir, names, root_pem, key_type_expected=None):
    """Everything a user depends on in sacmectl's --out directory.

    Returns (leaf, chain) after checking: the four files exist; privkey.pem
    is mode 0600 and matches the leaf; cert.pem is one certificate;
    fullchain.pem = cert.pem + chain.pem; the chain verifies up to root_pem;
    the SANs are exactly `names`; the first name is the CN; the key type (if
    given)."""
    files = {n: os.path.join(out_dir, n + ".pem")
             for n in ("privkey", "cert", "chain", "fullchain")}
    for name, path in files.items():
        if not os.path.isfile(path):
            raise CertCheckError("%s missing: %s" % (name, path))
    mode = file_mode(files["privkey"])
    if mode != 0o600:
        raise CertCheckError("privkey.pem has mode %o, not 600" % mode)
    leaf = load_cert(files["cert"])
    chain = load_pem_chain(files["chain"])
    if not chain:
        raise CertCheckError("chain.pem holds no certificate")
    full = load_pem_chain(files["fullchain"])
    if full != [leaf] + chain:
        raise CertCheckError("fullchain.pem is not cert.pem followed by chain.pem")
    root = load_cert(root_pem)
    verify_chain(leaf, chain, root)
    if sorted(dns_sans(leaf)) != sorted(names):
        raise CertCheckError("SANs %r != requested %r" % (dns_sans(leaf), list(names)))
    if common_name(leaf) != names[0]:
        raise CertCheckError("CN %r is not the first name %r" % (common_name(leaf), names[0]))
    key = load_private_key(files["privkey"])
    if not key_matches(key, leaf):
        raise CertCheckError("privkey.pem does not match the leaf certificate")
    if key_type_expected and key_type(leaf.public_key()) != key_type_expected:
        raise CertCheckError("leaf key is %s, not %s"
                             % (key_type(leaf.public_key()), key_type_expected))
    return leaf, chain
