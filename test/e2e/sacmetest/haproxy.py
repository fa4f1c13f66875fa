"""Debian's HAProxy on loopback, round-robin in front of httpd nodes' plain
HTTP ports: the address a Pebble's httpPort points at in the cluster tests,
so a CA's validation request may land on any node.

HAProxy runs in the foreground (-db) with `log stdout format raw`; its
stdout goes to a file.  Every request is logged on one line

    sacmelb <backend> <server> <status> <method> <uri>

(<server> is <NOSRV> when no node could take the request), so a test reads
which node answered what.

With tls_backends (the nodes' HTTPS ports) a second frontend on tls_port
passes TLS connections through to them, round-robin as well (TCP mode, no
TLS in HAProxy): the address of a Pebble's tlsPort, for tls-alpn-01.  Each
connection is logged as

    sacmelb nodes-tls <server> - TLS <SNI> <ALPN>

(the ClientHello's server name and the first protocol of its ALPN list,
"-" when absent; a CA's tls-alpn-01 validation offers only acme-tls/1).

No health checks: a node that is stopped or killed refuses the connection,
and HAProxy at once sends the request to the next node (a retry on another
server, as many as there are nodes), so a request fails only when no node
listens.  Checks would instead mark a node down for an interval, and with
one node (or every node) marked down a CA's validation request would be
answered 503 in the moment a node comes back.

A stats socket (a Unix socket in the temporary directory) takes HAProxy's
admin commands: set_enabled() takes a node out of the rotation or puts it
back, server_states() tells what HAProxy thinks of each.

    lb = HAProxy({"node1": 8001, "node2": 8002}).start()
    ... GET http://127.0.0.1:<lb.port>/ ...
    lb.backends_seen("/.well-known/acme-challenge/")  -> {"node1", ...}
    lb.stop()
"""

import os
import socket
import subprocess
import tempfile
import time

from . import ports
from .service import Service, stop_process
from .httpd import http_get

HAPROXY_BIN = os.environ.get("SACME_HAPROXY", "/usr/sbin/haproxy")
LOOPBACK = "127.0.0.1"
BACKEND = "nodes"
TLS_BACKEND = "nodes-tls"
ACME_TLS = "acme-tls/1"
LOG_MARK = "sacmelb"


class HAProxyError(RuntimeError):
    pass


class Request:
    """One logged request: which server answered it, how, and what.  A TLS
    connection is a Request with method "TLS", uri its SNI and alpn the
    first protocol of its ALPN list (None without)."""

    def __init__(self, backend, server, status, method, uri, alpn=None):
        self.backend = backend
        self.server = server
        self.status = int(status) if status.isdigit() else None
        self.method = method
        self.uri = uri
        self.alpn = None if alpn in (None, "-") else alpn

    def __repr__(self):
        return "Request(%s %s -> %s %s)" % (self.method, self.uri, self.server, self.status)


def parse_log(text):
    """The requests of an HAProxy log (the LOG_MARK lines), in order.  No
    field holds a space: HAProxy refuses a request line with one in its
    URI, and escapes one in a logged sample."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) in (6, 7) and parts[0] == LOG_MARK:
            out.append(Request(*parts[1:]))
    return out


class HAProxy(Service):
    """backends: {server name: HTTP port on 127.0.0.1}, in rotation order.
    port: the frontend's port (default: a free one).
    tls_backends: {server name: HTTPS port}, for a TLS frontend on tls_port
    (default: a free one); none without."""

    def __init__(self, backends, port=None, keep_dir=False, tls_backends=None,
                 tls_port=None):
        if not backends:
            raise ValueError("HAProxy needs at least one backend")
        self.backends = dict(backends)
        self.port = port if port is not None else ports.free_port()
        self.tls_backends = dict(tls_backends or {})
        self.tls_port = None
        if self.tls_backends:
            self.tls_port = tls_port if tls_port is not None else ports.free_port()
        self.keep_dir = keep_dir or bool(os.environ.get("SACME_KEEP_HAPROXY_DIR"))
        self.dir = None
        self.proc = None
        self._out = None
        self._err = None

    # -- files --

    @property
    def log_file(self):
        return os.path.join(self.dir, "haproxy.log")

    @property
    def stderr_file(self):
        return os.path.join(self.dir, "haproxy.stderr")

    @property
    def stats_socket(self):
        return os.path.join(self.dir, "stats.sock")

    def config_text(self):
        lines = [
            "global",
            "    log stdout format raw local0 info",
            "    maxconn 512",
            "    stats socket %s mode 600 level admin" % self.stats_socket,
            "",
            "defaults",
            "    mode http",
            "    log global",
            # one line per request, with the server that answered it
            '    log-format "%s %%b %%s %%ST %%HM %%HU"' % LOG_MARK,
            # no line for a connection that sent nothing (start()'s probe)
            "    option dontlognull",
            "    timeout connect 2s",
            "    timeout client 60s",
            "    timeout server 60s",
            "    timeout check 1s",
            # a node that refuses the connection (stopped, killed) is not
            # the end of the request: every retry goes to another node
            "    retries %d" % max(1, len(self.backends)),
            "    option redispatch 1",
            "",
            "frontend front",
            "    bind %s:%d" % (LOOPBACK, self.port),
            "    option http-ignore-probes",
            "    default_backend %s" % BACKEND,
            "",
            "backend %s" % BACKEND,
            "    balance roundrobin",
        ]
        for name, port in self.backends.items():
            lines.append("    server %s %s:%d" % (name, LOOPBACK, port))
        if self.tls_backends:
            lines += self._tls_config()
        return "\n".join(lines) + "\n"

    def _tls_config(self):
        lines = [
            "",
            "frontend front-tls",
            "    mode tcp",
            "    bind %s:%d" % (LOOPBACK, self.tls_port),
            # wait for the ClientHello and keep its SNI and ALPN for the
            # log line (written when the request buffer is gone)
            "    tcp-request inspect-delay 5s",
            "    tcp-request content set-var(sess.sni) req.ssl_sni",
            "    tcp-request content set-var(sess.alpn) req.ssl_alpn",
            "    tcp-request content accept if { req.ssl_hello_type 1 }",
            '    log-format "%s %%b %%s - TLS %%[var(sess.sni)] %%[var(sess.alpn)]"'
            % LOG_MARK,
            "    default_backend %s" % TLS_BACKEND,
            "",
            "backend %s" % TLS_BACKEND,
            "    mode tcp",
            "    balance roundrobin",
            "    retries %d" % len(self.tls_backends),
        ]
        for name, port in self.tls_backends.items():
            lines.append("    server %s %s:%d" % (name, LOOPBACK, port))
        return lines

    # -- lifecycle --

    def start(self):
        if self.proc:
            raise HAProxyError("already started")
        if not os.access(HAPROXY_BIN, os.X_OK):
            raise HAProxyError("%s not found (apt-get install haproxy)" % HAPROXY_BIN)
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="sacmetest-haproxy-")
        self.config_file = os.path.join(self.dir, "haproxy.cfg")
        with open(self.config_file, "w") as f:
            f.write(self.config_text())
        r = subprocess.run([HAPROXY_BIN, "-c", "-f", self.config_file],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise HAProxyError("haproxy -c refused %s:\n%s%s\n%s"
                               % (self.config_file, r.stdout, r.stderr, self.config_text()))
        # appended: a restart keeps what was logged before
        self._out = open(self.log_file, "ab")
        self._err = open(self.stderr_file, "ab")
        self.proc = subprocess.Popen([HAPROXY_BIN, "-db", "-f", self.config_file],
                                     stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=self._err, cwd=self.dir,
                                     start_new_session=True)
        try:
            self._wait(self._listening, "haproxy to listen on %s:%s"
                       % (LOOPBACK, ", ".join(str(p) for p in (self.port, self.tls_port) if p)))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Stop HAProxy (SIGTERM, SIGKILL after 10 s); the log file stays
        readable until cleanup()."""
        stop_process(self.proc)
        self.proc = None
        for f in (self._out, self._err):
            if f:
                f.close()
        self._out = self._err = None

    def restart(self, backends=None, tls_backends=None):
        """Stop and start again on the same ports, with new backends if
        given (a node added or taken away); the log goes on."""
        self.stop()
        if backends is not None:
            self.backends = dict(backends)
        if tls_backends is not None:
            if self.tls_port is None:
                raise HAProxyError("started without a TLS frontend")
            self.tls_backends = dict(tls_backends)
        return self.start()

    def cleanup(self):
        self.stop()        # the log stays readable after stop(), not after this
        self.remove_dir()

    def _alive_or_raise(self):
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise HAProxyError("haproxy is not running (exit status %s)\n%s"
                               % (code, self.stderr_text()))

    def _listening(self):
        self._alive_or_raise()
        for port in (self.port, self.tls_port):
            if port is None:
                continue
            try:
                with socket.create_connection((LOOPBACK, port), timeout=1):
                    pass
            except OSError:
                return False
        return True

    def _wait(self, cond, what, limit=30, interval=0.1):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(interval)
        raise HAProxyError("timed out (%ss) waiting for %s\nhaproxy log (tail):\n%s"
                           % (limit, what, self.log_text()[-6000:]))

    # -- the log --

    def _read(self, path_fn):
        if not self.dir:
            return ""
        try:
            with open(path_fn(), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_text(self):
        """The log: the request lines, HAProxy's own notices."""
        return self._read(lambda: self.log_file)

    def stderr_text(self):
        """HAProxy's warnings and errors (start-up, configuration)."""
        return self._read(lambda: self.stderr_file)

    def mark(self):
        """A position in the log; pass it as since= to look only at the
        requests logged afterwards."""
        return len(self.log_text())

    def requests(self, path_prefix="", since=0):
        """The logged HTTP requests whose URI starts with path_prefix."""
        return [r for r in parse_log(self.log_text()[since:])
                if r.backend == BACKEND and r.uri.startswith(path_prefix)]

    def backends_seen(self, path_prefix="", since=0):
        """The names of the servers that answered requests whose path
        starts with path_prefix (<NOSRV>, no server, left out)."""
        return {r.server for r in self.requests(path_prefix, since)
                if r.server in self.backends}

    def tls_connections(self, alpn=None, since=0):
        """The logged TLS connections (those offering ALPN alpn first, if
        given)."""
        return [r for r in parse_log(self.log_text()[since:])
                if r.backend == TLS_BACKEND and (alpn is None or r.alpn == alpn)]

    def tls_backends_seen(self, alpn=ACME_TLS, since=0):
        """The names of the servers that took TLS connections offering ALPN
        alpn (by default acme-tls/1: a CA's tls-alpn-01 validations)."""
        return {r.server for r in self.tls_connections(alpn, since)
                if r.server in self.tls_backends}

    def wait_requests(self, path_prefix="", count=1, limit=30, since=0):
        """Wait until count requests under path_prefix are logged (HAProxy
        logs a request once its answer is sent, so a client may be done a
        moment before its line is there); returns them."""
        return self._wait_logged(lambda: self.requests(path_prefix, since), count,
                                 "request(s) under %r" % path_prefix, limit)

    def wait_tls_connections(self, alpn=ACME_TLS, count=1, limit=30, since=0):
        """Wait until count TLS connections offering alpn are logged (at
        their close); returns them."""
        return self._wait_logged(lambda: self.tls_connections(alpn, since), count,
                                 "TLS connection(s) with ALPN %s" % alpn, limit)

    def _wait_logged(self, found, count, what, limit):
        self._wait(lambda: len(found()) >= count, "%d logged %s" % (count, what), limit)
        return found()

    # -- the stats socket --

    def command(self, line):
        """One command on the stats socket; returns its answer."""
        self._alive_or_raise()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(self.stats_socket)
            s.sendall(line.encode() + b"\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return data.decode(errors="replace")

    def server_states(self):
        """{server name: "no" (in the rotation; "no check" in HAProxy's
        words) | "MAINT" (taken out by set_enabled)} as HAProxy sees it
        (the status column of `show stat`, its first word)."""
        text = self.command("show stat")
        lines = text.splitlines()
        if not lines or not lines[0].startswith("# "):
            raise HAProxyError("unexpected answer to show stat: %r" % text[:200])
        cols = lines[0][2:].split(",")
        px, sv, st = cols.index("pxname"), cols.index("svname"), cols.index("status")
        out = {}
        for line in lines[1:]:
            f = line.split(",")
            if len(f) > st and f[px] == BACKEND and f[sv] in self.backends:
                out[f[sv]] = f[st].split(" ")[0]
        return out

    def set_enabled(self, name, enabled):
        """Put server `name` in the rotation or take it out (HAProxy's
        maintenance mode: no request goes there, until enabled again or
        HAProxy restarts)."""
        if name not in self.backends:
            raise KeyError(name)
        answer = self.command("%s server %s/%s"
                              % ("enable" if enabled else "disable", BACKEND, name))
        if answer.strip():
            raise HAProxyError("haproxy refused to %s %s: %s"
                               % ("enable" if enabled else "disable", name, answer))

    # -- a client --

    def http_get(self, path, host="localhost", timeout=10):
        """GET path through the frontend; returns (status, headers, body)."""
        return http_get(self.port, path, host, timeout)
