"""Helpers of the fault-matrix tests (test_fault_*.py, issue 11): a Pebble
whose request counts are exact, the counts, and the mounts that make a
store full or read-only (root only)."""

import os
import subprocess

import pytest

from .pebble import Pebble


def exact_pebble(**kw):
    """A started Pebble of its own with real HTTP-01 validation (unless
    always_valid=True) and no rejected nonce: every request a proxy
    counts in front of it was meant once. Its httpPort serves one httpd."""
    kw.setdefault("always_valid", False)
    p = Pebble(nosleep=True, nonce_reject=0, **kw)
    p.start()
    return p


def _answered(proxy, pred, statuses):
    with proxy._lock:
        return sum(1 for m, p, st in proxy.requests
                   if m == "POST" and pred(p) and st in statuses)


def registrations(proxy):
    """newAccount requests the CA answered 201 (a new account), including
    one whose answer the proxy held back (hold quirk)."""
    return _answered(proxy, lambda p: "/sign-me-up" in p, (201, "held 201"))


def new_orders(proxy):
    """newOrder requests the CA answered 201, including a held answer."""
    return _answered(proxy, lambda p: p == proxy.new_order_path, (201, "held 201"))


def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


# -- mounts (root only) ---------------------------------------------------------

def need_root():
    # The README's test command runs as root; only a developer's
    # unprivileged run skips (mounting needs root).
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")


def mount_tmpfs(path, size_kib):
    """An empty tmpfs of size_kib KiB on path (made if missing), mode 0755."""
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dk,mode=0755" % size_kib,
                        "tmpfs", path], capture_output=True, text=True)
    assert r.returncode == 0, "cannot mount a tmpfs: %s" % r.stderr


def mount_read_only(path):
    """path read-only: a read-only bind mount of it onto itself."""
    subprocess.run(["mount", "--bind", path, path], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", path], check=True)
    except subprocess.CalledProcessError:
        subprocess.run(["umount", path], check=False)
        raise


def umount(path):
    """Lazy: the running httpd parent may hold directories below path open
    for its generation; they go at its next restart."""
    subprocess.run(["umount", "--lazy", path], check=True)


def fill(path):
    """Writes the file path until its filesystem is full; returns its size."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    size = 0
    try:
        while True:
            size += os.write(fd, b"x" * 4096)
    except OSError:
        pass
    try:
        while True:
            size += os.write(fd, b"x")
    except OSError:
        pass
    finally:
        os.close(fd)
    return size


# -- the CA's validation, held ----------------------------------------------------

class GatedRelay:
    """A TCP relay on 127.0.0.1:listen_port to target_port that holds every
    connection until open(): put on Pebble's httpPort in front of httpd's
    plain port, it keeps the CA's HTTP-01 validation waiting at a moment
    of the test's choosing (the validation itself is Pebble's, unchanged).
    held() is the number of connections waiting."""

    def __init__(self, listen_port, target_port):
        import socket
        import threading
        self._socket = socket
        self.target_port = target_port
        self.gate = threading.Event()
        self._lock = threading.Lock()
        self._held = 0
        self._srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", listen_port))
        self._srv.listen(16)
        self._threads = []
        self._closed = False
        self._spawn(self._accept_loop)

    def _spawn(self, fn, *args):
        import threading
        t = threading.Thread(target=fn, args=args, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept_loop(self):
        while not self._closed:
            try:
                conn, _ = self._srv.accept()
            except OSError:
                return
            self._spawn(self._relay, conn)

    def _relay(self, conn):
        with self._lock:
            self._held += 1
        self.gate.wait()
        with self._lock:
            self._held -= 1
        try:
            up = self._socket.create_connection(("127.0.0.1", self.target_port), timeout=30)
        except OSError:
            conn.close()
            return
        self._spawn(self._pump, up, conn)
        self._pump(conn, up)

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(self._socket.SHUT_RDWR)
                except OSError:
                    pass

    def held(self):
        with self._lock:
            return self._held

    def open(self):
        self.gate.set()

    def close(self):
        self._closed = True
        self.gate.set()
        try:
            self._srv.close()
        except OSError:
            pass
