"""SacmeHttpProxy: every connection to the CA goes through a real outbound
proxy (Debian's tinyproxy), as a CONNECT tunnel inside which the CA's TLS is
verified end to end; a proxy that is down or refuses the credentials is an
error naming the proxy, and httpd keeps serving; the proxy's password comes
from a file and is never logged or shown.  Without the directive the
*_proxy environment variables are not followed."""

import json
import os
import signal

from sacmetest.httpd import INDEX_TEXT, _alive
from sacmetest.module import (DRIVER_STARTED, ERRORED, ISSUE_LIMIT, make_httpd,
                              names_for, reconfigure)
from sacmetest import ports, sacmectl
from sacmetest.pebble import make_api_certs, random_mac_key
from sacmetest.tinyproxy import TLSFront, Tinyproxy

from test_module_events import receivers  # noqa: F401 (a fixture)
from test_module_status import STATUS_CONF, request

PROXY_CREDENTIALS_UNREADABLE = "SACME10291"


def _auth_file(tmp_path, text, name="sacme-proxy.auth"):
    path = str(tmp_path / name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


def _assert_tunnels_to(proxy, pebble):
    """The proxy saw requests, and all of them CONNECT to Pebble's API."""
    reqs = proxy.requests()
    assert reqs, "the proxy saw no request:\n" + proxy.log()
    target = "CONNECT %s:%d" % (ports.LOOPBACK, pebble.port)
    assert all(r == target for r in reqs), \
        "the proxy saw other requests than %s: %s" % (target, reqs)


def _assert_serving(h):
    assert _alive(h.parent_pid())
    status, _, body = h.http_get("/index.html")
    assert status == 200 and body.decode() == INDEX_TEXT, (status, body)


def test_issuance_goes_through_the_proxy(http01_pebble, httpds, monkeypatch):
    """Every request of the driver is a CONNECT to Pebble through the proxy,
    even with no_proxy naming Pebble's address in httpd's environment."""
    pebble = http01_pebble
    names = names_for("proxyissue")
    with Tinyproxy([pebble.port]) as proxy:
        h = httpds.add(make_httpd(pebble, [names],
                                  more=["SacmeHttpProxy %s" % proxy.url]))
        for var in ("no_proxy", "NO_PROXY"):
            monkeypatch.setenv(var, "%s,localhost" % ports.LOOPBACK)
        h.start()
        monkeypatch.undo()
        h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
        _assert_tunnels_to(proxy, pebble)
    # sacmectl learns the proxy from the store
    with open(h.store("managed.json")) as f:
        managed = json.load(f)
    assert managed["http-proxy"] == proxy.url, managed


def test_proxy_environment_is_not_followed(http01_pebble, httpds, tmp_path,
                                           monkeypatch):
    """httpd started with https_proxy (and friends) naming a running proxy
    but without SacmeHttpProxy: the CA is reached directly, the proxy sees
    nothing."""
    pebble = http01_pebble
    names = names_for("proxyenv")
    with Tinyproxy([pebble.port]) as proxy:
        h = httpds.add(make_httpd(pebble, [names]))
        # in httpd's environment only: the test's own clients go direct
        for var in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(var, raising=False)
        for var in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
            monkeypatch.setenv(var, proxy.url)
        h.start()
        monkeypatch.undo()
        h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
        assert proxy.requests() == [], \
            "the driver followed the environment's proxy:\n" + proxy.log()


def test_dead_proxy_is_named_and_httpd_keeps_serving(http01_pebble, httpds):
    """The proxy's port is closed: the attempt fails naming the proxy, and
    nothing is issued although the CA itself is up: the driver does not go
    around the proxy."""
    pebble = http01_pebble
    names = names_for("proxydead")
    dead = "http://%s:%d" % (ports.LOOPBACK, ports.free_port())
    h = httpds.add(make_httpd(pebble, [names], more=["SacmeHttpProxy %s" % dead]))
    h.start()
    line = h.wait_log(ERRORED, limit=ISSUE_LIMIT)
    assert ":error]" in line, line
    assert names[0] in line, line
    assert "through the proxy %s" % dead in line, line
    assert "check that the proxy of SacmeHttpProxy runs" in line, line
    assert not os.path.exists(h.store("domains", names[0], "fullchain.pem"))
    _assert_serving(h)


def test_proxy_credentials_from_a_file(http01_pebble, httpds, tmp_path):
    """A wrong password: the error says the proxy refused the credentials; the file corrected and httpd restarted gracefully, issuance goes
    through the proxy. Neither password is in the error log or the status."""
    pebble = http01_pebble
    names = names_for("proxyauth")
    password, wrong = random_mac_key(), random_mac_key()
    with Tinyproxy([pebble.port], auth=("sacme", password)) as proxy:
        auth = _auth_file(tmp_path, "sacme:%s\n" % wrong)
        # the next attempt after the correction comes soon
        more = ["SacmeHttpProxy %s file:%s" % (proxy.url, auth), "SacmeRetryDelay 5s"]
        h = httpds.add(make_httpd(pebble, [names], more=more, extra=STATUS_CONF))
        h.start()
        line = h.wait_log(ERRORED, limit=ISSUE_LIMIT)
        assert "through the proxy %s" % proxy.url in line, line
        # tinyproxy answers the CONNECT 401 (RFC 9110 has a proxy say 407)
        assert "response 401" in line, line
        assert "asks for valid credentials" in line, line
        assert "credentials file" in line, line
        _assert_serving(h)
        status_body = request(h, "GET", "/sacme-status/")[2].decode()

        _auth_file(tmp_path, "sacme:%s\n" % password)
        h.graceful()
        h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
        _assert_tunnels_to(proxy, pebble)
        status_body += request(h, "GET", "/sacme-status/")[2].decode()

        # sacmectl's commands on the store take the server's proxy, with
        # the credentials from its file, from managed.json
        before = len(proxy.requests())
        res = sacmectl.store_cmd(h, "account", "show")
        assert res.rc == sacmectl.EXIT_OK, res.describe()
        assert res.json["status"] == "valid", res.json
        assert len(proxy.requests()) > before, \
            "sacmectl account show did not go through the proxy:\n" + proxy.log()
        _assert_tunnels_to(proxy, pebble)
        for secret in (password, wrong):
            assert secret not in res.stdout + res.stderr
    with open(h.store("managed.json")) as f:
        managed_text = f.read()
    assert json.loads(managed_text)["http-proxy-auth-file"] == auth
    for secret in (password, wrong):
        assert secret not in h.log(), "a proxy password is in the error log"
        assert secret not in status_body, "a proxy password is in the status"
        assert secret not in managed_text, "a proxy password is in managed.json"


def test_driver_reads_the_credentials_itself(http01_pebble, httpds, tmp_path):
    """A new driver (after a crash) reads the credentials file again: the
    file gone, it says which file and stops; httpd keeps serving."""
    pebble = http01_pebble
    names = names_for("proxyauthgone")
    password = random_mac_key()
    auth = _auth_file(tmp_path, "sacme:%s\n" % password)
    h = httpds.add(make_httpd(pebble, [names], auto_restart=False,
                              more=["SacmeHttpProxy http://%s:%d file:%s"
                                    % (ports.LOOPBACK, ports.free_port(), auth)]))
    h.start()
    h.wait_log(DRIVER_STARTED)
    driver = h.driver_pid()
    assert driver
    try:
        os.unlink(auth)
        mark = h.mark()
        os.kill(driver, signal.SIGKILL)
        line = h.wait_log(PROXY_CREDENTIALS_UNREADABLE, limit=90, since=mark)
        assert auth in line, line
        for words in ("SacmeHttpProxy", "0600", "apachectl graceful"):
            assert words in line, "the message does not say %r: %s" % (words, line)
        _assert_serving(h)
        assert password not in h.log()
    finally:
        # apache2 -k stop reads the configuration too
        _auth_file(tmp_path, "sacme:%s\n" % password)


def test_sacmectl_issue_through_the_proxy(pebble, dirs, tmp_path):
    """sacmectl issue --proxy with --proxy-auth-file: every connection to
    the CA is a tunnel through the proxy; a wrong password is refused
    naming the proxy."""
    names = ["proxycli.test", "www.proxycli.test"]
    password = random_mac_key()
    with Tinyproxy([pebble.port], auth=("sacme", password)) as proxy:
        wrong = _auth_file(tmp_path, "sacme:%s\n" % random_mac_key(), "wrong.auth")
        res = sacmectl.issue(pebble, kid="kid-1", account_dir=dirs.account,
                             out=dirs.out, names=names,
                             extra=["--proxy", proxy.url, "--proxy-auth-file", wrong])
        assert res.rc != sacmectl.EXIT_OK, res.describe()
        assert "through the proxy %s" % proxy.url in res.stderr, res.describe()
        assert "asks for valid credentials" in res.stderr, res.describe()

        auth = _auth_file(tmp_path, "sacme:%s\n" % password)
        res = sacmectl.issue(pebble, kid="kid-1", account_dir=dirs.account,
                             out=dirs.out, names=names,
                             extra=["--proxy", proxy.url, "--proxy-auth-file", auth])
        assert res.rc == sacmectl.EXIT_OK, res.describe()
        assert os.path.exists(os.path.join(dirs.out, "fullchain.pem"))
        _assert_tunnels_to(proxy, pebble)
        assert password not in res.stdout + res.stderr


def test_sacmectl_does_not_follow_the_proxy_environment(pebble, dirs):
    """https_proxy naming a closed port: sacmectl issue without --proxy
    reaches the CA directly all the same."""
    dead = "http://%s:%d" % (ports.LOOPBACK, ports.free_port())
    env = {"https_proxy": dead, "HTTPS_PROXY": dead, "all_proxy": dead,
           "ALL_PROXY": dead, "no_proxy": "", "NO_PROXY": ""}
    names = ["proxyenvcli.test"]
    res = sacmectl.issue(pebble, kid="kid-1", account_dir=dirs.account,
                         out=dirs.out, names=names, env=env)
    assert res.rc == sacmectl.EXIT_OK, res.describe()


def test_webhook_goes_through_the_proxy(http01_pebble, httpds, receivers):  # noqa: F811
    """SacmeNotifyURL's POSTs take the proxy too: the receiver gets the
    events, and the proxy saw the tunnels to it."""
    pebble = http01_pebble
    names = names_for("proxyhook")
    h = make_httpd(pebble, [names])
    cert, key = pebble.issue_api_cert(h.root, prefix="receiver")
    rcv = receivers(cert, key)
    rcv_port = rcv.server.server_address[1]
    with Tinyproxy([pebble.port, rcv_port]) as proxy:
        h.configure(sacme=h.sacme + ["SacmeNotifyURL %s" % rcv.url,
                                     "SacmeHttpProxy %s" % proxy.url])
        httpds.add(h)
        h.start()
        h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
        h._wait(lambda: rcv.events("renewed"), "the renewed event at the receiver",
                ISSUE_LIMIT)
        reqs = proxy.requests()
        hook = "CONNECT %s:%d" % (ports.LOOPBACK, rcv_port)
        assert hook in reqs, "the webhook did not go through the proxy: %s" % reqs
        assert set(reqs) == {hook, "CONNECT %s:%d" % (ports.LOOPBACK, pebble.port)}, reqs


def test_https_proxy_is_verified(http01_pebble, httpds, tmp_path):
    """An https:// proxy: its certificate is verified with the CA's trust
    (SacmeCACertificate here). Issued by a CA nobody trusts, nothing goes
    through it and the error names the proxy; issued by the trusted CA,
    issuance goes through it."""
    pebble = http01_pebble
    names = names_for("proxytls")
    untrusted_dir = str(tmp_path / "untrusted")
    os.makedirs(untrusted_dir)
    _, bad_cert, bad_key = make_api_certs(untrusted_dir)
    with Tinyproxy([pebble.port]) as proxy:
        with TLSFront(proxy, bad_cert, bad_key) as front:
            h = httpds.add(make_httpd(pebble, [names],
                                      more=["SacmeHttpProxy %s" % front.url,
                                            "SacmeRetryDelay 5s"]))
            h.start()
            line = h.wait_log(ERRORED, limit=ISSUE_LIMIT)
            assert "through the proxy %s" % front.url in line, line
            assert "whose TLS certificate does not verify" in line, line
            assert "SacmeCACertificate" in line, line
            assert front.handshake_errors, "no TLS handshake with the proxy failed"
            assert proxy.requests() == [], proxy.log()
            _assert_serving(h)
        good_cert, good_key = pebble.issue_api_cert(str(tmp_path), prefix="proxy")
        with TLSFront(proxy, good_cert, good_key) as front:
            reconfigure(h, pebble, [names], more=["SacmeHttpProxy %s" % front.url,
                                                  "SacmeRetryDelay 5s"])
            h.graceful()
            h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
            _assert_tunnels_to(proxy, pebble)
