"""ACME Renewal Information (ARI, RFC 9773): the CA says when to renew.

Debian's Pebble 2.4 has no ARI, so the quirk proxy in front of the real
Pebble serves it (sacmetest/quirkproxy.py, quirk "ari"): it advertises
renewalInfo, answers GET renewalInfo/<certID> for the certificates Pebble
really issued through it, and records every poll and every "replaces" of a
newOrder.  What a user depends on: a window in the future sets the renewal
time (status says "ari") and orders nothing; a window in the past renews at
once, naming the certificate replaced; a broken ARI never stops renewal (the
local window applies, the log says so once); a restart neither polls again
what is not due nor picks another time; `sacmectl ari check` polls at once;
a CA refusing "replaces" gets the order without it; and the incident drill:
a certificate revoked at the CA by someone else is replaced after
`sacmectl ari check`, served over TLS, without any other admin action.

One Pebble (real HTTP-01) for the module; one proxy and one httpd per test.
"""

import json
import os
import re
import time
import urllib.parse

import pytest

from sacmetest import certcheck
from sacmetest.ari import ari_cert_id, revoke_at_ca
from sacmetest.httpd import serial_in
from sacmetest.module import (ACTIVATED, DRIVER_STARTED, ISSUE_LIMIT, LOG_LIMIT, STAGED,
                              account_dirs, assert_served_verified, live_chain, names_for,
                              root_file)
from sacmetest.quirkproxy import proxied_httpd
from sacmetest.sacmectl import store_cmd
from test_module_status import STATUS_CONF, request
# one Pebble (real HTTP-01) for the module, one proxy per test
from test_quirks_proxy import proxies, qpebble  # noqa: F401 (fixtures)

ARI_WINDOW = "SACME10400"        # the CA's window and the time picked in it
ARI_EXPLAINED = "SACME10401"     # the CA's explanationURL
ARI_FAILED = "SACME10402"        # ARI unusable: the local window applies
ARI_REPLACES_REFUSED = "SACME10406"
ARI_CHECK = "SACME10407"         # sacmectl ari check taken by the driver
RETRY = "SacmeRetryDelay 2s"
DAY = 86400


def start_httpd(proxy, httpds, tag, more=(), extra=""):
    names = names_for(tag)
    h = httpds.add(proxied_httpd(proxy, [names], more=[RETRY] + list(more), extra=extra))
    h.start()
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    return h, names


def ari_json(h, name):
    try:
        with open(h.store("staging", name, "ari.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def wait_ari(h, name, cond, what, limit=LOG_LIMIT):
    """ari.json of name once cond(record) holds; returns it."""
    h._wait(lambda: (ari_json(h, name) or None) and cond(ari_json(h, name)),
            "ari.json of %s: %s" % (name, what), limit)
    return ari_json(h, name)


def ari_stamp(h, name):
    """What tells one write of ari.json from the next (written anew, by a
    rename, every time), whatever second it falls in."""
    st = os.stat(h.store("staging", name, "ari.json"))
    return (st.st_ino, st.st_mtime_ns)


def wait_polled(h, name, proxy, cert_id, polls, stamp, limit=LOG_LIMIT):
    """ari.json of name once the CA was asked again (more than polls
    times) and the answer recorded: written since stamp (ari_stamp), with
    the next poll ahead (sacmectl ari check first writes it as due now)."""
    def done():
        rec = ari_json(h, name)
        return (len(proxy.ari_polls_of(cert_id)) > polls and rec
                and ari_stamp(h, name) != stamp and rfc3339(rec["next-poll"]) > time.time())
    h._wait(done, "ari.json of %s after another poll" % name, limit)
    return ari_json(h, name)


def rfc3339(text):
    return time.mktime(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone


def live_cert_id(h, name):
    return ari_cert_id(live_chain(h, name)[0])


def first_issued(proxy):
    """(certID, serial) of the first certificate issued through the proxy:
    with a window in the past it may be replaced before the test reads the
    store."""
    cert_id = next(iter(proxy.issued))
    return cert_id, proxy.issued[cert_id]


def new_orders(proxy):
    return proxy.request_count("POST", proxy.new_order_path, status=201)


def show(h, name):
    res = store_cmd(h, "show", name)
    assert res.rc == 0, res.describe()
    return res.json


# --- the window in the future: the CA's time, nothing ordered -----------------------

def test_window_in_future_sets_renewal_time_and_survives_restart(qpebble, proxies, httpds):
    proxy = proxies.start(qpebble, {"ari": "future"})
    h, names = start_httpd(proxy, httpds, "arifuture", extra=STATUS_CONF)
    cert_id = live_cert_id(h, names[0])
    serial = live_chain(h, names[0])[0].serial_number
    rec = wait_ari(h, names[0], lambda r: r.get("renew-at") and r.get("cert-id") == cert_id,
                   "a renewal time")
    assert proxy.ari_polls_of(cert_id), "the CA was never asked: %r" % proxy.ari_polls
    start, end = (rfc3339(rec["window"][k]) for k in ("start", "end"))
    assert end - start == DAY and start > time.time() + 29 * DAY, rec
    assert start <= rfc3339(rec["renew-at"]) <= end, rec
    line = h.wait_log(ARI_WINDOW, limit=LOG_LIMIT)
    assert rec["renew-at"] in line and names[0] in line, line
    assert proxy.base_url + "/ari-explained/future" in h.wait_log(ARI_EXPLAINED)

    # status: the CA's time and where it comes from, everywhere
    d = show(h, names[0])
    assert d["renew-at"] == rec["renew-at"] and d["renew-source"] == "ari", d
    assert d["explanation-url"] == proxy.base_url + "/ari-explained/future", d
    cert = d["certificates"][0]
    assert cert["renew-source"] == "ari" and cert["renew-at"] == rec["renew-at"], cert
    status, _, body = request(h, "GET", "/sacme-status/%s" % names[0])
    assert status == 200 and json.loads(body)["renew-source"] == "ari", body[:300]
    status, _, body = request(h, "GET", "/server-status?auto")
    auto = body.decode()
    assert "SacmeDomain-%s-RenewAt: %s" % (names[0], rec["renew-at"]) in auto, auto
    assert "SacmeDomain-%s-RenewSource: ari" % names[0] in auto, auto
    status, _, body = request(h, "GET", "/sacme-status/?format=prometheus")
    metric = 'sacme_certificate_renew_at_seconds{domain="%s",key_type="p256",source="ari"} %d' \
        % (names[0], rfc3339(rec["renew-at"]))
    assert metric in body.decode(), body.decode()
    res = store_cmd(h, "list", json_output=False)
    row = [l.split() for l in res.stdout.splitlines() if l.startswith(names[0] + " ")][0]
    assert row[6:8] == [rec["renew-at"], "ari"], res.stdout
    res = store_cmd(h, "show", names[0], json_output=False)
    assert "the CA's renewal information" in res.stdout, res.stdout

    # nothing was ordered for it: the renewal waits for the CA's time
    assert new_orders(proxy) == 1, proxy.requests[-20:]

    # a restart neither polls what is not due nor picks another time
    polls = len(proxy.ari_polls_of(cert_id))
    mark = h.mark()
    h.graceful()
    h.wait_log(DRIVER_STARTED, since=mark, limit=LOG_LIMIT)
    time.sleep(3)        # a few of the driver's passes (200 ms each)
    assert len(proxy.ari_polls_of(cert_id)) == polls, proxy.ari_polls
    assert ari_json(h, names[0])["renew-at"] == rec["renew-at"]
    assert new_orders(proxy) == 1
    assert live_chain(h, names[0])[0].serial_number == serial

    # sacmectl ari check polls at once; the same window keeps the time
    stamp = ari_stamp(h, names[0])
    mark = h.mark()
    res = store_cmd(h, "ari", "check", names[1])
    assert res.rc == 0, res.describe()
    h.wait_log(ARI_CHECK, since=mark, limit=LOG_LIMIT)
    again = wait_polled(h, names[0], proxy, cert_id, polls, stamp)
    assert again["renew-at"] == rec["renew-at"], (rec, again)
    assert not os.path.exists(h.store("requests", "-ari.json"))
    assert new_orders(proxy) == 1
    # a name that is not managed is refused, naming the store
    res = store_cmd(h, "ari", "check", "unknown.example.test")
    assert res.rc == 2 and "not a managed domain" in res.stderr, res.describe()


# --- the window in the past: renewed at once, with replaces -------------------------

def test_window_in_past_renews_with_replaces(qpebble, proxies, httpds, tmp_path):
    proxy = proxies.start(qpebble, {"ari": {"first": "past", "*": "future"}})
    h, names = start_httpd(proxy, httpds, "aripast")
    cert_id, first_serial = first_issued(proxy)
    # no admin action: the poll at activation sees the window in the past
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT, not_serial=first_serial)
    root = root_file(qpebble, str(tmp_path))
    leaf = assert_served_verified(h, names, root)[0]
    assert leaf.serial_number != first_serial
    assert qpebble.cert_status(certcheck.serial_hex(leaf)).get("Status") == "Valid"
    assert (cert_id, True, False) in proxy.replaces, proxy.replaces
    assert "renewing now" in h.log_lines(ARI_WINDOW)[0], h.log_lines(ARI_WINDOW)
    # the new certificate is polled in turn, and gets the future window
    new_id = ari_cert_id(leaf)
    rec = wait_ari(h, names[0], lambda r: r.get("cert-id") == new_id and r.get("renew-at"),
                   "the new certificate's window")
    assert rfc3339(rec["renew-at"]) > time.time() + 29 * DAY, rec
    assert new_orders(proxy) == 2, proxy.requests[-20:]


# --- a broken ARI never stops renewal ----------------------------------------------

@pytest.mark.parametrize("mode,why", [
    ("404", "HTTP 404"),
    ("500", "HTTP 500"),
    ("garbage", "not JSON"),
    ("backwards", "before it starts"),
])
def test_broken_ari_falls_back_to_the_local_window(qpebble, proxies, httpds, mode, why):
    proxy = proxies.start(qpebble, {"ari": mode})
    h, names = start_httpd(proxy, httpds, "aribroken" + mode)
    cert_id = live_cert_id(h, names[0])
    rec = wait_ari(h, names[0], lambda r: r.get("error"), "the failure")
    assert why in rec["error"], rec
    assert "renew-at" not in rec, rec
    line = h.wait_log(ARI_FAILED, limit=LOG_LIMIT)
    assert why in line and "local window" in line, line
    # the local window applies
    d = show(h, names[0])
    assert d["renew-source"] == "window" and d["renew-at"], d
    assert d["renew-at"] in line, (d["renew-at"], line)
    assert d["state"] == "ok", d
    # asked again: still broken, not logged again, still the local window
    polls = len(proxy.ari_polls_of(cert_id))
    stamp = ari_stamp(h, names[0])
    res = store_cmd(h, "ari", "check")
    assert res.rc == 0, res.describe()
    assert "error" in wait_polled(h, names[0], proxy, cert_id, polls, stamp)
    assert len(h.log_lines(ARI_FAILED + ":")) == 1, h.log_lines(ARI_FAILED)
    assert show(h, names[0])["renew-source"] == "window"
    assert new_orders(proxy) == 1


def test_failed_poll_keeps_the_time_the_ca_gave(qpebble, proxies, httpds):
    """The CA's renewal information answered once, then fails: the time
    picked in its last window stays (with its window), and the status keeps
    saying it comes from the CA; the failure is logged once with that time."""
    proxy = proxies.start(qpebble, {"ari": "future"})
    h, names = start_httpd(proxy, httpds, "arikept")
    cert_id = live_cert_id(h, names[0])
    rec = wait_ari(h, names[0], lambda r: r.get("renew-at") and r.get("cert-id") == cert_id,
                   "a renewal time")
    proxy.set(ari="500")
    polls = len(proxy.ari_polls_of(cert_id))
    stamp = ari_stamp(h, names[0])
    assert store_cmd(h, "ari", "check", names[0]).rc == 0
    failed = wait_polled(h, names[0], proxy, cert_id, polls, stamp)
    assert "HTTP 500" in failed.get("error", ""), failed
    assert failed["renew-at"] == rec["renew-at"] and failed["window"] == rec["window"], \
        (rec, failed)
    line = h.wait_log(ARI_FAILED + ":", limit=LOG_LIMIT)
    assert rec["renew-at"] in line and "suggested last" in line, line
    d = show(h, names[0])
    assert d["renew-source"] == "ari" and d["renew-at"] == rec["renew-at"], d
    assert new_orders(proxy) == 1


def test_broken_ari_then_working_is_followed(qpebble, proxies, httpds):
    """The local window is only the stand-in: once the CA answers, its
    window is followed (here in the past: renewed)."""
    proxy = proxies.start(qpebble, {"ari": "500"})
    h, names = start_httpd(proxy, httpds, "arirecover")
    first = live_chain(h, names[0])[0]
    wait_ari(h, names[0], lambda r: r.get("error"), "the failure")
    proxy.set(ari={ari_cert_id(first): "past", "*": "future"})
    assert store_cmd(h, "ari", "check", names[0]).rc == 0
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT, not_serial=first.serial_number)
    assert (ari_cert_id(first), True, False) in proxy.replaces, proxy.replaces


# --- a CA that gains ARI while the driver runs ---------------------------------------

def driver_pids(h):
    """The pid of every driver started so far, from its SACME10020 line."""
    return [re.search(r"driver started \(pid (\d+)\)", line).group(1)
            for line in h.log_lines(DRIVER_STARTED + ":")]


def test_ca_gaining_ari_is_followed_without_restart(qpebble, proxies, httpds):
    """A CA whose directory has no renewalInfo is recorded as such and asked
    again daily or at `sacmectl ari check`; before the driver concludes it
    still has none, it reads the CA's directory again. So a CA that adds ARI
    (an upgrade, a roll-out) is followed at the next check, without
    restarting httpd or the driver."""
    proxy = proxies.start(qpebble, {})
    h, names = start_httpd(proxy, httpds, "arigained")
    cert_id = live_cert_id(h, names[0])
    rec = wait_ari(h, names[0], lambda r: r.get("unsupported") and r.get("cert-id") == cert_id,
                   "the CA offers no ARI")
    assert "renew-at" not in rec and not proxy.ari_polls, (rec, proxy.ari_polls)
    assert show(h, names[0])["renew-source"] == "window"
    pids = driver_pids(h)        # activation may have restarted it once
    assert pids, h.log()[-2000:]
    dir_path = urllib.parse.urlsplit(proxy.directory_url).path
    dir_reads = proxy.request_count("GET", dir_path, status=200)

    # the CA gains ARI; the admin asks for a check
    proxy.set(ari="future")
    stamp = ari_stamp(h, names[0])
    mark = h.mark()
    res = store_cmd(h, "ari", "check", names[0])
    assert res.rc == 0, res.describe()
    h.wait_log(ARI_CHECK, since=mark, limit=LOG_LIMIT)
    rec = wait_polled(h, names[0], proxy, cert_id, 0, stamp)
    assert proxy.request_count("GET", dir_path, status=200) > dir_reads, proxy.requests[-20:]
    assert "unsupported" not in rec, rec
    start, end = (rfc3339(rec["window"][k]) for k in ("start", "end"))
    assert end - start == DAY and start > time.time() + 29 * DAY, rec
    assert start <= rfc3339(rec["renew-at"]) <= end, rec
    line = h.wait_log(ARI_WINDOW + ":", since=mark, limit=LOG_LIMIT)
    assert rec["renew-at"] in line and names[0] in line, line
    d = show(h, names[0])
    assert d["renew-source"] == "ari" and d["renew-at"] == rec["renew-at"], d
    # the same driver did it: nothing restarted, nothing ordered
    assert driver_pids(h) == pids, h.log_lines(DRIVER_STARTED)
    assert new_orders(proxy) == 1


# --- Retry-After ---------------------------------------------------------------------

def test_retry_after_one_second_is_polled_again_after_a_minute(qpebble, proxies, httpds):
    proxy = proxies.start(qpebble, {"ari": "future", "ari_retry_after": 1})
    h, names = start_httpd(proxy, httpds, "ariretry")
    cert_id = live_cert_id(h, names[0])
    rec = wait_ari(h, names[0], lambda r: r.get("renew-at"), "a renewal time")
    # 1 s is below the floor of a minute
    assert rfc3339(rec["next-poll"]) - rfc3339(rec["polled"]) == 60, rec
    h._wait(lambda: len(proxy.ari_polls_of(cert_id)) >= 2, "a second poll", 120)
    first, second = proxy.ari_polls_of(cert_id)[:2]
    assert second[2] - first[2] >= 59, (first, second)
    h._wait(lambda: ari_json(h, names[0])["polled"] != rec["polled"], "ari.json of the "
            "second poll", LOG_LIMIT)       # a minute later: another second
    again = ari_json(h, names[0])
    assert again["renew-at"] == rec["renew-at"], "the same window picked again"


# --- replaces refused ----------------------------------------------------------------

def test_replaces_refused_is_ordered_again_without(qpebble, proxies, httpds):
    proxy = proxies.start(qpebble, {"ari": {"first": "past", "*": "future"},
                                    "reject_replaces_once": True})
    h, names = start_httpd(proxy, httpds, "arirefused")
    cert_id, first_serial = first_issued(proxy)
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT, not_serial=first_serial)
    assert proxy.replaces[0] == (cert_id, True, True), proxy.replaces
    line = h.wait_log(ARI_REPLACES_REFUSED, limit=LOG_LIMIT)
    assert "alreadyReplaced" in line and cert_id in line, line
    assert new_orders(proxy) == 2, proxy.requests[-20:]


# --- SacmeARI off --------------------------------------------------------------------

def test_ari_off_never_asks(qpebble, proxies, httpds):
    proxy = proxies.start(qpebble, {"ari": "past"})
    h, names = start_httpd(proxy, httpds, "arioff", more=["SacmeARI off"])
    mark = h.mark()
    h.graceful()
    h.wait_log(DRIVER_STARTED, since=mark, limit=LOG_LIMIT)
    time.sleep(3)        # a few of the driver's passes (200 ms each)
    assert not proxy.ari_polls, proxy.ari_polls
    assert ari_json(h, names[0]) is None
    assert show(h, names[0])["renew-source"] == "window"
    assert new_orders(proxy) == 1


# --- the incident drill --------------------------------------------------------------

def test_incident_drill_revoked_elsewhere_replaced_after_ari_check(qpebble, proxies,
                                                                   httpds, tmp_path):
    proxy = proxies.start(qpebble, {"ari": "future"})
    h, names = start_httpd(proxy, httpds, "aridrill")
    first = live_chain(h, names[0])[0]
    cert_id = ari_cert_id(first)
    wait_ari(h, names[0], lambda r: r.get("renew-at"), "a renewal time")

    # someone else revokes it at the CA (not sacmectl); the CA then says: now
    status = revoke_at_ca(proxy.directory_url, qpebble.ca_file, account_dirs(h)[0], first)
    assert status == 200, status
    assert qpebble.cert_status(certcheck.serial_hex(first)).get("Status") == "Revoked"
    proxy.set(ari={cert_id: "past", "*": "future"})

    mark = h.mark()
    res = store_cmd(h, "ari", "check")
    assert res.rc == 0, res.describe()
    staged = h.wait_log(STAGED, since=mark, limit=ISSUE_LIMIT)
    assert serial_in(h.wait_log(ACTIVATED, since=mark, limit=ISSUE_LIMIT)) == serial_in(staged)
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT, not_serial=first.serial_number)
    root = root_file(qpebble, str(tmp_path))
    leaf = assert_served_verified(h, names, root)[0]
    assert leaf.serial_number != first.serial_number
    assert qpebble.cert_status(certcheck.serial_hex(leaf)).get("Status") == "Valid"
    assert (cert_id, True, False) in proxy.replaces, proxy.replaces
