"""ACME profiles (draft-ietf-acme-profiles; issue 13, point 3): SacmeProfile
names the kind of certificate new orders ask for.  Debian's Pebble 2.4 knows
no profiles, so the quirk proxy in front of it lists them in the directory
(meta.profiles), records the "profile" of every newOrder and refuses a name
it does not list; the certificates are still Pebble's, served over TLS.

  * the profile goes out in newOrder, per domain (a <SacmeDomainSet> over
    the server's), and the status says which each certificate was ordered
    with;
  * a name the CA does not offer: a tagged error naming the ones it does,
    nothing ordered, the long wait of a configuration error;
  * a CA without profiles: one warning, the order goes out without one,
    and the certificate is not due again for it;
  * a change of SacmeProfile (graceful restart) orders a new certificate
    with the new profile, and so does its removal;
  * mistakes are refused by `apache2 -t`, naming the directive."""

import datetime
import json
import os
import re

import pytest

from sacmetest.httpd import Vhost, serial_in
from sacmetest.module import (ERRORED, ISSUE_LIMIT, LOG_LIMIT, ORDERING, RESUMING, STAGED,
                              assert_served_verified, names_for, root_file, wait_job)
from sacmetest.quirkproxy import QuirkProxy, proxied_httpd
from sacmetest.sacmectl import EXIT_OK, store_cmd
from test_module_config import refused_output
from test_module_domainset import _conf
from test_module_status import STATUS_CONF, get_json

UNKNOWN_PROFILE = "SACME10430"
NO_PROFILES = "SACME10431"
RETRY = "SacmeRetryDelay 2s"
PROFILES = {"tlsserver": "TLS server authentication only, 90 days",
            "shortlived": "TLS server authentication, 6 days"}


@pytest.fixture
def proxy(http01_pebble):
    """A quirk proxy in front of the worker's Pebble; the test sets its
    quirks. Stopped at teardown."""
    px = QuirkProxy(http01_pebble).start()
    yield px
    px.stop()


def _status(h, name):
    return get_json(h, "/sacme-status/%s" % name)


def _issued(h, name):
    with open(h.store("staging", name, "issued.json")) as f:
        return json.load(f)


def test_profile_sent_in_new_order_per_domain(proxy, httpds, tmp_path):
    proxy.set(profiles=PROFILES)
    a, b = names_for("prof-a"), names_for("prof-b")
    h = httpds.add(proxied_httpd(proxy, [a], vhosts=[Vhost(a), Vhost(b)], extra=STATUS_CONF,
                                 more=[RETRY, "SacmeProfile tlsserver",
                                       "<SacmeDomainSet %s>" % " ".join(b),
                                       "    SacmeProfile shortlived",
                                       "</SacmeDomainSet>"]))
    h.start()
    h.wait_managed_cert(a[0], limit=ISSUE_LIMIT)
    h.wait_managed_cert(b[0], limit=ISSUE_LIMIT)
    root = root_file(proxy.pebble, str(tmp_path))
    served = {a[0]: assert_served_verified(h, a, root)[0],
              b[0]: assert_served_verified(h, b, root)[0]}

    # each domain's newOrder carried its profile (a nonce Pebble refused
    # makes a request go out twice, with the same payload)
    assert set(proxy.new_order_profiles) == {"tlsserver", "shortlived"}, \
        proxy.new_order_profiles
    assert proxy.stats["invalid_profile"] == 0
    lines = h.log_lines(ORDERING)
    assert any(a[0] in l and "profile tlsserver" in l for l in lines), lines
    assert any(b[0] in l and "profile shortlived" in l for l in lines), lines

    # the status: the configured profile, and the one each certificate
    # was ordered with, recorded for that very serial
    for names, profile in ((a, "tlsserver"), (b, "shortlived")):
        d = _status(h, names[0])
        assert d["profile"] == profile, d
        assert d["state"] == "ok", d
        [cert] = d["certificates"]
        assert int(cert["serial"], 16) == served[names[0]].serial_number, d
        assert cert["profile"] == profile, d
        issued = _issued(h, names[0])
        assert issued["profile"] == issued["configured-profile"] == profile, issued
        # sacmectl reads the same from the store and managed.json
        res = store_cmd(h, "show", names[0])
        assert res.rc == EXIT_OK, res.describe()
        assert res.json["profile"] == profile, res.json
        assert res.json["certificates"][0]["profile"] == profile, res.json
        res = store_cmd(h, "show", names[0], json_output=False)
        assert res.rc == EXIT_OK, res.describe()
        assert re.search(r"^profile: +%s$" % profile, res.stdout, re.M), res.stdout


def test_unknown_profile_orders_nothing(proxy, httpds):
    proxy.set(profiles=PROFILES)
    names = names_for("prof-unknown")
    h = httpds.add(proxied_httpd(proxy, [names], extra=STATUS_CONF,
                                 more=[RETRY, "SacmeProfile longlived"]))
    h.start()
    line = h.wait_log(UNKNOWN_PROFILE, limit=ISSUE_LIMIT)
    # names the profile asked for and every one the CA offers
    assert names[0] in line and "longlived" in line, line
    assert "tlsserver" in line and "shortlived" in line, line
    err = h.wait_log(ERRORED, limit=LOG_LIMIT)
    assert "longlived" in err and "SacmeProfile" in err, err
    wait_job(h, names[0])

    # nothing ordered, and a configuration error is not retried soon
    assert proxy.new_order_profiles == [], proxy.new_order_profiles
    assert proxy.request_count("POST", proxy.new_order_path) == 0, proxy.requests
    d = _status(h, names[0])
    assert d["state"] == "error" and d["certificates"] == [], d
    assert "longlived" in d["error"]["detail"], d
    with open(h.store("staging", names[0], "job.json")) as f:
        job = json.load(f)
    updated = _epoch(job["updated"])
    assert job["next-attempt"] - updated >= 3600 * 0.9, job
    assert h.tls_get(names[0]).is_fallback


def _epoch(rfc3339):
    return datetime.datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def test_ca_without_profiles_orders_without_one(proxy, httpds, tmp_path):
    a, b = names_for("prof-none-a"), names_for("prof-none-b")
    # AutoRestart off: one driver run orders both (a driver otherwise exits
    # for the first set it stages, and the restart starts another run)
    h = httpds.add(proxied_httpd(proxy, [a, b], extra=STATUS_CONF, auto_restart=False,
                                 more=[RETRY, "SacmeProfile shortlived"]))
    h.start()
    h._wait(lambda: len(h.log_lines(STAGED)) >= 2, "both certificates staged",
            ISSUE_LIMIT)

    # the orders went out without a profile, and the warning came once for
    # the CA, not once per domain or attempt
    assert proxy.new_order_profiles and set(proxy.new_order_profiles) == {None}, \
        proxy.new_order_profiles
    warned = h.log_lines(NO_PROFILES)
    assert len(warned) == 1, warned
    assert proxy.directory_url in warned[0] and "shortlived" in warned[0], warned

    h.graceful()
    root = root_file(proxy.pebble, str(tmp_path))
    for names in (a, b):
        h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
        assert_served_verified(h, names, root)
        # ordered without a profile, for the profile configured: not due again
        d = _status(h, names[0])
        assert d["profile"] == "shortlived", d
        assert d["certificates"][0]["profile"] is None, d
        assert d["state"] == "ok", d


def _with_profile(h, profile):
    """h's Sacme* lines with SacmeProfile set to profile (None: removed)."""
    lines = [l for l in h.sacme if not l.startswith("SacmeProfile ")]
    return lines + (["SacmeProfile %s" % profile] if profile else [])


def test_changed_profile_orders_anew(proxy, httpds, tmp_path):
    proxy.set(profiles=PROFILES)
    names = names_for("prof-change")
    h = httpds.add(proxied_httpd(proxy, [names], extra=STATUS_CONF,
                                 more=[RETRY, "SacmeProfile tlsserver"]))
    h.start()
    serial1 = h.wait_managed_cert(names[0], limit=ISSUE_LIMIT).serial
    assert set(proxy.new_order_profiles) == {"tlsserver"}, proxy.new_order_profiles
    root = root_file(proxy.pebble, str(tmp_path))

    # another profile: the domain is due, a new certificate is ordered
    # with it and activated (SacmeAutoRestart on)
    for profile, before in (("shortlived", serial1), (None, None)):
        if before is None:
            before = h.tls_get(names[0]).serial
        asked = len(proxy.new_order_profiles)
        mark = h.mark()
        h.configure(sacme=_with_profile(h, profile))
        h.graceful()
        ordering = h.wait_log(ORDERING, since=mark, limit=ISSUE_LIMIT)
        assert "the profile changed" in ordering, ordering
        staged = serial_in(h.wait_log(STAGED, since=mark, limit=ISSUE_LIMIT))
        h.wait_managed_cert(names[0], limit=ISSUE_LIMIT, not_serial=before)
        leaf = assert_served_verified(h, names, root)[0]
        assert leaf.serial_number == staged
        assert set(proxy.new_order_profiles[asked:]) == {profile}, \
            proxy.new_order_profiles
        d = _status(h, names[0])
        assert d["profile"] == profile and d["certificates"][0]["profile"] == profile, d
        assert d["state"] == "ok", d


def test_order_for_another_profile_is_not_resumed(proxy, httpds, tmp_path):
    """An order in progress (the CA keeps it processing) when SacmeProfile
    changes: the restarted driver orders anew with the new profile instead
    of resuming the order made for the old one."""
    proxy.set(profiles=PROFILES, hold_processing_for=3600, retry_after=1)
    names = names_for("prof-resume")
    h = httpds.add(proxied_httpd(proxy, [names], extra=STATUS_CONF,
                                 more=[RETRY, "SacmeProfile tlsserver"]))
    h.start()
    path = h.store("staging", names[0], "order.json")
    h._wait(lambda: os.path.isfile(path) and proxy.stats["hold_processing_for"] >= 1,
            "an order in progress, held processing by the CA", ISSUE_LIMIT)
    with open(path) as f:
        order = json.load(f)
    assert order["profile"] == "tlsserver", order
    assert set(proxy.new_order_profiles) == {"tlsserver"}, proxy.new_order_profiles

    proxy.clear("hold_processing_for")
    mark = h.mark()
    h.configure(sacme=_with_profile(h, "shortlived"))
    h.graceful()
    h.wait_log(ORDERING, since=mark, limit=ISSUE_LIMIT)
    staged = serial_in(h.wait_log(STAGED, since=mark, limit=ISSUE_LIMIT))
    assert not h.log_lines(RESUMING, since=mark), h.log_lines(RESUMING, since=mark)
    assert proxy.new_order_profiles[-1] == "shortlived", proxy.new_order_profiles
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    leaf = assert_served_verified(h, names, root_file(proxy.pebble, str(tmp_path)))[0]
    assert leaf.serial_number == staged
    d = _status(h, names[0])
    assert d["certificates"][0]["profile"] == "shortlived" and d["state"] == "ok", d


# --- mistakes refused by apache2 -t ---------------------------------------------

CONFIG_CASES = [
    ("not-a-name", ["SacmeProfile", "tls/server"],
     lambda: _conf(after=["SacmeProfile tls/server"]),
     lambda: _conf(after=["SacmeProfile tlsserver"])),
    ("too-long", ["SacmeProfile", "64"],
     lambda: _conf(after=["SacmeProfile " + "x" * 65]),
     lambda: _conf(after=["SacmeProfile " + "x" * 64])),
    ("twice", ["SacmeProfile", "twice"],
     lambda: _conf(after=["SacmeProfile tlsserver", "SacmeProfile shortlived"]),
     lambda: _conf(after=["SacmeProfile tlsserver"], inside=["SacmeProfile shortlived"])),
    ("not-a-name-in-a-set", ["SacmeProfile", "short lived"],
     lambda: _conf(inside=['SacmeProfile "short lived"']),
     lambda: _conf(inside=["SacmeProfile none"], after=["SacmeProfile short.lived-1_a"])),
    ("no-value", ["SacmeProfile"],
     lambda: _conf(inside=["SacmeProfile"]),
     lambda: _conf(inside=["SacmeProfile shortlived"])),
]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_profile_mistake_fails_config_check(case):
    _, words, bad, good = case
    out = refused_output(bad(), good())
    assert all(w in out for w in words), "the message does not name %s:\n%s" % (words, out)
