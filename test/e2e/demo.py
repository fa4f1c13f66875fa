#!/usr/bin/python3
"""The README's demo: get a certificate from a real ACME server that
requires External Account Binding, the way a private CA does.

  1. start Pebble (RFC 8555 ACME server) on 127.0.0.1 with EAB required and
     domains pre-validated (PEBBLE_VA_ALWAYS_VALID=1);
  2. run `sacmectl issue` for three names with the EAB kid "kid-1" and its
     MAC key;
  3. check the result (chain up to Pebble's root, names, key, file modes)
     and print what was done;
  4. stop Pebble.

Exit status 0 only if every step worked.  The certificate files are kept
(SACME_DEMO_DIR, default: a new directory under /tmp) so they can be looked at.
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sacmetest import certcheck, expect, sacmectl  # noqa: E402
from sacmetest.pebble import Pebble, PebbleError  # noqa: E402

NAMES = ["www.example.test", "example.test", "shop.example.test"]
KID = "kid-1"


def main():
    exe = sacmectl.binary()
    if not os.access(exe, os.X_OK):
        print("demo: sacmectl is not built at %s (run test/build)" % exe, file=sys.stderr)
        return 1
    work = os.environ.get("SACME_DEMO_DIR") or tempfile.mkdtemp(prefix="sacme-demo-")
    account_dir = os.path.join(work, "account")
    out_dir = os.path.join(work, "certs")

    print("== mod_sacme demo: a certificate over ACME with External Account Binding ==")
    try:
        pebble = Pebble(always_valid=True).start()
    except PebbleError as e:
        print("demo: could not start Pebble: %s" % e, file=sys.stderr)
        return 1
    try:
        print("ACME server : Pebble %s (EAB required: %s)"
              % (pebble.directory_url, pebble.directory()["meta"].get("externalAccountRequired")))
        print("EAB         : kid %s with its HMAC key (not shown)" % KID)
        print("running     : sacmectl issue --server %s --eab-kid %s --eab-hmac *** "
              "--account-dir %s --out %s %s"
              % (pebble.directory_url, KID, account_dir, out_dir, " ".join(NAMES)))
        res = sacmectl.issue(pebble, kid=KID, account_dir=account_dir, out=out_dir,
                             names=NAMES)
        if res.rc != 0:
            print("demo: sacmectl failed\n" + res.describe(), file=sys.stderr)
            return 1
        try:
            leaf, report = expect.issued_ok(res, pebble, NAMES, out_dir, account_dir,
                                            account_status="registered")
        except AssertionError as e:
            print("demo: the result is not right: %s" % e, file=sys.stderr)
            return 1
        cert = report["certificate"]
        files = report["files"]
        print()
        print("done:")
        print("  account     registered with EAB: %s" % report["account"]["url"])
        print("  subject     %s" % leaf.subject.rfc4514_string())
        print("  SANs        %s" % ", ".join(certcheck.dns_sans(leaf)))
        print("  issuer      %s" % leaf.issuer.rfc4514_string())
        print("  serial      %s" % cert["serial"])
        print("  not after   %s" % cert["not-after"])
        print("  key         %s" % certcheck.key_type(leaf.public_key()))
        print("  verified    chain up to Pebble's root, names, private key matches, "
              "privkey.pem mode 0600")
        print("  files       %s (0600)" % files["privkey"])
        for name in ("cert", "chain", "fullchain"):
            print("              %s" % files[name])
        print("  account in  %s" % account_dir)
        return 0
    finally:
        pebble.stop()
        print("Pebble stopped.")


if __name__ == "__main__":
    sys.exit(main())
