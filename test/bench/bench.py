"""Benchmark: mod_sacme against Debian's mod_md on the same local Pebble.

Not a test: nothing here asserts a timing.  It starts a real Pebble (EAB
required, real HTTP-01, PEBBLE_VA_NOSLEEP=1, PEBBLE_AUTHZREUSE=0) and a real
Debian apache2 in a fresh ServerRoot (fresh store) per run, and prints:

  listen   seconds from `apache2 -k start` to a TCP connect on the HTTPS port
  tls      seconds from `apache2 -k start` to a completed TLS handshake there
  staged   seconds from `apache2 -k start` to ALL certificates staged
           mod_sacme: staging/<domain>/fullchain.pem of every domain
           mod_md:    md/staging/<domain>/pubcert*.pem of every domain
  pebble   Pebble's CPU time (utime+stime from /proc) during the run, and
           that divided by the number of cores: the floor no client beats
  httpd    CPU time of the httpd processes (all of the process group, plus
           the children the parent reaped), for what it is worth

and, in scenario (serve), mod_sacme alone with SacmeAutoRestart on:

  served   seconds from a certificate staged (the driver's SACME10023 line)
           to the first TLS handshake that gets it, for the first issuance
           and for replacements started right after an activation
           (sacmectl renew --force, sacmectl revoke)

Both clients use P-256 certificate keys, HTTP-01, a retry delay of 1 s, and
one HTTPS virtual host per domain.  mod_sacme runs with SacmeAutoRestart off
(the measurement ends at staging; mod_md never restarts by itself either),
except in (serve).

and, in scenario (cluster), not run by default, a cluster of three nodes
coordinated through etcd against one httpd alone: the time until every
node serves every name, and the etcd traffic per certificate (see
test/bench/cluster_bench.py).

Usage: test/bench/run [--only a,b,c,d,d16,e,e16,serve,listen,cluster] [--json FILE]

Environment: SACME_BENCH_LIMIT (s, default 180) and SACME_BENCH_E_LIMIT (s,
default 480, mod_md in (e)) bound the wait for staging
(SACME_BENCH_CLUSTER_LIMIT, default 300, in (cluster)); SACME_BENCH_SERVE_REPS
(default 3) sets the runs of (serve); SACME_BENCH_KEEP=1
keeps every ServerRoot (a run that does not finish is always kept);
SACME_BENCH_LOGLEVEL sets httpd's LogLevel (default "info ssl:warn").
"""

import argparse
import datetime
import glob
import json
import os
import platform
import secrets
import socket
import ssl
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "test", "e2e"))

from sacmetest.httpd import (APACHE, LOOPBACK, Httpd, Vhost, is_fallback,  # noqa: E402
                             module_path)
from sacmetest import sacmectl  # noqa: E402
from sacmetest.module import readable_ca_file, trusted_roots_file  # noqa: E402
from sacmetest.pebble import Pebble  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1
STAGE_LIMIT = float(os.environ.get("SACME_BENCH_LIMIT", "180"))
E_LIMIT = float(os.environ.get("SACME_BENCH_E_LIMIT", "480"))
POLL = 0.02
LOG_LEVEL = os.environ.get("SACME_BENCH_LOGLEVEL", "info ssl:warn")


# --- measuring ----------------------------------------------------------------

def proc_cpu(pid, children=False):
    """utime+stime (and cutime+cstime with children=True) of pid, seconds."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # fields[0] is state (field 3); utime is field 14 -> index 11
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def group_cpu(pgid, parent):
    """CPU of every live process in process group pgid, plus what the parent
    collected from children it reaped."""
    total = 0.0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) != pgid:
            continue
        pid = int(d)
        total += proc_cpu(pid, children=(pid == parent))
    return total


def pebble_pid(pebble):
    for p in pebble._procs:
        if getattr(p, "sacme_name", "") == "pebble":
            return p.pid
    raise RuntimeError("no pebble process")


def tcp_ok(port):
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


def tls_ok(port, sni):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((LOOPBACK, port), timeout=2) as raw:
            with ctx.wrap_socket(raw, server_hostname=sni):
                return True
    except (OSError, ssl.SSLError):
        return False


_static = {}


def static_pair():
    """A self-signed P-256 certificate and key (files), made once."""
    if "pair" not in _static:
        import tempfile
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        d = tempfile.mkdtemp(prefix="sacme-bench-static-")
        os.chmod(d, 0o755)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench static")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=2))
                .sign(key, hashes.SHA256()))
        cp, kp = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        with open(cp, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(kp, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        _static["dir"] = d
        _static["pair"] = (cp, kp)
    return _static["pair"]


# --- one run ----------------------------------------------------------------

def sacme_lines(pebble, h, domains, directory_url=None, auto_restart=False, more=()):
    """mod_sacme's lines of every scenario for httpd h (files in its
    ServerRoot): P-256, http-01, a retry delay of 1 s, EAB."""
    lines = [
        "SacmeServer %s" % (directory_url or pebble.directory_url),
        "SacmeCACertificate %s" % readable_ca_file(pebble, h.root),
        "SacmeTrustedRoots %s" % trusted_roots_file(pebble, h.root),
        "SacmeEAB kid-1 %s" % pebble.eab["kid-1"],
        "SacmeContact admin@example.test",
        "SacmeAgreement accepted",
        "SacmeKeyType p256",
        "SacmeChallenge http-01",
        "SacmeRetryDelay 1s",
        "SacmeAutoRestart %s" % ("on" if auto_restart else "off"),
    ] + list(more)
    return lines + ["SacmeDomain %s" % " ".join(d) for d in domains]


class Run:
    """One httpd (mod_sacme or mod_md) in a fresh ServerRoot, from start to
    all certificates staged (or only to listening)."""

    def __init__(self, kind, pebble, domains, directory_url=None, more=(),
                 vhosts=True, auto_restart=False):
        self.kind = kind
        self.pebble = pebble
        self.domains = domains
        self.directory_url = directory_url or pebble.directory_url
        vlines = []
        if kind == "none":
            # mod_ssl refuses a vhost without a certificate when no module
            # gives one: the baseline serves one static self-signed pair
            cert, key = static_pair()
            vlines = ["SSLCertificateFile %s" % cert, "SSLCertificateKeyFile %s" % key]
        vh = [Vhost(d, vlines) for d in domains] if vhosts else [Vhost(domains[0], vlines)]
        if kind == "sacme":
            modules = ("mpm_event", "authz_core")
            load_sacme = True
        elif kind == "md":
            modules = ("mpm_event", "authz_core", "md")
            load_sacme = False
        else:   # "none": httpd + mod_ssl only, the baseline of startup
            modules = ("mpm_event", "authz_core")
            load_sacme = False
        self.h = Httpd(ssl=True, http_port=pebble.http_port, log_level=LOG_LEVEL,
                       vhosts=vh, modules=modules, load_sacme=load_sacme,
                       keep_dir=bool(os.environ.get("SACME_BENCH_KEEP")))
        ca = readable_ca_file(pebble, self.h.root)
        if kind == "sacme":
            self.h.configure(sacme=sacme_lines(pebble, self.h, domains, self.directory_url,
                                               auto_restart, more))
        elif kind == "md":
            lines = [
                "MDCertificateAuthority %s" % self.directory_url,
                "MDCACertificateFile %s" % ca,
                "MDExternalAccountBinding kid-1 %s" % pebble.eab["kid-1"],
                "MDCertificateAgreement accepted",
                "MDContactEmail admin@example.test",
                "MDPortMap 80:%d 443:%d" % (self.h.port, self.h.https_port),
                "MDCAChallenges http-01",
                "MDPrivateKeys secp256r1",
                "MDRetryDelay 1s",
            ] + list(more)
            lines += ["MDomain %s" % " ".join(d) for d in domains]
            self.h.configure(extra="\n".join(lines))
        self.result = {"kind": kind, "domains": len(domains),
                       "names": sum(len(d) for d in domains)}

    def staged_path(self, domain):
        primary = domain[0]
        if self.kind == "sacme":
            return [os.path.join(self.h.root, "sacme", "staging", primary, "fullchain.pem")]
        return glob.glob(os.path.join(self.h.root, "md", "staging", primary, "pubcert*.pem"))

    def start(self):
        """apache2 -k start; returns when a TLS handshake on the HTTPS port
        completed.  Records listen (TCP) and tls times."""
        h = self.h
        self.ppid = pebble_pid(self.pebble)
        self.cpu0 = proc_cpu(self.ppid)
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        launcher = subprocess.Popen([APACHE, "-d", h.root, "-f", h.conf, "-k", "start"],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT)
        h.started = True
        deadline = self.t0 + 60
        while not tcp_ok(h.https_port):
            if launcher.poll() not in (None, 0):
                raise RuntimeError("apache2 -k start failed: %s\n%s"
                                   % (launcher.stdout.read().decode(), h.log()[-4000:]))
            if time.monotonic() > deadline:
                raise RuntimeError("httpd did not listen\n" + h.log()[-4000:])
            time.sleep(0.002)
        self.result["listen"] = time.monotonic() - self.t0
        sni = self.domains[0][0]
        while not tls_ok(h.https_port, sni):
            if time.monotonic() > deadline:
                raise RuntimeError("no TLS handshake\n" + h.log()[-4000:])
            time.sleep(0.005)
        self.result["tls"] = time.monotonic() - self.t0
        # The launcher is httpd's first pass over the configuration: it
        # exits once the detached parent runs. Its own CPU is reaped here.
        _, _, ru = os.wait4(launcher.pid, 0)
        launcher.returncode = 0
        self.result["launcher_cpu"] = ru.ru_utime + ru.ru_stime
        return self

    def wait_staged(self, limit=STAGE_LIMIT):
        pending = list(self.domains)
        deadline = self.t0 + limit
        while pending and time.monotonic() < deadline:
            pending = [d for d in pending if not any(os.path.exists(p)
                                                     for p in self.staged_path(d))]
            if pending:
                time.sleep(POLL)
        t = time.monotonic() - self.t0
        self.result["pebble_cpu"] = proc_cpu(self.ppid) - self.cpu0
        parent = self.h.parent_pid()
        self.result["httpd_cpu"] = group_cpu(os.getpgid(parent), parent) if parent else None
        # the parent alone: its pass over the configuration (mod_ssl's
        # set-up of every vhost), which runs beside the first orders
        self.result["parent_cpu"] = proc_cpu(parent) if parent else None
        self.result["staged_count"] = len(self.domains) - len(pending)
        self.result["staged"] = t if not pending else None
        self.result["limit"] = limit
        self.result.update(self.log_figures())
        return self

    def log_figures(self):
        """What the error log says: the last 'staged' line's time (from the
        log's own clock, independent of the polling), errors."""
        log = self.h.log()
        tag = "SACME10023" if self.kind == "sacme" else "AH10059"
        last = None
        for line in log.splitlines():
            if tag in line:
                last = _log_time(line) or last
        out = {"log_staged": (last - self.wall0) if last else None}
        if self.kind == "sacme":
            out["errors"] = log.count("SACME10024")
            # when the client could begin: the driver's first line
            for line in log.splitlines():
                if "SACME10020" in line and _log_time(line):
                    out["driver_start"] = _log_time(line) - self.wall0
                    break
        else:
            out["errors"] = sum(1 for l in log.splitlines()
                                if "[md:error]" in l or "[md:warn]" in l)
        return out

    def stop(self):
        try:
            self.h.stop()
        except Exception as e:   # a bench keeps going; say what happened
            print("  (stopping httpd: %s)" % e, file=sys.stderr)


def _log_time(line):
    # [Wed Nov 25 18:17:04.360148 2026]
    if not line.startswith("["):
        return None
    try:
        stamp = line[1:line.index("]")]
        dt = datetime.datetime.strptime(stamp, "%a %b %d %H:%M:%S.%f %Y")
    except ValueError:
        return None
    return dt.timestamp()


def run_issue(kind, pebble, domains, limit=STAGE_LIMIT, **kw):
    r = Run(kind, pebble, domains, **kw)
    try:
        r.start()
        r.wait_staged(limit)
        if r.result["staged"] is None:
            # keep what explains it: the ServerRoot (store, error log)
            r.h.keep_dir = True
            print("  (%s: %d of %d staged after %d s; kept %s; error log tail:)"
                  % (kind, r.result["staged_count"], len(domains), limit, r.h.root))
            for line in r.h.log().splitlines()[-12:]:
                print("    " + line[:300])
    finally:
        r.stop()
    return r.result


def run_listen(kind, pebble, domains, **kw):
    r = Run(kind, pebble, domains, **kw)
    try:
        r.start()
    finally:
        r.stop()
    return r.result


# --- scenarios ------------------------------------------------------------------

def names(tag, ndomains, nnames):
    """ndomains domains of nnames names each, fresh (random) per run."""
    run = secrets.token_hex(3)
    out = []
    for i in range(ndomains):
        base = "d%d-%s-%s.bench.test" % (i, tag, run)
        out.append([base] + ["n%d.%s" % (j, base) for j in range(1, nnames)])
    return out


def new_pebble():
    return Pebble(always_valid=False, nosleep=True, authz_reuse=0).start()


def fmt(v, unit="s", width=7):
    if v is None:
        return "%*s" % (width, "-")
    return "%*.2f%s" % (width - len(unit), v, unit)


ISSUE_SCENARIOS = [
    # key, label, domains, names per domain, runs per client (the short
    # scenarios are repeated, alternating clients, and the median is used)
    ("a", "(a) 1 domain, 1 name", 1, 1, 3),
    ("b", "(b) 1 domain, 50 names", 1, 50, 3),
    ("c", "(c) 10 domains, 1 name", 10, 1, 3),
    ("d", "(d) 50 domains, 1 name", 50, 1, 3),
]


def zero_client_bound(r):
    """The staged time a client costing no CPU at all would reach in this
    httpd: it can begin only when the driver starts (httpd's first pass over
    the configuration is over by then), and from there the cores must still
    run all of Pebble's work and the rest of httpd's start (the parent's
    pass, mod_ssl's set-up of every vhost)."""
    if r.get("driver_start") is None or r.get("parent_cpu") is None:
        return None
    return r["driver_start"] + (r["pebble_cpu"] + r["parent_cpu"]) / NCPU


def print_issue_header():
    print("%-34s %-6s %7s %7s %8s %8s %8s %8s %6s %7s %7s %7s" % (
        "scenario", "client", "listen", "tls", "staged", "pebble", "floor", "httpd", "errs",
        "1st", "driver", "bound"))
    print("%-34s %-6s %7s %7s %8s %8s %8s %8s %6s %7s %7s %7s" % (
        "", "", "", "", "", "cpu", "cpu/%d" % NCPU, "cpu", "", "pass", "start", "0-cpu"))


def print_issue_row(label, r):
    staged = r["staged"]
    staged_s = fmt(staged, width=8) if staged is not None else \
        "  >%ds(%d/%d)" % (r["limit"], r["staged_count"], r["domains"])
    print("%-34s %-6s %s %s %s %s %s %s %6s %s %s %s" % (
        label, r["kind"], fmt(r["listen"]), fmt(r["tls"]), staged_s,
        fmt(r["pebble_cpu"], width=8), fmt(r["pebble_cpu"] / NCPU, width=8),
        fmt(r["httpd_cpu"], width=8), r["errors"], fmt(r.get("launcher_cpu")),
        fmt(r.get("driver_start")), fmt(zero_client_bound(r))))
    sys.stdout.flush()


def so_fingerprint():
    import hashlib
    try:
        with open(module_path(), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:12]
        mtime = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(module_path())))
        return "sha256 %s, built %s" % (digest, mtime)
    except OSError as e:
        return str(e)


def median_run(runs):
    """The run with the median staged time (a run that did not finish counts
    as the slowest)."""
    order = sorted(runs, key=lambda r: float("inf") if r["staged"] is None else r["staged"])
    return order[(len(order) - 1) // 2]


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


# --- (serve) staged -> served -------------------------------------------------

SERVE_REPS = int(os.environ.get("SACME_BENCH_SERVE_REPS", "3"))


def served_serial(port, sni):
    """The serial of the managed certificate served for sni, or None (no
    handshake, or the fallback)."""
    from cryptography import x509
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((LOOPBACK, port), timeout=2) as raw:
            with ctx.wrap_socket(raw, server_hostname=sni) as s:
                cert = x509.load_der_x509_certificate(s.getpeercert(binary_form=True))
    except (OSError, ssl.SSLError):
        return None
    return None if is_fallback(cert) else cert.serial_number


def wait_new_serial(port, sni, old, limit=STAGE_LIMIT):
    """Polls until a managed certificate other than old is served; returns
    (its serial, the wall-clock time it was first seen)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        serial = served_serial(port, sni)
        if serial is not None and serial != old:
            return serial, time.time()
        time.sleep(POLL)
    raise RuntimeError("no new certificate served for %s within %d s" % (sni, limit))


def tagged_times(h, tag):
    return [_log_time(l) for l in h.log().splitlines() if tag in l and _log_time(l)]


def serve_case(r, sni, action):
    """One staged -> served measure: action() (None for the first issuance)
    leads to a new certificate, which is waited for on the HTTPS port.
    Returns (staged -> served by the poll, staged -> activated by the log)."""
    h = r.h
    old = served_serial(h.https_port, sni)
    before = len(tagged_times(h, "SACME10023"))
    if action:
        res = sacmectl.store_cmd(h, *action)
        if res.rc != sacmectl.EXIT_OK:
            raise RuntimeError("sacmectl %s: %s" % (" ".join(action), res.describe()))
    serial, seen = wait_new_serial(h.https_port, sni, old)
    staged = tagged_times(h, "SACME10023")[before]
    activated = [t for t in tagged_times(h, "SACME10027") if t >= staged]
    return seen - staged, (activated[0] - staged) if activated else None


def run_serve(pebble):
    """Staged -> served with SacmeAutoRestart on: the first issuance, then
    a replacement right after it (renew --force), then one after a
    revocation (revoke), each as soon as the one before is served."""
    cases = [("first issuance", None), ("renew --force right after", "renew"),
             ("revoke right after", "revoke")]
    out = {label: [] for label, _ in cases}
    for rep in range(SERVE_REPS):
        dom = names("s%d" % rep, 1, 1)[0]
        r = Run("sacme", pebble, [dom], auto_restart=True)
        try:
            r.start()
            for label, what in cases:
                action = None
                if what == "renew":
                    action = ("renew", "--force", dom[0])
                elif what == "revoke":
                    action = ("revoke", dom[0])
                served, activated = serve_case(r, dom[0], action)
                out[label].append({"served": served, "activated": activated})
                print("%-34s %9s %9s" % (label, fmt(served, width=9),
                                          fmt(activated, width=9)))
                sys.stdout.flush()
        finally:
            r.stop()
    return out


def run_serve_many(pebble, n):
    """n domains from an empty store, SacmeAutoRestart on: seconds from
    `apache2 -k start` to the first and to the last domain served, and how
    many graceful restarts it took (each staged set makes one, unless
    several are staged together)."""
    doms = names("sm", n, 1)
    r = Run("sacme", pebble, doms, auto_restart=True)
    out = {"domains": n}
    try:
        r.start()
        pending = [d[0] for d in doms]
        deadline = r.t0 + STAGE_LIMIT
        while pending and time.monotonic() < deadline:
            pending = [d for d in pending if served_serial(r.h.https_port, d) is None]
            if len(pending) < n and "first" not in out:
                out["first"] = time.monotonic() - r.t0
            if pending:
                time.sleep(POLL)
        out["all"] = time.monotonic() - r.t0 if not pending else None
        log = r.h.log()
        out["restarts"] = log.count("SIGUSR1 received")
        out["errors"] = log.count("SACME10024")
    finally:
        r.stop()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="a,b,c,d,d16,e,serve,listen",
                    help="comma-separated scenarios (a,b,c,d,d16,e,serve,listen; "
                         "e16: (e) for mod_sacme with SacmeMaxParallel 16, and cluster: "
                         "three nodes through etcd against one httpd, not run by default)")
    ap.add_argument("--json", help="also write all results to this file")
    args = ap.parse_args()
    only = set(args.only.split(","))

    if not os.access(module_path(), os.R_OK):
        sys.exit("mod_sacme.so is not built at %s (run test/build)" % module_path())
    if os.geteuid() != 0:
        sys.exit("run as root (httpd binds, switches to www-data)")

    print("mod_sacme vs mod_md benchmark, %s" % datetime.datetime.now().isoformat(timespec="seconds"))
    print("host: %s, %d cores (%s), clock tick %d Hz" % (
        platform.node(), NCPU, platform.machine(), CLK_TCK))
    print("apache2: %s" % subprocess.run([APACHE, "-v"], capture_output=True,
                                         text=True).stdout.splitlines()[0])
    so_sum = so_fingerprint()
    print("mod_sacme: %s (%s)" % (module_path(), so_sum))
    print("git: %s" % subprocess.run(["git", "-C", TOP, "log", "-1", "--format=%h %s"],
                                     capture_output=True, text=True).stdout.strip())
    print()
    all_results = []
    summary = []
    t_begin = time.monotonic()

    issue = [s for s in ISSUE_SCENARIOS if s[0] in only]
    if issue:
        print("== issuance from an empty store (Pebble: EAB, real HTTP-01, "
              "NOSLEEP, AUTHZREUSE=0) ==")
        print_issue_header()
    for key, label, nd, nn, reps in issue:
        pebble = new_pebble()
        runs = {"sacme": [], "md": []}
        try:
            for i in range(reps):
                for kind in ("sacme", "md"):
                    r = run_issue(kind, pebble, names(key + kind[0], nd, nn))
                    print_issue_row(label, r)
                    runs[kind].append(r)
                    all_results.append(dict(r, scenario=key, rep=i))
        finally:
            pebble.stop()
        summary.append((label if reps == 1 else label + " (median of %d)" % reps,
                        median_run(runs["sacme"]), median_run(runs["md"])))

    if "d16" in only:
        pebble = new_pebble()
        try:
            label = "(d) 50 domains, SacmeMaxParallel 16"
            r16 = run_issue("sacme", pebble, names("d16", 50, 1),
                            more=["SacmeMaxParallel 16"])
            if not issue:
                print_issue_header()
            print_issue_row(label, r16)
        finally:
            pebble.stop()
        all_results.append(dict(r16, scenario="d16"))
        summary.append((label, r16, None))

    if "e" in only or "e16" in only:
        from sacmetest.quirkproxy import QuirkProxy
        print()
        print("== (e) 50 domains through the quirk proxy: every order held in "
              "'processing' 5 s after finalize, Retry-After: 1 ==")
        print_issue_header()
        label = "(e) 50 domains, processing 5 s"
        runs = []
        if "e" in only:
            runs += [("sacme", label, ()), ("md", label, ())]
        if "e16" in only:
            runs.append(("sacme", "(e) ..., SacmeMaxParallel 16", ("SacmeMaxParallel 16",)))
        pebble = new_pebble()
        try:
            res = {}
            for kind, lab, more in runs:
                proxy = QuirkProxy(pebble, quirks={"hold_processing_for": 5,
                                                   "retry_after": 1}).start()
                try:
                    # mod_md drives one domain after the other: 50 x (5 s + polling)
                    r = run_issue(kind, pebble, names("e" + kind[0], 50, 1),
                                  directory_url=proxy.directory_url, more=more,
                                  limit=E_LIMIT if kind == "md" else STAGE_LIMIT)
                    r["proxy_held"] = proxy.stats.get("hold_processing_for", 0)
                    r["proxy_errors"] = len(proxy.errors)
                finally:
                    proxy.stop()
                print_issue_row(lab, r)
                print("%-34s   (proxy: %d 'processing' answers, %d proxy errors)"
                      % ("", r["proxy_held"], r["proxy_errors"]))
                res[lab, kind] = r
                all_results.append(dict(r, scenario="e" if not more else "e16"))
        finally:
            pebble.stop()
        if "e" in only:
            summary.append((label, res[label, "sacme"], res[label, "md"]))
        if "e16" in only:
            summary.append(("(e) ..., SacmeMaxParallel 16",
                            res["(e) ..., SacmeMaxParallel 16", "sacme"],
                            res.get((label, "md"))))

    if summary:
        print()
        print("== ratios (staged time; < 1 means mod_sacme is faster) ==")
        print("%-38s %9s %9s %10s %10s %12s %12s" % (
            "scenario", "sacme", "md", "sacme/md", "md/sacme", "sacme/floor",
            "0-cpu/floor"))
        for label, rs, rm in summary:
            floor = rs["pebble_cpu"] / NCPU
            r_sm = ratio(rs["staged"], rm["staged"]) if rm else None
            r_ms = ratio(rm["staged"], rs["staged"]) if rm else None
            print("%-38s %9s %9s %10s %10s %12s %12s" % (
                label, fmt(rs["staged"], width=9),
                fmt(rm["staged"] if rm else None, width=9),
                fmt(r_sm, "x", 10), fmt(r_ms, "x", 10),
                fmt(ratio(rs["staged"], floor), "x", 12),
                fmt(ratio(zero_client_bound(rs), floor), "x", 12)))

    if "serve" in only:
        print()
        print("== (serve) staged -> served, SacmeAutoRestart on, 1 domain of 1 name, "
              "%d runs (staged: the driver's SACME10023 line; served: the first TLS "
              "handshake, polled every %d ms, with the new serial; activated: the "
              "parent's SACME10027 line) ==" % (SERVE_REPS, POLL * 1000))
        print("%-34s %9s %9s" % ("case", "served", "activated"))
        pebble = new_pebble()
        try:
            serve = run_serve(pebble)
        finally:
            pebble.stop()
        for label, runs in serve.items():
            vals = sorted(x["served"] for x in runs)
            if not vals:
                continue
            print("%-34s median %s, max %s" % (label, fmt(vals[len(vals) // 2]),
                                                fmt(vals[-1])))
        print("%-34s %9s %9s %9s %7s" % ("from an empty store", "first", "all",
                                            "restarts", "errors"))
        pebble = new_pebble()
        try:
            many = [run_serve_many(pebble, n) for n in (10, 50)]
        finally:
            pebble.stop()
        for m in many:
            print("%-34s %9s %9s %9d %7d" % ("%d domains, served" % m["domains"],
                                              fmt(m.get("first"), width=9),
                                              fmt(m["all"], width=9), m["restarts"],
                                              m["errors"]))
        all_results.append({"scenario": "serve", "runs": serve, "many": many})

    if "listen" in only:
        print()
        print("== start-up: apache2 -k start -> TCP connect / TLS handshake on the "
              "HTTPS port (no waiting for issuance) ==")
        print("%-50s %8s %8s" % ("configuration", "listen", "tls"))
        pebble = new_pebble()
        try:
            cases = [
                ("httpd+mod_ssl only, 1 vhost", "none", 1),
                ("httpd+mod_ssl only, 1000 vhosts", "none", 1000),
                ("mod_sacme, 1 SacmeDomain (1 vhost)", "sacme", 1),
                ("mod_sacme, 100 SacmeDomains (100 vhosts)", "sacme", 100),
                ("mod_sacme, 1000 SacmeDomains (1000 vhosts)", "sacme", 1000),
                ("mod_sacme, 1000 SacmeDomains (1 vhost)", "sacme", -1000),
                ("mod_md, 1000 MDomains (1000 vhosts)", "md", 1000),
            ]
            for label, kind, n in cases:
                vhosts = n > 0
                n = abs(n)
                reps = []
                for i in range(3):
                    reps.append(run_listen(kind, pebble, names("l%s%d" % (kind[0], n), n, 1),
                                           vhosts=vhosts))
                best = min(reps, key=lambda r: r["tls"])
                med_listen = sorted(r["listen"] for r in reps)[1]
                med_tls = sorted(r["tls"] for r in reps)[1]
                print("%-50s %8s %8s   (median of 3; min tls %.3f s)"
                      % (label, fmt(med_listen, width=8), fmt(med_tls, width=8), best["tls"]))
                sys.stdout.flush()
                all_results.append({"scenario": "listen", "label": label, "runs": reps})
        finally:
            pebble.stop()

    if "cluster" in only:
        import cluster_bench
        print()
        all_results.append({"scenario": "cluster", "runs": cluster_bench.run_scenario(
            new_pebble, names, sacme_lines, served_serial, _log_time, fmt, LOG_LEVEL)})

    if "dir" in _static:
        import shutil
        shutil.rmtree(_static["dir"], ignore_errors=True)
    if so_fingerprint() != so_sum:
        print()
        print("NOTE: mod_sacme.so changed during the benchmark (rebuilt by someone); "
              "the runs may not all have used the same build")
    print()
    print("total benchmark time: %.0f s" % (time.monotonic() - t_begin))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(all_results, f, indent=1)


if __name__ == "__main__":
    main()
