"""A renewal window longer than half of the certificate's lifetime is cut to
half, so a certificate just put in service is never due again at once.

Pebble issues 5-year certificates; with SacmeRenewWindow 3650d the window
used to reach back past the certificate's beginning: each new certificate
was due the moment it was in service, and the server ordered another and
restarted gracefully about every minute, forever.  Now the driver looks at
the new certificate, says once (SACME10390) that the window applies as half
the lifetime, and orders nothing; every status (the handler in the request
children, sacmectl) shows the renewal at half the lifetime, at the very
time the driver logged."""

import datetime
import re
import time

from sacmetest.module import ACTIVATED, ISSUE_LIMIT, ORDERING, make_httpd, names_for
from sacmetest.sacmectl import EXIT_OK, store_cmd
from test_module_status import STATUS_CONF, get_json, rfc3339

CLAMPED = "SACME10390"
# How long the server is watched after the activation for a second order:
# the storm this guards against ordered within seconds of each activation.
WATCH = 120
AT_RE = re.compile(r"\(at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\)")


def test_a_window_longer_than_the_lifetime_does_not_storm(http01_pebble, httpds):
    pebble = http01_pebble
    names = names_for("clamp")
    # the driver looks at the domain every second: a certificate it found
    # due would be ordered within a second of the look
    h = httpds.add(make_httpd(pebble, [names], extra=STATUS_CONF,
                              more=["SacmeRenewWindow 3650d", "SacmeCheckInterval 1s"]))
    h.start()
    h.wait_log(ACTIVATED, limit=ISSUE_LIMIT)
    activated = time.time()
    leaf = h.wait_managed_cert(names[0], limit=ISSUE_LIMIT).cert
    orders = len(h.log_lines(ORDERING))
    # (the storm ordered again within a second of the activation)
    assert orders == 1, "a second order right after the activation:\n" + \
        "\n".join(h.log_lines(ORDERING))
    generations = h.restarts()

    # the driver of the new generation has looked at the certificate in
    # service: it says the window is cut, and names what applies
    told = h.wait_log(CLAMPED, limit=ISSUE_LIMIT)
    lifetime = leaf.not_valid_after - leaf.not_valid_before
    assert lifetime > datetime.timedelta(days=365), "not Pebble's long-lived certificate"
    assert ":warn]" in told, told
    assert "%s: SacmeRenewWindow 3650d is longer than half of the lifetime" % names[0] in told, told
    half_days = lifetime.total_seconds() / 2 / 86400
    assert "renewing it %.1f days before expiry" % half_days in told, told
    logged_at = AT_RE.search(told).group(1)

    # and orders nothing, look after look (no restart either)
    deadline = activated + WATCH
    while time.time() < deadline:
        assert len(h.log_lines(ORDERING)) == orders, \
            "a second order after the activation:\n" + "\n".join(h.log_lines(ORDERING))
        time.sleep(1)
    assert h.restarts() == generations, "httpd restarted"
    assert h.wait_managed_cert(names[0], limit=10).serial == leaf.serial_number
    # said once, though the driver looked about every second
    assert len(h.log_lines(CLAMPED)) == 1, "\n".join(h.log_lines(CLAMPED))

    # the status: renewal at half the lifetime (the jitter, at most a tenth
    # of the window, only later), the same in the request children, in
    # sacmectl and in the driver's line
    dom = get_json(h, "/sacme-status/")["domains"][0]
    renew_at = rfc3339(dom["renew-at"])
    half = leaf.not_valid_before + lifetime / 2
    assert half - datetime.timedelta(seconds=1) <= renew_at <= half + lifetime / 20, \
        (dom["renew-at"], half)
    assert dom["renew-window"] == "3650d", dom
    assert dom["renew-at"] == logged_at, (dom["renew-at"], told)
    res = store_cmd(h, "show", names[0])
    assert res.rc == EXIT_OK, res.describe()
    assert res.json["renew-at"] == logged_at, res.json
