"""Which challenge types a domain answers: SacmeChallenge's list, and without
it the default from the ports httpd listens on (SacmePortMap for a server
behind port forwarding). What a domain will answer is what the running
configuration records in managed.json and shows in its status."""

import json
import os

from sacmetest.httpd import Httpd, Vhost, free_port

SERVER = "https://127.0.0.1:9/acme/directory"     # nothing is ordered here
HMAC = "c2VjcmV0LWhtYWMta2V5LWZvci10aGUtdGVzdHM"
NAMES = ["choice.test", "www.choice.test"]


def _lines(more=()):
    return ["SacmeServer %s" % SERVER, "SacmeEAB kid-1 " + HMAC,
            "SacmeAgreement accepted", "SacmeDomain %s" % " ".join(NAMES)] + list(more)


def _managed_challenge(h):
    """The started server's list for NAMES, from managed.json."""
    with open(h.store("managed.json")) as f:
        managed = json.load(f)
    (dom,) = [d for d in managed["domains"] if d["name"] == NAMES[0]]
    return dom["challenge"]


def _started(more, ssl=True, port_map=None):
    h = Httpd(ssl=ssl, vhosts=[Vhost(NAMES)] if ssl else ())
    lines = list(more)
    if port_map:
        lines.append("SacmePortMap " + port_map(h))
    h.configure(sacme=_lines(lines))
    h.start()
    return h


def test_default_follows_the_mapped_ports():
    """Behind a firewall forwarding 80 and 443 to other local ports, the
    mapped ports decide: http-01 where port 80 arrives, tls-alpn-01 where 443
    reaches mod_ssl, both in that order when both do."""
    cases = [
        (lambda h: "http:%d" % h.port, "http-01"),
        (lambda h: "https:%d" % h.https_port, "tls-alpn-01"),
        (lambda h: "http:%d https:%d" % (h.port, h.https_port), "http-01 tls-alpn-01"),
    ]
    for port_map, want in cases:
        h = _started([], port_map=port_map)
        try:
            assert _managed_challenge(h) == want, h.conf_text()
            assert "SACME10450" not in h.log(), h.log()
        finally:
            h.stop()


def test_default_without_a_reachable_port_is_http01_and_says_why():
    h = _started([])
    try:
        assert _managed_challenge(h) == "http-01"
        line = h.wait_log("SACME10450")
        assert "SacmePortMap" in line and "SacmeChallenge" in line, line
    finally:
        h.stop()


def test_explicit_list_is_kept_in_its_order():
    h = _started(["SacmeChallenge tls-alpn-01 http-01"],
                 port_map=lambda h: "http:%d" % h.port)
    try:
        assert _managed_challenge(h) == "tls-alpn-01 http-01"
    finally:
        h.stop()


def test_port_map_to_a_port_httpd_does_not_listen_on_is_refused():
    h = Httpd(ssl=True, vhosts=[Vhost(NAMES)])
    try:
        unused = free_port()
        h.configure(sacme=_lines(["SacmePortMap http:%d" % h.port]))
        r = h.check_config()
        assert r.returncode == 0, r.stdout + r.stderr + h.log()
        h.configure(sacme=_lines(["SacmePortMap http:%d" % unused]))
        r = h.check_config()
        out = r.stdout + r.stderr + h.log()
        assert r.returncode != 0, out
        assert "SacmePortMap http:%d" % unused in out and "Listen" in out, out
    finally:
        h.stop()


def test_tls_alpn_01_without_mod_ssl_is_refused():
    h = Httpd(ssl=False)
    try:
        h.configure(sacme=_lines(["SacmeChallenge http-01"]))
        r = h.check_config()
        assert r.returncode == 0, r.stdout + r.stderr + h.log()
        h.configure(sacme=_lines(["SacmeChallenge http-01 tls-alpn-01"]))
        r = h.check_config()
        out = r.stdout + r.stderr + h.log()
        assert r.returncode != 0, out
        assert "SacmeChallenge tls-alpn-01" in out and "mod_ssl" in out, out
    finally:
        h.stop()
