"""A real outbound proxy for the SacmeHttpProxy tests: Debian's tinyproxy,
started on a loopback port of this process's block (sacmetest.ports) with a
configuration and a log file of its own.

It allows clients from 127.0.0.1 only and CONNECT only to the ports it is
given (Pebble's), optionally asking for Basic credentials.  At LogLevel
Connect it writes one line per request, so the log shows every tunnel a
client opened: "Request (file descriptor N): CONNECT 127.0.0.1:PORT
HTTP/1.1"."""

import os
import re
import select
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

from . import ports
from .service import Service, stop_process

TINYPROXY = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"


class Tinyproxy(Service):
    def __init__(self, connect_ports, auth=None):
        """connect_ports: the ports CONNECT may reach; auth: (user, password)
        for BasicAuth, or None."""
        # tinyproxy started as root runs as nobody and writes its log there:
        # a directory of the system's temporary one, which nobody can reach
        # (pytest's tmp_path is root's only)
        self.dir = tempfile.mkdtemp(prefix="sacme-tinyproxy-")
        os.chmod(self.dir, 0o777)
        self.port = ports.free_port()
        self.conf = os.path.join(self.dir, "tinyproxy.conf")
        self.log_file = os.path.join(self.dir, "tinyproxy.log")
        lines = [
            "Port %d" % self.port,
            "Listen %s" % ports.LOOPBACK,
            "Timeout 60",
            'LogFile "%s"' % self.log_file,
            "LogLevel Connect",
            "MaxClients 50",
            "Allow %s" % ports.LOOPBACK,
            "User nobody",
            "Group nogroup",
        ]
        lines += ["ConnectPort %d" % p for p in connect_ports]
        if auth:
            lines.append("BasicAuth %s %s" % auth)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None

    @property
    def url(self):
        return "http://%s:%d" % (ports.LOOPBACK, self.port)

    def start(self, limit=30):
        self.proc = subprocess.Popen([TINYPROXY, "-d", "-c", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.time() + limit
        while True:
            try:
                socket.create_connection((ports.LOOPBACK, self.port), 1).close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("tinyproxy did not start: %s" % self.log())
                time.sleep(0.1)

    def stop(self):
        """Stops tinyproxy; its log stays readable until cleanup()."""
        stop_process(self.proc)
        self.proc = None

    def log(self):
        try:
            with open(self.log_file, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def requests(self):
        """The request lines clients sent, in order ("CONNECT host:port")."""
        return re.findall(r"Request \(file descriptor \d+\): (\S+ \S+)", self.log())

    def cleanup(self):
        self.stop()
        self.remove_dir()


class TLSFront:
    """TLS in front of a Tinyproxy, which speaks plain HTTP only: an
    https:// proxy for the client (https://127.0.0.1:PORT), whose every
    connection is decrypted and relayed byte for byte to tinyproxy.  cert,
    key: its certificate (for 127.0.0.1)."""

    def __init__(self, proxy, cert, key):
        self.proxy = proxy
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.port = ports.free_port()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ports.LOOPBACK, self.port))
        self.sock.listen(16)
        self.handshake_errors = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "https://%s:%d" % (ports.LOOPBACK, self.port)

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return              # closed
            threading.Thread(target=self._relay, args=(conn,), daemon=True).start()

    def _relay(self, conn):
        try:
            conn.settimeout(30)
            tls = self.ctx.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError) as e:
            self.handshake_errors.append(str(e))
            conn.close()
            return
        try:
            up = socket.create_connection((ports.LOOPBACK, self.proxy.port), 10)
        except OSError:
            # the proxy behind is gone (the test ends while the driver
            # still tries): the client sees its connection end
            tls.close()
            return
        other = {tls: up, up: tls}
        try:
            # one thread, both directions, until either side closes (a TLS
            # record may hold more than select sees: pending() counts it)
            while True:
                ready = [tls] if tls.pending() else \
                    select.select([tls, up], [], [], 30)[0]
                if not ready:
                    break
                data = ready[0].recv(65536)
                if not data:
                    break
                other[ready[0]].sendall(data)
        except (OSError, ssl.SSLError):
            pass
        finally:
            tls.close()
            up.close()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
