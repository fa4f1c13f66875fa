"""Scenario (cluster) of test/bench/run: a cluster of three httpd nodes
coordinated through etcd (issue 15) against one httpd alone.

Not a test: nothing here asserts a timing.  Both runs use the same Pebble
(bench.new_pebble: EAB, real HTTP-01, NOSLEEP, AUTHZREUSE=0), the same
mod_sacme lines (bench.sacme_lines) with SacmeAutoRestart on, and the
harness's Cluster (sacmetest.cluster): the nodes behind one HAProxy on
Pebble's httpPort, so a validation request may reach any node.  The single
httpd is a Cluster of one node without any SacmeCluster line: the same
start-up path and the same HAProxy in front, only no etcd.

  all      seconds from starting the first node to every node serving
           every name with the certificate of the same serial (TLS
           handshakes, unverified, polled like Cluster.wait_same_serial
           but without its half-second pause)
  staged   seconds from the start to the last certificate staged (the last
           SACME10023 line of any node; in the cluster the leader's)
  restarts graceful restarts of each node (SIGUSR1 lines)

and the etcd traffic, from before the first node starts until every node
serves every certificate, summed over the three members:

  requests gRPC calls the members started (grpc_server_started_total from
           each member's /metrics): every request to the JSON gateway is
           one, a watch or lease keep-alive stream too
  events   messages the members sent on watch streams
  grpc     bytes of gRPC messages received and sent by the members
           (etcd_network_client_grpc_*_bytes_total): protobuf, no framing
  wire     bytes on the TCP connections between the nodes and the members
           (HTTP/1.1 with JSON, base64 keys and values), counted by a
           relay in this process that each node's SacmeCluster URL names

and the same counters at rest, over SACME_BENCH_CLUSTER_IDLE seconds
(default 30) after convergence.  A run that does not converge within
SACME_BENCH_CLUSTER_LIMIT seconds (default 300) reports how many names
every node served, when the last of them was, and the traffic until then;
its ServerRoots are kept.  SACME_BENCH_CLUSTER_DOMAINS (default 100) sets
the number of domains.
"""

import base64
import os
import re
import secrets
import socket
import sys
import tempfile
import threading
import time
import urllib.request

from sacmetest import ports
from sacmetest.cluster import Cluster
from sacmetest.etcd import EtcdCluster

NODES = 3
DOMAINS = int(os.environ.get("SACME_BENCH_CLUSTER_DOMAINS", "100"))
LIMIT = float(os.environ.get("SACME_BENCH_CLUSTER_LIMIT", "300"))
IDLE = float(os.environ.get("SACME_BENCH_CLUSTER_IDLE", "30"))
SETUP_WARNINGS = ("SACME10142", "SACME10110")


# --- etcd's own counters ------------------------------------------------------

def _metric_lines(url):
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            base, _, labels = name.partition("{")
            yield base, labels, float(value)


def _label(labels, key):
    marker = '%s="' % key
    i = labels.find(marker)
    if i < 0:
        return ""
    i += len(marker)
    return labels[i:labels.index('"', i)]


def etcd_counters(etcd):
    """etcd's client-side counters summed over every member:
    {"requests": {method: n}, "events": n, "grpc_in": bytes, "grpc_out": bytes}."""
    out = {"requests": {}, "events": 0, "grpc_in": 0, "grpc_out": 0}
    for url in etcd.endpoints:
        for base, labels, value in _metric_lines(url):
            if base == "grpc_server_started_total" and value:
                method = _label(labels, "grpc_method")
                out["requests"][method] = out["requests"].get(method, 0) + int(value)
            elif base == "grpc_server_msg_sent_total" and _label(labels, "grpc_method") == "Watch":
                out["events"] += int(value)
            elif base == "etcd_network_client_grpc_received_bytes_total":
                out["grpc_in"] += int(value)
            elif base == "etcd_network_client_grpc_sent_bytes_total":
                out["grpc_out"] += int(value)
    return out


def counters_diff(after, before):
    req = {m: n - before["requests"].get(m, 0) for m, n in after["requests"].items()}
    out = {k: after[k] - before[k] for k in after if k != "requests"}
    out["requests"] = {m: n for m, n in req.items() if n}
    return out


# --- bytes on the wire --------------------------------------------------------

class CountingRelay:
    """A TCP relay on loopback to one etcd member that counts the bytes in
    each direction and the connections.  Thread per direction: the watch
    streams stay open for the whole run."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.port = ports.free_port()
        self.up = self.down = self.connections = 0
        self._lock = threading.Lock()
        self._socks = []
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self.connections += 1
                self._socks += [client, server]
            threading.Thread(target=self._pump, args=(client, server, "up"), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, "down"),
                             daemon=True).start()

    def _pump(self, src, dst, direction):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                with self._lock:
                    setattr(self, direction, getattr(self, direction) + len(data))
        except OSError:
            pass
        # pass the end on, so the other side's keep-alive closes as well
        for s in (dst, src):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def counts(self):
        with self._lock:
            return {"wire_up": self.up, "wire_down": self.down,
                    "connections": self.connections}

    def close(self):
        self._listener.close()
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            try:
                s.close()
            except OSError:
                pass


def wire_counts(relays):
    out = {"wire_up": 0, "wire_down": 0, "connections": 0}
    for r in relays:
        for k, v in r.counts().items():
            out[k] += v
    return out


def traffic(etcd, relays):
    out = etcd_counters(etcd)
    out.update(wire_counts(relays))
    return out


# --- one run ------------------------------------------------------------------

def key_file(directory):
    """The cluster key: 32 random bytes, base64, one line, mode 0600."""
    path = os.path.join(directory, "cluster.key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    return path


def wait_converged(c, names, t0, served_serial, on_progress, limit=LIMIT):
    """Polls every node for every name until all serve a managed
    certificate, the same serial per name.  A (node, name) once served is
    not asked again until a final pass over all of them confirms.
    on_progress() is called after a round in which more were served.
    Returns {"all": seconds from t0 or None, "serials": {name: serial},
    "served": names served by every node, "last": seconds from t0 to the
    last round with progress}."""
    pending = {(nd, name) for nd in c.nodes for name in names}
    seen = {}
    out = {"all": None, "serials": {}, "served": 0, "last": None}
    deadline = t0 + limit
    while time.monotonic() < deadline:
        before = len(pending)
        for nd, name in sorted(pending, key=lambda p: (p[0].name, p[1])):
            serial = served_serial(nd.httpd.https_port, name)
            if serial is not None:
                seen[nd.name, name] = serial
                pending.discard((nd, name))
        if len(pending) < before:
            out["last"] = time.monotonic() - t0
            out["served"] = sum(1 for name in names
                                if all((nd, name) not in pending for nd in c.nodes))
            on_progress()
        if pending:
            time.sleep(0.02)
            continue
        t_all = time.monotonic() - t0
        # confirm: the same serial on every node, still served
        for nd in c.nodes:
            for name in names:
                serial = served_serial(nd.httpd.https_port, name)
                if serial is None or any(seen.get((o.name, name)) != serial for o in c.nodes):
                    seen[nd.name, name] = serial
                    pending.add((nd, name))
        if not pending:
            out["all"] = out["last"] = t_all
            out["serials"] = {name: seen[c.nodes[0].name, name] for name in names}
            return out
    return out


def _log_figures(c, wall0, log_time):
    out = {"restarts": {}, "concerns": [], "staged_sets": 0, "leaders": []}
    last_staged = None
    for nd in c.nodes:
        log = nd.httpd.log()
        out["restarts"][nd.name] = log.count("SIGUSR1 received")
        for line in log.splitlines():
            if "SACME10023" in line:
                out["staged_sets"] += 1
                last_staged = max(last_staged or 0, log_time(line) or 0) or None
            if "SACME10601" in line:
                out["leaders"].append((log_time(line) or 0, nd.name))
            if "sacme:error" in line or "sacme:warn" in line:
                out["concerns"].append("%s: %s" % (nd.name, line))
    out["staged"] = (last_staged - wall0) if last_staged else None
    out["leaders"] = ["%s after %.2f s" % (name, t - wall0) for t, name in sorted(out["leaders"])]
    return out


def run_one(pebble, doms, sacme_lines, served_serial, log_time, log_level, etcd=None):
    """One run: a single httpd (etcd None) or a cluster of NODES nodes
    through etcd; returns its figures."""
    n = NODES if etcd else 1
    keydir = tempfile.mkdtemp(prefix="sacme-bench-ckey-")
    key = key_file(keydir) if etcd else None
    relays = [CountingRelay(p) for p in etcd.client_ports] if etcd else []
    cname = "bench" + secrets.token_hex(3)

    def lines(c, nd):
        out = sacme_lines(c.pebble, nd.httpd, c.domains, auto_restart=True)
        if etcd:
            out += ["SacmeCluster etcd " + " ".join(r.url for r in relays),
                    "SacmeClusterName " + cname,
                    "SacmeClusterNode " + nd.name,
                    "SacmeClusterKey file:" + key]
        return out

    c = Cluster(n, domains=doms, pebble=pebble, sacme=lines, log_level=log_level)
    res = {"nodes": n, "domains": len(doms)}
    before = traffic(etcd, relays) if etcd else None
    try:
        t0 = time.monotonic()
        wall0 = time.time()
        c.start()
        progress = {}

        def on_progress():
            # the traffic until the last name served, for a run that does
            # not converge
            if etcd:
                progress["traffic"] = traffic(etcd, relays)
        conv = wait_converged(c, [d[0] for d in doms], t0, served_serial, on_progress)
        res.update({k: conv[k] for k in ("all", "served", "last")})
        if etcd:
            now = traffic(etcd, relays) if conv["all"] is not None else progress.get("traffic")
            res["traffic"] = counters_diff(now, before) if now else None
        res["certificates"] = len(set(conv["serials"].values()))
        res.update(_log_figures(c, wall0, log_time))
        # which node answered the CA's http-01 requests, and how (HAProxy's log)
        res["validations"] = {}
        for q in c.lb.requests("/.well-known/acme-challenge/"):
            seen = "%s %s" % (q.server, q.status)
            res["validations"][seen] = res["validations"].get(seen, 0) + 1
        if etcd and res["all"] is not None and IDLE > 0:
            rest0 = traffic(etcd, relays)
            time.sleep(IDLE)
            res["idle"] = counters_diff(traffic(etcd, relays), rest0)
            res["idle_seconds"] = IDLE
        if res["all"] is None:
            for nd in c.nodes:
                nd.httpd.keep_dir = True
            print("  (not converged after %d s; kept %s)"
                  % (LIMIT, " ".join(nd.httpd.root for nd in c.nodes)))
    finally:
        try:
            c.cleanup()
        except Exception as e:   # a bench keeps going; say what happened
            print("  (stopping the nodes: %s)" % e, file=sys.stderr)
        for r in relays:
            r.close()
        if key:
            os.unlink(key)
        os.rmdir(keydir)
    return res


# --- the scenario -------------------------------------------------------------

def _per(v, n):
    return "%10.1f" % (v / n) if n else "%10s" % "-"


def print_traffic(t, certs, idle=None, idle_s=None):
    req = sum(t["requests"].values())
    rows = [("requests (gRPC calls started)", req),
            ("watch events sent", t["events"]),
            ("gRPC bytes received by etcd", t["grpc_in"]),
            ("gRPC bytes sent by etcd", t["grpc_out"]),
            ("wire bytes to etcd (HTTP/JSON)", t["wire_up"]),
            ("wire bytes from etcd", t["wire_down"]),
            ("TCP connections to etcd", t["connections"])]
    print("%-34s %12s %10s %14s" % ("etcd traffic, start -> converged", "total",
                                     "per cert", "at rest, per s"))
    keys = [None, "events", "grpc_in", "grpc_out", "wire_up", "wire_down", "connections"]
    for (label, value), key in zip(rows, keys):
        rest = ""
        if idle is not None:
            iv = sum(idle["requests"].values()) if key is None else idle[key]
            rest = "%14.1f" % (iv / idle_s)
        print("%-34s %12d %s %s" % (label, value, _per(value, certs), rest))
    print("%-34s %s" % ("requests by method", ", ".join(
        "%s %d" % kv for kv in sorted(t["requests"].items(), key=lambda kv: -kv[1]))))
    if idle is not None:
        print("%-34s %s (over %d s)" % ("at rest, by method", ", ".join(
            "%s %d" % kv for kv in sorted(idle["requests"].items(), key=lambda kv: -kv[1])),
            idle_s))


def run_scenario(new_pebble, names, sacme_lines, served_serial, log_time, fmt, log_level):
    """Prints the (cluster) table; returns the raw figures."""
    print("== (cluster) %d domains of 1 name, SacmeAutoRestart on: start -> every node "
          "serves every name, the same serial ==" % DOMAINS)
    print("%-34s %5s %9s %9s %6s %-16s %7s" % ("configuration", "nodes", "staged", "all",
                                               "certs", "restarts", "warn+"))
    print("%-34s %5s %9s %9s %6s %-16s %7s" % ("", "", "(last)", "served", "staged",
                                               "(per node)", "lines"))
    results = []
    pebble = new_pebble()
    try:
        for label, clustered in (("one httpd, no cluster", False),
                                 ("cluster, etcd of 3 members", True)):
            etcd = EtcdCluster(3).start() if clustered else None
            try:
                r = run_one(pebble, names("cl" if clustered else "cs", DOMAINS, 1),
                            sacme_lines, served_serial, log_time, log_level, etcd)
            finally:
                if etcd:
                    etcd.stop()
            r["label"] = label
            results.append(r)
            all_s = fmt(r["all"], width=9) if r["all"] is not None else \
                " >%ds(%d/%d)" % (LIMIT, r["served"], r["domains"])
            print("%-34s %5d %s %s %6d %-16s %7d" % (
                label, r["nodes"], fmt(r["staged"], width=9), all_s,
                r["staged_sets"], ",".join(str(v) for v in r["restarts"].values()),
                len(r["concerns"])))
            if r["all"] is None:
                print("%-34s   (the last name served on every node after %s)"
                      % ("", fmt(r["last"])))
            sys.stdout.flush()
    finally:
        pebble.stop()
    single, clus = results
    print("%-34s %s" % ("cluster/single (all)", fmt(
        clus["all"] / single["all"] if clus["all"] and single["all"] else None, "x", 9)))
    print("%-34s %d: %s" % ("leaderships (SACME10601)", len(clus["leaders"]),
                             ", ".join(clus["leaders"]) or "none"))
    if clus.get("traffic"):
        print()
        if clus["all"] is None:
            print("(not converged: the traffic until the last name served on every node)")
        certs = clus["staged_sets"]
        print_traffic(clus["traffic"], certs, clus.get("idle"), clus.get("idle_seconds"))
    for r in results:
        print("%s: http-01 requests through HAProxy (node status: count): %s" % (
            r["label"], ", ".join("%s: %d" % kv for kv in sorted(r["validations"].items()))))
    for r in results:
        if not r["concerns"]:
            continue
        # the bench's own set-up warns about itself on every node (the
        # EAB key in the configuration, the store readable by the User):
        # counted, the other lines shown as they are
        tags = {}
        other = []
        for line in r["concerns"]:
            m = re.search(r"\b(SACME\d+):", line)
            tag = m.group(1) if m else "?"
            tags[tag] = tags.get(tag, 0) + 1
            if tag not in SETUP_WARNINGS:
                other.append(line)
        print()
        print("%s: mod_sacme warnings and errors: %s" % (r["label"], ", ".join(
            "%s %d" % kv for kv in sorted(tags.items()))))
        for line in other[:40]:
            print("  " + line[:600])
    return results
