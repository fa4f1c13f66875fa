"""Run Debian's Pebble (a real RFC 8555 ACME server) on loopback for tests.

Pebble is started in a private temporary directory with:
  * a small CA generated here and a certificate for 127.0.0.1/localhost
    signed by it (Debian's pebble ships no certificate for its API),
  * a JSON config with EAB required and a few (kid -> MAC key) pairs,
  * pebble-challtestsrv as its DNS server, answering every A query with
    127.0.0.1, so whatever name the VA looks up it reaches loopback;
    or, with dns_server=(host, port), that server instead (a real BIND of
    sacmetest.bind, for dns-01: its zones answer every name with 127.0.0.1).

Only 127.0.0.1 is bound.  Both processes are stopped by stop() or when the
context manager exits.
"""

import base64
import datetime
import json
import os
import secrets
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import ports
from .service import Service, stop_process

PEBBLE_BIN = os.environ.get("SACME_PEBBLE", "/usr/bin/pebble")
CHALLTESTSRV_BIN = os.environ.get("SACME_CHALLTESTSRV",
                                  "/usr/bin/pebble-challtestsrv")

LOOPBACK = "127.0.0.1"

# The ports of every test server (httpd, Pebble, the quirk proxy) come from
# sacmetest.ports: a block of this process's own, safe with pytest-xdist.
free_port = ports.free_port
free_udp_tcp_port = ports.free_udp_tcp_port


# --- EAB MAC keys -----------------------------------------------------------

def b64url(data):
    """Unpadded base64url, the encoding Pebble requires in its config."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def eab_key_encodings(key_b64url):
    """The same MAC key in the encodings a user may paste.

    key_b64url is the unpadded base64url form (as configured in Pebble).
    Returns a dict:
      "b64url"          unpadded base64url (RFC 8555 / RFC 7515 form)
      "b64url-padded"   base64url with '=' padding
      "b64std"          standard base64 ('+', '/') with '=' padding
      "b64std-unpadded" standard base64 without padding
    """
    raw = decode_b64url(key_b64url)
    padded_url = base64.urlsafe_b64encode(raw).decode("ascii")
    std = base64.b64encode(raw).decode("ascii")
    return {
        "b64url": padded_url.rstrip("="),
        "b64url-padded": padded_url,
        "b64std": std,
        "b64std-unpadded": std.rstrip("="),
    }


def decode_b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def random_mac_key(min_len=32, max_len=64):
    """A random MAC key of min_len..max_len bytes, unpadded base64url."""
    n = min_len + secrets.randbelow(max_len - min_len + 1)
    return b64url(secrets.token_bytes(n))


def random_mac_key_with_distinct_encodings(length=40):
    """A MAC key whose encodings all differ from one another.

    The base64url form contains '-' or '_' (so standard base64 differs) and
    length % 3 != 0 (so the padded form differs from the unpadded one)."""
    if length % 3 == 0:
        raise ValueError("length must not be a multiple of 3")
    while True:
        key = b64url(secrets.token_bytes(length))
        if "-" in key or "_" in key:
            return key


# --- the CA for Pebble's own API --------------------------------------------

def _write_private(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def make_api_certs(directory):
    """Create ca.pem, cert.pem, key.pem in directory.

    cert.pem is for DNS:localhost and IP:127.0.0.1, signed by ca.pem.
    The CA's key is kept as api-ca-key.pem (0600), so that issue_loopback_cert()
    can give another test server (the quirk proxy) a certificate the same
    trust (Pebble.ca_file) accepts.
    Returns (ca_path, cert_path, key_path)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before = now - datetime.timedelta(hours=1)
    not_after = now + datetime.timedelta(days=7)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "sacmetest Pebble API CA " + secrets.token_hex(4)),
    ])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True,
            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    ca_path = os.path.join(directory, "api-ca.pem")
    with open(ca_path, "wb") as f:
        f.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(os.path.join(directory, API_CA_KEY), ca_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    cert_path, key_path = issue_loopback_cert(directory, "api", ca_path,
                                              os.path.join(directory, API_CA_KEY))
    return ca_path, cert_path, key_path


API_CA_KEY = "api-ca-key.pem"


def issue_loopback_cert(directory, prefix, ca_path, ca_key_path, days=7):
    """A server certificate for DNS:localhost and IP:127.0.0.1 signed by the
    CA in ca_path/ca_key_path; written as PREFIX-cert.pem and PREFIX-key.pem
    (0600) in directory.  Returns (cert_path, key_path)."""
    import ipaddress

    with open(ca_path, "rb") as f:
        ca_cert = x509.load_pem_x509_certificate(f.read())
    with open(ca_key_path, "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), password=None)
    now = datetime.datetime.now(datetime.timezone.utc)
    srv_key = ec.generate_private_key(ec.SECP256R1())
    srv_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(srv_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address(LOOPBACK)),
        ]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, prefix + "-cert.pem")
    key_path = os.path.join(directory, prefix + "-key.pem")
    with open(cert_path, "wb") as f:
        f.write(srv_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(key_path, srv_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert_path, key_path


# --- Pebble -------------------------------------------------------------------

class PebbleError(RuntimeError):
    pass


class Pebble(Service):
    """A running Pebble ACME server (and its pebble-challtestsrv DNS).

    Parameters:
      eab_required   "externalAccountBindingRequired" (default True)
      eab_keys       dict kid -> unpadded base64url MAC key; default: kid-1,
                     kid-2, kid-3 with random 32..64-byte keys.  Extra kids
                     can be added with extra_eab_keys.
      http_port, tls_port
                     ports Pebble's VA connects to for http-01 / tls-alpn-01
                     (default: free ports nobody listens on)
      always_valid   PEBBLE_VA_ALWAYS_VALID=1 (authorizations pre-validated)
      nosleep        PEBBLE_VA_NOSLEEP=1 (default True)
      nonce_reject   PEBBLE_WFE_NONCEREJECT (percent); None keeps Pebble's
                     default of 5% rejected nonces
      authz_reuse    PEBBLE_AUTHZREUSE (percent)
      env            more environment variables for pebble (PEBBLE_* knobs)
      start_timeout  bound on the wait for the directory to answer (s)
      dns_server     (host, port) of the DNS server Pebble's VA asks, instead
                     of a pebble-challtestsrv of its own (not started then)
      domain_blocklist
                     names Pebble refuses to order for (rejectedIdentifier
                     at newOrder), its domainBlocklist

    PEBBLE_* variables of the calling environment are not inherited, so a
    developer's shell cannot change what the tests see.
    """

    def __init__(self, *, eab_required=True, eab_keys=None, extra_eab_keys=None,
                 http_port=None, tls_port=None, always_valid=False, nosleep=True,
                 nonce_reject=None, authz_reuse=None, env=None,
                 start_timeout=30.0, keep_dir=False, dns_server=None,
                 domain_blocklist=None):
        if eab_keys is None:
            eab_keys = {kid: random_mac_key() for kid in ("kid-1", "kid-2", "kid-3")}
        self.eab = dict(eab_keys)
        if extra_eab_keys:
            self.eab.update(extra_eab_keys)
        self.eab_required = eab_required
        self.http_port = http_port if http_port is not None else free_port()
        self.tls_port = tls_port if tls_port is not None else free_port()
        self.start_timeout = start_timeout
        self.dns_server = dns_server
        self.domain_blocklist = list(domain_blocklist or [])
        self.keep_dir = keep_dir or bool(os.environ.get("SACME_KEEP_PEBBLE_DIR"))

        knobs = {}
        if always_valid:
            knobs["PEBBLE_VA_ALWAYS_VALID"] = "1"
        if nosleep:
            knobs["PEBBLE_VA_NOSLEEP"] = "1"
        if nonce_reject is not None:
            knobs["PEBBLE_WFE_NONCEREJECT"] = str(nonce_reject)
        if authz_reuse is not None:
            knobs["PEBBLE_AUTHZREUSE"] = str(authz_reuse)
        knobs.update(env or {})
        self.knobs = knobs

        self.dir = None
        self.port = None
        self.mgmt_port = None
        self.dns_port = None
        self.dns_mgmt_port = None
        self.ca_file = None
        self._procs = []
        self._logs = []

    # -- lifecycle --

    def start(self):
        if self._procs:
            raise PebbleError("already started")
        for path in (PEBBLE_BIN, CHALLTESTSRV_BIN):
            if not os.access(path, os.X_OK):
                raise PebbleError("%s not found (apt-get install pebble)" % path)
        self.dir = tempfile.mkdtemp(prefix="sacmetest-pebble-")
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self):
        self.ca_file, cert, key = make_api_certs(self.dir)
        self.port = free_port()
        self.mgmt_port = free_port()
        if self.dns_server:
            dns_host, self.dns_port = self.dns_server
        else:
            dns_host = LOOPBACK
            self.dns_port = free_udp_tcp_port()
            self.dns_mgmt_port = free_port()

        config = {
            "pebble": {
                "listenAddress": "%s:%d" % (LOOPBACK, self.port),
                "managementListenAddress": "%s:%d" % (LOOPBACK, self.mgmt_port),
                "certificate": cert,
                "privateKey": key,
                "httpPort": self.http_port,
                "tlsPort": self.tls_port,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": bool(self.eab_required),
                "externalAccountMACKeys": self.eab,
            }
        }
        if self.domain_blocklist:
            config["pebble"]["domainBlocklist"] = self.domain_blocklist
        self.config_file = os.path.join(self.dir, "pebble-config.json")
        with open(self.config_file, "w") as f:
            json.dump(config, f, indent=2)

        base_env = {k: v for k, v in os.environ.items() if not k.startswith("PEBBLE_")}

        if not self.dns_server:
            self._start_challtestsrv(base_env)

        env = dict(base_env)
        env.update(self.knobs)
        self._spawn("pebble", [
            PEBBLE_BIN,
            "-config", self.config_file,
            "-dnsserver", "%s:%d" % (dns_host, self.dns_port),
        ], env)
        self._wait_directory()

    def _start_challtestsrv(self, base_env):
        self._spawn("challtestsrv", [
            CHALLTESTSRV_BIN,
            "-defaultIPv4", LOOPBACK,
            "-defaultIPv6", "",
            "-http01", "",
            "-https01", "",
            "-tlsalpn01", "",
            "-dns01", "%s:%d" % (LOOPBACK, self.dns_port),
            "-management", "%s:%d" % (LOOPBACK, self.dns_mgmt_port),
        ], base_env)
        self._wait_tcp(self.dns_mgmt_port, "pebble-challtestsrv")

    def _spawn(self, name, argv, env):
        out = open(os.path.join(self.dir, name + ".stdout.log"), "wb")
        err = open(os.path.join(self.dir, name + ".stderr.log"), "wb")
        self._logs += [out, err]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err, env=env, cwd=self.dir,
                                start_new_session=True)
        proc.sacme_name = name
        self._procs.append(proc)
        return proc

    def _check_alive(self):
        for p in self._procs:
            if p.poll() is not None:
                raise PebbleError("%s exited with status %s during start-up\n%s"
                                  % (p.sacme_name, p.returncode, self.logs()))

    def _wait_tcp(self, port, what):
        deadline = time.monotonic() + self.start_timeout
        while True:
            self._check_alive()
            try:
                with socket.create_connection((LOOPBACK, port), timeout=1):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise PebbleError("%s did not listen on %s:%d\n%s"
                                  % (what, LOOPBACK, port, self.logs()))
            time.sleep(0.05)

    def _wait_directory(self):
        deadline = time.monotonic() + self.start_timeout
        last = None
        while True:
            self._check_alive()
            try:
                d = self.directory()
                if "newAccount" in d and "newNonce" in d:
                    return
                last = "directory lacks newAccount/newNonce: %r" % (d,)
            except (OSError, ValueError, urllib.error.URLError) as e:
                last = e
            if time.monotonic() > deadline:
                raise PebbleError("Pebble's directory %s did not answer (%s)\n%s"
                                  % (self.directory_url, last, self.logs()))
            time.sleep(0.05)

    def stop(self):
        for p in reversed(self._procs):
            stop_process(p)
        self._procs = []
        for f in self._logs:
            f.close()
        self._logs = []
        self.remove_dir()

    @property
    def running(self):
        return bool(self._procs) and all(p.poll() is None for p in self._procs)

    # -- where things are --

    @property
    def base_url(self):
        return "https://%s:%d" % (LOOPBACK, self.port)

    @property
    def directory_url(self):
        return self.base_url + "/dir"

    @property
    def mgmt_url(self):
        return "https://%s:%d" % (LOOPBACK, self.mgmt_port)

    def eab_hmac(self, kid, encoding="b64url"):
        """The MAC key of kid in one of eab_key_encodings()'s encodings."""
        return eab_key_encodings(self.eab[kid])[encoding]

    def logs(self):
        """All log output so far, for failure messages."""
        if not self.dir or not os.path.isdir(self.dir):
            return ""
        parts = []
        for name in sorted(os.listdir(self.dir)):
            if name.endswith(".log"):
                with open(os.path.join(self.dir, name), "rb") as f:
                    data = f.read()[-20000:].decode("utf-8", "replace")
                parts.append("--- %s ---\n%s" % (name, data))
        return "\n".join(parts)

    def log_text(self, name="pebble"):
        """pebble.stdout.log (Pebble logs every request there)."""
        path = os.path.join(self.dir, name + ".stdout.log")
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def request_count(self, method, url):
        """How many `method url` requests Pebble has logged so far.

        Pebble logs each request as "POST /sign-me-up -> calling handler()";
        url may be the full URL from the directory or just its path."""
        path = urllib.parse.urlsplit(url).path if "://" in url else url
        needle = "%s %s -> calling handler()" % (method, path)
        return self.log_text().count(needle)

    # -- HTTP helpers --

    def issue_api_cert(self, directory, prefix="server"):
        """Another certificate for 127.0.0.1/localhost from the CA of
        Pebble's API certificate (so ca_file trusts it too), for a server
        that stands in front of Pebble.  Returns (cert_path, key_path)."""
        return issue_loopback_cert(directory, prefix, self.ca_file,
                                   os.path.join(self.dir, API_CA_KEY))

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.ca_file)
        return ctx

    def _get(self, url, timeout=10):
        req = urllib.request.Request(url, headers={"User-Agent": "sacmetest"})
        with urllib.request.urlopen(req, context=self.ssl_context(), timeout=timeout) as r:
            return r.read()

    def directory(self):
        return json.loads(self._get(self.directory_url, timeout=2))

    def root_pem(self, index=0):
        """Pebble's (randomly generated) issuing root, PEM."""
        return self._get("%s/roots/%d" % (self.mgmt_url, index)).decode("ascii")

    def intermediate_pem(self, index=0):
        return self._get("%s/intermediates/%d" % (self.mgmt_url, index)).decode("ascii")

    def cert_status(self, serial_hex):
        """Pebble's view of a certificate it issued, by serial (hex).

        Returns the parsed JSON ({"Status": "Valid"|"Revoked", "Serial": ...,
        "Certificate": PEM, ...})."""
        serial_hex = serial_hex.lower().replace(":", "")
        return json.loads(self._get("%s/cert-status-by-serial/%s"
                                    % (self.mgmt_url, serial_hex)))
