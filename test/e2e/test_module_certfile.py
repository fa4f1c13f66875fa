"""Certificates from elsewhere: SacmeCertificateFile and
SacmeCertificateKeyFile inside a <SacmeDomainSet>.  With a real httpd and
a real Pebble: a pair made here is served for the set's names, shows in the
status with its expiry, raises the expiry alerts of SacmeWarnWindow (logged
and as `expiring` events to the set's notify command) and is never ordered,
while a domain beside it is ordered and issued as usual.  Wrong uses are
refused by `apache2 -t`, naming the directive and the file."""

import os

import pytest

from sacmetest.httpd import Vhost
from sacmetest.module import (ISSUE_LIMIT, LOG_LIMIT, ORDERING, make_httpd, names_for,
                              notify_command)
from sacmetest.pairs import aged_pair, serial_hex, write_pair
from sacmetest.sacmectl import EXIT_CONFIG, EXIT_OK, store_cmd
from test_module_config import refused_output
from test_module_domainset import HMAC, SERVER
from test_module_status import STATUS_CONF, get_json, rfc3339

ALERT = "SACME10090"
CONFIG_REFUSED = "SACME10320"

NOTIFY = """#!/bin/sh
echo "$1 $2|$SACME_THRESHOLD|$SACME_SERIAL" >> %s
"""


def make_pair(directory, tag, names, days_left=60, lifetime=90):
    """A self-signed pair for names (sacmetest.pairs.aged_pair) written as
    TAG-cert.pem and TAG-key.pem in directory.  Returns (cert path, key
    path, certificate)."""
    cert, key = aged_pair(names, days_left, lifetime)
    cert_path = os.path.join(directory, tag + "-cert.pem")
    key_path = os.path.join(directory, tag + "-key.pem")
    write_pair(cert, key, cert_path, key_path)
    return cert_path, key_path, cert


def _events(path, event):
    try:
        with open(path) as f:
            return [l.strip() for l in f if l.split(" ", 1)[0] == event]
    except OSError:
        return []


def test_pair_from_elsewhere_served_watched_never_ordered(http01_pebble, httpds):
    pebble = http01_pebble
    given, ordered = names_for("certfile-given"), names_for("certfile-ordered")
    h0 = make_httpd(pebble, [ordered], vhosts=[Vhost(given), Vhost(ordered)],
                    extra=STATUS_CONF)
    # 10 of 90 days left: below the 30d and 14d thresholds, not 7d
    cert_path, key_path, cert = make_pair(h0.root, "given", given, days_left=10)
    serial = serial_hex(cert)
    script, out = notify_command(h0, NOTIFY)
    # the set first: the driver looks at its domains in this order, so an
    # order for the given pair would start before the other domain's
    # certificate is issued (and activated by a restart)
    h0.configure(sacme=[
        "<SacmeDomainSet %s>" % " ".join(given),
        "    SacmeCertificateFile %s" % cert_path,
        "    SacmeCertificateKeyFile %s" % key_path,
        "    SacmeNotifyCmd %s" % script,
        "</SacmeDomainSet>",
    ] + h0.sacme)
    h = httpds.add(h0)
    h.start()

    # served for every name of the set, from the first request on
    for name in given:
        assert h.tls_get(name).serial == cert.serial_number, name

    # the alerts, logged with their tag and raised as events
    h._wait(lambda: len(_events(out, "expiring")) >= 2, "two expiring events", LOG_LIMIT)
    alerts = [l for l in h.log_lines(ALERT) if given[0] in l]
    assert sorted("30d" in l for l in alerts) == [False, True], alerts
    assert any("the 14d alert threshold" in l and serial in l for l in alerts), alerts
    assert all("SacmeCertificateFile" in l for l in alerts), alerts
    events = _events(out, "expiring")
    assert sorted(e.split("|")[1] for e in events) == ["14d", "30d"], events
    assert all(e.startswith("expiring %s|" % given[0]) and e.endswith("|" + serial)
               for e in events), events

    # the domain beside it is ordered and issued: the driver ran, and never
    # ordered the given pair's domain
    h.wait_managed_cert(ordered[0], limit=ISSUE_LIMIT)
    assert h.log_lines(ORDERING) and all(given[0] not in l
                                         for l in h.log_lines(ORDERING)), h.log_lines(ORDERING)
    assert not os.path.exists(h.store("staging", given[0], "order.json"))
    assert h.tls_get(given[0]).serial == cert.serial_number

    # the status shows the pair with its expiry
    doms = {d["name"]: d for d in get_json(h, "/sacme-status/")["domains"]}
    d = doms[given[0]]
    assert d["source"] == "file" and d["state"] == "ok", d
    assert d["order"] is None and d["renew-at"] is None, d
    (c,) = d["certificates"]
    assert c["serial"] == serial and c["source"] == "file" and c["file"] == cert_path, c
    assert rfc3339(c["not-after"]) == cert.not_valid_after, c
    assert c["days-left"] in (9, 10) and d["days-left"] in (9, 10), d
    assert doms[ordered[0]]["source"] == "acme", doms[ordered[0]]
    # and so does sacmectl, from the store
    res = store_cmd(h, "show", given[0])
    assert res.rc == EXIT_OK, res.describe()
    assert res.json["certificates"][0]["serial"] == serial, res.json
    res = store_cmd(h, "show", given[0], json_output=False)
    assert res.rc == EXIT_OK, res.describe()
    assert "from the file %s" % cert_path in res.stdout and serial in res.stdout, res.stdout
    assert "never" in res.stdout, res.stdout
    res = store_cmd(h, "list")
    assert res.rc == EXIT_OK, res.describe()
    listed = {d["name"]: d for d in res.json["domains"]}
    assert listed[given[0]]["certificates"][0]["serial"] == serial, res.json
    # a forced renewal is refused: nothing would ever take the request
    res = store_cmd(h, "renew", "--force", given[0])
    assert res.rc == EXIT_CONFIG and "SacmeCertificateFile" in res.stderr, res.describe()
    assert not os.path.exists(h.store("requests", given[0] + ".json"))


def test_files_only_need_no_ca(http01_pebble, httpds):
    """A server whose every domain comes from files needs no SacmeServer:
    the pair is served and its alerts raised, and nothing talks to a CA."""
    given = names_for("certfile-only")
    h0 = make_httpd(http01_pebble, [], vhosts=[Vhost(given)], extra=STATUS_CONF)
    cert_path, key_path, cert = make_pair(h0.root, "only", given, days_left=10)
    h0.configure(sacme=[
        "<SacmeDomainSet %s>" % " ".join(given),
        "    SacmeCertificateFile %s" % cert_path,
        "    SacmeCertificateKeyFile %s" % key_path,
        "</SacmeDomainSet>",
    ])
    h = httpds.add(h0)
    h.start()
    for name in given:
        assert h.tls_get(name).serial == cert.serial_number, name
    h.wait_log(ALERT, limit=LOG_LIMIT)
    assert not h.log_lines(ORDERING)
    assert "no CA" in h.wait_log("SACME10020", limit=LOG_LIMIT)
    d = get_json(h, "/sacme-status/")["domains"][0]
    assert d["source"] == "file" and d["ca"] is None and d["cas"] == [], d


# --- wrong uses: refused by -t, naming the directive and the file ------------------

SET = names_for("certfile-set")


def _conf(inside=(), after=()):
    return (["SacmeServer %s" % SERVER, "SacmeEAB kid-1 " + HMAC, "SacmeAgreement accepted",
             "<SacmeDomainSet %s>" % " ".join(SET)]
            + ["    " + l for l in inside] + ["</SacmeDomainSet>"] + list(after))


def _cases(d):
    """(id, words the message must hold, bad lines, good lines) with pairs
    made in d."""
    cert, key, _ = make_pair(d, "good", SET)
    _, other_key, _ = make_pair(d, "other", SET)
    short, short_key, _ = make_pair(d, "short", SET[:2])
    missing = os.path.join(d, "missing-cert.pem")
    pair = ["SacmeCertificateFile " + cert, "SacmeCertificateKeyFile " + key]
    return [
        ("key-without-cert", ["SacmeCertificateKeyFile", key, "SacmeCertificateFile"],
         _conf(inside=pair[1:]), _conf(inside=pair)),
        ("cert-without-key", ["SacmeCertificateFile", cert, "SacmeCertificateKeyFile"],
         _conf(inside=pair[:1]), _conf(inside=pair)),
        ("key-not-matching", ["SacmeCertificateKeyFile", other_key, cert],
         _conf(inside=[pair[0], "SacmeCertificateKeyFile " + other_key]),
         _conf(inside=pair)),
        ("name-not-covered", ["SacmeCertificateFile", short, SET[2]],
         _conf(inside=["SacmeCertificateFile " + short,
                       "SacmeCertificateKeyFile " + short_key]),
         _conf(inside=pair)),
        ("unreadable-file", ["SacmeCertificateFile", missing],
         _conf(inside=["SacmeCertificateFile " + missing, pair[1]]),
         _conf(inside=pair)),
        ("outside-a-set", ["SacmeCertificateFile", "only allowed inside <SacmeDomainSet>"],
         _conf(inside=pair, after=pair[:1]), _conf(inside=pair)),
        ("given-twice", ["SacmeCertificateFile", "twice"],
         _conf(inside=pair + pair[:1]), _conf(inside=pair)),
    ]


CASE_IDS = ["key-without-cert", "cert-without-key", "key-not-matching", "name-not-covered",
            "unreadable-file", "outside-a-set", "given-twice"]


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_wrong_pair_fails_config_check(case_id, tmp_path):
    d = str(tmp_path)
    os.chmod(d, 0o755)
    cases = {c[0]: c for c in _cases(d)}
    _, words, bad, good = cases[case_id]
    out = refused_output(bad, good)
    for w in words:
        assert w in out, "the message does not name %r:\n%s" % (w, out)
