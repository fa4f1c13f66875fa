"""SacmeRequireHttps: plain HTTP for a managed name is redirected to HTTPS
once its certificate is in service (302 temporary, 301 permanent with
Strict-Transport-Security on HTTPS), never before, never for the ACME
challenge path (Pebble's real HTTP-01 validation of a renewal goes through
it) and never for a name mod_sacme does not manage."""

import socket

from sacmetest.httpd import INDEX_TEXT, LOOPBACK, Httpd, Vhost, _read_http_response, free_port
from sacmetest.module import (ACTIVATED, DRIVER_STARTED, ERRORED, ISSUE_LIMIT, LOG_LIMIT,
                              make_httpd, names_for)
from sacmetest.sacmectl import EXIT_OK, store_cmd

HSTS = "max-age=15768000"
CHALLENGE = "/.well-known/acme-challenge/"


def _unreachable_ca(names, value):
    return Httpd(ssl=True, vhosts=[Vhost(names)], sacme=[
        "SacmeServer https://127.0.0.1:%d/dir" % free_port(),   # nobody listens
        "SacmeEAB kid-1 c2VjcmV0LWhtYWMta2V5LWZvci10aGUtdGVzdHM",
        "SacmeAgreement accepted",
        "SacmeDomain %s" % " ".join(names),
        "SacmeRequireHttps %s" % value,
    ])


def _request(h, method, path, host):
    """A plain-HTTP request with a method of our choice (http_get is GET)."""
    with socket.create_connection((LOOPBACK, h.port), timeout=10) as s:
        s.sendall(("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 2\r\n"
                   "Connection: close\r\n\r\nab" % (method, path, host)).encode())
        return _read_http_response(s)


def _issued(pebble, httpds, tag, value):
    names = names_for(tag)
    h = httpds.add(make_httpd(pebble, [names], more=["SacmeRequireHttps %s" % value]))
    h.start()
    served = h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    return h, names, served


def test_a_wrong_value_is_refused_naming_the_directive(httpds):
    names = names_for("rh-conf")
    h = httpds.add(_unreachable_ca(names, "always"))
    res = h.check_config()
    assert res.returncode != 0, res.stdout + res.stderr
    assert "SacmeRequireHttps" in res.stderr and "always" in res.stderr, res.stderr
    for value in ("off", "temporary", "permanent", "Permanent"):
        h.configure(sacme=[l for l in h.sacme if not l.startswith("SacmeRequireHttps")]
                    + ["SacmeRequireHttps %s" % value])
        res = h.check_config()
        assert res.returncode == 0, (value, res.stderr)


def test_nothing_is_redirected_before_the_first_certificate(httpds):
    names = names_for("rh-before")
    h = httpds.add(_unreachable_ca(names, "permanent"))
    h.start()
    h.wait_log(DRIVER_STARTED, limit=LOG_LIMIT)
    h.wait_log(ERRORED, limit=LOG_LIMIT)        # its first attempt failed: no certificate
    status, headers, body = h.http_get("/index.html?q=1", host=names[0])
    assert (status, body.decode()) == (200, INDEX_TEXT), (status, headers)
    tls = h.tls_get(names[0])
    assert tls.is_fallback and tls.status == 503, tls.describe()
    assert "strict-transport-security" not in tls.headers, tls.headers


def test_temporary_redirects_with_302_and_sends_no_hsts(http01_pebble, httpds):
    h, names, _ = _issued(http01_pebble, httpds, "rh-temp", "temporary")
    for name in names:
        status, headers, _ = h.http_get("/page?q=1", host=name)
        assert status == 302, (name, status, headers)
        assert headers["location"] == "https://%s:%d/page?q=1" % (name, h.https_port)
    # the Host as the client wrote it, its port left out (the HTTPS vhost's is used)
    status, headers, _ = h.http_get("/a/b", host="%s:%d" % (names[1], h.port))
    assert status == 302 and headers["location"] == \
        "https://%s:%d/a/b" % (names[1], h.https_port), headers
    # a method other than GET keeps its method and body: 307
    status, headers, _ = _request(h, "POST", "/form?x=y", names[0])
    assert status == 307, (status, headers)
    assert headers["location"] == "https://%s:%d/form?x=y" % (names[0], h.https_port)
    tls = h.tls_get(names[0], path="/index.html")
    assert tls.status == 200 and not tls.is_fallback, tls.describe()
    assert "strict-transport-security" not in tls.headers, tls.headers


def test_permanent_redirects_with_301_sends_hsts_and_renews_over_http(http01_pebble,
                                                                       httpds):
    h, names, served = _issued(http01_pebble, httpds, "rh-perm", "permanent")
    status, headers, _ = h.http_get("/page?q=1", host=names[0])
    assert status == 301, (status, headers)
    assert headers["location"] == "https://%s:%d/page?q=1" % (names[0], h.https_port)
    assert "strict-transport-security" not in headers, "HSTS over plain HTTP is ignored"
    status, headers, _ = _request(h, "PUT", "/x", names[2])
    assert status == 308, (status, headers)
    assert headers["location"] == "https://%s:%d/x" % (names[2], h.https_port)

    # over HTTPS: HSTS on every response of the name, errors included
    for path in ("/index.html", "/no-such-page"):
        tls = h.tls_get(names[1], path=path)
        assert tls.headers.get("strict-transport-security") == HSTS, (path, tls.describe())

    # a name mod_sacme does not manage is served as before, over HTTP
    status, headers, body = h.http_get("/index.html?q=1", host="localhost")
    assert (status, body.decode()) == (200, INDEX_TEXT), (status, headers)
    status, _, body = h.http_get("/index.html", host="unmanaged.test")
    assert (status, body.decode()) == (200, INDEX_TEXT)

    # the challenge path is never redirected: an unknown token is a plain 404
    status, headers, _ = h.http_get(CHALLENGE + "no-such-token-0123", host=names[0])
    assert status == 404, (status, headers)
    assert "location" not in headers, headers

    # and Pebble's real HTTP-01 validation goes through it for a renewal
    res = store_cmd(h, "renew", "--force", names[0])
    assert res.rc == EXIT_OK, res.describe()
    renewed = h.wait_managed_cert(names[0], limit=ISSUE_LIMIT, not_serial=served.serial)
    assert renewed.headers.get("strict-transport-security") == HSTS, renewed.describe()
    status, headers, _ = h.http_get("/page?q=1", host=names[0])
    assert status == 301, (status, headers)


def test_the_port_is_that_of_the_vhost_with_ssl_serving_the_name(http01_pebble, httpds):
    """Three domains: one on the usual HTTPS vhost, one on a vhost with SSL
    on a port of its own, one that no vhost with SSL serves (it gets its
    certificate over HTTP-01 all the same, but a redirect would lead
    nowhere)."""
    a, b, c = names_for("rh-port-a"), names_for("rh-port-b"), names_for("rh-port-c")
    port_b = free_port()
    extra = "\n".join([
        "Listen %s:%d" % (LOOPBACK, port_b),
        "<VirtualHost %s:%d>" % (LOOPBACK, port_b),
        "    ServerName %s" % b[0],
        "    ServerAlias %s" % " ".join(b[1:]),
        "    SSLEngine on",
        "</VirtualHost>",
    ])
    h = httpds.add(make_httpd(http01_pebble, [a, b, c], vhosts=[Vhost(a)], extra=extra,
                              more=["SacmeRequireHttps temporary"]))
    h.start()
    for d in (a, b, c):
        h._wait(lambda d=d: any(d[0] + ":" in l for l in h.log_lines(ACTIVATED)),
                "%s activated" % d[0], ISSUE_LIMIT)
    h.graceful()          # a generation in which all three are live
    status, headers, _ = h.http_get("/p?q=1", host=a[1])
    assert status == 302 and headers["location"] == \
        "https://%s:%d/p?q=1" % (a[1], h.https_port), (status, headers)
    status, headers, _ = h.http_get("/p?q=1", host=b[2])
    assert status == 302 and headers["location"] == \
        "https://%s:%d/p?q=1" % (b[2], port_b), (status, headers)
    status, headers, body = h.http_get("/index.html", host=c[0])
    assert (status, body.decode()) == (200, INDEX_TEXT), (status, headers)


def test_per_domain_set_overrides_the_default(http01_pebble, httpds):
    """In a <SacmeDomainSet>, SacmeRequireHttps applies to that domain only:
    a set says permanent, the server-wide default (given after the sets)
    is off, and another set inherits it."""
    a, b = names_for("rh-set-a"), names_for("rh-set-b")
    h = make_httpd(http01_pebble, [], vhosts=[Vhost(a), Vhost(b)])
    h.configure(sacme=h.sacme + [
        "<SacmeDomainSet %s>" % " ".join(a),
        "    SacmeRequireHttps permanent",
        "</SacmeDomainSet>",
        "<SacmeDomainSet %s>" % " ".join(b),
        "</SacmeDomainSet>",
        "SacmeRequireHttps off",
    ])
    h = httpds.add(h)
    h.start()
    for d in (a, b):
        h._wait(lambda d=d: any(d[0] + ":" in l for l in h.log_lines(ACTIVATED)),
                "%s activated" % d[0], ISSUE_LIMIT)
    h.graceful()          # a generation in which both are live
    h.wait_managed_cert(a[0], limit=LOG_LIMIT)
    h.wait_managed_cert(b[0], limit=LOG_LIMIT)
    status, headers, _ = h.http_get("/p", host=a[0])
    assert status == 301 and headers["location"] == \
        "https://%s:%d/p" % (a[0], h.https_port), (status, headers)
    status, headers, body = h.http_get("/index.html", host=b[0])
    assert (status, body.decode()) == (200, INDEX_TEXT), (status, headers)
