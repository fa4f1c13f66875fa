"""Helpers of the ARI tests (RFC 9773): a certificate's certID, and a
revocation at the CA by someone else than mod_sacme (the incident drill),
written here with the account key from the store rather than with the
engine under test."""

import json
import os
import ssl
import urllib.error
import urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from .quirkproxy import _b64url, ari_cert_id

__all__ = ["ari_cert_id", "revoke_at_ca"]


def revoke_at_ca(directory_url, ca_file, account_dir, cert, reason=1):
    """revokeCert (RFC 8555 §7.6) of cert (an x509.Certificate) at the CA of
    directory_url, signed with the account of account_dir (account.json's
    URL as kid, account.key an EC key).  Returns the HTTP status."""
    with open(os.path.join(account_dir, "account.json")) as f:
        kid = json.load(f)["url"]
    with open(os.path.join(account_dir, "account.key"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    size = (key.curve.key_size + 7) // 8
    alg, digest = {32: ("ES256", hashes.SHA256()), 48: ("ES384", hashes.SHA384())}[size]
    ctx = ssl.create_default_context(cafile=ca_file)
    with urllib.request.urlopen(directory_url, context=ctx, timeout=10) as r:
        directory = json.loads(r.read())
    payload = _b64url(json.dumps({
        "certificate": _b64url(cert.public_bytes(serialization.Encoding.DER)),
        "reason": reason}).encode())
    for _ in range(10):   # Pebble rejects some nonces on purpose (badNonce)
        head = urllib.request.Request(directory["newNonce"], method="HEAD")
        with urllib.request.urlopen(head, context=ctx, timeout=10) as r:
            nonce = r.headers["Replay-Nonce"]
        protected = _b64url(json.dumps({"alg": alg, "kid": kid, "nonce": nonce,
                                        "url": directory["revokeCert"]}).encode())
        der = key.sign((protected + "." + payload).encode(), ec.ECDSA(digest))
        r_, s_ = decode_dss_signature(der)
        sig = r_.to_bytes(size, "big") + s_.to_bytes(size, "big")
        body = json.dumps({"protected": protected, "payload": payload,
                           "signature": _b64url(sig)}).encode()
        req = urllib.request.Request(directory["revokeCert"], data=body, method="POST",
                                     headers={"Content-Type": "application/jose+json"})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            answer = json.loads(e.read() or b"{}")
            if answer.get("type", "").endswith(":badNonce"):
                continue
            return e.code
    raise AssertionError("the CA kept refusing the nonces")
