"""Configuration mistakes fail `apache2 -t` with a message naming the
directive.  Every bad configuration has a good twin that differs only in the
mistake and must pass, so these tests cannot pass merely because httpd does
not know the directives."""

import json
import os
import tempfile

import pytest

from sacmetest.httpd import Httpd, Vhost

SERVER = "https://127.0.0.1:9/acme/directory"     # -t does no network I/O
HMAC = "c2VjcmV0LWhtYWMta2V5LWZvci10aGUtdGVzdHM"    # valid base64url
NAMES = ["conf.test", "www.conf.test"]


def _eab_file(content):
    fd, path = tempfile.mkstemp(prefix="sacme-eab-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        f.write(content)
    os.chmod(path, 0o600)
    return path


def _base(server=True, eab=None, domains=None, more=()):
    lines = []
    if server:
        lines.append("SacmeServer %s" % SERVER)
    lines.append("SacmeEAB %s" % (eab or "kid-1 " + HMAC))
    lines.append("SacmeAgreement accepted")
    for d in (domains or [NAMES]):
        lines.append("SacmeDomain %s" % " ".join(d))
    return lines + list(more)


def _good_eab_file():
    return "file:" + _eab_file(json.dumps({"kid": "kid-1", "hmac": HMAC}))


FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "chain")


def _fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


def _roots_file(content):
    """A SacmeTrustedRoots file; content "" is an empty file."""
    fd, path = tempfile.mkstemp(prefix="sacme-roots-", suffix=".pem")
    with os.fdopen(fd, "w") as f:
        f.write(content)
    os.chmod(path, 0o644)
    return path


def _good_roots():
    return "SacmeTrustedRoots " + _roots_file(_fixture("root.pem") + _fixture("int.pem"))


def _many_names(n, bad_last=False):
    """A SacmeDomain of n names (none of NAMES); the last one invalid when
    bad_last."""
    names = ["n%d.many.test" % i for i in range(n)]
    if bad_last:
        names[-1] = "not_a_name!"
    return names


SHORT_HMAC = "MDEyMzQ1Njc4OWFiY2Rl"     # 15 bytes once decoded


def _proxy_auth(content, mode=0o600):
    """A SacmeHttpProxy credentials file."""
    fd, path = tempfile.mkstemp(prefix="sacme-proxy-", suffix=".auth")
    with os.fdopen(fd, "w") as f:
        f.write(content)
    os.chmod(path, mode)
    return path


def _script(mode):
    """A notify command: a shell script with this mode."""
    fd, path = tempfile.mkstemp(prefix="sacme-notify-", suffix=".sh")
    with os.fdopen(fd, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(path, mode)
    return path


# (id, the directive(s) the message must name, bad lines, good lines)
CASES = [
    # httpd hands a TAKE_ARGV directive 64 words and dropped the rest
    ("domain-65th-name-invalid", ["SacmeDomain"],
     lambda: _base(domains=[NAMES, _many_names(65, bad_last=True)]),
     lambda: _base(domains=[NAMES, _many_names(65)])),
    ("domain-101-names", ["SacmeDomain"],
     lambda: _base(domains=[NAMES, _many_names(101)]),
     lambda: _base(domains=[NAMES, _many_names(100)])),
    ("domain-101st-name-invalid", ["SacmeDomain"],
     lambda: _base(domains=[NAMES, _many_names(101, bad_last=True)]),
     lambda: _base(domains=[NAMES, _many_names(100)])),
    # durations of years (added to now in the driver)
    ("retry-delay-years", ["SacmeRetryDelay"],
     lambda: _base(more=["SacmeRetryDelay 3650d"]),
     lambda: _base(more=["SacmeRetryDelay 1d"])),
    ("retry-delay-overflow", ["SacmeRetryDelay"],
     lambda: _base(more=["SacmeRetryDelay 106751991d"]),
     lambda: _base(more=["SacmeRetryDelay 24h"])),
    ("check-interval-years", ["SacmeCheckInterval"],
     lambda: _base(more=["SacmeCheckInterval 365d"]),
     lambda: _base(more=["SacmeCheckInterval 7d"])),
    ("http-timeout-days", ["SacmeHttpTimeout"],
     lambda: _base(more=["SacmeHttpTimeout 2d"]),
     lambda: _base(more=["SacmeHttpTimeout 1h"])),
    ("retry-after-bounds-years", ["SacmeRetryAfterBounds"],
     lambda: _base(more=["SacmeRetryAfterBounds 1s 3650d"]),
     lambda: _base(more=["SacmeRetryAfterBounds 1s 7d"])),
    ("renew-window-centuries", ["SacmeRenewWindow"],
     lambda: _base(more=["SacmeRenewWindow 36500d"]),
     lambda: _base(more=["SacmeRenewWindow 3650d"])),
    ("warn-window-centuries", ["SacmeWarnWindow"],
     lambda: _base(more=["SacmeWarnWindow 36500d"]),
     lambda: _base(more=["SacmeWarnWindow 3650d"])),
    # names no CA issues for
    ("name-localhost", ["SacmeDomain"],
     lambda: _base(domains=[NAMES, ["localhost"]]),
     lambda: _base(domains=[NAMES, ["local.test"]])),
    # IP addresses (RFC 8738) are names too, when they are addresses
    ("name-ipv4-out-of-range", ["SacmeDomain"],
     lambda: _base(domains=[NAMES, ["192.0.2.256"]]),
     lambda: _base(domains=[NAMES, ["192.0.2.1"]])),
    ("name-ipv4-short-form", ["SacmeDomain"],
     lambda: _base(domains=[NAMES, ["127.1"]]),
     lambda: _base(domains=[NAMES, ["127.0.0.1"]])),
    ("name-ipv6-in-brackets", ["SacmeDomain"],
     lambda: _base(domains=[NAMES, ["[2001:db8::10]"]]),
     lambda: _base(domains=[NAMES, ["2001:db8::10"]])),
    ("name-ipv6-with-zone", ["SacmeDomain"],
     lambda: _base(domains=[NAMES, ["fe80::1%eth0"]]),
     lambda: _base(domains=[NAMES, ["fe80::1"]])),
    ("name-ipv6-twice-in-two-spellings", ["SacmeDomain"],
     lambda: _base(domains=[NAMES, ["2001:db8::10", "2001:DB8:0:0::10"]]),
     lambda: _base(domains=[NAMES, ["2001:db8::10", "2001:db8::11"]])),
    ("name-numeric-last-label", ["SacmeDomain"],
     lambda: _base(domains=[NAMES, ["example.123"]]),
     lambda: _base(domains=[NAMES, ["example.l23"]])),
    ("name-wildcard-of-a-tld", ["SacmeDomain"],
     lambda: _base(domains=[NAMES, ["tld.test", "*.test"]], more=["SacmeChallenge none"]),
     lambda: _base(domains=[NAMES, ["tld.test", "*.tld.test"]],
                   more=["SacmeChallenge none"])),
    ("eab-hmac-short", ["SacmeEAB"],
     lambda: _base(eab="kid-1 " + SHORT_HMAC),
     lambda: _base(eab="kid-1 " + HMAC)),
    ("eab-file-hmac-short", ["SacmeEAB"],
     lambda: _base(eab="file:" + _eab_file(json.dumps({"kid": "kid-1",
                                                       "hmac": SHORT_HMAC}))),
     lambda: _base(eab=_good_eab_file())),
    # single-valued directives given twice (the last one used to win)
    ("server-twice", ["SacmeServer"],
     lambda: _base(more=["SacmeServer https://127.0.0.1:9/other"]),
     lambda: _base()),
    ("eab-twice", ["SacmeEAB"],
     lambda: _base(more=["SacmeEAB none"]),
     lambda: _base()),
    ("key-type-twice", ["SacmeKeyType"],
     lambda: _base(more=["SacmeKeyType p256", "SacmeKeyType rsa2048"]),
     lambda: _base(more=["SacmeKeyType rsa2048"])),
    ("retry-delay-twice", ["SacmeRetryDelay"],
     lambda: _base(more=["SacmeRetryDelay 60s", "SacmeRetryDelay 5m"]),
     lambda: _base(more=["SacmeRetryDelay 5m"])),
    ("auto-restart-twice", ["SacmeAutoRestart"],
     lambda: _base(more=["SacmeAutoRestart on", "SacmeAutoRestart off"]),
     lambda: _base(more=["SacmeAutoRestart off"])),
    ("notify-not-executable", ["SacmeNotifyCmd"],
     lambda: _base(more=["SacmeNotifyCmd " + _script(0o644)]),
     lambda: _base(more=["SacmeNotifyCmd " + _script(0o755)])),
    ("ca-certificate-no-certificate", ["SacmeCACertificate"],
     lambda: _base(more=["SacmeCACertificate " + _roots_file("the CA of the ACME server\n")]),
     lambda: _base(more=["SacmeCACertificate " + _roots_file(_fixture("root.pem"))])),
    ("ca-certificate-a-key", ["SacmeCACertificate"],
     lambda: _base(more=["SacmeCACertificate " + _roots_file(_fixture("leaf.key"))]),
     lambda: _base(more=["SacmeCACertificate /etc/ssl/certs/ca-certificates.crt"])),
    ("ca-certificate-empty", ["SacmeCACertificate"],
     lambda: _base(more=["SacmeCACertificate " + _roots_file("")]),
     lambda: _base(more=["SacmeCACertificate " + _roots_file(_fixture("root.pem"))])),
    ("server-http", ["SacmeServer"],
     lambda: _base(server=False, more=["SacmeServer http://127.0.0.1:9/dir"]),
     lambda: _base()),
    ("server-garbage", ["SacmeServer"],
     lambda: _base(server=False, more=["SacmeServer not-a-url"]),
     lambda: _base()),
    ("keytype-unknown", ["SacmeKeyType"],
     lambda: _base(more=["SacmeKeyType ed448"]),
     lambda: _base(more=["SacmeKeyType rsa3072"])),
    ("keytype-two-ecdsa", ["SacmeKeyType", "ECDSA"],
     lambda: _base(more=["SacmeKeyType p256 p384"]),
     lambda: _base(more=["SacmeKeyType rsa2048 p384"])),
    ("keytype-two-rsa", ["SacmeKeyType", "RSA"],
     lambda: _base(more=["SacmeKeyType rsa2048 rsa4096"]),
     lambda: _base(more=["SacmeKeyType rsa4096 p256"])),
    ("keytype-second-unknown", ["SacmeKeyType"],
     lambda: _base(more=["SacmeKeyType p256 ed25519"]),
     lambda: _base(more=["SacmeKeyType p256 rsa3072"])),
    ("keytype-three", ["SacmeKeyType"],
     lambda: _base(more=["SacmeKeyType p256 rsa2048 p384"]),
     lambda: _base(more=["SacmeKeyType p256 rsa2048"])),
    ("eab-hmac-undecodable", ["SacmeEAB"],
     lambda: _base(eab="kid-1 %%%not*base64%%%"),
     lambda: _base(eab="kid-1 " + HMAC)),
    ("eab-alg-unknown", ["SacmeEAB"],
     lambda: _base(eab="kid-1 %s HS999" % HMAC),
     lambda: _base(eab="kid-1 %s HS384" % HMAC)),
    ("eab-file-missing", ["SacmeEAB"],
     lambda: _base(eab="file:/nonexistent/sacme-eab.json"),
     lambda: _base(eab=_good_eab_file())),
    # root reads a mode-0000 file anyway: "unreadable" is a directory here
    ("eab-file-unreadable", ["SacmeEAB"],
     lambda: _base(eab="file:" + tempfile.mkdtemp(prefix="sacme-eab-dir-")),
     lambda: _base(eab=_good_eab_file())),
    ("eab-file-malformed", ["SacmeEAB"],
     lambda: _base(eab="file:" + _eab_file('{"kid": "kid-1", "hmac": ')),
     lambda: _base(eab=_good_eab_file())),
    ("eab-file-no-kid", ["SacmeEAB"],
     lambda: _base(eab="file:" + _eab_file(json.dumps({"hmac": HMAC}))),
     lambda: _base(eab=_good_eab_file())),
    ("eab-file-no-hmac", ["SacmeEAB"],
     lambda: _base(eab="file:" + _eab_file(json.dumps({"kid": "kid-1"}))),
     lambda: _base(eab=_good_eab_file())),
    ("eab-file-bad-hmac", ["SacmeEAB"],
     lambda: _base(eab="file:" + _eab_file(json.dumps({"kid": "kid-1",
                                                       "hmac": "%%not base64%%"}))),
     lambda: _base(eab=_good_eab_file())),
    ("name-in-two-domains", ["SacmeDomain"],
     lambda: _base(domains=[NAMES, ["other.test", NAMES[1]]]),
     lambda: _base(domains=[NAMES, ["other.test", "www.other.test"]])),
    ("wildcard-with-http-01", ["SacmeDomain", "SacmeChallenge"],
     lambda: _base(domains=[["wild.test", "*.wild.test"]]),
     lambda: _base(domains=[["wild.test", "*.wild.test"]], more=["SacmeChallenge none"])),
    ("challenge-unknown", ["SacmeChallenge"],
     lambda: _base(more=["SacmeChallenge tls-alpn-01 http-02"]),
     lambda: _base(more=["SacmeChallenge tls-alpn-01 http-01"])),
    ("challenge-none-with-a-type", ["SacmeChallenge"],
     lambda: _base(more=["SacmeChallenge none http-01"]),
     lambda: _base(more=["SacmeChallenge none"])),
    ("challenge-listed-twice", ["SacmeChallenge"],
     lambda: _base(more=["SacmeChallenge http-01 tls-alpn-01 http-01"]),
     lambda: _base(more=["SacmeChallenge http-01 tls-alpn-01"])),
    ("port-map-garbage", ["SacmePortMap"],
     lambda: _base(more=["SacmePortMap ftp:21"]),
     lambda: _base()),
    ("port-map-out-of-range", ["SacmePortMap"],
     lambda: _base(more=["SacmePortMap http:70000"]),
     lambda: _base()),
    ("port-map-given-twice", ["SacmePortMap"],
     lambda: _base(more=["SacmePortMap http:8080", "SacmePortMap https:8443"]),
     lambda: _base()),
    ("domain-without-server", ["SacmeServer", "SacmeDomain"],
     lambda: _base(server=False),
     lambda: _base()),
    ("renew-window-garbage", ["SacmeRenewWindow"],
     lambda: _base(more=["SacmeRenewWindow soon"]),
     lambda: _base(more=["SacmeRenewWindow 30d"])),
    ("auto-restart-maybe", ["SacmeAutoRestart"],
     lambda: _base(more=["SacmeAutoRestart maybe"]),
     lambda: _base(more=["SacmeAutoRestart off"])),
    ("retry-delay-garbage", ["SacmeRetryDelay"],
     lambda: _base(more=["SacmeRetryDelay soon"]),
     lambda: _base(more=["SacmeRetryDelay 90m"])),
    ("check-interval-garbage", ["SacmeCheckInterval"],
     lambda: _base(more=["SacmeCheckInterval often"]),
     lambda: _base(more=["SacmeCheckInterval 6h"])),
    ("retry-after-bounds-inverted", ["SacmeRetryAfterBounds"],
     lambda: _base(more=["SacmeRetryAfterBounds 5m 10s"]),
     lambda: _base(more=["SacmeRetryAfterBounds 2s 30m"])),
    ("retry-after-bounds-garbage", ["SacmeRetryAfterBounds"],
     lambda: _base(more=["SacmeRetryAfterBounds soon 1h"]),
     lambda: _base(more=["SacmeRetryAfterBounds 1s 1h"])),
    ("http-timeout-garbage", ["SacmeHttpTimeout"],
     lambda: _base(more=["SacmeHttpTimeout never"]),
     lambda: _base(more=["SacmeHttpTimeout 30s"])),
    ("max-parallel-zero", ["SacmeMaxParallel"],
     lambda: _base(more=["SacmeMaxParallel 0"]),
     lambda: _base(more=["SacmeMaxParallel 4"])),
    ("max-parallel-garbage", ["SacmeMaxParallel"],
     lambda: _base(more=["SacmeMaxParallel many"]),
     lambda: _base(more=["SacmeMaxParallel 64"])),
    ("trusted-roots-missing", ["SacmeTrustedRoots"],
     lambda: _base(more=["SacmeTrustedRoots /nonexistent/sacme-roots.pem"]),
     lambda: _base(more=[_good_roots()])),
    ("trusted-roots-empty", ["SacmeTrustedRoots"],
     lambda: _base(more=["SacmeTrustedRoots " + _roots_file("")]),
     lambda: _base(more=[_good_roots()])),
    ("trusted-roots-no-certificate", ["SacmeTrustedRoots"],
     lambda: _base(more=["SacmeTrustedRoots " + _roots_file("the root of Example CA\n")]),
     lambda: _base(more=[_good_roots()])),
    ("trusted-roots-a-key", ["SacmeTrustedRoots"],
     lambda: _base(more=["SacmeTrustedRoots " + _roots_file(_fixture("leaf.key"))]),
     lambda: _base(more=[_good_roots()])),
    ("trusted-roots-truncated", ["SacmeTrustedRoots"],
     lambda: _base(more=["SacmeTrustedRoots " + _roots_file(_fixture("root.pem")[:-40])]),
     lambda: _base(more=[_good_roots()])),
    ("trusted-roots-a-directory", ["SacmeTrustedRoots"],
     lambda: _base(more=["SacmeTrustedRoots " + tempfile.mkdtemp(prefix="sacme-roots-")]),
     lambda: _base(more=[_good_roots()])),
] + [
    # SacmeHttpProxy: the URL, and the file of its credentials
    ("proxy-" + tag, ["SacmeHttpProxy"],
     lambda bad=bad: _base(more=["SacmeHttpProxy " + bad()]),
     lambda good=good: _base(more=["SacmeHttpProxy " + good()]))
    for tag, bad, good in [
        ("ftp", lambda: "ftp://proxy.example:3128", lambda: "http://proxy.example:3128"),
        ("socks", lambda: "socks5://proxy.example:1080",
         lambda: "https://proxy.example:8443"),
        ("no-scheme", lambda: "proxy.example:3128", lambda: "http://proxy.example:3128"),
        ("no-host", lambda: "http://:3128", lambda: "http://proxy.example:3128"),
        ("port-too-big", lambda: "http://proxy.example:65536",
         lambda: "http://proxy.example:65535"),
        ("port-zero", lambda: "http://proxy.example:0", lambda: "http://proxy.example:1"),
        ("port-letters", lambda: "http://proxy.example:31a8",
         lambda: "http://proxy.example"),
        ("path", lambda: "http://proxy.example:3128/proxy",
         lambda: "http://proxy.example:3128/"),
        ("auth-not-file", lambda: "http://proxy.example:3128 user:password",
         lambda: "http://proxy.example:3128 file:" + _proxy_auth("user:password\n")),
        ("auth-file-missing", lambda: "http://proxy.example:3128 file:/nonexistent/auth",
         lambda: "http://proxy.example:3128 file:" + _proxy_auth("user:password")),
        ("auth-file-empty", lambda: "http://proxy.example:3128 file:" + _proxy_auth(""),
         lambda: "http://proxy.example:3128 file:" + _proxy_auth("u:")),
        ("auth-file-no-colon",
         lambda: "http://proxy.example:3128 file:" + _proxy_auth("userpassword\n"),
         lambda: "http://proxy.example:3128 file:" + _proxy_auth("user:pass:word\n")),
        ("auth-file-two-lines",
         lambda: "http://proxy.example:3128 file:" + _proxy_auth("user:pw\nmore\n"),
         lambda: "http://proxy.example:3128 file:" + _proxy_auth("user:pw\r\n")),
    ]
]


def _check(lines, vhost_lines=(), extra=""):
    h = Httpd(ssl=True, sacme=lines, vhosts=[Vhost(NAMES, vhost_lines)], extra=extra)
    try:
        r = h.check_config()
        return r.returncode, r.stdout + r.stderr + h.log()
    finally:
        h.stop()


def refused_output(bad, good):
    """The output of -t for the bad lines, after checking that the good
    twin passes and that the bad one fails for mod_sacme's reason."""
    rc, out = _check(good)
    assert rc == 0, "the correct twin of the mistake fails -t:\n" + out
    rc, out = _check(bad)
    assert rc != 0, "apache2 -t accepted the mistake:\n" + out
    assert "Invalid command" not in out, out
    return out


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_config_mistake_fails_config_check(case):
    _, directives, bad, good = case
    out = refused_output(bad(), good())
    assert any(d in out for d in directives), \
        "the message does not name %s:\n%s" % (" or ".join(directives), out)
    assert HMAC not in out, "the HMAC key is in the output of -t"


def test_trusted_roots_relative_to_the_server_root():
    h = Httpd(ssl=True, vhosts=[Vhost(NAMES)])
    try:
        with open(os.path.join(h.root, "private-ca.pem"), "w") as f:
            f.write(_fixture("root.pem"))
        h.configure(sacme=_base(more=["SacmeTrustedRoots private-ca.pem"]))
        r = h.check_config()
        assert r.returncode == 0, r.stdout + r.stderr + h.log()
        os.unlink(os.path.join(h.root, "private-ca.pem"))
        r = h.check_config()
        out = r.stdout + r.stderr + h.log()
        assert r.returncode != 0 and "SacmeTrustedRoots" in out, out
        assert os.path.join(h.root, "private-ca.pem") in out, out
    finally:
        h.stop()


def test_directive_inside_a_virtual_host_is_refused():
    rc, out = _check(_base(), vhost_lines=["SacmeDomain inner.test"])
    assert rc != 0, out
    assert "SacmeDomain" in out and "Invalid command" not in out, out


@pytest.mark.parametrize("window", ["33%", "100%", "30d", "12h", "90m", "45s", "10"])
def test_renew_window_forms_are_accepted(window):
    rc, out = _check(_base(more=["SacmeRenewWindow %s" % window]))
    assert rc == 0, out


@pytest.mark.parametrize("key_type", ["p256", "p384", "rsa2048", "rsa3072", "rsa4096"])
def test_key_types_are_accepted(key_type):
    rc, out = _check(_base(more=["SacmeKeyType %s" % key_type]))
    assert rc == 0, out


def test_full_configuration_is_accepted():
    rc, out = _check(_base(eab=_good_eab_file(), more=[
        "SacmeContact admin@example.test",
        "SacmeKeyType p384",
        "SacmeCACertificate /etc/ssl/certs/ca-certificates.crt",
        "SacmeTrustedRoots /etc/ssl/certs/ca-certificates.crt",
        "SacmeStoreDir /tmp/sacme-store-of-the-config-test",
        "SacmeChallenge http-01",
        "SacmeRenewWindow 30d",
        "SacmeAutoRestart on",
        "SacmeNotifyCmd /bin/true --flag",
        "SacmeRetryDelay 60s",
        "SacmeCheckInterval 12h",
    ]))
    assert rc == 0, out
    assert "Syntax OK" in out


def test_no_eab_is_accepted():
    rc, out = _check(_base(eab="none"))
    assert rc == 0, out


def test_limits_are_named_in_the_message():
    """A duration over its limit says the limit, not just "not a duration"."""
    rc, out = _check(_base(more=["SacmeCheckInterval 365d"]))
    assert rc != 0 and "SacmeCheckInterval" in out and "7d" in out, out
    rc, out = _check(_base(domains=[NAMES, _many_names(101)]))
    assert rc != 0 and "SacmeDomain" in out and "100" in out, out
    rc, out = _check(_base(more=["SacmeServer https://127.0.0.1:9/other"]))
    assert rc != 0 and "twice" in out, out


EAB_FILE_MODE = "SACME10180"


@pytest.mark.parametrize("mode,owner,warned", [
    (0o600, 0, False), (0o400, 0, False),
    (0o640, 0, True), (0o604, 0, True), (0o644, 0, True),
    (0o600, 65534, True),
])
def test_eab_file_open_to_others_is_a_warning(mode, owner, warned):
    """An EAB file readable by group or others, or not root's, passes -t
    with a tagged warning naming SacmeEAB and the file."""
    path = _eab_file(json.dumps({"kid": "kid-1", "hmac": HMAC}))
    os.chmod(path, mode)
    os.chown(path, owner, 0)
    try:
        rc, out = _check(_base(eab="file:" + path))
    finally:
        os.unlink(path)
    assert rc == 0, out
    if warned:
        assert EAB_FILE_MODE in out and "SacmeEAB" in out and path in out, out
    else:
        assert EAB_FILE_MODE not in out, out
    assert HMAC not in out


OWN_CERT = "SACME10181"


def test_managed_vhost_with_inherited_certificate_is_logged_once():
    """A managed vhost that inherits the main server's SSLCertificateFile
    keeps that certificate: said once per vhost (not at each of the two
    start-up passes, nor at a graceful restart), naming the vhost, the
    domain and how to let mod_sacme supply one. A vhost without it gets no
    such line."""
    extra = "SSLCertificateFile %s\nSSLCertificateKeyFile %s\n" % (
        os.path.join(FIXTURES, "leaf.pem"), os.path.join(FIXTURES, "leaf.key"))
    h = Httpd(ssl=True, sacme=_base(), vhosts=[Vhost(NAMES)], extra=extra)
    try:
        h.start()
        h.wait_log(OWN_CERT)
        h.graceful()
        lines = h.log_lines(OWN_CERT)
        assert len(lines) == 1, h.log()
        assert NAMES[0] in lines[0] and "SSLCertificateFile" in lines[0], lines[0]
        assert "inherited" in lines[0], lines[0]
    finally:
        h.stop()
    h = Httpd(ssl=True, sacme=_base(), vhosts=[Vhost(NAMES)])
    try:
        h.start()
        h.graceful()
        assert OWN_CERT not in h.log(), h.log()
    finally:
        h.stop()


PROXY_PASSWORD = "pr0xy-Secret-4711"


def test_proxy_credentials_are_never_echoed():
    """Credentials in the URL are refused without repeating them, and a
    credentials file that is not user:password is described, not quoted."""
    rc, out = _check(_base(more=["SacmeHttpProxy http://sacme:%s@proxy.example:3128"
                                 % PROXY_PASSWORD]))
    assert rc != 0 and "SacmeHttpProxy" in out, out
    assert "file:" in out, "the message does not say where credentials go:\n" + out
    assert PROXY_PASSWORD not in out, out
    path = _proxy_auth(PROXY_PASSWORD + "\n")
    rc, out = _check(_base(more=["SacmeHttpProxy http://proxy.example:3128 file:"
                                 + path]))
    assert rc != 0 and path in out and "no ':'" in out, out
    assert PROXY_PASSWORD not in out, out


@pytest.mark.parametrize("mode,warned", [(0o600, False), (0o640, True)])
def test_proxy_credentials_file_open_to_others_is_a_warning(mode, warned):
    path = _proxy_auth("sacme:%s\n" % PROXY_PASSWORD, mode)
    rc, out = _check(_base(more=["SacmeHttpProxy http://proxy.example:3128 file:"
                                 + path]))
    assert rc == 0, out
    assert ("SACME10290" in out) == warned, out
    assert PROXY_PASSWORD not in out, out
