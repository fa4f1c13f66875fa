"""Run a real etcd cluster (Debian's etcd-server) on loopback for tests.

EtcdCluster(size=3) starts `size` members on 127.0.0.1, each with its own
data directory and a client and a peer port of this process's own
(sacmetest.ports), bootstrapped together with --initial-cluster.  With
tls=True the members' client URLs are https with a certificate for
127.0.0.1/localhost signed by a CA made here (ca_file); peers talk plain
http on loopback.

Members can be stopped and started again (stop_member / start_member,
stop_all / start_all): a member comes back from its data directory and
rejoins.  The client helpers below talk to the members' JSON gateway (the
same /v3/... API the module uses) with urllib, trying each running member
in turn.

Every process runs in a session of its own and is stopped by stop() or
when the context manager exits.
"""

import base64
import datetime
import json
import os
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import ports
from .service import Service, stop_process
from .pebble import API_CA_KEY, make_api_certs

ETCD_BIN = os.environ.get("SACME_ETCD", "/usr/bin/etcd")
LOOPBACK = "127.0.0.1"


class EtcdError(RuntimeError):
    pass


def issue_cert(directory, ca_path, ca_key_path, prefix="client", server=False):
    """A TLS client certificate (clientAuth) signed by the CA in
    ca_path/ca_key_path, as PREFIX-cert.pem and PREFIX-key.pem (0600) in
    directory; with server=True one for 127.0.0.1/localhost that is a
    server's too.  Returns (cert_path, key_path).

    A member that requires client certificates needs both usages in its own:
    its JSON gateway connects to its gRPC side with that certificate."""
    import ipaddress

    with open(ca_path, "rb") as f:
        ca_cert = x509.load_pem_x509_certificate(f.read())
    with open(ca_key_path, "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), password=None)
    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(
            NameOID.COMMON_NAME, "localhost" if server else "sacme-node")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    )
    if server:
        cert = cert.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False)
    cert = cert.sign(ca_key, hashes.SHA256())
    cert_path = os.path.join(directory, prefix + "-cert.pem")
    key_path = os.path.join(directory, prefix + "-key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def unb64(text):
    return base64.b64decode(text or "")


def prefix_end(prefix):
    """The first key after every key starting with prefix (bytes)."""
    if isinstance(prefix, str):
        prefix = prefix.encode()
    b = bytearray(prefix)
    while b:
        if b[-1] < 0xff:
            b[-1] += 1
            return bytes(b)
        b.pop()
    return b"\0"


class EtcdCluster(Service):
    """A running etcd cluster of `size` members.

    Parameters:
      size           number of members (3 by default: one may be lost)
      tls            https client URLs (a CA of this fixture's own)
      client_auth    with tls: the members require a client certificate
                     issued by that CA (client_cert_file, client_key_file)
      start_timeout  bound on the wait for the cluster to have a leader (s)
      keep_dir       leave the data directories behind (or SACME_KEEP_ETCD_DIR)
    """

    def __init__(self, size=3, *, tls=False, client_auth=False, start_timeout=60.0,
                 keep_dir=False):
        self.size = size
        self.tls = tls or client_auth
        self.client_auth = client_auth
        self.client_cert_file = None
        self.client_key_file = None
        self.start_timeout = start_timeout
        self.keep_dir = keep_dir or bool(os.environ.get("SACME_KEEP_ETCD_DIR"))
        self.dir = None
        self.ca_file = None
        self.cert_file = None
        self.key_file = None
        self.client_ports = []
        self.peer_ports = []
        self._procs = []
        self._logs = []
        self._ssl = None

    # -- lifecycle --

    def start(self):
        if self._procs:
            raise EtcdError("already started")
        if not os.access(ETCD_BIN, os.X_OK):
            raise EtcdError("%s not found (apt-get install etcd-server)" % ETCD_BIN)
        self.dir = tempfile.mkdtemp(prefix="sacmetest-etcd-")
        try:
            if self.tls:
                self.ca_file, self.cert_file, self.key_file = make_api_certs(self.dir)
                self._ssl = ssl.create_default_context(cafile=self.ca_file)
            if self.client_auth:
                ca_key = os.path.join(self.dir, API_CA_KEY)
                self.cert_file, self.key_file = issue_cert(
                    self.dir, self.ca_file, ca_key, prefix="member", server=True)
                self.client_cert_file, self.client_key_file = issue_cert(
                    self.dir, self.ca_file, ca_key)
                self._ssl.load_cert_chain(self.client_cert_file, self.client_key_file)
            self.client_ports = [ports.free_port() for _ in range(self.size)]
            self.peer_ports = [ports.free_port() for _ in range(self.size)]
            self._procs = [None] * self.size
            self._logs = [None] * self.size
            for i in range(self.size):
                self._spawn(i)
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _name(self, i):
        return "m%d" % i

    def _peer_url(self, i):
        return "http://%s:%d" % (LOOPBACK, self.peer_ports[i])

    def endpoint(self, i):
        """Member i's client URL."""
        return "%s://%s:%d" % ("https" if self.tls else "http", LOOPBACK,
                               self.client_ports[i])

    @property
    def endpoints(self):
        return [self.endpoint(i) for i in range(self.size)]

    def _argv(self, i):
        cluster = ",".join("%s=%s" % (self._name(k), self._peer_url(k))
                           for k in range(self.size))
        argv = [ETCD_BIN,
                "--name", self._name(i),
                "--data-dir", os.path.join(self.dir, "data-" + self._name(i)),
                "--listen-client-urls", self.endpoint(i),
                "--advertise-client-urls", self.endpoint(i),
                "--listen-peer-urls", self._peer_url(i),
                "--initial-advertise-peer-urls", self._peer_url(i),
                "--initial-cluster", cluster,
                "--initial-cluster-token", os.path.basename(self.dir),
                "--initial-cluster-state", "new",
                # a test must not wait for the defaults' slow elections
                "--heartbeat-interval", "50", "--election-timeout", "500",
                "--logger", "zap", "--log-outputs", "stderr"]
        if self.tls:
            argv += ["--cert-file", self.cert_file, "--key-file", self.key_file]
        if self.client_auth:
            argv += ["--client-cert-auth", "--trusted-ca-file", self.ca_file]
        return argv

    def _spawn(self, i):
        log = open(os.path.join(self.dir, self._name(i) + ".log"), "ab")
        self._logs[i] = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
        self._procs[i] = subprocess.Popen(self._argv(i), stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=log, env=env, cwd=self.dir,
                                          start_new_session=True)

    def running(self, i):
        p = self._procs[i] if i < len(self._procs) else None
        return p is not None and p.poll() is None

    def _check_alive(self):
        for i, p in enumerate(self._procs):
            if p is not None and p.poll() is not None:
                raise EtcdError("etcd member %d exited with status %s\n%s"
                                % (i, p.returncode, self.logs()))

    def healthy(self, i):
        """Whether member i answers and sees a leader."""
        try:
            with urllib.request.urlopen(self.endpoint(i) + "/health", timeout=2,
                                        context=self._ssl) as r:
                return json.loads(r.read()).get("health") == "true"
        except (OSError, ValueError, urllib.error.URLError):
            return False

    def wait_healthy(self, members=None):
        """Waits until every running member (or those given) sees a leader."""
        members = [i for i in range(self.size) if self.running(i)] \
            if members is None else members
        deadline = time.monotonic() + self.start_timeout
        while True:
            self._check_alive()
            if all(self.healthy(i) for i in members):
                return
            if time.monotonic() > deadline:
                raise EtcdError("etcd members %s did not become healthy\n%s"
                                % (members, self.logs()))
            time.sleep(0.1)

    def stop_member(self, i, sig=signal.SIGTERM):
        """Stops member i (its data directory stays)."""
        stop_process(self._procs[i], sig, timeout=15)
        self._procs[i] = None
        if self._logs[i]:
            self._logs[i].close()
            self._logs[i] = None

    def start_member(self, i, wait=True):
        """Starts member i again from its data directory."""
        if self.running(i):
            return
        self._spawn(i)
        if wait:
            self.wait_healthy([i])

    def stop_all(self):
        for i in range(self.size):
            self.stop_member(i)

    def start_all(self):
        # together: a single member of three has no quorum to get healthy on
        for i in range(self.size):
            if not self.running(i):
                self._spawn(i)
        self.wait_healthy()

    def stop(self):
        for i in range(len(self._procs)):
            self.stop_member(i)
        self._procs = []
        self.remove_dir()

    def logs(self, tail=4000):
        out = []
        for i in range(self.size):
            path = os.path.join(self.dir or "", self._name(i) + ".log")
            try:
                with open(path, "rb") as f:
                    text = f.read().decode(errors="replace")
            except OSError:
                continue
            out.append("--- etcd %s ---\n%s" % (self._name(i), text[-tail:]))
        return "\n".join(out)

    # -- client helpers (the JSON gateway, like the module) --

    def call(self, path, body, member=None):
        """POSTs body to path at member (or the first running member that
        answers) and returns the decoded JSON answer."""
        members = [member] if member is not None else \
            [i for i in range(self.size) if self.running(i)]
        last = None
        for i in members:
            req = urllib.request.Request(self.endpoint(i) + path,
                                         data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=10, context=self._ssl) as r:
                    return json.loads(r.read().splitlines()[0])
            except urllib.error.HTTPError as e:
                if e.code < 500:
                    raise EtcdError("%s %s: %s" % (self.endpoint(i), path, e.read()))
                last = e
            except OSError as e:
                last = e
        raise EtcdError("no etcd member answered %s: %s" % (path, last))

    def put(self, key, value, lease=None):
        body = {"key": b64(key), "value": b64(value)}
        if lease:
            body["lease"] = str(lease)
        return int(self.call("/v3/kv/put", body)["header"]["revision"])

    def get(self, key):
        """(value bytes, mod_revision, lease) of key, or None."""
        kvs = self.call("/v3/kv/range", {"key": b64(key)}).get("kvs", [])
        if not kvs:
            return None
        kv = kvs[0]
        return unb64(kv.get("value")), int(kv["mod_revision"]), int(kv.get("lease", 0))

    def range(self, prefix):
        """{key: value bytes} of every key under prefix, and the revision."""
        a = self.call("/v3/kv/range", {"key": b64(prefix),
                                       "range_end": b64(prefix_end(prefix))})
        kvs = {unb64(kv["key"]).decode(): unb64(kv.get("value")) for kv in a.get("kvs", [])}
        return kvs, int(a["header"]["revision"])

    def delete(self, key):
        return int(self.call("/v3/kv/deleterange", {"key": b64(key)}).get("deleted", 0))

    def grant(self, ttl):
        return int(self.call("/v3/lease/grant", {"TTL": str(ttl)})["ID"])

    def revoke(self, lease):
        self.call("/v3/lease/revoke", {"ID": str(lease)})

    def compact(self, revision):
        self.call("/v3/kv/compaction", {"revision": str(revision), "physical": True})
