"""The status of the managed domains, as an admin and a monitoring system
see it: the sacme-status handler (JSON for all domains and for one,
Prometheus text), the section in mod_status's server-status page (HTML and
?auto), each compared with the certificate httpd actually serves; a domain
whose issuance fails shows its ACME problem; nothing is exposed unless the
admin maps the handler, and the EAB HMAC appears nowhere."""

import calendar
import datetime
import json
import os
import re
import socket

from cryptography.hazmat.primitives import hashes

from sacmetest import certcheck
from sacmetest.httpd import LOOPBACK, MODULES, _read_http_response
from sacmetest.module import ERRORED, ISSUE_LIMIT, make_httpd, names_for, wait_job
from sacmetest.pebble import random_mac_key

# What the docs tell admins to write (docs/ops-status.md), plus Debian's
# mod_status for the server-status section.
STATUS_CONF = """
LoadModule authz_host_module %(modules)s/mod_authz_host.so
LoadModule status_module %(modules)s/mod_status.so
<Location /sacme-status>
    SetHandler sacme-status
    Require local
</Location>
<Location /server-status>
    SetHandler server-status
    Require local
</Location>
""" % {"modules": MODULES}

UNAUTHORIZED = "urn:ietf:params:acme:error:unauthorized"
STATES = ("ok", "renewing", "pending-activation", "error")


def request(h, method, path):
    """One request on the plain-HTTP port; returns (status, headers, body)."""
    with socket.create_connection((LOOPBACK, h.port), timeout=10) as s:
        s.sendall(("%s %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: sacmetest\r\n"
                   "Content-Length: 0\r\nConnection: close\r\n\r\n"
                   % (method, path)).encode("latin-1"))
        return _read_http_response(s)


def get_json(h, path, expect=200, outputs=None):
    """GET path: a JSON answer with status expect, never cached; the body
    is appended to outputs when given."""
    status, headers, body = request(h, "GET", path)
    assert status == expect, "%s: %s %r" % (path, status, body[:500])
    assert headers.get("content-type", "").startswith("application/json"), headers
    assert headers.get("cache-control") == "no-store", headers
    if outputs is not None:
        outputs.append(body.decode())
    return json.loads(body)


def rfc3339(text):
    """A model timestamp -> naive UTC datetime (as cryptography 38 gives)."""
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def epoch(dt):
    return calendar.timegm(dt.utctimetuple())


SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.eE+]+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


def parse_prometheus(text):
    """[(name, {label: value}, float)]; fails on any line that is neither a
    comment nor a sample, and on a metric without one HELP and one TYPE."""
    samples, helps, types = [], [], []
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.append(line.split(" ")[2])
            continue
        if line.startswith("# TYPE "):
            types.append(line.split(" ")[2])
            continue
        m = SAMPLE_RE.match(line)
        assert m, "not a Prometheus sample line: %r" % line
        labels = {}
        if m.group(2):
            pos = 0
            for lm in LABEL_RE.finditer(m.group(2)):
                assert lm.start() == pos, "bad labels in %r" % line
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
            assert pos == len(m.group(2)), "bad labels in %r" % line
        samples.append((m.group(1), labels, float(m.group(3))))
    assert len(helps) == len(set(helps)) and len(types) == len(set(types)), \
        "a HELP or TYPE line appears twice"
    for name in {s[0] for s in samples}:
        assert name in helps and name in types, "%s has no HELP/TYPE" % name
    return samples


def sample(samples, name, **labels):
    found = [v for n, l, v in samples
             if n == name and all(l.get(k) == v2 for k, v2 in labels.items())]
    assert len(found) == 1, "%s%r: %r" % (name, labels, found)
    return found[0]


def without_days_left(dom):
    """The domain's object less the day counts (a day may turn between two
    requests)."""
    d = dict(dom, **{"days-left": None})
    d["certificates"] = [dict(c, **{"days-left": None}) for c in dom["certificates"]]
    return d


def test_status_of_a_served_certificate(http01_pebble, httpds):
    pebble = http01_pebble
    names = names_for("status")
    hmac = pebble.eab["kid-1"]
    h = httpds.add(make_httpd(pebble, [names], extra=STATUS_CONF))
    h.start()
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    served = h.tls_get(names[0]).cert
    outputs = []
    # The driver of the new generation asks about the CA's renewal
    # information once the certificate is in service (Pebble has none: the
    # next ask is a day away); the outputs compared below are read after that.
    h._wait(lambda: os.path.exists(h.store("staging", names[0], "ari.json")),
            "the driver's first look at the certificate in service (ari.json)", 60)

    # --- JSON, every domain
    all_ = get_json(h, "/sacme-status/", outputs=outputs)
    generated = rfc3339(all_["generated"])
    assert [d["name"] for d in all_["domains"]] == [names[0]], all_
    dom = all_["domains"][0]
    assert dom["names"] == names
    assert dom["key-types"] == ["p256"]
    assert dom["state"] == "ok", dom
    assert len(dom["certificates"]) == 1, dom
    cert = dom["certificates"][0]
    # the very certificate a TLS client gets
    assert int(cert["serial"], 16) == served.serial_number, (cert, served.serial_number)
    assert cert["sha256"] == served.fingerprint(hashes.SHA256()).hex(), cert
    assert rfc3339(cert["not-after"]) == served.not_valid_after
    assert rfc3339(cert["not-before"]) == served.not_valid_before
    assert sorted(cert["names"]) == sorted(certcheck.dns_sans(served))
    assert cert["key-type"] == certcheck.key_type(served.public_key())
    assert cert["issuer"], cert
    left = (served.not_valid_after - generated).total_seconds() // 86400
    assert cert["days-left"] == left == dom["days-left"], (cert, left)
    assert dom["valid-until"] == cert["not-after"]
    renew_at = rfc3339(dom["renew-at"])
    # Pebble offers no renewal information (ARI): the local window applies
    assert dom["renew-source"] == "window" and dom["explanation-url"] is None, dom
    assert served.not_valid_before < renew_at < served.not_valid_after, dom
    for key in ("staged", "order", "error", "next-attempt", "request"):
        assert dom[key] is None, (key, dom)

    # --- one domain, by any of its names, in any case
    for name in (names[0], names[1].upper()):
        one = get_json(h, "/sacme-status/%s" % name, outputs=outputs)
        assert without_days_left(one) == without_days_left(dom), one
    # an unknown name is a 404 with a JSON error
    unknown = get_json(h, "/sacme-status/unknown.example.test", expect=404)
    assert "unknown.example.test" in unknown["error"]

    # --- read-only
    status, headers, body = request(h, "POST", "/sacme-status/")
    assert status == 405, (status, body[:200])
    assert "GET" in headers.get("allow", ""), headers
    status, headers, body = request(h, "HEAD", "/sacme-status/")
    assert status == 200 and body == b"", (status, body[:200])
    assert headers.get("content-type", "").startswith("application/json"), headers

    # --- Prometheus
    status, headers, body = request(h, "GET", "/sacme-status/?format=prometheus")
    assert status == 200, status
    assert headers.get("content-type", "").startswith("text/plain; version=0.0.4"), headers
    assert headers.get("cache-control") == "no-store", headers
    text = body.decode()
    outputs.append(text)
    samples = parse_prometheus(text)
    labels = {"domain": names[0], "key_type": "p256"}
    assert sample(samples, "sacme_certificate_not_after_seconds", **labels) \
        == epoch(served.not_valid_after)
    assert sample(samples, "sacme_certificate_not_before_seconds", **labels) \
        == epoch(served.not_valid_before)
    assert int(sample(samples, "sacme_certificate_info", serial=cert["serial"],
                      **labels)) == 1
    assert sample(samples, "sacme_domain_renew_at_seconds", domain=names[0]) \
        == epoch(renew_at)
    for state in STATES:
        assert sample(samples, "sacme_domain_state", domain=names[0], state=state) \
            == (1 if state == "ok" else 0), state
    assert sample(samples, "sacme_domain_errors", domain=names[0]) == 0
    assert sample(samples, "sacme_order_in_progress", domain=names[0]) == 0

    # --- server-status: HTML and ?auto
    status, _, body = request(h, "GET", "/server-status")
    assert status == 200, status
    html = body.decode()
    outputs.append(html)
    assert "<h2>mod_sacme: managed certificates</h2>" in html, html[-3000:]
    row = re.search(r"<tr><td>%s</td>.*?</tr>" % re.escape(names[0]), html)
    assert row, "no table row for %s:\n%s" % (names[0], html[-3000:])
    assert "<td>%s</td>" % " ".join(names) in row.group(0)
    assert "<td>ok</td>" in row.group(0) and "<td>p256</td>" in row.group(0)
    assert "<td>%s</td>" % cert["not-after"] in row.group(0)
    assert "<td>%s (%s)</td>" % (dom["renew-at"], dom["renew-source"]) in row.group(0)

    status, _, body = request(h, "GET", "/server-status?auto")
    assert status == 200, status
    auto = body.decode()
    outputs.append(auto)
    lines = auto.splitlines()
    prefix = "SacmeDomain-%s-" % names[0]
    for line in ("SacmeDomains: 1", "SacmeDomainsOk: 1", "SacmeDomainsError: 0",
                 prefix + "State: ok", prefix + "KeyTypes: p256",
                 prefix + "Names: " + " ".join(names),
                 prefix + "ValidUntil: " + cert["not-after"],
                 prefix + "RenewAt: " + dom["renew-at"], prefix + "Errors: 0"):
        assert line in lines, "%r not in:\n%s" % (line, auto)
    days = [l for l in lines if l.startswith(prefix + "DaysLeft: ")]
    assert len(days) == 1 and int(days[0].split(": ")[1]) in (left, left - 1), days

    for out in outputs:
        assert hmac not in out, "the EAB HMAC is in a status output"


def test_status_of_a_failing_domain(http01_pebble, httpds):
    pebble = http01_pebble
    names = names_for("statuserr")
    wrong = random_mac_key()
    h = httpds.add(make_httpd(pebble, [names], kid="kid-2", hmac=wrong, extra=STATUS_CONF))
    h.start()
    h.wait_log(ERRORED, limit=ISSUE_LIMIT)
    wait_job(h, names[0])       # what the status handler reads

    status, _, body = request(h, "GET", "/sacme-status/%s" % names[0])
    assert status == 200, status
    dom = json.loads(body)
    assert dom["state"] == "error", dom
    assert dom["certificates"] == [] and dom["valid-until"] is None, dom
    err = dom["error"]
    assert err["problem"] == UNAUTHORIZED, err
    assert err["detail"], err
    assert err["errors"] >= 1, err
    assert rfc3339(err["at"]) <= rfc3339(dom["next-attempt"]), dom

    status, _, prom = request(h, "GET", "/sacme-status/?format=prometheus")
    samples = parse_prometheus(prom.decode())
    assert sample(samples, "sacme_domain_state", domain=names[0], state="error") == 1
    assert sample(samples, "sacme_domain_errors", domain=names[0]) >= 1
    assert not [s for s in samples if s[0] == "sacme_certificate_not_after_seconds"]

    status, _, auto = request(h, "GET", "/server-status?auto")
    lines = auto.decode().splitlines()
    assert "SacmeDomain-%s-State: error" % names[0] in lines, auto
    assert "SacmeDomain-%s-ErrorProblem: %s" % (names[0], UNAUTHORIZED) in lines, auto
    status, _, html = request(h, "GET", "/server-status")
    assert UNAUTHORIZED in html.decode()

    for out in (body, prom, auto, html):
        for secret in (wrong, pebble.eab["kid-2"]):
            assert secret.encode() not in out, "an HMAC key is in a status output"


def test_nothing_exposed_without_the_handler(http01_pebble, httpds):
    pebble = http01_pebble
    names = names_for("statusoff")
    h = httpds.add(make_httpd(pebble, [names]))
    h.start()
    for path in ("/sacme-status", "/sacme-status/", "/sacme-status/%s" % names[0],
                 "/sacme-status/?format=prometheus"):
        status, _, body = request(h, "GET", path)
        assert status == 404, (path, status, body[:300])
        assert names[0].encode() not in body, (path, body[:300])
