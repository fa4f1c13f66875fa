"""A real httpd (Debian's apache2 binary) in a private ServerRoot, loading
the mod_sacme.so built by `make`, on a loopback port.

Debian's apache2ctl insists on /etc/apache2, so the binary is run directly:
/usr/sbin/apache2 -d ROOT -f CONF -k start|graceful|stop.
"""

import os
import socket
import subprocess
import tempfile
import time

APACHE = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def module_path():
    build = os.environ.get("SACME_BUILD_DIR") or os.path.join(
        os.path.dirname(__file__), "..", "..", "..", "build")
    return os.path.abspath(os.path.join(build, "mod_sacme", ".libs", "mod_sacme.so"))


class Httpd:
    """httpd with a generated httpd.conf; `extra` is appended verbatim."""

    def __init__(self, extra="", log_level="info", modules=("mpm_event", "authz_core")):
        self.root = tempfile.mkdtemp(prefix="sacme-httpd-")
        self.port = free_port()
        self.conf = os.path.join(self.root, "httpd.conf")
        self.error_log = os.path.join(self.root, "error.log")
        lines = [
            "ServerRoot %s" % self.root,
            "PidFile %s/httpd.pid" % self.root,
            "ErrorLog %s" % self.error_log,
            "LogLevel %s" % log_level,
            "Listen 127.0.0.1:%d" % self.port,
            "ServerName localhost",
            "DocumentRoot %s" % self.root,
            "User www-data",
            "Group www-data",
        ]
        lines += ["LoadModule %s_module %s/mod_%s.so" % (m, MODULES, m) for m in modules]
        lines.append("LoadModule sacme_module %s" % module_path())
        lines.append(extra)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def run(self, *args):
        return subprocess.run([APACHE, "-d", self.root, "-f", self.conf] + list(args),
                              capture_output=True, text=True, timeout=60)

    def check_config(self):
        return self.run("-t")

    def start(self):
        r = self.run("-k", "start")
        if r.returncode != 0:
            raise RuntimeError("httpd did not start: %s%s%s"
                               % (r.stdout, r.stderr, self.log()))
        self._wait(lambda: self._listening(), "httpd to listen")
        return self

    def stop(self):
        self.run("-k", "stop")
        pidfile = os.path.join(self.root, "httpd.pid")
        self._wait(lambda: not os.path.exists(pidfile), "httpd to stop")

    def _listening(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def _wait(self, cond, what, limit=30):
        deadline = time.time() + limit
        while time.time() < deadline:
            if cond():
                return
            time.sleep(0.1)
        raise RuntimeError("timed out waiting for %s\n%s" % (what, self.log()))

    def log(self):
        try:
            with open(self.error_log) as f:
                return f.read()
        except OSError:
            return ""

    def wait_log(self, text, limit=30):
        self._wait(lambda: text in self.log(), "'%s' in the error log" % text, limit)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
