"""Account key types: the account is registered (with EAB) and used to
sign every request with RS256 / ES256 / ES384."""

import os

import pytest

from sacmetest import certcheck, expect, sacmectl


@pytest.mark.parametrize("account_key_type", ["rsa2048", "p384", "p256"])
def test_account_key_types(pebble, dirs, account_key_type):
    names = ["%s.acctkey.test" % account_key_type,
             "www.%s.acctkey.test" % account_key_type,
             "x.%s.acctkey.test" % account_key_type]
    res = sacmectl.issue(pebble, kid="kid-1", account_dir=dirs.account, out=dirs.out,
                         names=names, account_key_type=account_key_type)
    expect.issued_ok(res, pebble, names, dirs.out, dirs.account,
                     account_status="registered")
    key = certcheck.load_private_key(os.path.join(dirs.account, "account.key"))
    assert certcheck.key_type(key) == account_key_type

    # the stored account signs the next order too (found, not re-registered)
    out2 = dirs.out + "-2"
    names2 = ["again." + n for n in names]
    res2 = sacmectl.issue(pebble, kid=None, account_dir=dirs.account, out=out2,
                          names=names2, account_key_type=account_key_type)
    _, report2 = expect.issued_ok(res2, pebble, names2, out2, dirs.account,
                                  account_status="found")
    assert report2["account"]["url"] == res.json["account"]["url"]
