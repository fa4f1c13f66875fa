"""Helpers of the ARI tests (RFC 9773): a certificate's certID, and a
revocation at the CA by someone else than mod_sacme (the incident drill),
signed here with the account key from the store rather than with the
engine under test."""

import json
import ssl
import urllib.request

from cryptography.hazmat.primitives import serialization

from .quirkproxy import _b64url, ari_cert_id
from .sacmectl import account_post

__all__ = ["ari_cert_id", "revoke_at_ca"]


def revoke_at_ca(directory_url, ca_file, account_dir, cert, reason=1):
    """revokeCert (RFC 8555 §7.6) of cert (an x509.Certificate) at the CA of
    directory_url, signed with the account of account_dir.  Returns the
    HTTP status."""
    ctx = ssl.create_default_context(cafile=ca_file)
    with urllib.request.urlopen(directory_url, context=ctx, timeout=10) as r:
        directory = json.loads(r.read())
    status, _ = account_post(directory["newNonce"], ca_file, account_dir,
                             directory["revokeCert"], {
                                 "certificate": _b64url(cert.public_bytes(
                                     serialization.Encoding.DER)),
                                 "reason": reason})
    return status
