"""Where the driver's CPU goes: instructions per order, counted by callgrind.

Runs httpd with mod_sacme under valgrind's callgrind against a local Pebble
(the benchmark's set-up: EAB, real HTTP-01, one vhost per domain), waits
until every domain is staged, stops httpd and prints, for the driving
process's worker threads, the instructions spent in the functions that
make up an order,
per order and per call.  Instructions, not seconds: they do not depend on
the machine's load, so two builds can be compared run against run.

Usage: test/bench/profile-driver [DOMAINS]     (default 20; needs valgrind)
"""
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

# (label, function as callgrind_annotate names it)
FUNCS = [
    ("driver threads, all", "mod_sacme_driver.c:worker_main"),
    ("  one attempt (sacme_drive_run_with)", "sacme_drive.c:sacme_drive_run_with"),
    ("    connection + directory (sacme_acme_setup)", "sacme_acme.c:sacme_acme_setup"),
    ("    the order (sacme_issue)", "sacme_issue.c:sacme_issue"),
    ("      signed requests (post_signed)", "sacme_acme.c:post_signed"),
    ("      JWS signatures", "sacme_jws.c:sacme_jws_sign_input"),
    ("      key generation", "sacme_key.c:sacme_key_generate"),
    ("      CSR", "sacme_csr.c:sacme_csr_make"),
    ("      certificate download + parse", "sacme_order.c:sacme_cert_download"),
    ("      chain check", "sacme_chain.c:sacme_chain_check"),
    ("    key written (sacme_key_save)", "sacme_key.c:sacme_key_save"),
    ("  checks after attempts (sacme_drive_check)", "sacme_drive.c:sacme_drive_check"),
    ("TLS handshakes (SSL_connect)", "???:SSL_connect"),
    ("certificate parse (d2i_X509)", "???:d2i_X509"),
    ("private key parse (PEM_read_bio_PrivateKey_ex)", "???:PEM_read_bio_PrivateKey_ex"),
]

LINE = re.compile(r"^\s*([\d,]+) \([\s\d.]+%\)\s+([<*>])\s+(\S+)(?: \((\d+)x\))?")


def costs(path):
    """{function: (inclusive instructions, calls)} of one callgrind file."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--tree=caller",
                          "--threshold=100", path],
                         capture_output=True, text=True, check=True).stdout
    res, calls = {}, 0
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            if not line.strip():
                calls = 0
            continue
        n, kind, fn, times = int(m.group(1).replace(",", "")), m.group(2), m.group(3), m.group(4)
        if kind == "<":
            calls += int(times or 0)
        elif kind == "*":
            res[fn] = (n, calls)
            calls = 0
    return res


def find(res, name):
    for fn, v in res.items():
        if fn == name or fn.endswith("/" + name):
            return v
    return None


def main():
    ndomains = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    outdir = tempfile.mkdtemp(prefix="sacme-callgrind-")
    os.chmod(outdir, 0o1777)        # the driver writes its file as www-data
    pebble = bench.new_pebble()
    try:
        r = bench.Run("sacme", pebble, bench.names("cg", ndomains, 1))
        h = r.h
        # Only what the worker threads do: a forked driver would otherwise
        # also carry the counts of httpd's start-up it inherited.
        subprocess.run(["valgrind", "--tool=callgrind", "--trace-children=yes",
                        "--toggle-collect=worker_main",
                        "--callgrind-out-file=%s/cg.%%p" % outdir, bench.APACHE,
                        "-d", h.root, "-f", h.conf, "-k", "start"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        h.started = True
        deadline = time.monotonic() + 600
        pending = list(r.domains)
        while pending and time.monotonic() < deadline:
            pending = [d for d in pending if not os.path.exists(r.staged_path(d)[0])]
            time.sleep(0.5)
        with open(os.path.join(h.root, "sacme", "driver.pid")) as f:
            driver = int(f.read().split()[0])
        r.stop()
    finally:
        pebble.stop()
    if pending:
        sys.exit("%d of %d domains not staged; see %s" % (len(pending), ndomains, h.root))
    path = os.path.join(outdir, "cg.%d" % driver)
    for _ in range(60):             # written when the driver exits
        if os.path.exists(path) and os.path.getsize(path) > 0:
            break
        time.sleep(0.5)
    res = costs(path)
    print("driver of %d domains (callgrind file %s)" % (ndomains, path))
    print("%-50s %14s %10s %12s" % ("", "instructions", "per order", "per call"))
    for label, fn in FUNCS:
        v = find(res, fn)
        if not v:
            print("%-50s %14s" % (label, "-"))
            continue
        n, calls = v
        print("%-50s %14s %9.2fM %11s" % (
            label, format(n, ","), n / ndomains / 1e6,
            "%.2fM x%d" % (n / calls / 1e6, calls) if calls else "-"))


if __name__ == "__main__":
    main()
