"""Fault matrix, the driver killed (issue 11): `kill -9` of the driving
process at every step of a first issuance.

The quirk proxy holds one CA exchange (hold quirk): the driver waits for
the answer, and the test kills it there. Each step is one exchange:

  new-account           the registration reached the CA, its answer is lost
  after-new-order       the order exists (order.json), its authorization
                        was not fetched yet
  challenge-published   the challenge answer is in the store, the CA was not
                        told yet
  challenge-answered    the authorization is valid, finalize not sent yet
  after-finalize        the CA took the finalize, its answer is lost
  certificate-download  the CA sent the certificate, it never arrived

What a user depends on, asserted at each step: httpd stays up and keeps
serving its fallback certificate while the driver is gone; the log names
the death (SACME10029, or SACME10038 for a driver that dies within seconds
of its start); the parent starts a new driver by itself, which resumes
THE SAME order (SACME10022 with the order URL recorded before the kill)
and never registers a second account (newAccount answered 201 once, the
account key file unchanged); the certificate is then served. Pebble here
rejects no nonce, so the proxy's request counts are exact."""

import os
import signal

import pytest

from sacmetest import faults
from sacmetest.faults import new_orders, read_bytes, registrations
from sacmetest.httpd import _alive
from sacmetest.module import (ACCOUNT_REGISTERED, DRIVER_DIED, DRIVER_DIED_EARLY,
                              DRIVER_STARTED, RESUMING,
                              account_dirs, assert_served_verified, names_for, order_url_in,
                              root_file)
from sacmetest.pebble import free_port
from sacmetest.quirkproxy import QuirkProxy, proxied_httpd

LIMIT = 120    # bounds of the waits, not timing claims
ORDER_GONE = "SACME10030"     # the recorded order cannot be used any more

# step -> (path part of the held exchange, "request" | "response")
STEPS = {
    "new-account": ("/sign-me-up", "response"),
    "after-new-order": ("/authZ/", "request"),
    "challenge-published": ("/chalZ/", "request"),
    "challenge-answered": ("/finalize-order/", "request"),
    "after-finalize": ("/finalize-order/", "response"),
    "certificate-download": ("/certZ/", "response"),
}


@pytest.fixture
def exact_pebble():
    p = faults.exact_pebble()
    yield p
    p.stop()


@pytest.mark.parametrize("step", list(STEPS))
def test_driver_killed_at_a_step_resumes_the_same_order(step, exact_pebble, httpds, tmp_path):
    names = names_for("kill-" + step)
    part, when = STEPS[step]
    proxy = QuirkProxy(exact_pebble, quirks={"hold": (part, when)}).start()
    try:
        h = httpds.add(proxied_httpd(proxy, [names]))
        h.start()
        assert proxy.wait_held(LIMIT), "the driver never reached the %s step" % step
        pid = h.driver_pid()
        assert pid and _alive(pid)
        staging = h.store("staging", names[0], "order.json")
        order_before = order_url_in(read_bytes(staging).decode())
        if step != "new-account":
            assert order_before, "no order recorded before the %s step" % step
        keys = [os.path.join(d, "account.key") for d in account_dirs(h)]
        assert len(keys) == 1, "one account directory expected: %r" % keys
        key_before = read_bytes(keys[0])
        assert key_before, "the account key was not saved before the registration"

        mark = h.mark()
        os.kill(pid, signal.SIGKILL)
        proxy.release()
        _, died = h.wait_log_any([DRIVER_DIED, DRIVER_DIED_EARLY], since=mark, limit=LIMIT)
        assert str(pid) in died and "restarting" in died, died
        # the server stays up on its fallback meanwhile
        r = h.tls_get(names[0])
        assert r.is_fallback, r.describe()

        h.wait_managed_cert(names[0], limit=LIMIT)
        assert_served_verified(h, names, root_file(exact_pebble, str(tmp_path)))
        after = h.log()[mark:]
        if order_before:
            resumed = [l for l in after.splitlines() if RESUMING in l]
            assert resumed, "the order was not resumed after the kill"
            assert order_url_in(resumed[0]) == order_before, resumed[0]
            assert new_orders(proxy) == 1, "%d orders made" % new_orders(proxy)
        assert registrations(proxy) == 1, \
            "%d accounts registered" % registrations(proxy)
        assert ACCOUNT_REGISTERED not in after, "registered again after the kill"
        assert read_bytes(keys[0]) == key_before, "the account key changed"
        assert account_dirs(h) == [os.path.dirname(keys[0])]
        assert h.driver_pid() != pid
    finally:
        proxy.stop()


def test_restart_while_the_ca_validates_keeps_the_challenge_answers(exact_pebble, httpds):
    """The driver answered the challenges and handed its worker back while
    the CA validates (job.json "waiting"); then the driver is replaced (a
    graceful restart: the admin's, or mod_sacme's own to activate another
    domain). The new driver must not remove the answers of the order in
    progress: the CA fetching them meanwhile would fail the validation, and
    the order with it. Pebble's validation requests are held (GatedRelay on
    its httpPort) until the new driver runs."""
    names = names_for("kill-validating")
    proxy = QuirkProxy(exact_pebble).start()
    relay = None
    try:
        h = httpds.add(proxied_httpd(proxy, [names], more=["SacmeRetryDelay 10s"]))
        h.port = free_port()                   # Pebble's httpPort is the relay's
        h.configure()
        relay = faults.GatedRelay(exact_pebble.http_port, h.port)
        h.start()
        job = h.store("staging", names[0], "job.json")
        h._wait(lambda: b'"waiting"' in read_bytes(job),
                "the driver to wait for the CA's validation", LIMIT)
        assert relay.held() >= 1, "the CA is not validating"
        order_url = order_url_in(read_bytes(h.store("staging", names[0],
                                                    "order.json")).decode())
        assert order_url

        mark = h.mark()
        h.graceful()
        h.wait_log(DRIVER_STARTED, since=mark, limit=LIMIT)
        relay.open()                           # the CA fetches the answers now

        h.wait_managed_cert(names[0], limit=LIMIT)
        after = h.log()[mark:]
        assert ORDER_GONE not in after, "the order failed: " + \
            "\n".join(l for l in after.splitlines() if ORDER_GONE in l)
        assert new_orders(proxy) == 1, "%d orders made" % new_orders(proxy)
        resumed = [l for l in after.splitlines() if RESUMING in l]
        assert resumed and order_url_in(resumed[0]) == order_url, resumed
    finally:
        if relay:
            relay.close()
        proxy.stop()
