"""Loopback ports for the test servers, safe when tests run in parallel.

Asking the kernel for a port (bind to port 0) is not enough once several
processes start servers at the same time (pytest-xdist workers, or two test
runs on one machine): between the check and the server's own bind another
process may be handed the same port, and a port of the kernel's ephemeral
range may also be taken by any outgoing connection (Pebble's VA, sacmectl,
a driver) in the meantime.

So every process takes a block of ports of its own, outside the ephemeral
range (/proc/sys/net/ipv4/ip_local_port_range), and holds an flock on a file
named after the block for as long as it lives: no other process that uses
this module takes that block, whichever run it belongs to.  The block a
process tries first is given by its xdist worker name (gw0 -> the first
block, gw1 -> the second, ...; a run without xdist is worker 0); a block
another process holds is passed over.  Within its block a process hands
out each port once, and only after a bind shows that nothing is bound
there (a server left over from an earlier run, some service of the
machine).  When its block is used up it takes another one.
"""

import fcntl
import os
import re
import socket
import tempfile
import threading

LOOPBACK = "127.0.0.1"

BLOCK = 200                 # ports per block
LOWEST = 20000              # no block starts below (well-known services)
EPHEMERAL_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
LOCK_DIR = os.path.join(tempfile.gettempdir(), "sacmetest-ports")


def ephemeral_range():
    """The kernel's (low, high) range for outgoing connections."""
    try:
        with open(EPHEMERAL_FILE) as f:
            low, high = (int(x) for x in f.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999    # Linux's default


def block_starts():
    """The first port of every block, none of which overlaps the
    ephemeral range."""
    low, high = ephemeral_range()
    starts = list(range(LOWEST, low - BLOCK + 1, BLOCK))
    starts += list(range(max(LOWEST, high + 1), 65536 - BLOCK + 1, BLOCK))
    return starts


def worker_index():
    """0 for gw0 or a run without xdist, 1 for gw1, ..."""
    m = re.fullmatch(r"gw(\d+)", os.environ.get("PYTEST_XDIST_WORKER", ""))
    return int(m.group(1)) if m else 0


def _bindable(port, kind):
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


class _Blocks:
    """This process's blocks: the held lock files and the next port."""

    def __init__(self):
        self.mutex = threading.Lock()   # the quirk proxy's threads may ask too
        self._reset()

    def _reset(self):
        self.pid = os.getpid()
        self.locks = []                 # open lock files, held until exit
        self.tried = set()              # block starts already taken or refused
        self.next = None
        self.end = None

    def _claim(self):
        starts = block_starts()
        if not starts:
            raise RuntimeError("no port block outside the ephemeral range %d-%d"
                               % ephemeral_range())
        os.makedirs(LOCK_DIR, exist_ok=True)
        try:
            os.chmod(LOCK_DIR, 0o1777)    # runs as root and as a user share it
        except OSError:
            pass
        first = worker_index() % len(starts)
        for i in range(len(starts)):
            start = starts[(first + i) % len(starts)]
            if start in self.tried:
                continue
            self.tried.add(start)
            path = os.path.join(LOCK_DIR, "%d.lock" % start)
            try:
                # read-only suffices for flock, so a file made by another user serves too
                fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.locks.append(fd)
            self.next, self.end = start, start + BLOCK
            return
        raise RuntimeError("every port block (%d of %d ports) is in use"
                           % (len(starts), BLOCK))

    def take(self, kinds):
        with self.mutex:
            if self.pid != os.getpid():
                # a forked child must not use its parent's block
                self._reset()
            while True:
                if self.next is None or self.next >= self.end:
                    self._claim()
                port = self.next
                self.next += 1
                if all(_bindable(port, k) for k in kinds):
                    return port


_blocks = _Blocks()


def free_port():
    """A TCP port on 127.0.0.1 of this process's own, free right now and
    never handed out before by this process."""
    return _blocks.take((socket.SOCK_STREAM,))


def free_udp_tcp_port():
    """The same, free for both TCP and UDP (a DNS server's port)."""
    return _blocks.take((socket.SOCK_STREAM, socket.SOCK_DGRAM))
