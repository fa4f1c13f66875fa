"""Fault matrix, the CA unreachable (issue 11): nobody listens on the CA's
port for a while (the quirk proxy in front of Pebble is stopped, its
connections closed), then the CA is back on the same port.

How the backoff bounds the attempts: with SacmeRetryDelay R, the n-th
failure in a row waits R * 2^(n-1) (plus or minus 10%, and job.json keeps
the next attempt in whole seconds, so up to one second less) before the
next attempt. Over a down period of D seconds the failures can therefore
be at most 1 + the number of n with sum_{k<n} (0.9 R 2^k - 1) <= D: a
handful, where a loop would log hundreds. The test counts the SACME10024
lines of the domain over the period it measured and compares them with
that bound; it also needs two of them at least (the driver did retry).

Then the proxy comes back on the same port and the certificate is issued
and served without any admin action (no restart, no sacmectl). The CA goes
away either before the first attempt, or in the middle of an order: that
order is then resumed once the CA is back, not made again."""

import time

import pytest

from sacmetest import faults
from sacmetest.module import (ERRORED, ISSUE_LIMIT, RESUMING, assert_served_verified, names_for,
                              order_url_in, root_file)
from sacmetest.quirkproxy import QuirkProxy, proxied_httpd

RETRY = 2          # SacmeRetryDelay, seconds
DOWN = 40          # how long the CA stays unreachable, seconds


def max_failures(down, retry=RETRY):
    """The most failed attempts the backoff allows within `down` seconds."""
    n, t = 1, 0.0
    while True:
        t += max(0.0, 0.9 * retry * 2 ** (n - 1) - 1)
        if t > down:
            return n
        n += 1


@pytest.fixture
def pebble_av():
    p = faults.exact_pebble(always_valid=True)
    yield p
    p.stop()


@pytest.mark.parametrize("when", ["first-attempt", "mid-order"])
def test_unreachable_ca_is_retried_with_backoff_then_issues(when, pebble_av, httpds, tmp_path):
    names = names_for("ca-down-" + when)
    # mid-order: the CA goes away once the order is made (its authorization
    # request is held, then the proxy stopped under it)
    proxy = QuirkProxy(pebble_av, quirks={"hold": ("/authZ/", "request")}
                       if when == "mid-order" else None).start()
    proxies = [proxy]
    port = proxy.port
    h = httpds.add(proxied_httpd(proxy, [names], more=["SacmeRetryDelay %ds" % RETRY]))
    order_url = None
    if when == "mid-order":
        h.start()
        assert proxy.wait_held(ISSUE_LIMIT), "the driver never made its order"
        order_url = order_url_in(faults.read_bytes(
            h.store("staging", names[0], "order.json")).decode())
        assert order_url
        proxy.stop()
        down_since = time.monotonic()
    else:
        proxy.stop()                   # the CA is gone before the first attempt
        down_since = time.monotonic()
        h.start()
    try:
        first = h.wait_log(ERRORED, limit=ISSUE_LIMIT)
        assert names[0] in first, first
        # the cause, from the transport
        assert "connect" in first.lower() or "refused" in first.lower() \
            or "reset" in first.lower(), first
        # wait the down period out, then count
        h._wait(lambda: time.monotonic() - down_since >= DOWN, "the down period",
                DOWN + 30, interval=1)
        failures = [l for l in h.log_lines(ERRORED) if names[0] in l]
        down = time.monotonic() - down_since
        # httpd is up and serves its fallback all along
        r = h.tls_get(names[0])
        assert r.is_fallback, r.describe()
    finally:
        proxy = QuirkProxy(pebble_av, port=port).start()
        proxies.append(proxy)
    try:
        bound = max_failures(down)
        assert 2 <= len(failures) <= bound, \
            "%d failed attempts in %.0f s (the backoff allows %d):\n%s" \
            % (len(failures), down, bound, "\n".join(failures))
        h.wait_managed_cert(names[0], limit=ISSUE_LIMIT + 2 * DOWN)
        assert_served_verified(h, names, root_file(pebble_av, str(tmp_path)))
        assert sum(faults.registrations(p) for p in proxies) == 1
        assert sum(faults.new_orders(p) for p in proxies) == 1, "the order was made again"
        if order_url:
            resumed = h.log_lines(RESUMING)
            assert resumed and order_url_in(resumed[-1]) == order_url, resumed
    finally:
        proxy.stop()
