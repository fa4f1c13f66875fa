"""A private BIND 9 (Debian's named) on loopback, authoritative for test
zones that take TSIG-signed dynamic updates (RFC 2136): the real DNS server
of the dns-01 tests.

Bind(zones=("test",)) writes, in a private temporary directory:
  * a TSIG key made by tsig-keygen (key_file, in the format nsupdate -k reads),
  * per zone a zone file with `* A 127.0.0.1`, so any name of the zone
    resolves to loopback (Pebble's VA reaches httpd for http-01 and
    tls-alpn-01 as with pebble-challtestsrv),
  * named.conf: listen on 127.0.0.1 on a free port (UDP and TCP), no
    recursion, no rndc, and `update-policy { grant KEY zonesub TXT; }`:
    the key may add and delete TXT records anywhere in the zone, nothing else.

named runs in the foreground (-g, its log in named.log), as the user that
runs the tests (as root: root, since its files are in a private /tmp
directory).  txt(name) asks it, with dig, what TXT values a name has now.
"""

import os
import shutil
import subprocess
import tempfile
import time

from . import ports
from .service import Service, stop_process

NAMED = os.environ.get("SACME_NAMED", "/usr/sbin/named")
DIG = "/usr/bin/dig"
NSUPDATE = "/usr/bin/nsupdate"
TSIG_KEYGEN = "/usr/sbin/tsig-keygen"
LOOPBACK = "127.0.0.1"
KEY_NAME = "sacme-test-key"

ZONE_TEMPLATE = """$TTL 60
@    IN SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 60
@    IN NS  ns.{zone}.
ns   IN A   127.0.0.1
@    IN A   127.0.0.1
*    IN A   127.0.0.1
"""


class BindError(RuntimeError):
    pass


class Bind(Service):
    """A running named.  zones: the zones it is the primary of (names
    without the trailing dot)."""

    def __init__(self, zones=("test",), start_timeout=30.0, keep_dir=False):
        self.zones = [z.rstrip(".") for z in zones]
        self.start_timeout = start_timeout
        self.keep_dir = keep_dir or bool(os.environ.get("SACME_KEEP_BIND_DIR"))
        self.dir = None
        self.port = None
        self.key_file = None
        self._proc = None
        self._log = None

    # -- lifecycle --

    def start(self):
        for path in (NAMED, DIG, NSUPDATE, TSIG_KEYGEN):
            if not os.access(path, os.X_OK):
                raise BindError("%s not found (apt-get install bind9 bind9-dnsutils)" % path)
        self.dir = tempfile.mkdtemp(prefix="sacmetest-bind-")
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self):
        self.port = ports.free_udp_tcp_port()
        key = subprocess.run([TSIG_KEYGEN, "-a", "hmac-sha256", KEY_NAME],
                             capture_output=True, text=True, check=True).stdout
        self.key_file = os.path.join(self.dir, "update.key")
        fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key)

        zone_blocks = []
        for zone in self.zones:
            path = os.path.join(self.dir, "%s.zone" % zone)
            with open(path, "w") as f:
                f.write(ZONE_TEMPLATE.format(zone=zone))
            zone_blocks.append(
                'zone "%s." {\n'
                '    type primary;\n'
                '    file "%s";\n'
                '    update-policy { grant %s zonesub TXT; };\n'
                '};\n' % (zone, path, KEY_NAME))
        self.conf = os.path.join(self.dir, "named.conf")
        with open(self.conf, "w") as f:
            f.write('include "%s";\n' % self.key_file)
            f.write('options {\n'
                    '    directory "%s";\n'
                    '    pid-file "%s/named.pid";\n'
                    '    listen-on port %d { %s; };\n'
                    '    listen-on-v6 { none; };\n'
                    '    recursion no;\n'
                    '    dnssec-validation no;\n'
                    '    allow-query { any; };\n'
                    '    notify no;\n'
                    '};\n'
                    'controls { };\n' % (self.dir, self.dir, self.port, LOOPBACK))
            f.write("".join(zone_blocks))

        self._log = open(os.path.join(self.dir, "named.log"), "wb")
        self._proc = subprocess.Popen([NAMED, "-g", "-c", self.conf],
                                      stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=subprocess.STDOUT, cwd=self.dir,
                                      start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._proc.poll() is not None:
                raise BindError("named exited with status %s during start-up\n%s"
                                % (self._proc.returncode, self.logs()))
            if all(self._answers_soa(z) for z in self.zones):
                return
            if time.monotonic() > deadline:
                raise BindError("named did not answer on %s:%d\n%s"
                                % (LOOPBACK, self.port, self.logs()))
            time.sleep(0.1)

    def _answers_soa(self, zone):
        r = self._dig("SOA", zone + ".", check=False)
        return r.returncode == 0 and "SOA" in r.stdout

    def stop(self):
        stop_process(self._proc)
        self._proc = None
        if self._log:
            self._log.close()
            self._log = None
        self.remove_dir()

    # -- what a client needs --

    @property
    def address(self):
        """(host, port), e.g. for Pebble(dns_server=...)."""
        return (LOOPBACK, self.port)

    @property
    def server(self):
        """SERVER:PORT, as nsupdate.sh -s takes it."""
        return "%s:%d" % (LOOPBACK, self.port)

    def key_copy(self, directory, uid=None, gid=None):
        """A copy of the TSIG key in directory, mode 0600, owned by uid:gid
        (the driver's account must read it).  Returns its path."""
        path = os.path.join(directory, "dns-update.key")
        shutil.copyfile(self.key_file, path)
        os.chmod(path, 0o600)
        if uid is not None:
            os.chown(path, uid, gid if gid is not None else -1)
        return path

    def logs(self):
        if not self.dir:
            return ""
        try:
            with open(os.path.join(self.dir, "named.log"), "rb") as f:
                return f.read()[-20000:].decode("utf-8", "replace")
        except OSError:
            return ""

    # -- queries --

    def _dig(self, rtype, name, check=True):
        # +tcp: one exchange, no UDP retries to wait out; +norecurse: we ask
        # the authority itself
        return subprocess.run([DIG, "@" + LOOPBACK, "-p", str(self.port), "+tcp",
                               "+norecurse", "+time=2", "+tries=1", "+noall",
                               "+answer", rtype, name],
                              capture_output=True, text=True, timeout=20, check=check)

    def txt(self, name):
        """The TXT values of name (without the trailing dot), sorted."""
        r = self._dig("TXT", name.rstrip(".") + ".")
        values = []
        for line in r.stdout.splitlines():
            fields = line.split(None, 4)
            if len(fields) == 5 and fields[3] == "TXT":
                # one string per record here: "value"
                values.append(fields[4].strip().strip('"'))
        return sorted(values)

    def all_txt(self, zone=None):
        """Every TXT record of a zone, as {name: [values]}, by a zone
        transfer (allowed from loopback)."""
        zone = (zone or self.zones[0]).rstrip(".")
        r = subprocess.run([DIG, "@" + LOOPBACK, "-p", str(self.port), "+noall", "+answer",
                            "AXFR", zone + "."],
                           capture_output=True, text=True, timeout=20, check=True)
        found = {}
        for line in r.stdout.splitlines():
            fields = line.split(None, 4)
            if len(fields) == 5 and fields[3] == "TXT":
                found.setdefault(fields[0].rstrip("."), []).append(
                    fields[4].strip().strip('"'))
        return found

    def add_txt(self, name, value):
        """Add a TXT record with nsupdate (for a test's own set-up)."""
        script = ("server %s %d\nzone %s.\nupdate add %s. 60 TXT \"%s\"\nsend\n"
                  % (LOOPBACK, self.port, self.zones[0], name, value))
        subprocess.run([NSUPDATE, "-k", self.key_file], input=script, text=True,
                       capture_output=True, check=True, timeout=30)
