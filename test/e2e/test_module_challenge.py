"""The HTTP-01 responder, probed directly: token files are written into the
store the way the driver writes them, and requests are made with raw paths
(no client-side normalisation).

The CA here is unreachable (an https URL on a closed port), so the driver
never opens or cleans up challenges of its own while the test runs."""

import os

import pytest

from sacmetest.httpd import INDEX_TEXT, USER, Httpd, Vhost, _alive, free_port, user_ids
from sacmetest.module import DRIVER_STARTED, ERRORED, LOG_LIMIT

NAMES = ["chal.test", "www.chal.test"]
FOREIGN = "foreign.test"
PREFIX = "/.well-known/acme-challenge/"

TOKEN = "tok-Aa0_bB1-cC2dD3eE4fF5gG6hH7iI8jJ9kK0lL1"
TOKEN_ALIAS = "tok-alias-Zz9_yY8-xX7wW6vV5uU4tT3sS2rR1qQ0"
KEYAUTH = TOKEN + ".thumbprint-of-the-account-key-AbCdEf0123456789"
KEYAUTH_ALIAS = TOKEN_ALIAS + ".thumbprint-of-the-account-key-alias"
KEYAUTH_FOREIGN = "tok3.KEYAUTH-OF-A-FOREIGN-NAME"
KEYAUTH_SUBDIR = "tok4.KEYAUTH-IN-A-SUBDIRECTORY"
SENTINEL_STORE = "SENTINEL-IN-THE-STORE"
SENTINEL_ROOT = "SENTINEL-IN-THE-SERVER-ROOT"
SECRETS = [KEYAUTH, KEYAUTH_ALIAS, KEYAUTH_FOREIGN, KEYAUTH_SUBDIR, SENTINEL_STORE,
           SENTINEL_ROOT, "BEGIN", "PRIVATE KEY"]


def _write(path, text, owner=True):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    if owner:
        uid, gid = user_ids(USER)
        os.chown(path, uid, gid)
        os.chown(os.path.dirname(path), uid, gid)


@pytest.fixture(scope="module")
def responder():
    h = Httpd(ssl=True, vhosts=[Vhost(NAMES)], sacme=[
        "SacmeServer https://127.0.0.1:%d/dir" % free_port(),   # nobody listens
        "SacmeEAB kid-1 c2VjcmV0LWhtYWMta2V5LWZvci10aGUtdGVzdHM",
        "SacmeAgreement accepted",
        "SacmeDomain %s" % " ".join(NAMES),
    ])
    h.start()
    try:
        h.wait_log(DRIVER_STARTED, limit=LOG_LIMIT)
        h.wait_log(ERRORED, limit=LOG_LIMIT)   # its first attempt is over
        ch = h.store("challenges")
        _write(os.path.join(ch, NAMES[0], TOKEN), KEYAUTH)
        _write(os.path.join(ch, NAMES[1], TOKEN_ALIAS), KEYAUTH_ALIAS)
        _write(os.path.join(ch, FOREIGN, "tok3"), KEYAUTH_FOREIGN)
        _write(os.path.join(ch, NAMES[0], "sub", "tok4"), KEYAUTH_SUBDIR)
        _write(h.store("secret.txt"), SENTINEL_STORE, owner=False)
        _write(os.path.join(h.root, "secret-outside.txt"), SENTINEL_ROOT, owner=False)
        yield h
    finally:
        h.stop()


def _get(h, token, host=NAMES[0]):
    return h.http_get(PREFIX + token, host=host)


def test_token_of_a_managed_name_is_answered(responder):
    status, headers, body = _get(responder, TOKEN)
    assert status == 200, (status, body)
    assert body.decode() == KEYAUTH
    assert headers.get("content-type", "").startswith("text/plain"), headers


def test_port_in_the_host_header_is_ignored(responder):
    status, _, body = _get(responder, TOKEN, host="%s:%d" % (NAMES[0], 8080))
    assert (status, body.decode()) == (200, KEYAUTH)


def test_every_name_of_the_domain_is_answered(responder):
    status, _, body = _get(responder, TOKEN_ALIAS, host=NAMES[1])
    assert (status, body.decode()) == (200, KEYAUTH_ALIAS)


def test_token_of_another_name_is_not_answered(responder):
    # the token exists, but for www.chal.test, not for chal.test
    status, _, body = _get(responder, TOKEN_ALIAS, host=NAMES[0])
    assert status == 404, (status, body)
    assert KEYAUTH_ALIAS.encode() not in body


def test_foreign_host_falls_through_to_normal_processing(responder):
    status, _, body = _get(responder, "tok3", host=FOREIGN)
    assert status == 404, (status, body)
    assert KEYAUTH_FOREIGN.encode() not in body
    # and the same path for a managed name does not exist either
    status, _, body = _get(responder, "tok3")
    assert status == 404 and KEYAUTH_FOREIGN.encode() not in body


def test_unknown_token_is_404(responder):
    status, _, body = _get(responder, "no-such-token-0123456789")
    assert status == 404, (status, body)


def test_normal_content_still_served(responder):
    status, _, body = responder.http_get("/index.html", host=NAMES[0])
    assert (status, body.decode()) == (200, INDEX_TEXT)


TRAVERSALS = [
    "..%2F..%2Fsecret.txt",
    "..%2f..%2fsecret.txt",
    "%2e%2e%2F%2e%2e%2Fsecret.txt",
    "%2E%2E/%2E%2E/secret.txt",
    ".%2e/.%2e/secret.txt",
    "..%2F..%2F..%2Fsecret-outside.txt",
    "..%252F..%252Fsecret.txt",
    "..%5C..%5Csecret.txt",
    "..\\..\\secret.txt",
    "..%2F" + FOREIGN + "%2Ftok3",
    "%2e%2e%2F" + FOREIGN + "%2Ftok3",
    "../" + FOREIGN + "/tok3",
    "sub/tok4",
    "sub%2Ftok4",
    "sub%2ftok4",
    "%2F" + "tmp%2F..%2Fetc%2Fpasswd",
    "..",
    ".",
    "%2e%2e",
    "%2e",
    "",
    TOKEN + "%00",
    TOKEN + "/",
    TOKEN + "/..",
    TOKEN + "%2F..%2F..%2F..%2Fsecret.txt",
]


@pytest.mark.parametrize("token", TRAVERSALS)
def test_traversal_attempts_never_reveal_a_file(responder, token):
    status, _, body = _get(responder, token)
    for s in SECRETS:
        assert s.encode() not in body, "%r revealed %r (status %s)" % (token, s, status)
    assert b"root:" not in body
    if status == 200:
        # only the normal site may answer (httpd normalised the path into it)
        assert body.decode("latin-1") == INDEX_TEXT, (token, body[:200])


def test_absolute_path_token_never_reveals_a_file(responder):
    token = "%2F" + responder.root.strip("/").replace("/", "%2F") + "%2Fsecret-outside.txt"
    status, _, body = _get(responder, token)
    assert SENTINEL_ROOT.encode() not in body, (status, body[:200])
    assert status != 200 or body.decode("latin-1") == INDEX_TEXT


@pytest.mark.parametrize("length", [300, 5000, 9000])
def test_very_long_token_is_not_answered(responder, length):
    status, _, body = _get(responder, "A" * length)
    assert status != 200, (status, body[:200])
    assert KEYAUTH.encode() not in body
    assert _alive(responder.parent_pid())
    assert _get(responder, TOKEN)[0] == 200, "the responder broke after a long token"


@pytest.mark.parametrize("host", ["..", "chal.test.", "CHAL.TEST.evil", "foreign.test"])
def test_odd_hosts_never_get_a_key_authorization(responder, host):
    status, _, body = _get(responder, TOKEN, host=host)
    if host == "chal.test.":
        # the FQDN form may be treated as the managed name, or not at all
        assert status in (200, 404, 400), status
        assert status != 200 or body.decode() == KEYAUTH
    else:
        assert KEYAUTH.encode() not in body, (host, status)
