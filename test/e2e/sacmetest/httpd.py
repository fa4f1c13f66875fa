"""A real httpd (Debian's apache2 binary) in a private ServerRoot, loading
the mod_sacme.so built by `make`, on loopback ports.

Debian's apache2ctl insists on /etc/apache2, so the binary is run directly:
/usr/sbin/apache2 -d ROOT -f CONF -k start|graceful|stop.

Httpd(extra=...)           the plain server of the module-load tests
Httpd(ssl=True, sacme=..., vhosts=[...], http_port=...)
                           a server with mod_ssl, an HTTPS Listen port, the
                           given Sacme* lines and one <VirtualHost> per entry
                           of vhosts (SSLEngine on, no SSLCertificateFile)

The ServerRoot is a new directory under /tmp with mode 0755 (like
/etc/apache2), so the unprivileged User (www-data) can reach the store below
it.  DocumentRoot is ROOT/htdocs (never the ServerRoot itself: the store must
not be reachable as static files) with an index.html saying "hello".
"""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

from cryptography import x509
from cryptography.x509.oid import NameOID

from . import ports

APACHE = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
USER = "www-data"
LOOPBACK = "127.0.0.1"

FALLBACK_ORG = "mod_sacme fallback"
INDEX_TEXT = "hello from the plain server\n"


def free_port():
    # the same ports as pebble.free_port: never one of a Pebble's
    return ports.free_port()


def module_path():
    build = os.environ.get("SACME_BUILD_DIR") or os.path.join(
        os.path.dirname(__file__), "..", "..", "..", "build")
    return os.path.abspath(os.path.join(build, "mod_sacme", ".libs", "mod_sacme.so"))


def user_ids(name=USER):
    import pwd
    pw = pwd.getpwnam(name)
    return pw.pw_uid, pw.pw_gid


class Vhost:
    """One HTTPS <VirtualHost> served a managed certificate: ServerName is
    names[0], ServerAlias the others.  `lines` are added inside."""

    def __init__(self, names, lines=()):
        self.names = list(names)
        self.lines = list(lines)


class TLSResult:
    """What a TLS client saw: the leaf certificate, the HTTP status line's
    code and the body of a `GET path`."""

    def __init__(self, cert, status, body, headers):
        self.cert = cert
        self.status = status
        self.body = body
        self.headers = headers

    @property
    def is_fallback(self):
        return is_fallback(self.cert)

    @property
    def serial(self):
        return self.cert.serial_number

    def describe(self):
        return ("status %s, subject %s, issuer %s, serial %x"
                % (self.status, self.cert.subject.rfc4514_string(),
                   self.cert.issuer.rfc4514_string(), self.cert.serial_number))


def is_fallback(cert):
    orgs = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    return any(FALLBACK_ORG in o for o in orgs)


def _read_http_response(sock, limit=1 << 20):
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except (ssl.SSLError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    status = None
    if lines and lines[0].startswith("HTTP/"):
        parts = lines[0].split(" ", 2)
        if len(parts) >= 2 and parts[1].isdigit():
            status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    return status, headers, body


def _dechunk(body):
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return out


def http_get(port, path, host="localhost", timeout=10):
    """GET path over plain HTTP on 127.0.0.1:port, the raw path as given.
    Returns (status, headers, body)."""
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as s:
        req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sacmetest\r\n"
               "Connection: close\r\n\r\n" % (path, host))
        s.sendall(req.encode("latin-1"))
        return _read_http_response(s)


class Httpd:
    """httpd with a generated httpd.conf; `extra` is appended verbatim.

    ssl=True loads mod_ssl (and socache_shmcb) and listens on an HTTPS port
    as well; `sacme` is a list of directive lines (e.g. "SacmeDomain a b");
    `vhosts` a list of Vhost (or of name lists) on the HTTPS port.
    http_port: the plain-HTTP port (for HTTP-01 it must be Pebble's httpPort).
    """

    def __init__(self, extra="", log_level="info", modules=("mpm_event", "authz_core"),
                 *, ssl=False, sacme=(), vhosts=(), http_port=None, https_port=None,
                 keep_dir=False, load_sacme=True, module_file=None, root=None):
        self.load_sacme = load_sacme
        self.module_file = module_file
        if root:
            os.makedirs(root, exist_ok=True)
            self.root = root
        else:
            self.root = tempfile.mkdtemp(prefix="sacme-httpd-")
        os.chmod(self.root, 0o755)
        self.keep_dir = keep_dir or bool(os.environ.get("SACME_KEEP_HTTPD_DIR"))
        self.port = http_port if http_port is not None else free_port()
        self.ssl = ssl
        self.https_port = (https_port if https_port is not None else free_port()) if ssl else None
        self.conf = os.path.join(self.root, "httpd.conf")
        self.error_log = os.path.join(self.root, "error.log")
        self.htdocs = os.path.join(self.root, "htdocs")
        os.makedirs(self.htdocs)
        os.chmod(self.htdocs, 0o755)
        with open(os.path.join(self.htdocs, "index.html"), "w") as f:
            f.write(INDEX_TEXT)
        self.log_level = log_level
        self.modules = list(modules)
        if ssl:
            for m in ("ssl", "socache_shmcb"):
                if m not in self.modules:
                    self.modules.append(m)
        self.started = False
        self.configure(sacme=sacme, vhosts=vhosts, extra=extra)

    # -- configuration --

    def configure(self, *, sacme=None, vhosts=None, extra=None):
        """(Re)write httpd.conf; arguments left None keep their last value.
        Takes effect at the next start or graceful()."""
        if sacme is not None:
            self.sacme = list(sacme)
        if vhosts is not None:
            self.vhosts = [v if isinstance(v, Vhost) else Vhost(v) for v in vhosts]
        if extra is not None:
            self.extra = extra
        lines = [
            "ServerRoot %s" % self.root,
            "PidFile %s/httpd.pid" % self.root,
            "ErrorLog %s" % self.error_log,
            "LogLevel %s" % self.log_level,
            "Listen %s:%d" % (LOOPBACK, self.port),
        ]
        if self.ssl:
            lines.append("Listen %s:%d" % (LOOPBACK, self.https_port))
        lines += [
            "ServerName localhost",
            "DocumentRoot %s" % self.htdocs,
            "User %s" % USER,
            "Group %s" % USER,
        ]
        lines += ["LoadModule %s_module %s/mod_%s.so" % (m, MODULES, m) for m in self.modules]
        if self.load_sacme:
            lines.append("LoadModule sacme_module %s" % (self.module_file or module_path()))
        if self.ssl:
            lines.append("SSLSessionCache shmcb:%s/ssl_scache(512000)" % self.root)
        lines += list(self.sacme)
        for v in self.vhosts:
            lines.append("<VirtualHost %s:%d>" % (LOOPBACK, self.https_port))
            lines.append("    ServerName %s" % v.names[0])
            if len(v.names) > 1:
                lines.append("    ServerAlias %s" % " ".join(v.names[1:]))
            lines.append("    DocumentRoot %s" % self.htdocs)
            lines.append("    SSLEngine on")
            lines += ["    " + l for l in v.lines]
            lines.append("</VirtualHost>")
        lines.append(self.extra)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def conf_text(self):
        with open(self.conf) as f:
            return f.read()

    # -- lifecycle --

    def run(self, *args):
        return subprocess.run([APACHE, "-d", self.root, "-f", self.conf] + list(args),
                              capture_output=True, text=True, timeout=60)

    def check_config(self):
        return self.run("-t")

    def control(self, action):
        """apache2 -k ACTION: start, graceful, stop."""
        return self.run("-k", action)

    def start(self):
        """apache2 -k start, and wait until the server runs: the listening
        socket alone is not enough (it is bound by the first configuration
        pass, while the daemon is still in its second one, where a signal
        such as a graceful restart would be lost)."""
        before = self.restarts()
        r = self.control("start")
        if r.returncode != 0:
            raise RuntimeError("httpd did not start: %s%s%s"
                               % (r.stdout, r.stderr, self.log()))
        self.started = True
        self._wait(lambda: self.restarts() > before, "httpd to run")
        self._wait(lambda: self._listening(), "httpd to listen")
        return self

    def graceful(self, limit=30):
        """apache2 -k graceful, and wait until the new generation runs
        (one more "resuming normal operations" line in the error log)."""
        before = self.restarts()
        r = self.control("graceful")
        if r.returncode != 0:
            raise RuntimeError("graceful failed: %s%s%s" % (r.stdout, r.stderr, self.log()))
        self._wait(lambda: self.restarts() > before, "the graceful restart to finish", limit)
        self._wait(lambda: self._listening(), "httpd to listen")

    def restarts(self):
        """How many generations have started so far (start + restarts)."""
        return self.log().count("resuming normal operations")

    def stop(self, cleanup=True):
        """apache2 -k stop and wait until it is gone.  cleanup=False keeps
        the ServerRoot (and its store) for a later start(): a cluster node
        stopped and started again."""
        if not self.started:
            if cleanup:
                self._cleanup()
            return
        driver = self.driver_pid()
        parent = self.parent_pid()
        self.control("stop")
        pidfile = os.path.join(self.root, "httpd.pid")
        try:
            self._wait(lambda: not os.path.exists(pidfile), "httpd to stop")
            # the parent removes its pid file before it closes its listeners
            if parent:
                self._wait(lambda: not _alive(parent), "the httpd parent to exit")
        finally:
            self.started = False
            # a driver that outlives its server is a bug the tests report
            # elsewhere; here it is only kept from lingering
            self.leftover_driver = None
            if driver and _alive(driver):
                deadline = time.time() + 10
                while time.time() < deadline and _alive(driver):
                    time.sleep(0.1)
                if _alive(driver):
                    self.leftover_driver = driver
                    try:
                        os.kill(driver, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            if cleanup:
                self._cleanup()

    def _cleanup(self):
        if not self.keep_dir and not getattr(self, "keep_on_failure", False):
            shutil.rmtree(self.root, ignore_errors=True)

    def parent_pid(self):
        try:
            with open(os.path.join(self.root, "httpd.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def _listening(self):
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=1):
                return True
        except OSError:
            return False

    def _wait(self, cond, what, limit=30, interval=0.1):
        deadline = time.time() + limit
        while time.time() < deadline:
            if cond():
                return
            time.sleep(interval)
        raise RuntimeError("timed out (%ss) waiting for %s\n%s" % (limit, what, self.log()[-12000:]))

    # -- the error log --

    def log(self):
        try:
            with open(self.error_log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def mark(self):
        """A position in the error log; pass it as since= to look only at
        what was logged afterwards."""
        return len(self.log())

    def log_lines(self, text, since=0):
        return [l for l in self.log()[since:].splitlines() if text in l]

    def wait_log(self, text, limit=30, since=0):
        """Wait for a line containing text; returns the first such line."""
        self._wait(lambda: text in self.log()[since:], "'%s' in the error log" % text, limit)
        return self.log_lines(text, since)[0]

    def wait_log_any(self, texts, limit=30, since=0):
        """Wait for a line with any of texts; returns (text, line)."""
        def found():
            log = self.log()[since:]
            return any(t in log for t in texts)
        self._wait(found, "any of %r in the error log" % (texts,), limit)
        log = self.log()[since:]
        for line in log.splitlines():
            for t in texts:
                if t in line:
                    return t, line
        raise AssertionError("unreachable")

    # -- the store --

    @property
    def store_dir(self):
        return os.path.join(self.root, "sacme")

    def store(self, *parts):
        return os.path.join(self.store_dir, *parts)

    def driver_pid(self):
        try:
            with open(self.store("driver.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    # -- clients --

    def http_get(self, path, host="localhost", timeout=10):
        """GET path over plain HTTP with the raw path as given (no
        normalisation by the client). Returns (status, headers, body)."""
        return http_get(self.port, path, host, timeout)

    def tls_get(self, sni, cafile=None, cadata=None, path="/", timeout=10):
        """Connect to the HTTPS port with SNI `sni` and GET path.

        With cafile/cadata the connection is verified by OpenSSL: chain up
        to that root and the hostname `sni` (ssl.SSLCertVerificationError
        otherwise).  Without, anything is accepted.  Returns TLSResult."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if cafile or cadata:
            ctx.load_verify_locations(cafile=cafile, cadata=cadata)
            ctx.check_hostname = True
            ctx.verify_mode = ssl.CERT_REQUIRED
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection((LOOPBACK, self.https_port), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname=sni) as s:
                der = s.getpeercert(binary_form=True)
                req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sacmetest\r\n"
                       "Connection: close\r\n\r\n" % (path, sni))
                s.sendall(req.encode("latin-1"))
                status, headers, body = _read_http_response(s)
        return TLSResult(x509.load_der_x509_certificate(der), status, body, headers)

    def wait_served(self, sni, pred, what, limit=90):
        """Poll the HTTPS port (unverified) until pred(TLSResult) holds;
        returns that result."""
        last = [None]

        def ok():
            try:
                r = self.tls_get(sni)
            except (OSError, ssl.SSLError) as e:
                last[0] = repr(e)
                return False
            last[0] = r.describe()
            if pred(r):
                last.append(r)
                return True
            return False
        try:
            self._wait(ok, what, limit, interval=0.5)
        except RuntimeError as e:
            raise RuntimeError("%s\nlast TLS result for %s: %s" % (e, sni, last[0]))
        return last[-1]

    def wait_managed_cert(self, sni, limit=90, not_serial=None):
        """Wait until `sni` is served a certificate that is not the
        fallback (and whose serial is not not_serial)."""
        return self.wait_served(
            sni, lambda r: not r.is_fallback and r.serial != not_serial,
            "a managed (non-fallback) certificate for %s" % sni, limit)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie counts as gone
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def process_uid(pid):
    """The real uid of a process (from /proc)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise RuntimeError("no Uid line for %d" % pid)


def process_ppid(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("PPid:"):
                return int(line.split()[1])
    raise RuntimeError("no PPid line for %d" % pid)


SERIAL_RE = re.compile(r"serial ([0-9A-Fa-f:]+)")


def serial_in(line):
    """The serial number in a SACME10023/10027 line, as an int."""
    m = SERIAL_RE.search(line)
    if not m:
        raise AssertionError("no 'serial <HEX>' in: %s" % line)
    return int(m.group(1).replace(":", ""), 16)
