"""A stand-in for Sectigo Certificate Manager's REST API (ACME accounts),
for the tests of `sacmectl scm`.

There is no SCM on this machine, so ScmServer implements the documented
shape of SCM's ACME-account API (/work/shared/research/sectigo-acme.md §4,
the curl examples of Sectigo's guide) over HTTPS on 127.0.0.1:

  every request    headers `login`, `password`, `customerUri`; any of them
                   missing or wrong: 401
  GET    /api/acme/v1/account?organizationId=N[&name=NAME]
                   200, a JSON array of the organization's accounts (only
                   those named NAME with name=); without organizationId: 400
  POST   /api/acme/v1/account
                   body {"name", "acmeServer", "organizationId",
                   optional "evDetails", optional "certValidationType"};
                   201, no body, Location: BASE/acme/v1/account/ID
  GET    /api/acme/v1/account/ID        200, the account object
  DELETE /api/acme/v1/account/ID        204
  POST   /api/acme/v1/account/ID/domains   body {"domains": [{"name": N}, ...]}
                   200 {"notAddedDomains": [names]}
  DELETE /api/acme/v1/account/ID/domains   the same body
                   200 {"notRemovedDomains": [names]}
  GET    /api/acme/v1/server            200, the ACME servers (acme_servers)

SCM's PUT of an account (an update) is not implemented: 405.  HEAD is
answered like GET without a body.

An account object: id, name, acmeServer, organizationId, certValidationType
("DV", "OV" or "EV"), status ("Pending"; SCM says "Valid" once the ACME
client registered, which this server does not see), macId, macKey,
accountId (""), contacts (""), ovOrderNumber (None), evDetails (when given)
and domains [{"name": N}, ...].

EAB pairs: the accounts' macId/macKey come from `eab_pool` (dict kid ->
unpadded base64url MAC key, make_eab_pool() makes one), handed out in the
dict's order.  Give the same pool to Pebble (Pebble(extra_eab_keys=pool),
or scm.eab_pool) and an account created here is one Pebble accepts: SCM
too hands out pairs its ACME server knows already.  When the pool is used
up a create answers 500 and creates nothing.

Domains: a name in `not_delegated` (a set the test may change at any time;
case-insensitive) is not added and comes back in notAddedDomains, like a
name SCM does not have delegated to the account's organization.  A name
the account already has is accepted and not added twice (it is not in
notAddedDomains).  A name the account does not have comes back in
notRemovedDomains.

Errors are SCM-style JSON bodies {"code": N, "description": TEXT}.  The
code of -1001 (organizationId missing in a list) is SCM's, as the public
SCM clients report it; every other code is this test server's own choice,
not Sectigo's:

  -16    401  login, password or customerUri missing or wrong
  -1001  400  GET account list without organizationId
  -3     400  a field missing or of the wrong type, a body that is not JSON
  -5     400  organizationId names no organization (not in `organizations`)
  -6     400  an account of that name exists already in the organization
  -7     400  acmeServer is not one of `acme_servers` (when that is given)
  -4     404  no account with that id
  -14    404  no such path (405 for a known path with another method)
  -1     500  the EAB pool is used up; and the body of injected 5xx
  -9     429  injected rate limit (with Retry-After)

Faults for the tests (each applies to the next matching requests, before
authentication, in the order they were asked for; `method` and
`pathpart` narrow which requests match):

  fail_next(n, status=503)            answer 5xx, the request is not run
  rate_limit_next(n, retry_after=30)  answer 429 with Retry-After
  hang_next(n, run=False)             hold the request until release() or
                                      stop(), past any client timeout; then
                                      close the connection without an
                                      answer, after running the request if
                                      run=True (SCM did the work, the client
                                      never heard); release() ends every
                                      request hung so far
  appear_after                        attribute: a new account is missing
                                      from GET answers (list and show: 404)
                                      for this many GETs after its creation,
                                      as in an SCM that creates in the
                                      background

What it saw: server.requests, (method, path with query, status) of every
request ("hung" for a dropped one), recorded once it is answered (wait_idle()
waits for the ones under way); server.stats, a Counter of "METHOD path"
(without query); request_count(method, pathpart, status).
No secret (password, macKey) is ever recorded.
"""

import collections
import json
import socket
import tempfile
import ssl
import threading
import urllib.parse

from . import quirkproxy
from .pebble import LOOPBACK, free_port, make_api_certs, random_mac_key
from .service import Service

PREFIX = "/api/acme/v1"

# error codes (see the module docstring: only -1001 is SCM's own)
AUTH_FAILED = -16
ORG_ID_REQUIRED = -1001
INVALID_FIELD = -3
UNKNOWN_ORG = -5
DUPLICATE_NAME = -6
UNKNOWN_ACME_SERVER = -7
NOT_FOUND = -4
NO_SUCH_PATH = -14
INTERNAL = -1
RATE_LIMITED = -9

VALIDATION_TYPES = ("DV", "OV", "EV")


def make_eab_pool(n=4, prefix="scm-kid-"):
    """n fresh EAB pairs (kid -> unpadded base64url MAC key) for both
    ScmServer(eab_pool=...) and Pebble(extra_eab_keys=...)."""
    return {"%s%d" % (prefix, i): random_mac_key() for i in range(1, n + 1)}


class _Handler(quirkproxy._Handler):
    """The quirk proxy's handler (GET, HEAD, POST), with PUT and DELETE."""
    server_version = "scm-test"

    def do_PUT(self):
        self.server.proxy._handle(self, "PUT")

    def do_DELETE(self):
        self.server.proxy._handle(self, "DELETE")


class _Fault:
    def __init__(self, kind, n, method, pathpart, **args):
        self.kind = kind
        self.left = n
        self.method = method
        self.pathpart = pathpart
        self.args = args

    def matches(self, method, path):
        return ((self.method is None or self.method == method)
                and (self.pathpart is None or self.pathpart in path))


class ScmError(Exception):
    """An SCM-style error answer: HTTP status, code, description."""

    def __init__(self, status, code, description, headers=()):
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description
        self.headers = list(headers)


class ScmServer(Service):
    """A threaded HTTPS server on 127.0.0.1 speaking SCM's ACME-account API.

    with ScmServer(organizations={6339: "Example Org"}, eab_pool=pool) as scm:
        scm.base_url      https://127.0.0.1:PORT/api  (SCM's base URL)
        scm.ca_file       the CA that signed its certificate
        scm.credentials   {"login": ..., "password": ..., "customerUri": ...}
        scm.accounts      id -> account object (dict), as GET shows it
    """

    def __init__(self, *, login="sacme-api", password="s3cret-Pa55!",
                 customer_uri="sacme-test", organizations=None, eab_pool=None,
                 acme_servers=None, not_delegated=(), port=None):
        """organizations: dict id (int) -> name; eab_pool: dict kid -> MAC
        key (unpadded base64url); acme_servers: None (any acmeServer URL is
        taken, DV) or a list of {"url": URL, "certValidationType": T, ...}
        (an account's type is its server's unless the body gives one)."""
        self.login = login
        self.password = password
        self.customer_uri = customer_uri
        self.organizations = dict(organizations or {6339: "Example Org"})
        self.eab_pool = dict(eab_pool or {})   # all of it, for Pebble
        self._pool = collections.deque(self.eab_pool.items())
        self.acme_servers = acme_servers
        self.not_delegated = set(not_delegated)
        self.appear_after = 0
        self.port = port
        self.accounts = {}
        self._hidden = {}              # account id -> GETs it stays hidden for
        self._next_id = 1001
        self._faults = []
        self._release = threading.Event()
        self._lock = threading.RLock()
        self._hung = 0                 # requests held by hang_next now
        self._hung_done = threading.Condition(self._lock)
        self._busy = 0                 # requests being handled now
        self.requests = []
        self.stats = collections.Counter()
        self.errors = []
        self.dir = None
        self.ca_file = None
        self._server = None
        self._thread = None

    # -- lifecycle --

    @property
    def credentials(self):
        return {"login": self.login, "password": self.password,
                "customerUri": self.customer_uri}

    @property
    def base_url(self):
        return "https://%s:%d/api" % (LOOPBACK, self.port)

    def account_url(self, account_id):
        return "%s/acme/v1/account/%d" % (self.base_url, account_id)

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="sacmetest-scm-")
        self.ca_file, cert, key = make_api_certs(self.dir)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        if self.port is None:
            self.port = free_port()
        self._release.clear()
        self._server, self._thread = quirkproxy.serve_tls(self, _Handler, self.port,
                                                          ctx, "scm")
        return self

    def stop(self):
        self._release.set()            # hung requests end
        quirkproxy.stop_tls(self._server, self._thread)
        self._server = self._thread = None
        self.remove_dir()

    def ssl_context(self):
        """A client context that trusts this server (and nothing else)."""
        return ssl.create_default_context(cafile=self.ca_file)

    # -- faults --

    def _add_fault(self, kind, n, method, pathpart, **args):
        with self._lock:
            self._faults.append(_Fault(kind, n, method, pathpart, **args))
        return self

    def fail_next(self, n=1, status=503, method=None, pathpart=None):
        return self._add_fault("fail", n, method, pathpart, status=status)

    def rate_limit_next(self, n=1, retry_after=30, method=None, pathpart=None):
        return self._add_fault("rate_limit", n, method, pathpart,
                               retry_after=retry_after)

    def hang_next(self, n=1, run=False, method=None, pathpart=None):
        self._release.clear()
        return self._add_fault("hang", n, method, pathpart, run=run)

    def release(self, limit=30):
        """Let the hung requests end (run if asked, their connections
        closed) and wait until they have; False if some had not within
        limit seconds."""
        self._release.set()
        with self._hung_done:
            return self._hung_done.wait_for(lambda: self._hung == 0, limit)

    def clear_faults(self):
        with self._lock:
            self._faults = []

    def _take_fault(self, method, path):
        with self._lock:
            for f in self._faults:
                if f.left > 0 and f.matches(method, path):
                    f.left -= 1
                    self.stats["fault " + f.kind] += 1
                    return f
        return None

    # -- what it saw --

    def wait_idle(self, limit=30):
        """Wait until no request is being handled but those hang_next()
        holds: a request is recorded just after its answer is sent, so a
        client that has its answer (and exited) may be ahead of
        server.requests.  False after limit s."""
        with self._hung_done:
            return self._hung_done.wait_for(lambda: self._busy == self._hung, limit)

    def request_count(self, method, pathpart, status=None):
        """Requests seen with method and pathpart in the path (and status)."""
        with self._lock:
            return len([1 for r in self.requests if r[0] == method
                        and pathpart in r[1] and status in (None, r[2])])

    def _note_error(self, text):
        with self._lock:
            self.errors.append(text)

    # -- the request path --

    def _handle(self, h, method):
        path = h.path
        status = None
        with self._lock:
            self._busy += 1
        try:
            length = int(h.headers.get("Content-Length") or 0)
            body = h.rfile.read(length) if length else b""
            fault = self._take_fault(method, path)
            if fault and fault.kind == "hang":
                with self._lock:
                    self._hung += 1
                self._release.wait()
                if fault.args["run"]:
                    try:
                        self._answer(method, path, h.headers, body)
                    except ScmError:
                        pass           # nobody hears the answer either way
                status = "hung"
                h.close_connection = True
                try:
                    h.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            try:
                if fault and fault.kind == "fail":
                    raise ScmError(fault.args["status"], INTERNAL,
                                   "Service temporarily unavailable (injected)")
                if fault and fault.kind == "rate_limit":
                    raise ScmError(429, RATE_LIMITED, "Too many requests (injected)",
                                   [("Retry-After", str(fault.args["retry_after"]))])
                status, headers, doc = self._answer(method, path, h.headers, body)
            except ScmError as e:
                status, headers = e.status, e.headers
                doc = {"code": e.code, "description": e.description}
            self._send(h, status, headers, doc)
        finally:
            with self._lock:
                self.requests.append((method, path, status))
                self.stats["%s %s" % (method, path.split("?")[0])] += 1
                if status == "hung":
                    self._hung -= 1
                self._busy -= 1
                self._hung_done.notify_all()

    def _send(self, h, status, headers, doc):
        data = b"" if doc is None else json.dumps(doc).encode()
        h.send_response(status)
        for k, v in headers:
            h.send_header(k, v)
        if doc is not None:
            h.send_header("Content-Type", "application/json;charset=UTF-8")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)
        h.wfile.flush()

    def _check_auth(self, headers):
        given = (headers.get("login"), headers.get("password"),
                 headers.get("customerUri"))
        if given != (self.login, self.password, self.customer_uri):
            raise ScmError(401, AUTH_FAILED,
                           "Invalid authentication: login, password or customerUri")

    def _answer(self, method, path, headers, body):
        """(status, headers, JSON document or None) of a request; raises
        ScmError for an error answer."""
        self._check_auth(headers)
        if method == "HEAD":
            method = "GET"             # _send() leaves the body out
        url = urllib.parse.urlsplit(path)
        query = urllib.parse.parse_qs(url.query)
        if not url.path.startswith(PREFIX + "/"):
            raise ScmError(404, NO_SUCH_PATH, "No such path: %s" % url.path)
        parts = url.path[len(PREFIX) + 1:].rstrip("/").split("/")
        with self._lock:
            if parts == ["server"]:
                self._method(method, "GET")
                return 200, [], list(self.acme_servers or [])
            if parts == ["account"]:
                if method == "GET":
                    return 200, [], self._list(query)
                self._method(method, "POST")
                return self._create(_json_body(body))
            if len(parts) in (2, 3) and parts[0] == "account":
                acct = self._find(parts[1], method)
                if len(parts) == 2:
                    if method == "GET":
                        return 200, [], acct
                    self._method(method, "DELETE")
                    del self.accounts[acct["id"]]
                    return 204, [], None
                if parts[2] == "domains":
                    self._method(method, "POST", "DELETE")
                    names = _domain_names(_json_body(body))
                    if method == "POST":
                        return 200, [], {"notAddedDomains": self._add_domains(acct, names)}
                    return 200, [], {"notRemovedDomains": self._remove_domains(acct, names)}
        raise ScmError(404, NO_SUCH_PATH, "No such path: %s" % url.path)

    @staticmethod
    def _method(method, *allowed):
        if method not in allowed:
            raise ScmError(405, NO_SUCH_PATH, "Method %s not allowed here" % method)

    def _visible(self, acct_id, method):
        """Whether a GET sees the account now (appear_after); counts the GET."""
        left = self._hidden.get(acct_id, 0)
        if method != "GET" or left <= 0:
            return True
        self._hidden[acct_id] = left - 1
        return False

    def _find(self, text, method):
        acct = self.accounts.get(int(text)) if text.isdigit() else None
        if acct is None or not self._visible(acct["id"], method):
            raise ScmError(404, NOT_FOUND, "ACME account %s not found" % text)
        return acct

    def _list(self, query):
        org = (query.get("organizationId") or [""])[0]
        if not org:
            raise ScmError(400, ORG_ID_REQUIRED, "organizationId is required")
        if not org.isdigit():
            raise ScmError(400, INVALID_FIELD, "organizationId must be a number")
        name = (query.get("name") or [None])[0]
        return [a for a in list(self.accounts.values())
                if a["organizationId"] == int(org) and name in (None, a["name"])
                and self._visible(a["id"], "GET")]

    def _create(self, doc):
        name = doc.get("name")
        server = doc.get("acmeServer")
        org = doc.get("organizationId")
        if not isinstance(name, str) or not name.strip():
            raise ScmError(400, INVALID_FIELD, "name is required")
        if not isinstance(server, str) or not server:
            raise ScmError(400, INVALID_FIELD, "acmeServer is required")
        if not isinstance(org, int) or isinstance(org, bool):
            raise ScmError(400, INVALID_FIELD, "organizationId is required (a number)")
        if org not in self.organizations:
            raise ScmError(400, UNKNOWN_ORG, "Organization %d not found" % org)
        vtype = doc.get("certValidationType") or self._server_type(server)
        if vtype not in VALIDATION_TYPES:
            raise ScmError(400, INVALID_FIELD, "certValidationType must be DV, OV or EV")
        if any(a["name"] == name and a["organizationId"] == org
               for a in self.accounts.values()):
            raise ScmError(400, DUPLICATE_NAME,
                           "ACME account with name '%s' already exists" % name)
        if not self._pool:
            raise ScmError(500, INTERNAL, "No EAB key left to assign (test server pool)")
        kid, mac = self._pool.popleft()
        acct = {"id": self._next_id, "name": name, "acmeServer": server,
                "organizationId": org, "certValidationType": vtype,
                "status": "Pending", "macId": kid, "macKey": mac,
                "accountId": "", "contacts": "", "ovOrderNumber": None,
                "domains": []}
        if "evDetails" in doc:
            acct["evDetails"] = doc["evDetails"]
        self._next_id += 1
        self.accounts[acct["id"]] = acct
        self._hidden[acct["id"]] = self.appear_after
        return 201, [("Location", self.account_url(acct["id"]))], None

    def _server_type(self, url):
        if self.acme_servers is None:
            return "DV"
        for s in self.acme_servers:
            if s.get("url") == url:
                return s.get("certValidationType", "DV")
        raise ScmError(400, UNKNOWN_ACME_SERVER, "Unknown ACME server: %s" % url)

    def _add_domains(self, acct, names):
        refused = {n.lower() for n in self.not_delegated}
        have = {d["name"].lower() for d in acct["domains"]}
        not_added = []
        for n in names:
            if n.lower() in refused:
                not_added.append(n)
            elif n.lower() not in have:
                acct["domains"].append({"name": n})
                have.add(n.lower())
        return not_added

    def _remove_domains(self, acct, names):
        not_removed = []
        for n in names:
            kept = [d for d in acct["domains"] if d["name"].lower() != n.lower()]
            if len(kept) == len(acct["domains"]):
                not_removed.append(n)
            acct["domains"] = kept
        return not_removed


def _json_body(body):
    try:
        doc = json.loads(body or b"null")
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise ScmError(400, INVALID_FIELD, "The request body must be a JSON object")
    return doc


def _domain_names(doc):
    domains = doc.get("domains")
    if not isinstance(domains, list) or not domains or not all(
            isinstance(d, dict) and isinstance(d.get("name"), str) and d["name"]
            for d in domains):
        raise ScmError(400, INVALID_FIELD,
                       'domains is required: [{"name": DOMAIN}, ...]')
    return [d["name"] for d in domains]
