"""External Account Binding against a real ACME server that requires it."""

import json
import os

import pytest

from conftest import LENIENT_KID
from sacmetest import expect, sacmectl
from sacmetest.pebble import random_mac_key


def _assert_secret_absent(res, *secrets):
    for s in secrets:
        for text, where in ((res.stdout, "stdout"), (res.stderr, "stderr")):
            assert s not in text, "the HMAC key appears on %s\n%s" % (where, res.describe())


def _assert_no_account_stored(account_dir):
    path = os.path.join(account_dir, "account.json")
    if os.path.exists(path):
        with open(path) as f:
            assert not json.load(f).get("url"), "an account URL was stored after a failure"


def test_wrong_hmac_is_refused_by_the_ca(pebble, dirs):
    wrong = random_mac_key()
    assert wrong != pebble.eab["kid-2"]
    res = sacmectl.issue(pebble, kid="kid-2", hmac=wrong, account_dir=dirs.account,
                         out=dirs.out, names=["wronghmac.test", "www.wronghmac.test",
                                              "x.wronghmac.test"])
    err = expect.failed(res, sacmectl.EXIT_CA_REFUSED)
    # the ACME problem Pebble answered with is named
    assert err.get("problem") == "urn:ietf:params:acme:error:unauthorized", res.describe()
    assert "external account binding" in (err.get("detail") or "").lower(), res.describe()
    assert "unauthorized" in res.stderr, res.describe()
    _assert_secret_absent(res, wrong, pebble.eab["kid-2"])
    _assert_no_account_stored(dirs.account)


def test_unknown_kid_is_refused_by_the_ca(pebble, dirs):
    res = sacmectl.issue(pebble, kid="kid-unknown", hmac=pebble.eab["kid-1"],
                         account_dir=dirs.account, out=dirs.out,
                         names=["unknownkid.test", "www.unknownkid.test", "x.unknownkid.test"])
    err = expect.failed(res, sacmectl.EXIT_CA_REFUSED)
    assert err.get("problem") == "urn:ietf:params:acme:error:unauthorized", res.describe()
    assert "kid" in (err.get("detail") or ""), res.describe()
    _assert_secret_absent(res, pebble.eab["kid-1"])


def test_missing_eab_is_a_configuration_error(pebble, dirs):
    new_account_url = pebble.directory()["newAccount"]
    before = pebble.request_count("POST", new_account_url)
    res = sacmectl.issue(pebble, kid=None, account_dir=dirs.account, out=dirs.out,
                         names=["noeab.test", "www.noeab.test", "x.noeab.test"])
    err = expect.failed(res, sacmectl.EXIT_CONFIG)
    msg = err["message"]
    low = msg.lower()
    assert "eab" in low or "external account" in low, res.describe()
    assert "requir" in low, res.describe()  # "required", "requires"
    assert "--eab-kid" in msg or "SacmeEAB" in msg, res.describe()
    # the CA's directory said EAB is required: no newAccount was sent
    assert pebble.request_count("POST", new_account_url) == before, \
        "sacmectl sent a newAccount request although it had no EAB to send"
    _assert_no_account_stored(dirs.account)


@pytest.mark.parametrize("bad", ["not base64 at all!", "%%%%"])
def test_badly_encoded_hmac_is_a_configuration_error(pebble, dirs, bad):
    res = sacmectl.issue(pebble, kid="kid-1", hmac=bad, account_dir=dirs.account,
                         out=dirs.out, names=["badenc.test", "www.badenc.test", "x.badenc.test"])
    expect.failed(res, sacmectl.EXIT_CONFIG)
    _assert_secret_absent(res, bad)


@pytest.mark.parametrize("encoding", ["b64url-padded", "b64std"])
def test_hmac_lenient_decoding(pebble, dirs, encoding):
    """A MAC key pasted with '=' padding or in standard base64 still works."""
    given = pebble.eab_hmac(LENIENT_KID, encoding)
    assert given != pebble.eab[LENIENT_KID], "the test key does not exercise %s" % encoding
    names = ["%s.lenient.test" % encoding, "www.%s.lenient.test" % encoding,
             "x.%s.lenient.test" % encoding]
    res = sacmectl.issue(pebble, kid=LENIENT_KID, hmac=given, account_dir=dirs.account,
                         out=dirs.out, names=names)
    expect.issued_ok(res, pebble, names, dirs.out, dirs.account,
                     account_status="registered")
    _assert_secret_absent(res, given, pebble.eab[LENIENT_KID])


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_eab_mac_algorithms(pebble, dirs, alg):
    """Pebble 2.4.0 accepts HS256, HS384 and HS512 for the EAB JWS."""
    names = ["%s.eabalg.test" % alg.lower(), "www.%s.eabalg.test" % alg.lower(),
             "x.%s.eabalg.test" % alg.lower()]
    res = sacmectl.issue(pebble, kid="kid-3", eab_alg=alg, account_dir=dirs.account,
                         out=dirs.out, names=names)
    expect.issued_ok(res, pebble, names, dirs.out, dirs.account,
                     account_status="registered")


# --- the HMAC key kept out of the command line --------------------------------

def _eab_file(tmp_path, content):
    path = tmp_path / "eab.json"
    path.write_text(content)
    os.chmod(path, 0o600)
    return str(path)


def _new_account_posts(pebble):
    return pebble.request_count("POST", pebble.directory()["newAccount"])


@pytest.mark.parametrize("alg", [None, "HS512"])
def test_eab_file_obtains_a_certificate(pebble, dirs, tmp_path, alg):
    """--eab-file F: the same JSON as SacmeEAB file: gives kid, key and alg."""
    content = {"kid": "kid-2", "hmac": pebble.eab["kid-2"]}
    if alg:
        content["alg"] = alg
    path = _eab_file(tmp_path, json.dumps(content))
    tag = (alg or "default").lower()
    names = ["%s.eabfile.test" % tag, "www.%s.eabfile.test" % tag]
    res = sacmectl.issue(pebble, account_dir=dirs.account, out=dirs.out, names=names,
                         extra=["--eab-file", path])
    expect.issued_ok(res, pebble, names, dirs.out, dirs.account,
                     account_status="registered")
    assert not any(pebble.eab["kid-2"] in a for a in res.argv)
    _assert_secret_absent(res, pebble.eab["kid-2"])
    with open(os.path.join(dirs.account, "account.json")) as f:
        assert json.load(f).get("eab-kid") == "kid-2"


def test_eab_file_that_is_malformed_is_a_configuration_error(pebble, dirs, tmp_path):
    secret = pebble.eab["kid-2"]
    path = _eab_file(tmp_path, '{"kid": "kid-2", "hmac": %s}' % secret)
    before = _new_account_posts(pebble)
    res = sacmectl.issue(pebble, account_dir=dirs.account, out=dirs.out,
                         names=["badfile.eabfile.test"], extra=["--eab-file", path])
    err = expect.failed(res, sacmectl.EXIT_CONFIG)
    assert path in err["message"] and "not valid JSON" in err["message"], res.describe()
    assert _new_account_posts(pebble) == before
    for i in range(len(secret) - 5):
        assert secret[i:i + 6] not in res.stdout + res.stderr, res.describe()


def test_eab_hmac_from_standard_input(pebble, dirs):
    """--eab-hmac -: the key is read from stdin (one line, blanks trimmed),
    so it is in no process's command line."""
    secret = pebble.eab["kid-3"]
    names = ["stdin.eabfile.test", "www.stdin.eabfile.test"]
    res = sacmectl.issue(pebble, kid="kid-3", hmac="-", account_dir=dirs.account,
                         out=dirs.out, names=names, stdin_text="  %s \n" % secret)
    expect.issued_ok(res, pebble, names, dirs.out, dirs.account,
                     account_status="registered")
    assert not any(secret in a for a in res.argv)
    _assert_secret_absent(res, secret)


def test_eab_hmac_from_empty_standard_input(pebble, dirs):
    before = _new_account_posts(pebble)
    res = sacmectl.issue(pebble, kid="kid-3", hmac="-", account_dir=dirs.account,
                         out=dirs.out, names=["nostdin.eabfile.test"], stdin_text="")
    err = expect.failed(res, sacmectl.EXIT_CONFIG)
    assert "standard input" in err["message"], res.describe()
    assert _new_account_posts(pebble) == before


@pytest.mark.parametrize("more", [["--eab-kid", "kid-1", "--eab-hmac", "-"],
                                  ["--eab-hmac", "-"],
                                  ["--eab-kid", "kid-1"],
                                  ["--eab-alg", "HS256"]])
def test_eab_file_with_eab_options_is_a_usage_error(pebble, dirs, tmp_path, more):
    secret = pebble.eab["kid-1"]
    path = _eab_file(tmp_path, json.dumps({"kid": "kid-1", "hmac": secret}))
    before = _new_account_posts(pebble)
    res = sacmectl.issue(pebble, account_dir=dirs.account, out=dirs.out,
                         names=["both.eabfile.test"], extra=["--eab-file", path] + more,
                         stdin_text=secret + "\n")
    err = expect.failed(res, sacmectl.EXIT_USAGE)
    assert "--eab-file" in err["message"], res.describe()
    assert _new_account_posts(pebble) == before
    _assert_secret_absent(res, secret)


def test_help_names_the_ways_to_give_the_key():
    res = sacmectl.run(["issue", "--help"])
    assert res.rc == 0, res.describe()
    assert "--eab-file" in res.stdout, res.describe()
    assert "standard input" in res.stdout, res.describe()
