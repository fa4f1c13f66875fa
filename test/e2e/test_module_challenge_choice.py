"""Which challenge types a domain answers: SacmeChallenge's list, and without
it the default from the ports httpd listens on (SacmePortMap for a server
behind port forwarding). What a domain will answer is what the running
configuration records in managed.json and shows in its status."""

import json
import os

from sacmetest.faults import exact_pebble
from sacmetest.httpd import Httpd, Vhost, free_port
from sacmetest.module import (ISSUE_LIMIT, assert_served_verified, names_for,
                              pebble_defaults, root_file, sacme_lines)

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


# --- with a CA offering every type -------------------------------------------

# A dns-01 command that sets the TXT record on Pebble's own DNS server
# (pebble-challtestsrv, through its management port, the first argument).
CHALLTESTSRV_CMD = """#!/bin/sh
port=$1 verb=$2 name=$3 value=$4
case "$verb" in
  setup) body="{\\"host\\":\\"$name.\\",\\"value\\":\\"$value\\"}"; what=set-txt ;;
  teardown) body="{\\"host\\":\\"$name.\\"}"; what=clear-txt ;;
  *) echo "unknown verb $verb" >&2; exit 2 ;;
esac
exec /usr/bin/curl -sS -f -o /dev/null -d "$body" "http://127.0.0.1:$port/$what"
"""

LISTS = {
    "pref-http": "http-01 tls-alpn-01 dns-01",
    "pref-alpn": "tls-alpn-01 dns-01 http-01",
    "pref-dns": "dns-01 http-01 tls-alpn-01",
}


def test_each_list_picks_what_it_says(httpds, tmp_path):
    """Pebble offers http-01, dns-01 and tls-alpn-01 for every name, and can
    validate each (its httpPort and tlsPort are httpd's ports, its DNS
    server takes records from the dns-01 command): each domain proves its
    names with the first type of its own list, and is served."""
    pebble = exact_pebble()
    try:
        h = Httpd(ssl=True, http_port=pebble.http_port, https_port=pebble.tls_port,
                  log_level="info ssl:warn",
                  vhosts=[Vhost(names_for(tag)) for tag in LISTS])
        script = os.path.join(h.root, "dns-challtestsrv.sh")
        with open(script, "w") as f:
            f.write(CHALLTESTSRV_CMD)
        os.chmod(script, 0o755)
        kw = {}
        pebble_defaults(pebble, h, kw)
        lines = sacme_lines(pebble, [], **kw)
        lines.append("SacmeDnsCmd %s %d" % (script, pebble.dns_mgmt_port))
        for tag, types in LISTS.items():
            lines += ["<SacmeDomainSet %s>" % " ".join(names_for(tag)),
                      "    SacmeChallenge %s" % types,
                      "</SacmeDomainSet>"]
        h.configure(sacme=lines)
        httpds.add(h)
        h.start()
        root = root_file(pebble, str(tmp_path))
        for tag, types in LISTS.items():
            want = types.split()[0]
            for name in names_for(tag):
                h.wait_log("%s: answering the %s challenge" % (name, want), limit=ISSUE_LIMIT)
            h.wait_managed_cert(names_for(tag)[0], limit=ISSUE_LIMIT)
            assert_served_verified(h, names_for(tag), root)
        for tag, types in LISTS.items():
            for other in types.split()[1:]:
                for name in names_for(tag):
                    assert "%s: answering the %s challenge" % (name, other) not in h.log()
    finally:
        pebble.stop()
