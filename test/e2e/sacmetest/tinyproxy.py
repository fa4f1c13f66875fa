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
import shutil
import socket
import subprocess
import tempfile
import time

from . import ports

TINYPROXY = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"


class Tinyproxy:
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
                                     stderr=subprocess.DEVNULL)
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
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
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

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False
