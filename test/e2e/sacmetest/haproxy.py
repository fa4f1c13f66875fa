"""Debian's HAProxy on loopback, round-robin in front of httpd nodes' plain
HTTP ports: the address a Pebble's httpPort points at in the cluster tests,
so a CA's validation request may land on any node.

HAProxy runs in the foreground (-db) with `log stdout format raw`; its
stdout goes to a file.  Every request is logged on one line

    sacmelb <backend> <server> <status> <method> <uri>

(<server> is <NOSRV> when no node could take the request), so a test reads
which node answered what.

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
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from . import ports
from .httpd import http_get

HAPROXY_BIN = os.environ.get("SACME_HAPROXY", "/usr/sbin/haproxy")
LOOPBACK = "127.0.0.1"
BACKEND = "nodes"
LOG_MARK = "sacmelb"


class HAProxyError(RuntimeError):
    pass


class Request:
    """One logged request: which server answered it, how, and what."""

    def __init__(self, backend, server, status, method, uri):
        self.backend = backend
        self.server = server
        self.status = int(status) if status.lstrip("-").isdigit() else None
        self.method = method
        self.uri = uri

    def __repr__(self):
        return "Request(%s %s -> %s %s)" % (self.method, self.uri, self.server, self.status)


def parse_log(text):
    """The requests of an HAProxy log (the LOG_MARK lines), in order."""
    out = []
    for line in text.splitlines():
        parts = line.split(" ", 5)
        if len(parts) == 6 and parts[0] == LOG_MARK:
            out.append(Request(*parts[1:]))
    return out


class HAProxy:
    """backends: {server name: HTTP port on 127.0.0.1}, in rotation order.
    port: the frontend's port (default: a free one)."""

    def __init__(self, backends, port=None, keep_dir=False):
        if not backends:
            raise ValueError("HAProxy needs at least one backend")
        self.backends = dict(backends)
        self.port = port if port is not None else ports.free_port()
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
            "    option http-ignore-probes",
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
            "    default_backend %s" % BACKEND,
            "",
            "backend %s" % BACKEND,
            "    balance roundrobin",
        ]
        for name, port in self.backends.items():
            lines.append("    server %s %s:%d" % (name, LOOPBACK, port))
        return "\n".join(lines) + "\n"

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
        r = subprocess.run([HAPROXY_BIN, "-c", "-q", "-f", self.config_file],
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
            self._wait(self._listening, "haproxy to listen on %s:%d" % (LOOPBACK, self.port))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Stop HAProxy (SIGTERM, SIGKILL after 10 s); the log file stays
        readable until cleanup()."""
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(self.proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    self.proc.wait()
            self.proc = None
        for f in (self._out, self._err):
            if f:
                f.close()
        self._out = self._err = None

    def restart(self, backends=None):
        """Stop and start again on the same port, with new backends if
        given (a node added or taken away); the log goes on."""
        self.stop()
        if backends is not None:
            self.backends = dict(backends)
        return self.start()

    def cleanup(self):
        self.stop()
        if self.dir and not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
        return False

    def _alive_or_raise(self):
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise HAProxyError("haproxy is not running (exit status %s)\n%s"
                               % (code, self.stderr_text()))

    def _listening(self):
        self._alive_or_raise()
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=1):
                return True
        except OSError:
            return False

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
        """The logged requests whose URI starts with path_prefix."""
        return [r for r in parse_log(self.log_text()[since:])
                if r.uri.startswith(path_prefix)]

    def backends_seen(self, path_prefix="", since=0):
        """The names of the servers that answered requests whose path
        starts with path_prefix (<NOSRV>, no server, left out)."""
        return {r.server for r in self.requests(path_prefix, since)
                if r.server in self.backends}

    def wait_requests(self, path_prefix="", count=1, limit=30, since=0):
        """Wait until count requests under path_prefix are logged (HAProxy
        logs a request once its answer is sent, so a client may be done a
        moment before its line is there); returns them."""
        self._wait(lambda: len(self.requests(path_prefix, since)) >= count,
                   "%d logged request(s) under %r" % (count, path_prefix), limit)
        return self.requests(path_prefix, since)

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
