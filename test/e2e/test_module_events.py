"""Events beyond the notify command: the webhook (SacmeNotifyURL) and expiry
alerts (SacmeWarnWindow), with a real httpd, the built module and, for
issuance, a real Pebble.

The webhook receiver is a small HTTPS server on 127.0.0.1 whose certificate
comes from a test CA that SacmeCACertificate trusts, so the driver's TLS
verification is exercised, not bypassed.

Expiry alerts need a certificate that has aged, which Pebble cannot issue
(its certificates start now): the alert tests put a certificate that has 10
of its 90 days left in service by hand, as a migrated certificate would be,
and point the module at a CA that does not answer, so the renewal keeps
failing and the alerts are what the admin hears."""

import datetime
import http.server
import json
import os
import re
import ssl
import threading

import pytest

from sacmetest.httpd import USER, Httpd, Vhost, free_port, serial_in, user_ids
from sacmetest.module import ERRORED, ISSUE_LIMIT, LOG_LIMIT, STAGED, make_httpd, names_for
from sacmetest.pairs import aged_pair, write_pair
from sacmetest.pebble import make_api_certs
from sacmetest.quirkproxy import _Server as TLSServer

ALERT = "SACME10090"
GAVE_UP = "SACME10095"
RESUMED = "SACME10058"
ATTEMPT_FAILED = "SACME10094"
SECRET_PATH = "/hook/T0K3N-in-the-path"
SECRET_QUERY = "sig=qu0kka-s1gnature"


# --- the receiver ---------------------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        r = self.server.proxy
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with r.lock:
            r.requests.append({"path": self.path, "headers": dict(self.headers.items()),
                               "body": body})
        if r.hold is not None:
            r.hold.wait(60)
        status = r.status
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n" if status < 400 else b"no\n")

    def log_message(self, *args):
        pass


class Receiver:
    """An HTTPS receiver of webhook POSTs.  status: what it answers; hold:
    a threading.Event every request waits for before answering."""

    def __init__(self, cert, key, status=200, hold=None):
        self.status = status
        self.hold = hold
        self.lock = threading.Lock()
        self.requests = []
        self.errors = []
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        # the quirk proxy's threaded TLS server, with this as its "proxy"
        self.server = TLSServer(("127.0.0.1", 0), _Handler, self, ctx)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "https://127.0.0.1:%d%s?%s" % (self.server.server_address[1], SECRET_PATH,
                                             SECRET_QUERY)

    def _note_error(self, text):
        # a held request's client gone (its timeout), a failed handshake
        with self.lock:
            self.errors.append(text)

    def stop(self):
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def events(self, name=None):
        """The JSON bodies received so far (of one event, when name is given)."""
        with self.lock:
            bodies = [json.loads(r["body"]) for r in self.requests]
        return [b for b in bodies if name is None or b["event"] == name]


@pytest.fixture
def receivers():
    started = []

    def make(*args, **kw):
        r = Receiver(*args, **kw)
        started.append(r)
        return r
    yield make
    for r in started:
        r.stop()


def _readable(path):
    os.chmod(path, 0o644)
    os.chmod(os.path.dirname(path), 0o755)
    return path


def _wait(h, cond, what, limit=LOG_LIMIT):
    h._wait(cond, what, limit)


def _serial_hex(cert):
    """The serial as the module writes it: upper-case hex, whole bytes."""
    text = "%X" % cert.serial_number
    return "0" * (len(text) % 2) + text


# --- the webhook with a real issuance ---------------------------------------------------

def test_webhook_gets_renewing_and_renewed(http01_pebble, httpds, receivers):
    pebble = http01_pebble
    names = names_for("hooked")
    h0 = make_httpd(pebble, [names])
    # the receiver's certificate comes from the CA SacmeCACertificate names
    cert, key = pebble.issue_api_cert(h0.root, prefix="receiver")
    rcv = receivers(cert, key)
    h0.configure(sacme=h0.sacme + ["SacmeNotifyURL %s" % rcv.url])
    h = httpds.add(h0)
    h.start()

    staged_serial = serial_in(h.wait_log(STAGED, limit=ISSUE_LIMIT))
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    _wait(h, lambda: rcv.events("renewed") and rcv.events("installed"),
          "the renewed and installed events at the receiver")
    served = h.tls_get(names[0]).cert
    renewing, renewed = rcv.events("renewing"), rcv.events("renewed")
    assert len(renewing) == 1 and len(renewed) == 1, rcv.events()
    ev = renewed[0]
    assert ev["domain"] == names[0]
    assert ev["names"] == names
    # the serial of the certificate that was staged (and is now served)
    assert int(ev["serial"], 16) == staged_serial, (ev, staged_serial)
    assert served.serial_number == staged_serial
    not_after = served.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    assert ev["not-after"] == not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ev["error"] is None and ev["reason"] is None and ev["days-left"] is None
    assert renewing[0]["serial"] is None, "a first issuance replaces no certificate"
    assert rcv.events("installed")[0]["serial"] == ev["serial"]
    assert set(ev) == {"event", "domain", "names", "time", "serial", "not-after", "error",
                       "detail", "threshold", "days-left", "reason"}
    for r in rcv.requests:
        assert r["headers"].get("Content-Type") == "application/json", r["headers"]
        assert r["path"] == SECRET_PATH + "?" + SECRET_QUERY
    # nothing failed, and the secret parts of the URL never reach the log
    assert not h.log_lines(ATTEMPT_FAILED) and not h.log_lines(GAVE_UP)
    assert "T0K3N" not in h.log() and "qu0kka" not in h.log()


def test_failing_receiver_is_retried_and_given_up(http01_pebble, httpds, receivers):
    pebble = http01_pebble
    names = names_for("hook500")
    # no automatic restart: the next driver would send the spooled events
    # again, and the counts below are of one driver's attempts
    h0 = make_httpd(pebble, [names], auto_restart=False)
    cert, key = pebble.issue_api_cert(h0.root, prefix="receiver")
    rcv = receivers(cert, key, status=500)
    h0.configure(sacme=h0.sacme + ["SacmeNotifyURL %s" % rcv.url])
    h = httpds.add(h0)
    h.start()

    # the certificate goes its way whatever the receiver says
    staged = h.wait_log(STAGED, limit=ISSUE_LIMIT)
    assert os.path.exists(h.store("staging", names[0], "fullchain.pem")), staged
    # each event is tried three times, then given up, and that is logged
    line = h.wait_log("event renewed of %s not delivered after 3 attempt(s)" % names[0],
                      limit=LOG_LIMIT)
    assert GAVE_UP in line and "HTTP 500" in line, line
    assert "https://127.0.0.1:%d/..." % rcv.server.server_address[1] in line, line
    assert len(rcv.events("renewing")) == 3, rcv.events()
    assert len(rcv.events("renewed")) == 3, rcv.events()
    assert h.log_lines(ATTEMPT_FAILED), "no log line for the failed attempts"
    assert "T0K3N" not in h.log() and "qu0kka" not in h.log()


def test_receiver_that_hangs_or_is_gone_blocks_nothing(http01_pebble, httpds, receivers):
    pebble = http01_pebble
    names = names_for("hookhang")
    h0 = make_httpd(pebble, [names])
    cert, key = pebble.issue_api_cert(h0.root, prefix="receiver")
    # every request is held until the test ends (each attempt times out)
    rcv = receivers(cert, key, hold=threading.Event())
    h0.configure(sacme=h0.sacme + ["SacmeNotifyURL %s" % rcv.url])
    h = httpds.add(h0)
    h.start()

    staged = h.wait_log(STAGED, limit=ISSUE_LIMIT)
    assert names[0] in staged
    _wait(h, lambda: rcv.events("renewing"), "the renewing event at the receiver")
    # staged while the first event is still being tried: three attempts of
    # 10 s with waits between would have come first, had sending blocked
    assert not h.log_lines(GAVE_UP), h.log_lines(GAVE_UP)
    assert not rcv.events("renewed")
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)


def test_a_set_sends_its_events_to_its_own_receiver(http01_pebble, httpds, receivers):
    """SacmeNotifyURL inside a <SacmeDomainSet>: that domain's events go to
    its receiver only, the others' to the server-wide one only; each
    receiver has a spool of its own."""
    pebble = http01_pebble
    a, b = names_for("hookset-a"), names_for("hookset-b")
    h0 = make_httpd(pebble, [a], vhosts=[Vhost(a), Vhost(b)])
    cert, key = pebble.issue_api_cert(h0.root, prefix="receiver")
    main, own = receivers(cert, key), receivers(cert, key)
    h0.configure(sacme=h0.sacme + [
        "SacmeNotifyURL %s" % main.url,
        "<SacmeDomainSet %s>" % " ".join(b),
        "    SacmeNotifyURL %s" % own.url,
        "</SacmeDomainSet>"])
    h = httpds.add(h0)
    h.start()
    h.wait_managed_cert(a[0], limit=ISSUE_LIMIT)
    h.wait_managed_cert(b[0], limit=ISSUE_LIMIT)
    # renewed may come from the spool, sent by the next driver
    _wait(h, lambda: main.events("installed") and own.events("installed")
          and own.events("renewed"), "the renewed and installed events at both receivers")
    assert {e["domain"] for e in main.events()} == {a[0]}, main.events()
    assert {e["domain"] for e in own.events()} == {b[0]}, own.events()
    assert {"renewing", "renewed", "installed"} <= {e["event"] for e in own.events()}
    spools = [n for n in os.listdir(h.store("staging")) if n.startswith("-webhook")]
    assert len(spools) == 2 and "-webhook" in spools, spools


def test_no_renewed_event_lost_when_the_driver_ends_for_activation(http01_pebble, httpds,
                                                                   receivers):
    """Many domains staged at about the same time: the first one staged
    ends the driver for its activation (SacmeAutoRestart), while the others
    finish theirs. Each domain's `renewed` must still be sent: a worker
    that staged its set before the driver ended raised the event too (it
    used to be raised just after the set was complete, and was lost when
    the driver ended in between)."""
    pebble = http01_pebble
    doms = [names_for("hookmany%d" % i)[:1] for i in range(8)]
    h0 = make_httpd(pebble, doms)
    cert, key = pebble.issue_api_cert(h0.root, prefix="receiver")
    rcv = receivers(cert, key)
    h0.configure(sacme=h0.sacme + ["SacmeNotifyURL %s" % rcv.url, "SacmeMaxParallel 8"])
    h = httpds.add(h0)
    h.start()
    for d in doms:
        h.wait_managed_cert(d[0], limit=ISSUE_LIMIT)
    _wait(h, lambda: {e["domain"] for e in rcv.events("installed")} >= {d[0] for d in doms},
          "an installed event for every domain")
    staged = {l.split("SACME10023: ")[1].split(":")[0] for l in h.log_lines(STAGED)}
    assert staged == {d[0] for d in doms}, staged
    renewed = {e["domain"] for e in rcv.events("renewed")}
    assert renewed == {d[0] for d in doms}, "renewed never sent for %s" % sorted(
        {d[0] for d in doms} - renewed)


def test_events_not_sent_survive_the_restart(http01_pebble, httpds, receivers):
    """A receiver that hangs while the certificate is staged and activated:
    the automatic graceful restart replaces the driver with `renewed` still
    waiting behind a hung `renewing`; the next driver sends both from the
    spool once the receiver answers again."""
    pebble = http01_pebble
    names = names_for("hookspool")
    h0 = make_httpd(pebble, [names])
    cert, key = pebble.issue_api_cert(h0.root, prefix="receiver")
    hold = threading.Event()
    rcv = receivers(cert, key, hold=hold)
    h0.configure(sacme=h0.sacme + ["SacmeNotifyURL %s" % rcv.url])
    h = httpds.add(h0)
    h.start()

    staged_serial = serial_in(h.wait_log(STAGED, limit=ISSUE_LIMIT))
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)     # after the restart
    spool = h.store("staging", "-webhook")
    assert os.listdir(spool), "nothing waits in the spool"
    hold.set()                                           # the receiver is back
    line = h.wait_log(RESUMED, limit=LOG_LIMIT)
    assert "an earlier driver had not sent" in line, line
    _wait(h, lambda: rcv.events("renewed") and rcv.events("installed"),
          "the spooled renewed event and the installed event")
    assert int(rcv.events("renewed")[0]["serial"], 16) == staged_serial
    _wait(h, lambda: not os.listdir(spool), "the spool to empty")


def test_unreachable_url_blocks_nothing(http01_pebble, httpds):
    pebble = http01_pebble
    names = names_for("hookgone")
    url = "https://127.0.0.1:%d/hook" % free_port()        # nobody listens
    h = httpds.add(make_httpd(pebble, [names], more=["SacmeNotifyURL %s" % url]))
    h.start()

    h.wait_log(STAGED, limit=ISSUE_LIMIT)
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    line = h.wait_log(GAVE_UP, limit=LOG_LIMIT)
    assert "not delivered after 3 attempt(s)" in line, line
    failed = h.log_lines(ATTEMPT_FAILED)
    assert failed and re.search(r"attempt 1 of 3 failed: .*(refused|connect)", failed[0],
                                re.IGNORECASE), failed


# --- expiry alerts ------------------------------------------------------------------

NOTIFY = """#!/bin/sh
echo "$1 $2|$SACME_THRESHOLD|$SACME_SERIAL|$SACME_DAYS_LEFT" >> %s
"""


def _aged_certificate(names, directory, days_left=10, lifetime=90):
    """A self-signed P-256 certificate for names valid for `lifetime` days,
    of which days_left remain; written as the live set of names[0] under
    directory (the store).  Returns the certificate."""
    cert, key = aged_pair(names, days_left, lifetime)
    live = os.path.join(directory, "domains", names[0])
    os.makedirs(live)
    write_pair(cert, key, os.path.join(live, "fullchain.pem"),
               os.path.join(live, "privkey.pem"))
    return cert


def _alerting_httpd(names, receiver_url, ca_file, warn=None):
    """An httpd whose CA does not answer (renewals fail), with a notify
    command recording every event and the webhook at receiver_url."""
    h = Httpd(ssl=True, vhosts=[Vhost(names)])
    out_dir = os.path.join(h.root, "notify-out")
    os.makedirs(out_dir)
    uid, gid = user_ids(USER)
    os.chown(out_dir, uid, gid)
    script = os.path.join(h.root, "notify.sh")
    with open(script, "w") as f:
        f.write(NOTIFY % os.path.join(out_dir, "events.txt"))
    os.chmod(script, 0o755)
    lines = [
        "SacmeServer https://127.0.0.1:%d/dir" % free_port(),      # nobody listens
        "SacmeEAB kid-1 c2VjcmV0LWhtYWMta2V5LWZvci10aGUtdGVzdHM",
        "SacmeAgreement accepted",
        "SacmeCACertificate %s" % ca_file,
        "SacmeRetryDelay 1h",
        "SacmeDomain %s" % " ".join(names),
        "SacmeNotifyCmd %s" % script,
        "SacmeNotifyURL %s" % receiver_url,
    ]
    if warn:
        lines.append("SacmeWarnWindow %s" % warn)
    h.configure(sacme=lines)
    h.events_file = os.path.join(out_dir, "events.txt")
    return h


def _notified(h, event="expiring"):
    try:
        with open(h.events_file) as f:
            lines = [l.rstrip("\n") for l in f if l.strip()]
    except OSError:
        return []
    return [l for l in lines if l.split(" ", 1)[0] == event]


def test_expiring_once_per_threshold_across_restarts(httpds, receivers, tmp_path):
    names = names_for("expiring")
    ca_dir = str(tmp_path / "receiver-ca")
    os.makedirs(ca_dir)
    ca_file, cert, key = make_api_certs(ca_dir)
    rcv = receivers(cert, key)
    h = httpds.add(_alerting_httpd(names, rcv.url, _readable(ca_file)))
    live = _aged_certificate(names, h.store_dir)
    serial = _serial_hex(live)
    h.start()

    # 10 of 90 days left, the renewal failing: the 30d and 14d alerts (the
    # defaults are 30d 14d 7d), 7d not yet
    _wait(h, lambda: len(_notified(h)) >= 2 and len(rcv.events("expiring")) >= 2,
          "two expiring events")
    h.wait_log(ERRORED, limit=LOG_LIMIT)
    alerts = h.log_lines(ALERT)
    assert len(alerts) == 2, alerts
    notice = [l for l in alerts if "the 30d alert threshold" in l]
    warning = [l for l in alerts if "the 14d alert threshold" in l]
    assert len(notice) == 1 and ":notice]" in notice[0], alerts
    assert len(warning) == 1 and ":warn]" in warning[0], alerts
    assert serial in notice[0], notice[0]
    assert re.search(r"expires in (9\.9|10\.0) days", notice[0]), notice[0]
    assert "the renewal keeps failing" in warning[0] or "the renewal is due" in warning[0], \
        warning[0]
    for ev in rcv.events("expiring"):
        assert ev["serial"] == serial and ev["domain"] == names[0], ev
        assert ev["days-left"] in (9, 10), ev
    assert sorted(e["threshold"] for e in rcv.events("expiring")) == ["14d", "30d"]
    with open(h.store("staging", names[0], "alerts.json")) as f:
        recorded = json.load(f)
    assert recorded["serial"] == serial
    assert sorted(r["threshold"] for r in recorded["raised"]) == ["14d", "30d"]

    # a graceful restart (a new driver, reading the store) with one
    # threshold more: only the new one is raised. Its event is the proof
    # that the new driver has looked: alerts of one look are raised largest
    # first, so a repeated 30d or 14d would have come before it (the
    # webhook keeps their order, the log is written as they are raised).
    driver = h.driver_pid()
    h.configure(sacme=h.sacme + ["SacmeWarnWindow 30d 14d 12d"])
    h.graceful()
    _wait(h, lambda: any(e["threshold"] == "12d" for e in rcv.events("expiring")),
          "the 12d expiring event at the receiver")
    _wait(h, lambda: any("|12d|" in l for l in _notified(h)), "the 12d expiring event")
    assert h.driver_pid() != driver, "the driver was not replaced"
    line = [l for l in h.log_lines(ALERT) if "the 12d alert threshold" in l]
    assert len(line) == 1 and ":error]" in line[0], h.log_lines(ALERT)

    lines = _notified(h)
    for t in ("30d", "14d", "12d"):
        assert sum("|%s|%s|" % (t, serial) in l for l in lines) == 1, lines
        assert len([e for e in rcv.events("expiring") if e["threshold"] == t]) == 1, \
            rcv.events("expiring")
    assert len(h.log_lines(ALERT)) == 3, h.log_lines(ALERT)
    assert "T0K3N" not in h.log() and "qu0kka" not in h.log()


# --- configuration ---------------------------------------------------------------------

HMAC = "c2VjcmV0LWhtYWMta2V5LWZvci10aGUtdGVzdHM"
CONF_NAMES = ["events.test", "www.events.test"]


def _check(more):
    h = Httpd(ssl=True, vhosts=[Vhost(CONF_NAMES)], sacme=[
        "SacmeServer https://127.0.0.1:9/dir",
        "SacmeEAB kid-1 %s" % HMAC,
        "SacmeAgreement accepted",
        "SacmeDomain %s" % " ".join(CONF_NAMES),
    ] + list(more))
    try:
        r = h.check_config()
        return r.returncode, r.stdout + r.stderr + h.log()
    finally:
        h.stop()


@pytest.mark.parametrize("bad,good,directive", [
    ("SacmeWarnWindow soon", "SacmeWarnWindow 30d 14d 7d", "SacmeWarnWindow"),
    ("SacmeWarnWindow 0d", "SacmeWarnWindow 1d", "SacmeWarnWindow"),
    ("SacmeWarnWindow 14d 30d 14d", "SacmeWarnWindow 14d 30d", "SacmeWarnWindow"),
    ("SacmeWarnWindow 36500d", "SacmeWarnWindow 365d", "SacmeWarnWindow"),
    ("SacmeWarnWindow", "SacmeWarnWindow none", "SacmeWarnWindow"),
    ("SacmeNotifyURL http://127.0.0.1:9/hook", "SacmeNotifyURL https://127.0.0.1:9/hook",
     "SacmeNotifyURL"),
    ("SacmeNotifyURL hooks.example.net/in", "SacmeNotifyURL https://hooks.example.net/in",
     "SacmeNotifyURL"),
    ("SacmeNotifyURL https:///nohost", "SacmeNotifyURL https://h.example.net",
     "SacmeNotifyURL"),
], ids=["warn-garbage", "warn-zero", "warn-twice", "warn-century", "warn-empty",
        "url-http", "url-no-scheme", "url-no-host"])
def test_config_mistakes_name_the_directive(bad, good, directive):
    rc, out = _check([good])
    assert rc == 0, "the correct twin fails -t:\n" + out
    rc, out = _check([bad])
    assert rc != 0, "apache2 -t accepted %r:\n%s" % (bad, out)
    assert directive in out and "Invalid command" not in out, out
