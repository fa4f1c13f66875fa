"""The engine's etcd client (mod_sacme/lib/sacme_etcd.c, issue 15) against a
real 3-member etcd cluster (Debian's etcd-server, sacmetest.etcd), through
test/tools/sacme-etcd-probe, which runs the client from the command line.

What a cluster of httpd nodes will rely on: what one client writes another
reads; exactly one of two campaigning nodes holds the leader key, and the
other takes it over once the winner resigns or dies (its lease lapses); a
watch sees another client's changes and is told when its history is
compacted away; a stopped etcd member is passed over; TLS to etcd is
verified; plain http goes to loopback only.

The probe prints one JSON object per line; the fixture's own client (urllib
to the same JSON gateway) is the independent witness."""

import json
import os
import select
import signal
import subprocess
import time

import pytest

from sacmetest import sacmectl
from sacmetest.etcd import EtcdCluster
from sacmetest.pebble import make_api_certs

PROBE_TIMEOUT = 60


def probe_binary():
    return os.path.join(sacmectl.build_dir(), "test", "tools", "sacme-etcd-probe")


def probe_argv(endpoints, *args, ca=None, cert=None):
    argv = [probe_binary(), "-e", ",".join(endpoints)]
    if ca:
        argv += ["-c", ca]
    if cert:
        argv += ["-C", cert[0], "-K", cert[1]]
    return argv + [str(a) for a in args]


def probe(endpoints, *args, ca=None, cert=None, ok=True):
    """Runs the probe to its end: (exit status, [JSON lines], stderr)."""
    r = subprocess.run(probe_argv(endpoints, *args, ca=ca, cert=cert), capture_output=True,
                       text=True, timeout=PROBE_TIMEOUT)
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    if ok:
        assert r.returncode == 0, "probe %s failed: %s %s" % (args, r.stdout, r.stderr)
    return r.returncode, lines, r.stderr


class Running:
    """A probe running in the background, read line by line."""

    def __init__(self, endpoints, *args, ca=None):
        self.proc = subprocess.Popen(probe_argv(endpoints, *args, ca=ca),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        self.lines = []

    def line(self, timeout=30):
        """The next JSON line; fails the test after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, "no line from the probe within %s s (so far %s)" % (
                timeout, self.lines)
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                text = self.proc.stdout.readline()
                assert text, "the probe ended: %s %s" % (self.lines, self.proc.stderr.read())
                self.lines.append(json.loads(text))
                return self.lines[-1]

    def signal(self, sig):
        os.killpg(self.proc.pid, sig)

    def wait(self, timeout=30):
        rc = self.proc.wait(timeout=timeout)
        self.lines += [json.loads(t) for t in self.proc.stdout.read().splitlines() if t.strip()]
        return rc

    def close(self):
        if self.proc.poll() is None:
            self.signal(signal.SIGKILL)
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture(scope="module")
def etcd():
    assert os.access(probe_binary(), os.X_OK), \
        "sacme-etcd-probe is not built at %s (make; set SACME_BUILD_DIR)" % probe_binary()
    c = EtcdCluster(3)
    c.start()
    yield c
    c.stop()


@pytest.fixture
def cluster(etcd):
    """The module's cluster, every member running again after the test."""
    yield etcd
    etcd.start_all()


def test_put_get_range_delete(cluster):
    eps = cluster.endpoints
    _, out, _ = probe(eps, "put", "/sacme/t1/a", "alpha")
    assert cluster.get("/sacme/t1/a")[0] == b"alpha"
    assert cluster.get("/sacme/t1/a")[1] == out[0]["revision"]
    cluster.put("/sacme/t1/b", "beta")
    cluster.put("/sacme/t10", "not under the prefix")
    _, out, _ = probe(eps, "get", "/sacme/t1/b")
    assert out[0]["kv"]["value"] == "beta"
    _, out, _ = probe(eps, "get", "/sacme/t1/none")
    assert out[0]["kv"] is None
    # more keys than one page of the client's range (32)
    for i in range(40):
        cluster.put("/sacme/t1/many/%02d" % i, "v%d" % i)
    _, out, _ = probe(eps, "range", "/sacme/t1/")
    keys = [kv["key"] for kv in out[0]["kvs"]]
    assert keys == ["/sacme/t1/a", "/sacme/t1/b"] + ["/sacme/t1/many/%02d" % i for i in range(40)]
    assert out[0]["kvs"][5]["value"] == "v3"
    _, out, _ = probe(eps, "delete", "/sacme/t1/a")
    assert out[0]["deleted"] == 1
    assert cluster.get("/sacme/t1/a") is None
    _, out, _ = probe(eps, "delete-prefix", "/sacme/t1/")
    assert out[0]["deleted"] == 41
    assert cluster.range("/sacme/t1/")[0] == {}
    assert cluster.get("/sacme/t10")[0] == b"not under the prefix"


def test_transactions(cluster):
    eps = cluster.endpoints
    _, out, _ = probe(eps, "put-if-absent", "/sacme/t2/k", "first")
    assert out[0]["done"] is True
    _, out, _ = probe(eps, "put-if-absent", "/sacme/t2/k", "second")
    assert out[0]["done"] is False and out[0]["current"]["value"] == "first"
    assert cluster.get("/sacme/t2/k")[0] == b"first"
    rev = cluster.get("/sacme/t2/k")[1]
    _, out, _ = probe(eps, "put-if-mod", "/sacme/t2/k", "stale", rev - 1)
    assert out[0]["done"] is False
    _, out, _ = probe(eps, "put-if-mod", "/sacme/t2/k", "third", rev)
    assert out[0]["done"] is True
    assert cluster.get("/sacme/t2/k")[0] == b"third"


def test_leases(cluster):
    eps = cluster.endpoints
    _, out, _ = probe(eps, "grant", 30)
    lease = out[0]["id"]
    assert out[0]["ttl"] == 30
    probe(eps, "put", "/sacme/t3/member", "node1", lease)
    assert cluster.get("/sacme/t3/member")[2] == lease
    _, out, _ = probe(eps, "keepalive", lease)
    assert 0 < out[0]["ttl"] <= 30
    probe(eps, "revoke", lease)
    # the key went with its lease; renewing it now says so
    assert cluster.get("/sacme/t3/member") is None
    rc, out, _ = probe(eps, "keepalive", lease, ok=False)
    assert rc == 1 and "has expired or was revoked" in out[0]["error"]
    probe(eps, "revoke", lease)         # gone already: no error
    rc, out, _ = probe(eps, "put", "/sacme/t3/member", "node1", lease, ok=False)
    assert rc == 1 and "lease not found" in out[0]["error"]


def test_leader_election(cluster):
    eps = cluster.endpoints
    key = "/sacme/t4/leader"
    a = Running(eps, "campaign", key, "node-a", 2, 0, 120)
    others = []
    try:
        assert a.line() == {"won": True, "lease": a.lines[0]["lease"], "holder": "node-a"}
        value, _, lease = cluster.get(key)
        assert value == b"node-a" and lease == a.lines[0]["lease"]
        # a second candidate loses, and learns who holds it
        _, out, _ = probe(eps, "campaign", key, "node-b", 2, 0, 0)
        assert out[0]["won"] is False and out[0]["holder"] == "node-a"
        # it tries for a while; the leader resigns (revokes its lease)
        # (a lease of 3 s, renewed every second: once node-b is killed its
        # key stays for 2 s at least)
        b = Running(eps, "campaign", key, "node-b", 3, 60, 120)
        others.append(b)
        time.sleep(1)
        assert b.lines == []
        a.signal(signal.SIGTERM)
        assert a.wait() == 0 and a.lines[-1] == {"resigned": True}
        assert b.line()["won"] is True
        assert cluster.get(key)[0] == b"node-b"
        # the new leader dies without resigning: its lease lapses
        c = Running(eps, "campaign", key, "node-c", 2, 60, 120)
        others.append(c)
        b.signal(signal.SIGKILL)
        b.wait()
        start = time.monotonic()
        assert c.line(timeout=30)["won"] is True
        assert time.monotonic() - start >= 1.0, "won before node-b's lease could lapse"
        assert cluster.get(key)[0] == b"node-c"
    finally:
        for p in [a] + others:
            p.close()


def test_election_race_has_one_winner(cluster):
    eps = cluster.endpoints
    key = "/sacme/t4/race"
    # started together, each tries once; the winner holds on
    runs = [Running(eps, "campaign", key, "node-%d" % i, 10, 0, 60) for i in range(5)]
    try:
        first = [r.line() for r in runs]
        winners = ["node-%d" % i for i, line in enumerate(first) if line["won"]]
        assert len(winners) == 1, first
        assert all(line["holder"] == winners[0] for line in first)
        assert cluster.get(key)[0] == winners[0].encode()
    finally:
        for r in runs:
            r.close()


def test_watch_sees_another_clients_changes(cluster):
    eps = cluster.endpoints
    w = Running(eps, "watch", "/sacme/t5/", 0, 3, 60)
    try:
        assert w.line() == {"ready": True}
        cluster.put("/sacme/t5/x", "1")
        cluster.put("/sacme/t50", "not under the prefix")
        cluster.put("/sacme/t5/y", "2")
        cluster.delete("/sacme/t5/x")
        assert w.wait() == 0
        events = w.lines[1:-1]
        assert [(e["type"], e["key"], e["value"]) for e in events] == [
            ("put", "/sacme/t5/x", "1"), ("put", "/sacme/t5/y", "2"), ("delete", "/sacme/t5/x", "")]
        assert w.lines[-1]["next"] == events[-1]["mod_revision"] + 1
    finally:
        w.close()
    # from a revision in the past: the same history again
    _, out, _ = probe(eps, "watch", "/sacme/t5/", events[0]["mod_revision"], 3, 30)
    assert [e["key"] for e in out[1:-1]] == ["/sacme/t5/x", "/sacme/t5/y", "/sacme/t5/x"]


def test_watch_from_compacted_revision(cluster):
    eps = cluster.endpoints
    first = cluster.put("/sacme/t6/a", "1")
    last = cluster.put("/sacme/t6/a", "2")
    cluster.compact(last)
    rc, out, _ = probe(eps, "watch", "/sacme/t6/", first, 1, 30, ok=False)
    assert rc == 1 and out[-1]["compacted"] is True
    assert "compacted away" in out[-1]["error"]
    # what a caller then does: read again, watch from after that read
    _, out, _ = probe(eps, "range", "/sacme/t6/")
    assert out[0]["kvs"][0]["value"] == "2"
    w = Running(eps, "watch", "/sacme/t6/", out[0]["revision"] + 1, 1, 60)
    try:
        cluster.put("/sacme/t6/a", "3")
        assert w.wait() == 0
        assert [e.get("value") for e in w.lines if "key" in e] == ["3"]
    finally:
        w.close()


def test_failover_past_stopped_member(cluster):
    eps = cluster.endpoints
    cluster.stop_member(0)
    _, out, err = probe(eps, "put", "/sacme/t7/k", "v")
    assert cluster.get("/sacme/t7/k")[0] == b"v"
    assert "SACME10540: etcd member %s failed /v3/kv/put" % eps[0] in err
    assert "using %s now" % eps[1] in err
    _, out, _ = probe(eps, "get", "/sacme/t7/k")
    assert out[0]["kv"]["value"] == "v"


def test_watch_survives_member_loss(cluster):
    eps = cluster.endpoints
    w = Running(eps, "watch", "/sacme/t8/", 0, 2, 60)
    try:
        assert w.line() == {"ready": True}
        cluster.put("/sacme/t8/before", "1")
        assert w.line().get("key") == "/sacme/t8/before"
        # the member the watch streams from goes away
        cluster.stop_member(0)
        cluster.put("/sacme/t8/after", "2")
        assert w.line().get("key") == "/sacme/t8/after"
        assert w.wait() == 0
    finally:
        w.close()


def test_no_member_answers(cluster):
    eps = cluster.endpoints
    cluster.stop_all()
    rc, out, _ = probe(eps, "get", "/sacme/t9/k", ok=False)
    assert rc == 1
    assert "no etcd member answered /v3/kv/range" in out[0]["error"]
    for ep in eps:
        assert ep in out[0]["error"]
    cluster.start_all()
    probe(eps, "put", "/sacme/t9/k", "back")
    assert cluster.get("/sacme/t9/k")[0] == b"back"


def test_plain_http_only_to_loopback(cluster):
    rc, out, _ = probe(["http://192.0.2.1:2379"], "get", "/k", ok=False)
    assert rc == 1 and "must use https" in out[0]["error"]
    assert "http://192.0.2.1:2379" in out[0]["error"]


def test_tls_verified(tmp_path):
    with EtcdCluster(1, tls=True) as c:
        eps = c.endpoints
        assert eps[0].startswith("https://")
        _, out, _ = probe(eps, "put", "/sacme/tls/k", "v", ca=c.ca_file)
        assert c.get("/sacme/tls/k")[0] == b"v"
        # a CA that did not issue the members' certificates
        wrong_ca, _, _ = make_api_certs(str(tmp_path))
        rc, out, _ = probe(eps, "get", "/sacme/tls/k", ca=wrong_ca, ok=False)
        assert rc == 1 and "not issued by a trusted CA" in out[0]["error"]
        # no CA: the system's, which does not know the test CA either
        rc, out, _ = probe(eps, "get", "/sacme/tls/k", ok=False)
        assert rc == 1 and "not issued by a trusted CA" in out[0]["error"]
        # plain http to a TLS member does not get an answer
        rc, out, _ = probe([eps[0].replace("https:", "http:")], "get", "/sacme/tls/k",
                           ok=False)
        assert rc == 1


def test_tls_client_certificate(tmp_path):
    with EtcdCluster(1, client_auth=True) as c:
        eps = c.endpoints
        cert = (c.client_cert_file, c.client_key_file)
        probe(eps, "put", "/sacme/mtls/k", "v", ca=c.ca_file, cert=cert)
        assert c.get("/sacme/mtls/k")[0] == b"v"
        # without one the member refuses the connection
        rc, out, _ = probe(eps, "get", "/sacme/mtls/k", ca=c.ca_file, ok=False)
        assert rc == 1 and eps[0] in out[0]["error"]
        # a missing key file is named before any connection is tried
        rc, out, _ = probe(eps, "get", "/sacme/mtls/k", ca=c.ca_file,
                           cert=(cert[0], str(tmp_path / "missing-key.pem")), ok=False)
        assert rc == 1 and "client key file" in out[0]["error"]
        assert "missing-key.pem" in out[0]["error"]


def test_quiet_watch_ends_at_its_time(cluster):
    eps = cluster.endpoints
    rev = cluster.put("/sacme/t11/x", "1")
    start = time.monotonic()
    _, out, _ = probe(eps, "watch", "/sacme/t11/", 0, 0, 2)
    elapsed = time.monotonic() - start
    # no change: it ran its two seconds and says where to go on from
    assert out[0] == {"ready": True} and out[-1]["seen"] == 0
    assert out[-1]["next"] > rev
    assert 1.9 <= elapsed < 30
    cluster.put("/sacme/t11/x", "2")
    _, out, _ = probe(eps, "watch", "/sacme/t11/", out[-1]["next"], 1, 30)
    assert [e["value"] for e in out if "key" in e] == ["2"]


def test_member_without_quorum_is_left(cluster):
    """A member cut off from the majority has no leader: it must not answer
    from its frozen copy, nor keep a watch open that can never see another
    change. The client asks for a member with a leader (gRPC metadata
    hasleader through the gateway), so such a member refuses at once."""
    eps = cluster.endpoints
    w = Running([eps[0]], "watch", "/sacme/t12/", 0, 0, 120)
    try:
        assert w.line() == {"ready": True}
        cluster.stop_member(1)
        cluster.stop_member(2)
        start = time.monotonic()
        assert w.wait(timeout=60) == 1
        assert time.monotonic() - start < 60
        assert "no leader" in w.lines[-1]["error"]
    finally:
        w.close()
    rc, out, _ = probe([eps[0]], "get", "/sacme/t12/k", ok=False)
    assert rc == 1 and "no leader" in out[0]["error"]
