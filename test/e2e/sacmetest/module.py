"""Helpers for the end-to-end tests of the httpd module (test_module_*.py):
the Sacme* configuration for a Pebble, the waits, and the checks of what a
TLS client is served and what lies in the store."""

import json
import os
import re
import tempfile

from . import certcheck
from .httpd import USER, Httpd, Vhost, user_ids

# Bounds of the waits (seconds): guards against a hang, not timing claims.
ISSUE_LIMIT = float(os.environ.get("SACME_ISSUE_LIMIT", "90"))
LOG_LIMIT = 60

# log tags of the module contract
LOADED = "SACME10001"
DRIVER_STARTED = "SACME10020"
ORDERING = "SACME10021"
RESUMING = "SACME10022"
STAGED = "SACME10023"
ERRORED = "SACME10024"
RESTARTING = "SACME10025"          # the monitor restarts for a staged set
DRIVER_STAGED = "SACME10232"       # the driver exited for the set it staged: restart now
RESTART_NEEDED = "SACME10026"
ACTIVATED = "SACME10027"
REFUSED = "SACME10028"
DRIVER_DIED = "SACME10029"
DRIVER_DIED_EARLY = "SACME10038"   # died within seconds of its start: restart delayed
# the engine's account lines (mod_sacme/lib/sacme_acct.c)
ACCOUNT_FOUND = "SACME10005"
ACCOUNT_UNKNOWN = "SACME10006"
ACCOUNT_REGISTERED = "SACME10007"


def names_for(tag):
    """Three names of one certificate, the primary first."""
    return ["%s.test" % tag, "www.%s.test" % tag, "api.%s.test" % tag]


def sacme_lines(pebble, domains, *, kid="kid-1", hmac=None, eab=None, auto_restart=None,
                more=(), ca_file=None, trusted_roots=None):
    """The Sacme* directives for a Pebble.  domains: list of name lists.
    eab: a full SacmeEAB argument string overriding kid/hmac.
    ca_file: the trust for Pebble's API, readable by the User (Pebble's own
    directory is private to root); see readable_ca_file().
    trusted_roots: a file for SacmeTrustedRoots (Pebble's issuing root, see
    trusted_roots_file()), or None for no such line."""
    if eab is None:
        if hmac is None:
            hmac = pebble.eab[kid]
        eab = "%s %s" % (kid, hmac)
    lines = [
        "SacmeServer %s" % pebble.directory_url,
        "SacmeCACertificate %s" % (ca_file or pebble.ca_file),
        "SacmeEAB %s" % eab,
        "SacmeContact admin@example.test",
        "SacmeAgreement accepted",
    ]
    if trusted_roots:
        lines.append("SacmeTrustedRoots %s" % trusted_roots)
    if auto_restart is not None:
        lines.append("SacmeAutoRestart %s" % ("on" if auto_restart else "off"))
    lines += ["SacmeDomain %s" % " ".join(d) for d in domains]
    lines += list(more)
    return lines


def pebble_defaults(pebble, h, kw):
    """The defaults of make_httpd/reconfigure: the CA file for Pebble's API
    and SacmeTrustedRoots with Pebble's root (trusted_roots=False leaves
    the directive out, a path string names another file)."""
    kw.setdefault("ca_file", readable_ca_file(pebble, h.root))
    roots = kw.get("trusted_roots", True)
    if roots is True:
        kw["trusted_roots"] = trusted_roots_file(pebble, h.root)
    elif roots is False:
        kw["trusted_roots"] = None


def notify_command(h, script_fmt, tag="out"):
    """A notify command for httpd h: a script made of script_fmt % its
    output file, in a directory the driver (the User) may write.  Returns
    (script, output file)."""
    out_dir = os.path.join(h.root, "notify-" + tag)
    os.makedirs(out_dir)
    uid, gid = user_ids(USER)
    os.chown(out_dir, uid, gid)
    out = os.path.join(out_dir, "events.txt")
    script = os.path.join(h.root, "notify-%s.sh" % tag)
    with open(script, "w") as f:
        f.write(script_fmt % out)
    os.chmod(script, 0o755)
    return script, out


def make_httpd(pebble, domains, vhosts=None, **kw):
    """An Httpd with mod_ssl whose plain-HTTP port is Pebble's httpPort (so
    Pebble's HTTP-01 validation reaches it), one HTTPS vhost per domain
    (unless vhosts are given) and the Sacme* lines of sacme_lines(**kw),
    with SacmeTrustedRoots naming Pebble's root unless trusted_roots=False:
    mod_sacme activates only certificates that chain to a trusted root."""
    extra = kw.pop("extra", "")
    log_level = kw.pop("log_level", "info ssl:warn")
    if vhosts is None:
        vhosts = [Vhost(d) for d in domains]
    h = Httpd(ssl=True, http_port=pebble.http_port, log_level=log_level,
              vhosts=vhosts, extra=extra)
    pebble_defaults(pebble, h, kw)
    h.configure(sacme=sacme_lines(pebble, domains, **kw))
    return h


def reconfigure(h, pebble, domains, **kw):
    """Rewrite h's Sacme* lines (sacme_lines(**kw)); effective at the next
    graceful()."""
    pebble_defaults(pebble, h, kw)
    h.configure(sacme=sacme_lines(pebble, domains, **kw))


def readable_ca_file(pebble, directory):
    """A copy of Pebble's API CA in directory, mode 0644: the driver runs as
    the User and cannot read Pebble's private temporary directory."""
    path = os.path.join(directory, "pebble-api-ca.pem")
    if not os.path.exists(path):
        with open(pebble.ca_file, "rb") as src, open(path, "wb") as dst:
            dst.write(src.read())
        os.chmod(path, 0o644)
    return path


def trusted_roots_file(pebble, directory):
    """Pebble's issuing root in directory (the httpd root), mode 0644, for
    SacmeTrustedRoots: it is in no system bundle, and Pebble makes a new one
    at every start, so the file is written again at each call."""
    path = os.path.join(directory, "pebble-roots.pem")
    with open(path, "w") as f:
        f.write(pebble.root_pem())
    os.chmod(path, 0o644)
    return path


def root_file(pebble, directory=None):
    """Pebble's issuing root (/roots/0) in a PEM file; returns the path."""
    fd, path = tempfile.mkstemp(prefix="pebble-root-", suffix=".pem", dir=directory)
    with os.fdopen(fd, "w") as f:
        f.write(pebble.root_pem())
    return path


def assert_served_verified(h, names, root_path):
    """For every name: a TLS connection with SNI=name verifies (chain to
    Pebble's root, hostname); the certificate has exactly `names` as SANs
    and is not the fallback; the request is not answered 503.  Returns the
    leaf certificates (one per name)."""
    leaves = []
    for name in names:
        r = h.tls_get(name, cafile=root_path)
        assert not r.is_fallback, "%s: the fallback certificate is served" % name
        assert sorted(certcheck.dns_sans(r.cert)) == sorted(names), \
            "%s: served SANs %r" % (name, certcheck.dns_sans(r.cert))
        assert r.status != 503, "%s: still answered 503 with a managed certificate" % name
        leaves.append(r.cert)
    serials = {c.serial_number for c in leaves}
    assert len(serials) == 1, "different certificates for the names of one domain"
    return leaves


def live_chain(h, primary):
    return certcheck.load_pem_chain(h.store("domains", primary, "fullchain.pem"))


def staged_chain(h, primary):
    return certcheck.load_pem_chain(h.store("staging", primary, "fullchain.pem"))


def wait_job(h, primary, limit=LOG_LIMIT):
    """The path of staging/<primary>/job.json once it exists.  After an
    error the driver logs SACME10024 first and writes job.json just after,
    so a test that saw the line waits for the file as well."""
    path = h.store("staging", primary, "job.json")
    h._wait(lambda: os.path.isfile(path), "staging/%s/job.json" % primary, limit)
    return path


def account_dirs(h):
    base = h.store("accounts")
    if not os.path.isdir(base):
        return []
    return sorted(os.path.join(base, d) for d in os.listdir(base)
                  if os.path.isdir(os.path.join(base, d)))


def account_json(h):
    dirs = account_dirs(h)
    assert len(dirs) == 1, "expected one account directory, found %r" % dirs
    with open(os.path.join(dirs[0], "account.json")) as f:
        return json.load(f)


ORDER_URL_RE = re.compile(r"https://[^\"\s]+/my-order/[A-Za-z0-9_-]+")


def order_url_in(text):
    """The Pebble order URL in a text (order.json, a log line)."""
    m = ORDER_URL_RE.search(text)
    return m.group(0) if m else None


def all_files(top):
    for dirpath, dirnames, filenames in os.walk(top):
        for n in filenames:
            yield os.path.join(dirpath, n)


def assert_secret_nowhere(h, *secrets):
    """No secret (str) in any file under the store, nor in the error log."""
    secrets = [s for s in secrets if s]
    for path in all_files(h.store_dir):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        for s in secrets:
            assert s.encode() not in data, "the EAB HMAC is written in %s" % path
    log = h.log()
    for s in secrets:
        for line in log.splitlines():
            assert s not in line, "the EAB HMAC is in the error log: %s" % line
