#!/usr/bin/python3
"""The README's demo: httpd gets its own certificate from an ACME server that
requires External Account Binding, and serves it, with no manual step.

  1. install the built module into a private ServerRoot with apxs;
  2. start Pebble (a real RFC 8555 ACME server) on 127.0.0.1, EAB required,
     validating HTTP-01 for real against httpd's plain-HTTP port;
  3. start httpd with mod_sacme configured for three names and a
     <VirtualHost> with `SSLEngine on` and no certificate file;
  4. wait until that vhost serves the certificate Pebble issued (mod_sacme
     orders it, answers the challenges, stages it and restarts httpd
     gracefully by itself), then show it with curl and openssl s_client and
     where it lives in the store;
  5. stop httpd and Pebble.

Exit status 0 only if every step worked.  The ServerRoot is kept
(SACME_DEMO_DIR, default: a new directory under /tmp) so it can be looked at.
"""

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sacmetest import certcheck  # noqa: E402
from sacmetest.httpd import Httpd, Vhost, module_path  # noqa: E402
from sacmetest.module import (ISSUE_LIMIT, readable_ca_file, sacme_lines,  # noqa: E402
                              trusted_roots_file)
from sacmetest.pebble import Pebble, PebbleError  # noqa: E402
from sacmetest.sacmectl import binary as sacmectl_binary  # noqa: E402
from sacmetest.sysuser import ensure_system_user  # noqa: E402

NAMES = ["example.test", "www.example.test", "shop.example.test"]
KID = "kid-1"

CURL_KEEP = ("SSL connection", "Server certificate", "subject:", "start date",
             "expire date", "subjectAltName", "issuer:", "certificate verify", "< HTTP/")
OPENSSL_KEEP = ("subject=", "issuer=", "Verification", "Verify return code")


def say(text=""):
    print(text, flush=True)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)


def install_module(root):
    """apxs -i into ROOT/modules; returns the installed .so."""
    libexec = os.path.join(root, "modules")
    os.makedirs(libexec, exist_ok=True)
    argv = ["apxs", "-i", "-S", "LIBEXECDIR=" + libexec, "-n", "sacme", module_path()]
    say("$ " + " ".join(argv))
    r = run(argv)
    installed = os.path.join(libexec, "mod_sacme.so")
    if r.returncode != 0 or not os.path.isfile(installed):
        raise RuntimeError("apxs -i failed:\n%s%s" % (r.stdout, r.stderr))
    return installed


class LogFollower:
    """Prints the SACME lines of the error log as they appear."""

    def __init__(self, h):
        self.h = h
        self.pos = 0

    def poll(self):
        log = self.h.log()
        new, self.pos = log[self.pos:], len(log)
        for line in new.splitlines():
            i = line.find("SACME1")
            if i >= 0:
                say("  log: " + line[i:])


def show_config(h):
    say("httpd.conf (mod_sacme part; the HMAC key is not shown):")
    for line in h.conf_text().splitlines():
        if line.startswith("SacmeEAB"):
            line = "SacmeEAB %s ***" % line.split()[1]
        if line.startswith(("LoadModule sacme", "Sacme", "<VirtualHost", "</VirtualHost",
                            "    ServerName", "    ServerAlias", "    SSLEngine")):
            say("  " + line)


def show_curl(h, name, root_pem):
    argv = ["curl", "-sS", "-v", "--cacert", root_pem, "--resolve",
            "%s:%d:127.0.0.1" % (name, h.https_port),
            "https://%s:%d/" % (name, h.https_port), "-o", "/dev/null"]
    say("$ " + " ".join(argv))
    r = run(argv)
    for line in r.stderr.splitlines():
        if any(k in line for k in CURL_KEEP):
            say("  " + line)
    return r.returncode == 0


def show_openssl(h, name, root_pem):
    argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % h.https_port,
            "-servername", name, "-CAfile", root_pem, "-verify_hostname", name]
    say("$ " + " ".join(argv) + " </dev/null")
    r = run(argv, stdin=subprocess.DEVNULL)
    ok = False
    seen = set()
    for line in r.stdout.splitlines():
        line = line.strip()
        if line.startswith(OPENSSL_KEEP) and line not in seen:
            seen.add(line)
            say("  " + line)
            if "Verify return code: 0 (ok)" in line:
                ok = True
    return ok


DRIVER_USER = "sacme"


def ensure_driver_user():
    """The driver's own system account (SacmeDriverUser): it alone can read
    the ACME account key, not the web user that runs the applications."""
    import pwd
    try:
        pwd.getpwnam(DRIVER_USER)
        say("driver account: %s (exists)" % DRIVER_USER)
    except KeyError:
        say("$ useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin %s"
            % DRIVER_USER)
        ensure_system_user(DRIVER_USER)


def show_store(h, primary):
    import grp
    import pwd
    import stat

    def line(p):
        st = os.stat(p)
        say("  %s %-8s %-8s %s" % (stat.filemode(st.st_mode),
                                   pwd.getpwuid(st.st_uid).pw_name,
                                   grp.getgrgid(st.st_gid).gr_name,
                                   os.path.relpath(p, h.store_dir)))

    say("the store (%s): the driver's parts are %s's, the live key root's, and the "
        "web user reads no private key:" % (h.store_dir, DRIVER_USER))
    for sub in (os.path.join("domains", primary), "accounts", "staging"):
        top = h.store(sub)
        for dirpath, _, files in sorted(os.walk(top)):
            line(dirpath)
            for f in sorted(files):
                line(os.path.join(dirpath, f))


def show_sacmectl_list(h):
    """What the admin tool says of the running server (certbot certificates)."""
    argv = [sacmectl_binary(), "list", "--store", h.store_dir]
    say("$ sacmectl list --store %s" % h.store_dir)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    for line in (r.stdout + r.stderr).splitlines():
        say("  " + line)
    return r.returncode == 0


def main():
    if not os.path.isfile(module_path()):
        print("demo: mod_sacme.so is not built at %s (run test/build)" % module_path(),
              file=sys.stderr)
        return 1
    work = os.environ.get("SACME_DEMO_DIR") or tempfile.mkdtemp(prefix="sacme-demo-")
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)
    server_root = os.path.join(work, "httpd")

    say("== mod_sacme demo: httpd gets and serves its own certificate over ACME with EAB ==")
    try:
        installed = install_module(server_root)
    except RuntimeError as e:
        print("demo: %s" % e, file=sys.stderr)
        return 1
    try:
        pebble = Pebble(always_valid=False).start()
    except PebbleError as e:
        print("demo: could not start Pebble: %s" % e, file=sys.stderr)
        return 1
    h = None
    try:
        say("ACME server: Pebble %s (EAB required: %s, HTTP-01 checked on port %d)"
            % (pebble.directory_url, pebble.directory()["meta"].get("externalAccountRequired"),
               pebble.http_port))
        h = Httpd(ssl=True, root=server_root, module_file=installed, keep_dir=True,
                  http_port=pebble.http_port,
                  modules=("mpm_event", "authz_core", "dir"),
                  vhosts=[Vhost(NAMES)], log_level="info ssl:warn")
        ensure_driver_user()
        # Pebble's root is in no system bundle: SacmeTrustedRoots names it,
        # or mod_sacme would not activate what Pebble issues.
        h.configure(sacme=sacme_lines(pebble, [NAMES], kid=KID,
                                      ca_file=readable_ca_file(pebble, h.root),
                                      trusted_roots=trusted_roots_file(pebble, h.root),
                                      more=["SacmeDriverUser %s" % DRIVER_USER,
                                            # Pebble stands for the CA's port 80
                                            "SacmePortMap http:%d" % pebble.http_port]))
        show_config(h)
        say("$ apache2 -d %s -f %s -k start" % (h.root, h.conf))
        h.start()
        t0 = time.time()
        follow = LogFollower(h)
        served = None
        told_fallback = False
        while time.time() - t0 < ISSUE_LIMIT:
            follow.poll()
            try:
                r = h.tls_get(NAMES[0])
                if not r.is_fallback:
                    served = r
                    break
                if not told_fallback:
                    told_fallback = True
                    say("  meanwhile https://%s/ gets the placeholder certificate (%s) "
                        "and HTTP %s" % (NAMES[0], r.cert.subject.rfc4514_string(), r.status))
            except OSError:
                pass
            time.sleep(0.3)
        follow.poll()
        if served is None:
            print("demo: no certificate served after %ds\n%s"
                  % (ISSUE_LIMIT, h.log()[-6000:]), file=sys.stderr)
            return 1
        say("certificate served after %.1fs, no manual step" % (time.time() - t0))
        say()

        root_pem = os.path.join(work, "pebble-root.pem")
        with open(root_pem, "w") as f:
            f.write(pebble.root_pem())
        ok = True
        for name in NAMES:
            ok = show_curl(h, name, root_pem) and ok
        say()
        ok = show_openssl(h, NAMES[1], root_pem) and ok
        say()
        show_store(h, NAMES[0])
        say()
        ok = show_sacmectl_list(h) and ok
        live = certcheck.load_pem_chain(h.store("domains", NAMES[0], "fullchain.pem"))
        if live[0] != served.cert:
            print("demo: the served certificate is not the one in the store", file=sys.stderr)
            ok = False
        say()
        say("served: serial %x, names %s, issued by %s"
            % (served.serial, ", ".join(certcheck.dns_sans(served.cert)),
               served.cert.issuer.rfc4514_string()))
        if not ok:
            print("demo: verification with curl/openssl failed", file=sys.stderr)
            return 1
        return 0
    finally:
        if h is not None:
            h.stop()
            say("httpd stopped (ServerRoot kept: %s)." % server_root)
        pebble.stop()
        say("Pebble stopped.")


if __name__ == "__main__":
    sys.exit(main())
