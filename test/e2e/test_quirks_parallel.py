"""Head-of-line blocking: one domain whose order the CA keeps `processing`
(as Sectigo does for OV/EV approvals) must not delay the others.

Six SacmeDomains; the quirk proxy holds the order of ONE of them in
`processing` for 60 s after its finalize (keyed by its name, found in the
newOrder request's identifiers).  The five others must be issued and
activated while the held one is still not served.  This needs the module to
drive domains concurrently (SacmeMaxParallel, default > 1): driven one after
another, the held domain (listed first) blocks every other for the whole
hold."""

import sys
import time

import pytest

from sacmetest.httpd import Vhost
from sacmetest.module import (ACTIVATED, ISSUE_LIMIT, STAGED, assert_served_verified,
                              root_file)
from sacmetest.pebble import Pebble
from sacmetest.quirkproxy import QuirkProxy, proxied_httpd

HOLD = 60


@pytest.fixture
def hol_pebble():
    p = Pebble(always_valid=False, nosleep=True)
    p.start()
    conftest = sys.modules.get("conftest")
    if conftest is not None:
        conftest._running_pebbles.append(p)
    yield p
    if conftest is not None and p in conftest._running_pebbles:
        conftest._running_pebbles.remove(p)
    p.stop()


def test_one_slow_order_does_not_hold_up_the_others(hol_pebble, httpds, tmp_path):
    pebble = hol_pebble
    domains = [["hol-%s.test" % c, "www.hol-%s.test" % c] for c in "abcdef"]
    held = domains[0]
    others = domains[1:]
    proxy = QuirkProxy(pebble, quirks={"hold_processing_for": {held[0]: HOLD},
                                       "retry_after": 2}).start()
    try:
        # restarts by hand: the activation of the five is then one graceful
        # restart, not a race with the module's once-a-minute restart limit
        h = httpds.add(proxied_httpd(proxy, domains, vhosts=[Vhost(d) for d in domains],
                                     auto_restart=False, more=["SacmeRetryDelay 2s"]))
        h.start()
        started = time.monotonic()

        def staged(d):
            return any(("%s:" % d[0]) in l for l in h.log_lines(STAGED))

        def five_staged():
            return all(staged(d) for d in others)

        deadline = started + HOLD - 10
        while time.monotonic() < deadline and not five_staged():
            time.sleep(0.5)
        done = [d[0] for d in others if staged(d)]
        assert five_staged(), (
            "within %d s of the start only %r of the five unheld domains were "
            "staged while %s was held in processing: the domains look driven "
            "one after another (head-of-line blocking)"
            % (HOLD - 10, done, held[0]))
        assert proxy.stats["hold_processing_for"] >= 1, \
            "the held order was never reported processing: %r" % dict(proxy.stats)
        assert not staged(held), "the held domain was staged during its hold"

        h.graceful()
        root = root_file(pebble, str(tmp_path))
        for d in others:
            h.wait_managed_cert(d[0], limit=30)
            assert_served_verified(h, d, root)
            assert any(d[0] in l for l in h.log_lines(ACTIVATED))
        r = h.tls_get(held[0])
        assert r.is_fallback and r.status == 503, r.describe()
        order = proxy.orders_for(held[0])
        assert len(order) == 1, order
        rec = proxy.orders[order[0]]
        assert rec.finalized_at is not None
        assert time.monotonic() < rec.finalized_at + HOLD, \
            "the hold ended before the others were activated"

        # the hold ends (early, to keep the test short): the held domain follows
        proxy.clear("hold_processing_for")
        h._wait(lambda: staged(held), "the held domain to be staged", ISSUE_LIMIT)
        h.graceful()
        h.wait_managed_cert(held[0], limit=30)
        assert_served_verified(h, held, root)
    finally:
        proxy.stop()
