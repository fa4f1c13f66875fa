"""Issuing certificates from a real ACME server (Pebble, EAB required,
authorizations pre-validated) with sacmectl."""

import os

import pytest

from sacmetest import certcheck, expect, sacmectl
from sacmetest.pebble import eab_key_encodings


def test_register_with_eab_and_issue_three_names(pebble, dirs):
    names = ["www.issue-a.test", "issue-a.test", "api.issue-a.test"]
    res = sacmectl.issue(pebble, kid="kid-1", account_dir=dirs.account,
                         out=dirs.out, names=names)
    leaf, report = expect.issued_ok(res, pebble, names, dirs.out, dirs.account,
                                    account_status="registered")
    # the order of the SANs is the order given; the first is the subject CN
    assert certcheck.common_name(leaf) == "www.issue-a.test"
    assert report["certificate"]["sans"][0] == "www.issue-a.test"
    # the account URL is one Pebble knows as an account
    assert "/my-account/" in report["account"]["url"]
    # the EAB MAC key is never stored nor printed
    secrets = set(eab_key_encodings(pebble.eab["kid-1"]).values())
    for d in (dirs.account, dirs.out):
        for name in os.listdir(d):
            with open(os.path.join(d, name), "rb") as f:
                data = f.read().decode("latin-1")
            for s in secrets:
                assert s not in data, "the EAB MAC key is stored in %s" % name
    for s in secrets:
        assert s not in res.stdout and s not in res.stderr, "the EAB MAC key is printed"


def test_second_run_finds_account_without_eab(pebble, dirs):
    first_names = ["first.reuse.test", "first2.reuse.test", "first3.reuse.test"]
    res1 = sacmectl.issue(pebble, kid="kid-2", account_dir=dirs.account,
                          out=dirs.out, names=first_names)
    _, report1 = expect.issued_ok(res1, pebble, first_names, dirs.out, dirs.account,
                                  account_status="registered")
    with open(os.path.join(dirs.account, "account.key"), "rb") as f:
        key_before = f.read()

    new_accounts_before = pebble.request_count("POST", pebble.directory()["newAccount"])
    out2 = dirs.out + "-2"
    second_names = ["second.reuse.test", "second2.reuse.test", "second3.reuse.test"]
    # no --eab-kid / --eab-hmac at all: the stored account is enough
    res2 = sacmectl.issue(pebble, kid=None, account_dir=dirs.account,
                          out=out2, names=second_names)
    _, report2 = expect.issued_ok(res2, pebble, second_names, out2, dirs.account,
                                  account_status="found")
    assert report2["account"]["url"] == report1["account"]["url"]
    with open(os.path.join(dirs.account, "account.key"), "rb") as f:
        assert f.read() == key_before, "the account key changed"
    # no new account was created at the CA: the same URL and key above, and
    # only the onlyReturnExisting lookup went to newAccount. This Pebble
    # rejects 5% of nonces on purpose, and a request refused with badNonce
    # is sent again (at most SACME_MAX_NONCE_RETRIES, 5, times): those
    # repeats are the same lookup.
    new_accounts_after = pebble.request_count("POST", pebble.directory()["newAccount"])
    assert new_accounts_after - new_accounts_before <= 1 + 5


@pytest.mark.parametrize("key_type", ["rsa2048", "p384", "p256"])
def test_certificate_key_types(pebble, dirs, key_type):
    names = ["%s.keytype.test" % key_type, "www.%s.keytype.test" % key_type,
             "mail.%s.keytype.test" % key_type]
    res = sacmectl.issue(pebble, kid="kid-3", account_dir=dirs.account,
                         out=dirs.out, names=names, key_type=key_type)
    leaf, _ = expect.issued_ok(res, pebble, names, dirs.out, dirs.account,
                               key_type=key_type)
    assert certcheck.key_type(leaf.public_key()) == key_type
    key = certcheck.load_private_key(os.path.join(dirs.out, "privkey.pem"))
    assert certcheck.key_type(key) == key_type


def test_human_readable_output(pebble, dirs):
    """Without --json the report is for people: it names the account, the
    certificate's names and where the files are; stdout is not JSON."""
    names = ["human.test", "www.human.test", "static.human.test"]
    res = sacmectl.issue(pebble, kid="kid-1", account_dir=dirs.account,
                         out=dirs.out, names=names, json_output=False)
    assert res.rc == 0, res.describe()
    assert res.json is None, res.describe()
    text = res.stdout + res.stderr
    for n in names:
        assert n in text, res.describe()
    assert os.path.join(dirs.out, "fullchain.pem") in text, res.describe()
    certcheck.check_issued(dirs.out, names, pebble.root_pem())


# --- http-01 through a web server's DocumentRoot ----------------------------------

def test_webroot_answers_real_http01_validation(http01_pebble, dirs):
    """Pebble validates for real here: it fetches each token from a plain
    httpd (no mod_sacme configured) whose DocumentRoot is --webroot."""
    from sacmetest.httpd import Httpd
    names = ["webroot.test", "www.webroot.test"]
    h = Httpd(http_port=http01_pebble.http_port, load_sacme=False)
    with h:
        r = sacmectl.issue(http01_pebble, kid="kid-1", account_dir=dirs.account,
                           out=dirs.out, names=names, webroot=h.htdocs)
        assert r.rc == sacmectl.EXIT_OK, r.describe()
        leaf = certcheck.load_pem_chain(os.path.join(dirs.out, "fullchain.pem"))[0]
        assert sorted(certcheck.dns_sans(leaf)) == sorted(names)
        # the answers are gone once the CA has checked them
        published = os.path.join(h.htdocs, ".well-known", "acme-challenge")
        assert os.path.isdir(published)
        assert os.listdir(published) == []


def test_http01_without_a_webroot_is_refused(pebble, dirs):
    """Nothing would publish the answer: said at once, nothing sent."""
    r = sacmectl.run(sacmectl.issue_args(pebble, kid="kid-1", account_dir=dirs.account,
                                         out=dirs.out, names=["nowebroot.test"],
                                         webroot=False))
    assert r.rc == sacmectl.EXIT_USAGE, r.describe()
    assert "--webroot" in r.stderr and "--challenge none" in r.stderr, r.stderr
    assert not os.path.exists(dirs.account), "an account was set up anyway"
