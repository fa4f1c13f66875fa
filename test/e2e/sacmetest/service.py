"""What every server of the harness shares (Pebble, BIND, etcd, HAProxy,
the quirk proxy, the SCM stand-in, tinyproxy): a `with` block that starts
it and stops it, a working directory removed at the end unless it is to
be kept for a post-mortem, and the stopping of a process started in a
process group of its own."""

import os
import shutil
import signal
import subprocess


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """Stops a process started with start_new_session=True (its whole
    group, so that children go too): sig, then SIGKILL after timeout
    seconds. A process that is gone already is no error."""
    if proc is None or proc.poll() is not None:
        return
    for s in (sig, signal.SIGKILL):
        try:
            os.killpg(proc.pid, s)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


class Service:
    """Base of a harness server: subclasses give start() (returning self)
    and stop(); `with Server(...) as s:` starts it and, at the end,
    cleanup(): stop(), and for a server whose stop() keeps its directory
    (its log stays readable after a stop), whatever cleanup() adds. self.dir
    is the working directory (None before it is made), removed by
    remove_dir() unless self.keep_dir."""

    dir = None
    keep_dir = False

    def remove_dir(self):
        if self.dir and not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def cleanup(self):
        self.stop()

    def __exit__(self, *exc):
        self.cleanup()
        return False
