"""A quirk-injecting HTTPS proxy in front of a REAL Pebble.

Sectigo's ACME service behaves in ways that broke other clients (see
/work/shared/research/sectigo-acme.md §2): a directory at the root URL with
hyphenated endpoint names, no terms of service, slow `processing` orders with
Retry-After, 401 where RFC 8555 implies 403, finalize without Location,
certificates with odd Content-Types, authorizations listing unknown challenge
types, 5xx/429 on newOrder.  QuirkProxy reproduces these on top of Pebble's
real protocol work: every request is still answered by Pebble (the proxy only
rewrites what goes back, or refuses/breaks a request on purpose), so the
module never talks to a fake CA.

How it stays honest:
  * the proxy listens on 127.0.0.1 with a certificate from the CA of
    Pebble's API certificate (Pebble.issue_api_cert), so a client that trusts
    pebble.ca_file trusts the proxy;
  * it forwards each request to Pebble over verified HTTPS with the proxy's
    own Host header: Pebble builds every URL it hands out from that Host, so
    all URLs point at the proxy, and the JWS "url" the client signs (a proxy
    URL) is exactly what Pebble expects for the path it receives;
  * method, path, body and Content-Type go up unchanged; status, headers
    (Replay-Nonce, Location, Link, Retry-After, ...) and body come back
    unchanged unless a quirk rewrites them.

Quirks (constructor `quirks=` dict, or set()/clear() at run time; every
firing is counted in proxy.stats[quirk]):

  sectigo_directory        the directory at "/" (SacmeServer https://HOST:PORT/),
                           newNonce advertised as /new-nonce (mapped to Pebble's
                           nonce path), meta without termsOfService
  retry_after=N            Retry-After: N on authorization and order POST-as-GET
  processing_polls=K       after finalize, the order is `processing` without
                           `certificate` for its first K answers (the finalize
                           response included)
  hold_processing_for=S    the same until S seconds after finalize; S is a
                           number (every order) or a dict {key: seconds} where
                           key is a name of the order's identifiers or a
                           substring of its URL
  finalize_201_no_location finalize answered 201 without Location
  cert_octet_stream        certificate download as application/octet-stream
  cert_der                 certificate download as concatenated DER
                           (application/pkix-cert)
  extra_challenge          {"type": "sectigo-email-01", ...} first in every
                           authorization's challenges
  status_401_for_403       every 403 from Pebble is passed on as 401
  server_internal_once_on_neworder
                           the first newOrder gets 500 serverInternal (not
                           forwarded; fresh Replay-Nonce from Pebble)
  rate_limited_once=N      the first newOrder gets 429 rateLimited, Retry-After N
  org_mismatch=True        every newOrder is refused as Sectigo refuses an OV/EV
                           order whose names SCM does not tie to one organization
                           (400 malformed, its wording as users reported it:
                           win-acme #1644; the type is our assumption)
  reset_once=PATHPART      the first request whose path contains PATHPART is
                           read, not forwarded, and the connection reset (RST)
  truncate_once=PATHPART   the first successful (2xx) response goes out with its
                           full Content-Length but half the body, then the
                           connection is closed; error answers pass whole
  stall_once=(PATHPART, SECONDS) or "PATHPART,SECONDS"
                           the response is held back SECONDS
  server_internal=N        the next N signed POSTs (True: every one) are
                           answered 500 serverInternal (not forwarded; each
                           with a fresh Replay-Nonce): a CA that is down
                           behind a front that still answers
  bad_nonce_run=N          the next N signed POSTs are answered 400 badNonce
                           (not forwarded; each with a fresh Replay-Nonce),
                           a run of rejected nonces longer than a handful
  no_nonce=N               the next N newNonce answers come without their
                           Replay-Nonce header (N=True: every one)
  garbage_order=N          the next N order POST-as-GET answers (200) carry
                           a body that is not JSON, labelled application/json
  bad_cert=wrong_key|missing_name
                           the certificate download is replaced by a chain of a
                           throwaway CA whose leaf has another key (same names),
                           or the right key but one configured name fewer
  hold=(PATHPART, WHEN)    the first request whose path contains PATHPART is
                           held until the test calls release(): WHEN "request"
                           holds it before it is forwarded (the CA never sees
                           it), "response" after Pebble answered (the CA did the
                           work, the client does not know yet). wait_held()
                           waits until it is held. release() resets its
                           connection (the client it was held for is meant to
                           be gone by then, killed); release(deliver=True) lets
                           it go on as if nothing happened.
  profiles={NAME: DESCRIPTION, ...}
                           the directory's meta gets "profiles" (draft-ietf-
                           acme-profiles), which Pebble 2.4 does not know; a
                           newOrder naming a profile not listed is answered
                           400 invalidProfile (not forwarded); order objects
                           carry the "profile" their newOrder asked for

Whatever the quirks, the "profile" of every newOrder payload (None when it
has none) is recorded in proxy.new_order_profiles, in order.  Pebble 2.4
ignores the field (Go's JSON decoding skips unknown fields), so it is
forwarded as signed: a proxy cannot take a field out of a signed payload.

  ari=MODE                 ACME Renewal Information (RFC 9773), which Pebble 2.4
                           lacks: the directory advertises renewalInfo, and
                           GET /renewal-info/<certID> of a certificate Pebble
                           issued through the proxy (recorded from the
                           downloads, proxy.issued) answers by MODE: "future"
                           (a window 30 to 31 days after the download), "past"
                           (2 to 1 days before it: renew now), "404", "500", "garbage" (not JSON),
                           "backwards" (end before start); an unknown certID
                           is 404. Each poll is recorded in proxy.ari_polls
                           (certID, MODE, time). MODE may be a dict
                           {certID or serial (int) or "first": MODE} with "*"
                           the default ("first": the first certificate issued
                           through the proxy)
  ari_retry_after=N        Retry-After: N on renewalInfo answers (else 21600)
  reject_replaces_once     the first newOrder naming a certificate in "replaces"
                           gets 409 alreadyReplaced (not forwarded)
                           Every newOrder's "replaces" is recorded in
                           proxy.replaces (certID, known: issued through the
                           proxy, rejected)

stop() closes the connections still open as well (a client's keep-alive
connection included), so a stopped proxy is a CA nobody can reach; a new
QuirkProxy(pebble, port=old.port) brings it back on the same port.
"""

import base64
import collections
import datetime
import http.client
import http.server
import json
import os
import secrets
import socket
import socketserver
import ssl
import struct
import tempfile
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .pebble import LOOPBACK, free_port
from .service import Service

QUIRKS = (
    "sectigo_directory", "retry_after", "processing_polls", "hold_processing_for",
    "finalize_201_no_location", "cert_octet_stream", "cert_der", "extra_challenge",
    "status_401_for_403", "server_internal_once_on_neworder", "rate_limited_once",
    "reset_once", "truncate_once", "stall_once", "bad_cert", "bad_nonce_run",
    "no_nonce", "garbage_order", "hold", "server_internal", "profiles",
    "ari", "ari_retry_after", "reject_replaces_once", "org_mismatch",
)
COUNTED = ("bad_nonce_run", "no_nonce", "garbage_order", "server_internal")
ONCE = ("server_internal_once_on_neworder", "rate_limited_once", "reset_once",
        "truncate_once", "stall_once", "hold", "reject_replaces_once")
HOLD_WHEN = ("request", "response")

# hop-by-hop or recomputed: never copied from Pebble's response
_SKIP_RESPONSE_HEADERS = {"connection", "keep-alive", "transfer-encoding",
                          "content-length", "date", "server"}
_FORWARD_REQUEST_HEADERS = ("Content-Type", "User-Agent", "Accept", "Accept-Language")

# Pebble's own path prefixes, a fallback when a URL was not seen in an answer
PEBBLE_ORDER = "/my-order/"
PEBBLE_AUTHZ = "/authZ/"
PEBBLE_FINALIZE = "/finalize-order/"
PEBBLE_CERT = "/certZ/"


def _b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jws_payload(body):
    """The decoded payload of a flattened JWS request body: a dict, "" for
    POST-as-GET, or None when the body is not a JWS."""
    try:
        jws = json.loads(body)
        payload = jws["payload"]
    except (ValueError, KeyError, TypeError):
        return None
    if payload == "":
        return ""
    try:
        return json.loads(_b64url_decode(payload))
    except ValueError:
        return None


class _Order:
    def __init__(self, path, names, profile=None):
        self.path = path
        self.names = list(names)
        self.profile = profile
        self.finalized_at = None
        self.answers_after_finalize = 0


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, proxy, ctx):
        self.proxy = proxy
        self.ctx = ctx
        self.open_sockets = set()      # client connections, closed by stop()
        self.sockets_lock = threading.Lock()
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        with self.sockets_lock:
            self.open_sockets.add(request)
        try:
            self._finish_request(request, client_address)
        finally:
            with self.sockets_lock:
                self.open_sockets.discard(request)

    def close_connections(self):
        with self.sockets_lock:
            socks = list(self.open_sockets)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _finish_request(self, request, client_address):
        # the TLS handshake runs in the request's thread, not in the accept loop
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as e:
            self.proxy._note_error("handshake: %r" % (e,))
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        import sys
        self.proxy._note_error("handler: %r" % (sys.exc_info()[1],))


def serve_tls(owner, handler, port, ctx, name):
    """A threaded HTTPS server on 127.0.0.1:port whose handler calls
    owner._handle(h, METHOD) (and owner._note_error(text) on errors), served
    by a daemon thread.  Returns (server, thread) for stop_tls()."""
    server = _Server((LOOPBACK, port), handler, owner, ctx)
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": 0.1}, name=name, daemon=True)
    thread.start()
    return server, thread


def stop_tls(server, thread):
    """Stops what serve_tls() started and closes the connections still
    open (a client's keep-alive connection included)."""
    if server:
        server.shutdown()
        server.server_close()
        server.close_connections()
    if thread:
        thread.join(timeout=10)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 90                       # an idle keep-alive connection goes
    server_version = "quirkproxy"

    def log_message(self, fmt, *args):  # quiet; the proxy keeps its own log
        pass

    def do_GET(self):
        self.server.proxy._handle(self, "GET")

    def do_HEAD(self):
        self.server.proxy._handle(self, "HEAD")

    def do_POST(self):
        self.server.proxy._handle(self, "POST")

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass


class _Aborted(Exception):
    """The connection was broken on purpose; nothing more to send."""


class QuirkProxy(Service):
    """A threaded HTTPS proxy on 127.0.0.1 in front of a running Pebble.

    proxy = QuirkProxy(pebble, quirks={"retry_after": 2}).start()
    proxy.directory_url   what SacmeServer should say (the root URL "/" when
                          sectigo_directory is on, else the proxied "/dir")
    proxy.stats[q]        how often quirk q fired
    proxy.set(q=v, ...), proxy.clear(q, ...)   change quirks at run time
    proxy.requests        (method, path, status sent) of every request
    """

    def __init__(self, pebble, quirks=None, port=None):
        self.pebble = pebble
        self.port = port
        self._lock = threading.RLock()
        self._quirks = {}
        self._fired = set()            # one-shot quirks already used
        self.stats = collections.Counter()
        self.requests = []
        self.errors = []
        self.orders = {}               # order path -> _Order
        self._finalize_to_order = {}   # finalize path -> order path
        self._cert_to_order = {}       # certificate path -> order path
        self._authz_paths = set()
        self.bad_cert_info = []        # what bad_cert changed, per firing
        self.new_order_profiles = []   # "profile" of each newOrder payload, or None
        self.issued = {}               # certID -> serial (int) of every download
        self._issued_at = {}           # certID -> when it was first downloaded
        self.ari_polls = []            # (certID, mode, time.time()) per renewalInfo GET
        self.replaces = []             # (certID, known, rejected) per newOrder naming one
        self._server = None
        self._thread = None
        self.dir = None
        self._held = threading.Event()      # a request is held (hold quirk)
        self._release = threading.Event()   # the test let it go
        self._deliver = False               # ... to go on (not reset)
        if quirks:
            self.set(**quirks)

    # -- quirks --

    def set(self, **quirks):
        """Turn quirks on (or change their values); a one-shot quirk set
        again is armed again."""
        with self._lock:
            for name, value in quirks.items():
                if name not in QUIRKS:
                    raise ValueError("unknown quirk %r" % name)
                if name == "bad_cert" and value not in ("wrong_key", "missing_name"):
                    raise ValueError("bad_cert is wrong_key or missing_name")
                if name == "hold":
                    if not (isinstance(value, tuple) and len(value) == 2
                            and value[1] in HOLD_WHEN):
                        raise ValueError("hold is (PATHPART, 'request'|'response')")
                    self._held.clear()
                    self._release.clear()
                if name == "stall_once" and isinstance(value, str):
                    part, _, secs = value.rpartition(",")
                    value = (part, float(secs))
                if name in COUNTED and value is not True and not isinstance(value, int):
                    raise ValueError("%s is a count or True" % name)
                if name == "profiles" and not (isinstance(value, dict) and all(
                        isinstance(v, str) for v in value.values())):
                    raise ValueError("profiles is a dict name -> description")
                self._quirks[name] = value
                self._fired.discard(name)
        return self

    def clear(self, *names):
        with self._lock:
            for name in names or list(self._quirks):
                self._quirks.pop(name, None)
                self._fired.discard(name)
        return self

    def quirk(self, name):
        with self._lock:
            return self._quirks.get(name)

    def _count(self, name, n=1):
        with self._lock:
            self.stats[name] += n

    def _take_once(self, name, path=None):
        """The value of one-shot quirk `name` if it applies now (and mark it
        used), else None."""
        with self._lock:
            value = self._quirks.get(name)
            if value is None or value is False or name in self._fired:
                return None
            if path is not None:
                part = value[0] if isinstance(value, tuple) else value
                if part not in path:
                    return None
            self._fired.add(name)
            self.stats[name] += 1
            return value

    def _take_counted(self, name):
        """Whether counted quirk `name` (N more times, or True for always)
        applies to this request; counts it down."""
        with self._lock:
            left = self._quirks.get(name)
            if left is None or left is False or left == 0:
                return False
            if left is not True:
                self._quirks[name] = left - 1
            self.stats[name] += 1
            return True

    def _note_error(self, text):
        with self._lock:
            self.errors.append(text)

    # -- lifecycle --

    @property
    def base_url(self):
        return "https://%s:%d" % (LOOPBACK, self.port)

    @property
    def host(self):
        return "%s:%d" % (LOOPBACK, self.port)

    @property
    def root_url(self):
        return self.base_url + "/"

    @property
    def directory_url(self):
        if self.quirk("sectigo_directory"):
            return self.root_url
        return self.base_url + self._pebble_dir_path

    def start(self):
        if not self.pebble.running:
            raise RuntimeError("Pebble is not running")
        self.dir = tempfile.mkdtemp(prefix="sacmetest-quirkproxy-")
        cert, key = self.pebble.issue_api_cert(self.dir, "quirkproxy")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self._up_ctx = ssl.create_default_context(cafile=self.pebble.ca_file)
        self._pebble_dir_path = urllib.parse.urlsplit(self.pebble.directory_url).path
        d = self.pebble.directory()
        self._pebble_nonce_path = urllib.parse.urlsplit(d["newNonce"]).path
        self._pebble_neworder_path = urllib.parse.urlsplit(d["newOrder"]).path
        if self.port is None:
            self.port = free_port()
        self._server, self._thread = serve_tls(self, _Handler, self.port, ctx,
                                               "quirkproxy")
        return self

    def stop(self):
        self._release.set()
        stop_tls(self._server, self._thread)
        self._server = self._thread = None
        self.remove_dir()

    # -- the hold quirk --

    def wait_held(self, limit=60):
        """Wait until the request of the hold quirk is held; False if it
        was not within limit seconds."""
        return self._held.wait(limit)

    def release(self, deliver=False):
        """Let the held request go: its connection is reset, or with
        deliver it is forwarded / answered as usual."""
        self._deliver = deliver
        self._release.set()

    def _hold_here(self, path, when):
        """Holds the request if the hold quirk is for it; True when it is
        to be dropped afterwards."""
        value = self.quirk("hold")
        if not value or value[1] != when or value[0] not in path:
            return False
        if self._take_once("hold", path) is None:
            return False
        self._held.set()
        self._release.wait()
        return not self._deliver

    # -- what it saw --

    @property
    def new_order_path(self):
        """Pebble's newOrder path (what the proxy's directory names too)."""
        return self._pebble_neworder_path

    def order_names(self, order_path_or_url):
        path = urllib.parse.urlsplit(order_path_or_url).path or order_path_or_url
        with self._lock:
            o = self.orders.get(path)
            return list(o.names) if o else None

    def orders_for(self, name):
        """Order paths whose identifiers include name, in creation order."""
        with self._lock:
            return [p for p, o in self.orders.items() if name in o.names]

    def request_count(self, method, pathpart, status=None):
        """Requests seen with method and pathpart in the path; with status,
        only those answered with it ("reset" for reset connections).
        Pebble rejects some nonces on purpose, so a request may be sent
        again: count with status=200/201 for the ones that went through."""
        with self._lock:
            return sum(1 for m, p, st in self.requests
                       if m == method and pathpart in p
                       and (status is None or st == status))

    # -- upstream --

    def _forward(self, method, path, body, headers):
        conn = http.client.HTTPSConnection(LOOPBACK, self.pebble.port,
                                           context=self._up_ctx, timeout=60)
        try:
            h = {"Host": self.host}
            for k in _FORWARD_REQUEST_HEADERS:
                v = headers.get(k)
                if v is not None:
                    h[k] = v
            conn.request(method, path, body=body if method == "POST" else None, headers=h)
            r = conn.getresponse()
            data = r.read() if method != "HEAD" else b""
            return r.status, [(k, v) for k, v in r.getheaders()], data
        finally:
            conn.close()

    def _fresh_nonce(self):
        status, headers, _ = self._forward("HEAD", self._pebble_nonce_path, None, {})
        for k, v in headers:
            if k.lower() == "replay-nonce":
                return v
        return None

    # -- the request path --

    def _handle(self, h, method):
        path = h.path
        status_sent = None
        try:
            length = int(h.headers.get("Content-Length") or 0)
            body = h.rfile.read(length) if length else b""
            if self._take_once("reset_once", path):
                self._reset(h)
                status_sent = "reset"
                return
            if self._hold_here(path, "request"):
                self._reset(h)
                status_sent = "held"
                return
            status_sent = self._serve(h, method, path, body)
        except _Aborted as e:
            status_sent = str(e)
        finally:
            with self._lock:
                self.requests.append((method, path, status_sent))

    def _serve(self, h, method, path, body):
        upstream = path
        payload = jws_payload(body) if method == "POST" else None

        if method == "GET" and path == "/" and self.quirk("sectigo_directory"):
            return self._serve_directory(h)
        if method == "GET" and path.startswith("/renewal-info/") \
                and self.quirk("ari") is not None:
            return self._serve_renewal_info(h, path[len("/renewal-info/"):])
        if path.split("?")[0] == "/new-nonce":
            upstream = self._pebble_nonce_path
        is_newnonce = method in ("HEAD", "GET") and \
            upstream.split("?")[0] == self._pebble_nonce_path

        if method == "POST" and self._take_counted("server_internal"):
            return self._problem(h, 500, "serverInternal",
                                 "quirkproxy: the CA is down (injected)")
        if method == "POST" and self._take_counted("bad_nonce_run"):
            return self._problem(h, 400, "badNonce",
                                 "quirkproxy: JWS has an invalid anti-replay nonce (injected)")

        is_neworder = method == "POST" and path == self._pebble_neworder_path
        asked = None
        if is_neworder:
            asked = payload.get("profile") if isinstance(payload, dict) else None
            with self._lock:
                self.new_order_profiles.append(asked)
            offered = self.quirk("profiles")
            if asked is not None and offered is not None and asked not in offered:
                self._count("invalid_profile")
                return self._problem(h, 400, "invalidProfile",
                                     "quirkproxy: no profile %r; offered: %s" % (
                                         asked, ", ".join(offered)))
            if self.quirk("org_mismatch"):
                self._count("org_mismatch")
                return self._problem(h, 400, "malformed",
                                     "The identifiers are not all linked to the same "
                                     "preauthorized Subject organization name/address")
            if self._take_once("server_internal_once_on_neworder"):
                return self._problem(h, 500, "serverInternal",
                                     "quirkproxy: the CA had an internal error (injected)")
            ra = self._take_once("rate_limited_once")
            if ra is not None:
                return self._problem(h, 429, "rateLimited",
                                     "quirkproxy: too many new orders (injected)",
                                     [("Retry-After", str(ra))])
            replaces = (payload or {}).get("replaces") if isinstance(payload, dict) else None
            if replaces is not None:
                rejected = self._take_once("reject_replaces_once") is not None
                with self._lock:
                    self.replaces.append((replaces, replaces in self.issued, rejected))
                if rejected:
                    return self._problem(h, 409, "alreadyReplaced",
                                         "quirkproxy: the certificate named in replaces "
                                         "was already replaced (injected)")

        status, headers, data = self._forward(method, upstream, body or None, h.headers)
        headers = list(headers)
        if method == "GET" and upstream.split("?")[0] == self._pebble_dir_path \
                and status == 200:
            data = self._directory_extras(data)
        if is_newnonce and self._take_counted("no_nonce"):
            headers = [(k, v) for k, v in headers if k.lower() != "replay-nonce"]

        if status == 403 and self.quirk("status_401_for_403"):
            status = 401
            self._count("status_401_for_403")

        ctype = _header(headers, "Content-Type") or ""
        doc = None
        if data and ("json" in ctype) and data[:1] == b"{":
            try:
                doc = json.loads(data)
            except ValueError:
                doc = None
        changed = False
        post_as_get = payload == ""
        order_path = None

        if is_neworder and status == 201 and isinstance(doc, dict):
            loc = _header(headers, "Location")
            names = [i.get("value") for i in (payload or {}).get("identifiers", [])
                     if isinstance(i, dict)]
            if loc:
                order_path = urllib.parse.urlsplit(loc).path
                with self._lock:
                    self.orders[order_path] = _Order(order_path, names, asked)
        elif method == "POST" and (path in self.orders or path.startswith(PEBBLE_ORDER)):
            order_path = path
        elif method == "POST" and (path in self._finalize_to_order
                                   or path.startswith(PEBBLE_FINALIZE)):
            order_path = self._finalize_to_order.get(path)
            if order_path is None:
                order_path = PEBBLE_ORDER + path[len(PEBBLE_FINALIZE):]
        is_finalize = method == "POST" and path.startswith(PEBBLE_FINALIZE) or \
            (method == "POST" and path in self._finalize_to_order)

        # learn the URLs of the order
        if order_path and isinstance(doc, dict) and "finalize" in doc:
            with self._lock:
                rec = self.orders.setdefault(order_path, _Order(order_path, [
                    i.get("value") for i in doc.get("identifiers", []) if isinstance(i, dict)]))
                if not rec.names:
                    rec.names = [i.get("value") for i in doc.get("identifiers", [])
                                 if isinstance(i, dict)]
                self._finalize_to_order[urllib.parse.urlsplit(doc["finalize"]).path] = order_path
                for a in doc.get("authorizations", []):
                    self._authz_paths.add(urllib.parse.urlsplit(a).path)
                if doc.get("certificate"):
                    self._cert_to_order[urllib.parse.urlsplit(doc["certificate"]).path] = order_path

        # the profile the order was made for, as a CA with profiles says
        if order_path and isinstance(doc, dict) and "finalize" in doc \
                and "profile" not in doc:
            with self._lock:
                rec = self.orders.get(order_path)
                profile = rec.profile if rec else None
            if profile is not None:
                doc["profile"] = profile
                changed = True

        # the directory of a CA with profiles
        if method == "GET" and upstream.split("?")[0] == self._pebble_dir_path \
                and status == 200 and isinstance(doc, dict) and self._add_profiles(doc):
            changed = True

        # finalize and the order afterwards
        if is_finalize and 200 <= status < 300:
            with self._lock:
                rec = self.orders.setdefault(order_path, _Order(order_path, []))
                if rec.finalized_at is None:
                    rec.finalized_at = time.monotonic()
            if self.quirk("finalize_201_no_location"):
                status = 201
                headers = [(k, v) for k, v in headers if k.lower() != "location"]
                self._count("finalize_201_no_location")
        if order_path and isinstance(doc, dict) and (is_finalize or post_as_get) \
                and 200 <= status < 300:
            if self._hold_order(order_path, doc):
                changed = True
                ra = self.quirk("retry_after")
                if ra is not None and is_finalize:
                    headers = _set_header(headers, "Retry-After", str(ra))

        # Retry-After on authorization and order POST-as-GET
        is_authz = method == "POST" and (path in self._authz_paths or path.startswith(PEBBLE_AUTHZ))
        if post_as_get and (is_authz or (order_path and not is_finalize)) and 200 <= status < 300:
            ra = self.quirk("retry_after")
            if ra is not None:
                headers = _set_header(headers, "Retry-After", str(ra))
                self._count("retry_after")

        # unknown challenge types first in every authorization
        if is_authz and isinstance(doc, dict) and isinstance(doc.get("challenges"), list) \
                and self.quirk("extra_challenge"):
            doc["challenges"].insert(0, {
                "type": "sectigo-email-01",
                "url": self.base_url + "/chalZ/fake",
                "status": "pending",
                "token": secrets.token_urlsafe(32),
            })
            changed = True
            self._count("extra_challenge")
        if path.startswith("/chalZ/fake"):
            self._count("fake_challenge_requested")

        if changed:
            data = json.dumps(doc).encode()
        if order_path and post_as_get and not is_finalize and status == 200 \
                and self._take_counted("garbage_order"):
            data = b"<html>quirkproxy: not JSON</html>"
            headers = _set_header(headers, "Content-Type", "application/json")

        # the certificate download
        is_cert = method == "POST" and (path in self._cert_to_order or path.startswith(PEBBLE_CERT))
        if is_cert and status == 200 and data.startswith(b"-----BEGIN"):
            self._record_issued(data)
            data, headers = self._cert_quirks(path, data, headers)

        if self._hold_here(path, "response"):
            self._reset(h)
            raise _Aborted("held %d" % status)
        stall = self._take_once("stall_once", path)
        if stall:
            time.sleep(stall[1])
        # only a successful answer is cut: the point is a CA that did the
        # work while the client never learnt of it; an error answer (Pebble
        # rejects 5% of nonces) would leave the quirk fired for nothing
        if 200 <= status < 300 and self._take_once("truncate_once", path):
            try:
                self._send(h, status, headers, data, truncate=True)
            except OSError:
                pass    # the client may hang up first: the answer is cut all the same
            raise _Aborted("truncated %d" % status)
        self._send(h, status, headers, data, head=(method == "HEAD"))
        return status

    def _hold_order(self, order_path, doc):
        """Report a finalized order as processing (without certificate) while
        processing_polls or hold_processing_for says so."""
        now = time.monotonic()
        with self._lock:
            rec = self.orders.get(order_path)
            if rec is None or rec.finalized_at is None:
                return False
            if doc.get("status") not in ("processing", "valid"):
                return False
            n = rec.answers_after_finalize
            rec.answers_after_finalize += 1
            hold = False
            k = self._quirks.get("processing_polls")
            if k and n < k:
                hold = True
                self.stats["processing_polls"] += 1
            secs = self._hold_seconds(rec)
            if secs and now < rec.finalized_at + secs:
                hold = True
                self.stats["hold_processing_for"] += 1
            if not hold:
                return False
        doc["status"] = "processing"
        doc.pop("certificate", None)
        return True

    def _hold_seconds(self, rec):
        q = self._quirks.get("hold_processing_for")
        if q is None:
            return None
        if isinstance(q, (int, float)):
            return q
        for key, secs in q.items():
            if key in rec.names or key in rec.path:
                return secs
        return None

    def _cert_quirks(self, path, data, headers):
        mode = self.quirk("bad_cert")
        if mode:
            with self._lock:
                rec = self.orders.get(self._cert_to_order.get(path, ""))
                names = list(rec.names) if rec else None
            data, info = forge_chain(data, mode, names)
            with self._lock:
                self.bad_cert_info.append(info)
            self._count("bad_cert")
        if self.quirk("cert_der"):
            data = b"".join(c.public_bytes(serialization.Encoding.DER)
                            for c in _pem_certs(data))
            headers = _set_header(headers, "Content-Type", "application/pkix-cert")
            self._count("cert_der")
        elif self.quirk("cert_octet_stream"):
            headers = _set_header(headers, "Content-Type", "application/octet-stream")
            self._count("cert_octet_stream")
        return data, headers

    def _serve_directory(self, h):
        status, headers, data = self._forward("GET", self._pebble_dir_path, None, h.headers)
        if status == 200:
            d = json.loads(data)
            d["newNonce"] = self.base_url + "/new-nonce"
            meta = d.get("meta")
            if isinstance(meta, dict):
                meta.pop("termsOfService", None)
            self._add_profiles(d)
            data = self._directory_extras(json.dumps(d).encode())
            self._count("sectigo_directory")
        self._send(h, status, headers, data)
        return status

    def _add_profiles(self, directory):
        """meta.profiles from the profiles quirk; True when added."""
        offered = self.quirk("profiles")
        if offered is None:
            return False
        directory.setdefault("meta", {})["profiles"] = dict(offered)
        self._count("profiles")
        return True

    # -- ARI (RFC 9773) --

    def _directory_extras(self, data):
        """The directory with renewalInfo when the ari quirk is on."""
        if self.quirk("ari") is None:
            return data
        d = json.loads(data)
        d["renewalInfo"] = self.base_url + "/renewal-info/"
        self._count("ari_directory")
        return json.dumps(d).encode()

    def _record_issued(self, pem):
        leaf = _pem_certs(pem)[0]
        with self._lock:
            self.issued[ari_cert_id(leaf)] = leaf.serial_number
            # the windows are anchored here: the same answer at every poll
            self._issued_at.setdefault(ari_cert_id(leaf), datetime.datetime.now(
                datetime.timezone.utc).replace(microsecond=0))

    def ari_mode_for(self, cert_id):
        """The ari quirk's MODE for a certificate: a dict is looked up by
        certID, then serial, then "first" (the first certificate issued
        through the proxy), then "*"."""
        mode = self.quirk("ari")
        if isinstance(mode, dict):
            with self._lock:
                serial = self.issued.get(cert_id)
                first = next(iter(self.issued), None) == cert_id
            for key in (cert_id, serial, "first" if first else None, "*"):
                if key is not None and key in mode:
                    return mode[key]
            return "404"
        return mode

    def ari_polls_of(self, cert_id):
        with self._lock:
            return [p for p in self.ari_polls if p[0] == cert_id]

    def _serve_renewal_info(self, h, cert_id):
        with self._lock:
            known = cert_id in self.issued
        mode = self.ari_mode_for(cert_id) if known else "404"
        with self._lock:
            self.ari_polls.append((cert_id, mode, time.time()))
        self._count("ari")
        ra = self.quirk("ari_retry_after")
        headers = [("Retry-After", str(ra if ra is not None else 21600)),
                   ("Cache-Control", "no-store")]
        with self._lock:
            now = self._issued_at.get(cert_id)
        day = datetime.timedelta(days=1)
        if mode in ("future", "past", "backwards"):
            start, end = {"future": (now + 30 * day, now + 31 * day),
                          "past": (now - 2 * day, now - day),
                          "backwards": (now + 31 * day, now + 30 * day)}[mode]
            doc = {"suggestedWindow": {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                       "end": end.strftime("%Y-%m-%dT%H:%M:%SZ")},
                   "explanationURL": self.base_url + "/ari-explained/" + mode}
            self._send(h, 200, headers + [("Content-Type", "application/json")],
                       json.dumps(doc).encode())
            return 200
        if mode == "garbage":
            self._send(h, 200, headers + [("Content-Type", "application/json")],
                       b"{\"suggestedWindow\": <html>")
            return 200
        status = 500 if mode == "500" else 404
        self._send(h, status, headers + [("Content-Type", "application/problem+json")],
                   json.dumps({"type": "urn:ietf:params:acme:error:" +
                               ("serverInternal" if status == 500 else "malformed"),
                               "detail": "quirkproxy: renewalInfo %s" % mode,
                               "status": status}).encode())
        return status

    def _problem(self, h, status, ptype, detail, extra=()):
        nonce = self._fresh_nonce()
        headers = [("Content-Type", "application/problem+json"),
                   ("Cache-Control", "no-store")]
        if nonce:
            headers.append(("Replay-Nonce", nonce))
        headers += list(extra)
        doc = {"type": "urn:ietf:params:acme:error:" + ptype, "detail": detail,
               "status": status}
        self._send(h, status, headers, json.dumps(doc).encode())
        return status

    # -- the client side --

    def _send(self, h, status, headers, data, head=False, truncate=False):
        h.send_response(status)
        for k, v in headers:
            if k.lower() not in _SKIP_RESPONSE_HEADERS:
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        if truncate:
            h.send_header("Connection", "close")
        h.end_headers()
        if not head:
            h.wfile.write(data[:len(data) // 2] if truncate else data)
        h.wfile.flush()
        if truncate:
            self._count("truncated_bytes", len(data) - len(data) // 2)
            h.close_connection = True
            # no TLS close_notify: the peer sees the connection end mid-body
            _hard_close(h.connection, linger0=False)

    def _reset(self, h):
        h.close_connection = True
        _hard_close(h.connection, linger0=True)


def _hard_close(sock, linger0):
    try:
        if linger0:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        # close the descriptor itself (not an SSL unwrap: no close_notify)
        os.close(sock.detach())
    except (OSError, ValueError):
        pass


def _header(headers, name):
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


def _set_header(headers, name, value):
    out = [(k, v) for k, v in headers if k.lower() != name.lower()]
    out.append((name, value))
    return out


def _pem_certs(data):
    out = []
    marker = b"-----END CERTIFICATE-----"
    for block in data.split(marker):
        if b"-----BEGIN CERTIFICATE-----" in block:
            out.append(x509.load_pem_x509_certificate(block.strip() + b"\n" + marker + b"\n"))
    return out


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def ari_cert_id(cert):
    """RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(the DER
    content octets of the serial number)."""
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    serial = cert.serial_number
    content = serial.to_bytes(serial.bit_length() // 8 + 1, "big")  # sign bit room
    if len(content) > 1 and content[0] == 0 and not content[1] & 0x80:
        content = content[1:]
    return _b64url(aki.key_identifier) + "." + _b64url(content)


def forge_chain(real_pem, mode, names=None):
    """A chain of a throwaway CA replacing Pebble's: mode "wrong_key" keeps
    the names and uses another key; "missing_name" keeps the key and drops
    one name (the last of the order's, or of the leaf's SANs).  Returns
    (PEM bytes, info dict)."""
    real = _pem_certs(real_pem)
    leaf = real[0]
    try:
        sans = list(leaf.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        sans = []
    info = {"mode": mode}
    if mode == "wrong_key":
        pub = ec.generate_private_key(ec.SECP256R1()).public_key()
    else:
        pub = leaf.public_key()
        drop = (names or sans)[-1]
        sans = [n for n in sans if n.lower() != drop.lower()]
        info["dropped"] = drop
    info["sans"] = sans
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                            "quirkproxy throwaway CA " + secrets.token_hex(4))])
    ca = (x509.CertificateBuilder()
          .subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(
              digital_signature=True, content_commitment=False, key_encipherment=False,
              data_encipherment=False, key_agreement=False, key_cert_sign=True,
              crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    cn = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                            cn[0].value if cn else (sans or ["x"])[0])])
    fake = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(ca_name)
            .public_key(pub)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    info["serial"] = fake.serial_number
    pem = (fake.public_bytes(serialization.Encoding.PEM)
           + ca.public_bytes(serialization.Encoding.PEM))
    return pem, info


# --- for the tests ------------------------------------------------------------

def proxied_httpd(proxy, domains, **kw):
    """module.make_httpd for the proxy's Pebble (HTTP-01 reaches httpd on
    Pebble's httpPort), with SacmeServer pointing at the proxy's
    directory_url (the root URL when sectigo_directory is on).  The CA file
    is Pebble's API CA, which issued the proxy's certificate as well."""
    from .module import pebble_defaults, make_httpd, sacme_lines
    h = make_httpd(proxy.pebble, domains, **dict(kw))
    for k in ("extra", "log_level", "vhosts"):
        kw.pop(k, None)
    pebble_defaults(proxy.pebble, h, kw)
    lines = sacme_lines(proxy.pebble, domains, **kw)
    h.configure(sacme=[("SacmeServer %s" % proxy.directory_url)
                       if l.startswith("SacmeServer ") else l for l in lines])
    return h
