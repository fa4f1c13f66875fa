"""Sectigo-like quirks on top of the REAL Pebble (sacmetest/quirkproxy.py):
for each quirk, the module still ends with the Pebble-issued certificate
served over TLS (chain and hostname verified), and the quirk really fired.

One Pebble (real HTTP-01, PEBBLE_VA_NOSLEEP=1) for the whole module; one
proxy and one httpd (own ServerRoot) per test.  SacmeRetryDelay is short so
that injected failures are retried within the bounds of the waits."""

import http.client
import json
import os
import re
import ssl
import sys

import pytest

from sacmetest import certcheck
from sacmetest.module import (ERRORED, ISSUE_LIMIT, STAGED,
                              assert_served_verified, live_chain, names_for,
                              reconfigure, root_file)
from sacmetest.pebble import Pebble
from sacmetest.quirkproxy import QuirkProxy, proxied_httpd

RETRY = "SacmeRetryDelay 2s"
# A retry delay far beyond the tests' waits: a certificate obtained all the
# same was not waited for through the backoff
LONG_RETRY = "SacmeRetryDelay 10m"
LOST_FINALIZE = "SACME10210"   # finalize without a complete answer: the order asked
ORDER_GONE = "SACME10030"
QUICK_RETRY = "SACME10014"     # the engine's immediate retry of a transient fault


def fault_lines(h):
    """Lines telling of a failed request: retried at once (SACME10014) or
    an attempt that failed (SACME10024)."""
    return h.log_lines(QUICK_RETRY) + h.log_lines(ERRORED)


def _track(p):
    conftest = sys.modules.get("conftest")
    if conftest is not None:
        conftest._running_pebbles.append(p)


def _untrack(p):
    conftest = sys.modules.get("conftest")
    if conftest is not None and p in conftest._running_pebbles:
        conftest._running_pebbles.remove(p)


@pytest.fixture(scope="module")
def qpebble():
    """Pebble with EAB and REAL HTTP-01 validation, no validation sleep."""
    p = Pebble(always_valid=False, nosleep=True)
    p.start()
    _track(p)
    yield p
    _untrack(p)
    p.stop()


@pytest.fixture
def proxies():
    """proxies.start(pebble, quirks) -> a running QuirkProxy, stopped at
    teardown."""
    started = []

    class Starter:
        def start(self, pebble, quirks=None):
            px = QuirkProxy(pebble, quirks=quirks).start()
            started.append(px)
            return px
    yield Starter()
    for px in started:
        px.stop()


def issue_through(proxy, httpds, tmp_path, tag, more=(), names=None, retry=RETRY):
    """An httpd whose SacmeServer is the proxy; waits for the managed
    certificate and checks what a verifying TLS client sees.  Returns
    (httpd, leaf)."""
    pebble = proxy.pebble
    names = names or names_for(tag)
    h = httpds.add(proxied_httpd(proxy, [names], more=[retry] + list(more)))
    h.start()
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    leaf = check_served(h, pebble, names, tmp_path)
    return h, leaf


def check_served(h, pebble, names, tmp_path):
    root = root_file(pebble, str(tmp_path))
    leaf = assert_served_verified(h, names, root)[0]
    assert pebble.cert_status(certcheck.serial_hex(leaf)).get("Status") == "Valid", \
        "the served certificate is not one Pebble issued"
    live = live_chain(h, names[0])
    assert live[0] == leaf
    certcheck.verify_chain(live[0], live[1:], certcheck.load_cert(pebble.root_pem()))
    return leaf


def fired(proxy, quirk, at_least=1):
    assert proxy.stats[quirk] >= at_least, \
        "quirk %s fired %d times (expected >= %d); stats %r; requests %r" % (
            quirk, proxy.stats[quirk], at_least, dict(proxy.stats), proxy.requests[-40:])


# --- one test per quirk ---------------------------------------------------------

def test_sectigo_directory_at_root(qpebble, proxies, httpds, tmp_path):
    proxy = proxies.start(qpebble, {"sectigo_directory": True})
    assert proxy.directory_url.endswith(":%d/" % proxy.port)
    h, _ = issue_through(proxy, httpds, tmp_path, "qdir")
    assert "SacmeServer %s\n" % proxy.root_url in h.conf_text()
    fired(proxy, "sectigo_directory")
    # the nonce came from the hyphenated endpoint the directory names, and
    # nothing guessed Pebble's own directory path
    assert proxy.request_count("HEAD", "/new-nonce") + proxy.request_count("GET", "/new-nonce") >= 1, \
        proxy.requests
    assert proxy.request_count("GET", "/dir") == 0, proxy.requests


def test_retry_after_on_polls(qpebble, proxies, httpds, tmp_path):
    proxy = proxies.start(qpebble, {"retry_after": 2})
    issue_through(proxy, httpds, tmp_path, "qretry")
    fired(proxy, "retry_after", 2)


def test_processing_after_finalize(qpebble, proxies, httpds, tmp_path):
    proxy = proxies.start(qpebble, {"processing_polls": 3, "retry_after": 1})
    issue_through(proxy, httpds, tmp_path, "qproc")
    # the finalize answer and the next two polls said `processing`, and the
    # module kept polling the order until it was valid
    assert proxy.stats["processing_polls"] == 3, dict(proxy.stats)
    assert proxy.request_count("POST", "/finalize-order/", 200) == 1, proxy.requests


def test_hold_processing_for_seconds(qpebble, proxies, httpds, tmp_path):
    proxy = proxies.start(qpebble, {"hold_processing_for": 6, "retry_after": 1})
    issue_through(proxy, httpds, tmp_path, "qhold")
    fired(proxy, "hold_processing_for", 2)
    assert proxy.request_count("POST", "/finalize-order/", 200) == 1, proxy.requests


def test_finalize_201_without_location(qpebble, proxies, httpds, tmp_path):
    proxy = proxies.start(qpebble, {"finalize_201_no_location": True})
    issue_through(proxy, httpds, tmp_path, "qfin")
    fired(proxy, "finalize_201_no_location")


def test_certificate_as_octet_stream(qpebble, proxies, httpds, tmp_path):
    proxy = proxies.start(qpebble, {"cert_octet_stream": True})
    issue_through(proxy, httpds, tmp_path, "qoctet")
    fired(proxy, "cert_octet_stream")


def test_certificate_as_der(qpebble, proxies, httpds, tmp_path):
    proxy = proxies.start(qpebble, {"cert_der": True})
    h, leaf = issue_through(proxy, httpds, tmp_path, "qder")
    fired(proxy, "cert_der")
    # the whole chain arrived (leaf + Pebble's intermediate), not just the leaf
    assert len(live_chain(h, "qder.test")) >= 2


def test_unknown_challenge_type_listed_first(qpebble, proxies, httpds, tmp_path):
    proxy = proxies.start(qpebble, {"extra_challenge": True})
    issue_through(proxy, httpds, tmp_path, "qchal")
    fired(proxy, "extra_challenge", 3)          # one authorization per name
    assert proxy.stats["fake_challenge_requested"] == 0, \
        "the module answered the unknown sectigo-email-01 challenge"
    assert proxy.request_count("POST", "/chalZ/", 200) == 3, proxy.requests


def test_server_internal_on_new_order(qpebble, proxies, httpds, tmp_path):
    proxy = proxies.start(qpebble, {"server_internal_once_on_neworder": True})
    h, _ = issue_through(proxy, httpds, tmp_path, "qsrv")
    assert proxy.stats["server_internal_once_on_neworder"] == 1
    err = fault_lines(h)
    assert err and "serverInternal" in err[0], err
    assert proxy.request_count("POST", proxy.new_order_path, 500) == 1, proxy.requests
    assert proxy.request_count("POST", proxy.new_order_path, 201) == 1, proxy.requests


def test_rate_limited_new_order(qpebble, proxies, httpds, tmp_path):
    """429 with Retry-After: 3 on newOrder: the order is sent again when the
    CA said, not after SacmeRetryDelay (10 minutes here; issue 11, defect
    17b)."""
    proxy = proxies.start(qpebble, {"rate_limited_once": 3})
    h, _ = issue_through(proxy, httpds, tmp_path, "qrate", retry=LONG_RETRY)
    assert proxy.stats["rate_limited_once"] == 1
    err = h.log_lines(ERRORED)
    assert len(err) == 1 and "rateLimited" in err[0], err
    assert proxy.request_count("POST", proxy.new_order_path, 429) == 1, proxy.requests
    assert proxy.request_count("POST", proxy.new_order_path, 201) == 1, proxy.requests


def test_run_of_bad_nonces(qpebble, proxies, httpds, tmp_path):
    """Ten badNonce answers in a row (more than the few retries a request
    used to have): the CA's noise, retried with fresh nonces, no failed
    attempt and no backoff (issue 11, defect 17a)."""
    proxy = proxies.start(qpebble, {"bad_nonce_run": 10})
    h, _ = issue_through(proxy, httpds, tmp_path, "qnonce", retry=LONG_RETRY)
    assert proxy.stats["bad_nonce_run"] == 10, dict(proxy.stats)
    assert not h.log_lines(ERRORED), h.log_lines(ERRORED)


def test_bad_nonces_beyond_a_requests_retries(qpebble, proxies, httpds, tmp_path):
    """Thirty badNonce answers in a row use up even the generous retries of
    one request: the attempt fails on badNonce alone, and the next one comes
    promptly instead of after SacmeRetryDelay (issue 11, defect 17a)."""
    proxy = proxies.start(qpebble, {"bad_nonce_run": 30})
    h, _ = issue_through(proxy, httpds, tmp_path, "qnonce30", retry=LONG_RETRY)
    assert proxy.stats["bad_nonce_run"] == 30, dict(proxy.stats)
    err = h.log_lines(ERRORED)
    assert len(err) == 1 and "badNonce" in err[0], err


def test_nonce_answer_without_replay_nonce(qpebble, proxies, httpds, tmp_path):
    """A newNonce answer without its Replay-Nonce header is a passing fault:
    another nonce is fetched at once, the attempt does not fail (issue 11,
    defect 17c)."""
    proxy = proxies.start(qpebble, {"no_nonce": 1})
    h, _ = issue_through(proxy, httpds, tmp_path, "qnononce", retry=LONG_RETRY,
                         more=["LogLevel sacme:info"])
    assert proxy.stats["no_nonce"] == 1, dict(proxy.stats)
    quick = h.log_lines(QUICK_RETRY)
    assert quick and "Replay-Nonce" in quick[0], quick
    assert not h.log_lines(ERRORED), h.log_lines(ERRORED)


def test_truncate_once_leaves_error_answers_whole(qpebble, proxies):
    """Pebble refuses 5% of nonces: a finalize refused that way must reach
    the client whole, and the cut must wait for an answer the CA did the
    work for (test_finalize_answer_cut_short failed once when the cut fell
    on a badNonce answer)."""
    proxy = proxies.start(qpebble, {"truncate_once": "/finalize-order/"})
    ctx = ssl.create_default_context(cafile=qpebble.ca_file)
    conn = http.client.HTTPSConnection("127.0.0.1", proxy.port, context=ctx, timeout=30)
    try:
        conn.request("POST", "/finalize-order/none", body=b"{}",
                     headers={"Content-Type": "application/jose+json"})
        resp = conn.getresponse()
        body = resp.read()      # raises IncompleteRead when the answer is cut
    finally:
        conn.close()
    assert 400 <= resp.status < 500, (resp.status, body)
    assert json.loads(body)["type"].startswith("urn:ietf:params:acme:error:"), body
    assert proxy.stats["truncate_once"] == 0


def test_finalize_answer_cut_short(qpebble, proxies, httpds, tmp_path):
    """The finalize answer is cut short after Pebble took the CSR: the
    module asks the CA for the order before any second finalize (which the
    CA would refuse, orderNotReady), and goes on from the order's state
    (issue 11, defect 17d)."""
    proxy = proxies.start(qpebble, {"truncate_once": "/finalize-order/"})
    h, _ = issue_through(proxy, httpds, tmp_path, "qfintrunc", retry=LONG_RETRY,
                         more=["LogLevel sacme:info"])
    assert proxy.stats["truncate_once"] == 1
    assert h.log_lines(LOST_FINALIZE), "the lost finalize answer was not reported"
    assert not h.log_lines(ERRORED), h.log_lines(ERRORED)
    with proxy._lock:
        reqs = list(proxy.requests)
    cut = [i for i, (m, p, st) in enumerate(reqs)
           if m == "POST" and "/finalize-order/" in p and st == "truncated 200"]
    assert len(cut) == 1, reqs
    after = reqs[cut[0] + 1:]
    finalize_again = [i for i, (m, p, st) in enumerate(after)
                      if m == "POST" and "/finalize-order/" in p]
    order_asked = [i for i, (m, p, st) in enumerate(after)
                   if m == "POST" and "/my-order/" in p]
    assert order_asked, reqs
    assert not finalize_again or order_asked[0] < finalize_again[0], reqs
    assert proxy.request_count("POST", "/finalize-order/", 403) == 0, reqs
    assert proxy.request_count("POST", proxy.new_order_path, 201) == 1, reqs


# the start of an error line up to its tag: no "(22)Invalid argument: " or
# other OS error before the message (issue 11, defect 18)
OS_PREFIX = re.compile(r"\(-?\d+\)[^\]]*: SACME10024")


@pytest.mark.parametrize("quirk,cause", [
    ("no_nonce", "gave no Replay-Nonce"),
    ("garbage_order", "invalid JSON"),
])
def test_malformed_answer_is_logged_without_os_error(qpebble, proxies, httpds,
                                                    quirk, cause):
    """A CA that keeps answering what the protocol does not allow: the failed
    attempt is logged with its tag and cause, and without an OS error such
    as "(22)Invalid argument" in front (issue 11, defect 18)."""
    proxy = proxies.start(qpebble, {quirk: True})
    names = names_for("qproto-" + quirk.replace("_", ""))
    h = httpds.add(proxied_httpd(proxy, [names], more=[LONG_RETRY]))
    h.start()
    line = h.wait_log(ERRORED, limit=ISSUE_LIMIT)
    assert cause in line, line
    assert names[0] in line, line
    assert not OS_PREFIX.search(line), line
    assert "Invalid argument" not in line, line


def test_connection_reset_on_finalize(qpebble, proxies, httpds, tmp_path):
    proxy = proxies.start(qpebble, {"reset_once": "/finalize-order/"})
    h, _ = issue_through(proxy, httpds, tmp_path, "qreset")
    assert proxy.stats["reset_once"] == 1
    # libcurl itself resends a request whose reused connection died before
    # any answer, so the engine may not even see this fault
    # the same order was finalized again (the reset request never reached
    # Pebble), not made anew
    assert proxy.request_count("POST", proxy.new_order_path, 201) == 1, proxy.requests
    assert proxy.request_count("POST", "/finalize-order/", "reset") == 1, proxy.requests
    assert proxy.request_count("POST", "/finalize-order/", 200) == 1, proxy.requests


def test_truncated_certificate_download(qpebble, proxies, httpds, tmp_path):
    proxy = proxies.start(qpebble, {"truncate_once": "/certZ/"})
    h, _ = issue_through(proxy, httpds, tmp_path, "qtrunc")
    assert proxy.stats["truncate_once"] == 1
    assert fault_lines(h), "the truncated download was not reported"
    assert proxy.request_count("POST", "/certZ/") >= 2, proxy.requests
    assert proxy.request_count("POST", proxy.new_order_path, 201) == 1, proxy.requests


def test_stalled_order_poll(qpebble, proxies, httpds, tmp_path):
    """A CA that does not answer in time: with SacmeHttpTimeout 2s, the
    5 s stall is a timeout, tried again at once (SACME10014), and the
    certificate is still issued."""
    proxy = proxies.start(qpebble, {"stall_once": ("/my-order/", 5)})
    h, _ = issue_through(proxy, httpds, tmp_path, "qstall",
                         more=["SacmeHttpTimeout 2s", "LogLevel sacme:info"])
    assert proxy.stats["stall_once"] == 1
    quick = [l for l in h.log_lines("SACME10014") if "/my-order/" in l]
    assert quick, "the timeout was not retried at once (no SACME10014)"
    assert "timed out" in quick[0].lower() or "timeout" in quick[0].lower(), quick[0]


def test_401_for_403_on_an_order_of_another_account(qpebble, proxies, httpds, tmp_path):
    """Sectigo answers 401 where Pebble answers 403 (an order of another
    account).  An order left in progress by the account of kid-1 is resumed
    after the configuration switched to kid-2: the CA refuses it (403 -> 401),
    and the module orders anew instead of giving up."""
    proxy = proxies.start(qpebble, {"hold_processing_for": 3600, "retry_after": 1})
    names = names_for("q401")
    h = httpds.add(proxied_httpd(proxy, [names], kid="kid-1", more=[RETRY]))
    h.start()
    h._wait(lambda: proxy.stats["hold_processing_for"] >= 1, "the order to be finalized", 60)
    assert os.path.exists(h.store("staging", names[0], "order.json"))
    first_orders = proxy.orders_for(names[0])
    assert len(first_orders) == 1

    # The first order (kid-1's) stays processing for good, and only it: were
    # it released here, its driver could still finish it with kid-1 in the
    # moments before the graceful restart stops that driver (it did on a
    # loaded machine), and there would be nothing to resume with kid-2.
    proxy.set(hold_processing_for={first_orders[0]: 3600})
    proxy.set(status_401_for_403=True)
    mark = h.mark()
    reconfigure(h, qpebble, [names], kid="kid-2", more=[RETRY])
    h.configure(sacme=[("SacmeServer %s" % proxy.directory_url)
                       if l.startswith("SacmeServer ") else l for l in h.sacme])
    h.graceful()
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    check_served(h, qpebble, names, tmp_path)
    fired(proxy, "status_401_for_403")
    assert h.log_lines(ORDER_GONE, since=mark), "no SACME10030 (order cannot be resumed)"
    assert len(proxy.orders_for(names[0])) == 2, proxy.orders_for(names[0])


# --- a bad certificate is refused -------------------------------------------------

@pytest.mark.parametrize("mode,reason", [
    ("wrong_key", "does not match the private key"),
    ("missing_name", "does not cover"),
])
def test_bad_certificate_is_refused(qpebble, proxies, httpds, tmp_path, mode, reason):
    proxy = proxies.start(qpebble, {"bad_cert": mode})
    names = names_for("qbad-" + mode.replace("_", ""))
    h = httpds.add(proxied_httpd(proxy, [names], more=[RETRY]))
    h.start()
    line = h.wait_log(ERRORED, limit=ISSUE_LIMIT)
    fired(proxy, "bad_cert")
    assert names[0] in line and "refused" in line and reason in line, line
    if mode == "missing_name":
        assert proxy.bad_cert_info[0]["dropped"] in line, line
    # let a retry happen too: it is refused again
    h._wait(lambda: len(h.log_lines(ERRORED)) >= 2, "a second attempt", ISSUE_LIMIT)
    assert all(reason in l for l in h.log_lines(ERRORED)), h.log_lines(ERRORED)
    # the refused order is not resumed (it would hand out the same
    # certificate again): the second attempt made an order of its own
    assert len(proxy.orders_for(names[0])) >= 2, proxy.orders_for(names[0])
    assert not h.log_lines(STAGED), "a refused certificate was staged"
    assert not os.path.exists(h.store("staging", names[0], "fullchain.pem"))
    assert not os.path.exists(h.store("domains", names[0], "fullchain.pem"))
    for n in names:
        r = h.tls_get(n)
        assert r.is_fallback, "%s: not the fallback: %s" % (n, r.describe())
        assert r.status == 503, r.describe()
        assert r.serial not in [i["serial"] for i in proxy.bad_cert_info]


# --- everything at once -------------------------------------------------------------

def test_all_compatible_quirks_together(qpebble, proxies, httpds, tmp_path):
    quirks = {
        "sectigo_directory": True,
        "retry_after": 1,
        "processing_polls": 2,
        "finalize_201_no_location": True,
        "cert_der": True,
        "extra_challenge": True,
        "status_401_for_403": True,
        "server_internal_once_on_neworder": True,
        "rate_limited_once": 2,
        "reset_once": "/authZ/",
        "truncate_once": "/certZ/",
        "stall_once": ("/chalZ/", 3),
    }
    proxy = proxies.start(qpebble, quirks)
    issue_through(proxy, httpds, tmp_path, "qall")
    for q in ("sectigo_directory", "retry_after", "processing_polls",
              "finalize_201_no_location", "cert_der", "extra_challenge",
              "server_internal_once_on_neworder", "rate_limited_once",
              "reset_once", "truncate_once", "stall_once"):
        fired(proxy, q)
    assert proxy.stats["fake_challenge_requested"] == 0
