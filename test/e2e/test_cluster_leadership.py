"""The cluster's leadership (sacme_cluster over the etcd client) against a
real 3-member etcd: one leader among the nodes; a leader killed is replaced
once its lease lapses; a leader cut off from etcd stops leading before
another node can take over; a clean stop hands over at once.

Each node is a sacme-etcd-probe running `node`: it prints a line whenever
whether it may lead changes, stamped with the machine's monotonic clock,
which two probes on one machine share; the order of two such stamps is what
the safety of the lease promises, not a timing claim."""

import signal
import time

from test_etcd_client import Running, cluster, etcd  # noqa: F401 (fixtures)

TTL = 3          # seconds: short, so a lapse is quick to see
RUN = 120        # a node's longest life here


def start_node(endpoints, prefix, name):
    n = Running(endpoints, "node", prefix, name, TTL, RUN)
    first = n.line()
    assert first["leading"] in (True, False), first
    return n


def wait_leading(n, want, timeout=30):
    while n.lines[-1].get("leading") is not want:
        n.line(timeout=timeout)
    return n.lines[-1]


def test_one_node_leads_the_others_follow(cluster):
    eps = cluster.endpoints
    nodes = []
    try:
        a = start_node(eps, "/sacme/l1", "node-a")
        nodes.append(a)
        wait_leading(a, True)
        for name in ("node-b", "node-c"):
            n = start_node(eps, "/sacme/l1", name)
            nodes.append(n)
            assert n.lines[0]["leading"] is False and n.lines[0]["leader"] == "node-a", \
                n.lines
        assert cluster.get("/sacme/l1/leader")[0] == b"node-a"
        members = sorted(cluster.range("/sacme/l1/members/")[0])
        assert members == ["/sacme/l1/members/node-%s" % c for c in "abc"], members
    finally:
        for n in nodes:
            n.close()


def test_killed_leader_is_replaced_after_its_lease(cluster):
    eps = cluster.endpoints
    a = b = None
    try:
        a = start_node(eps, "/sacme/l2", "node-a")
        wait_leading(a, True)
        b = start_node(eps, "/sacme/l2", "node-b")
        assert b.lines[0]["leading"] is False
        # Python's monotonic clock is the probes' (CLOCK_MONOTONIC)
        killed_at = time.monotonic() * 1000
        a.signal(signal.SIGKILL)
        a.wait()
        took = wait_leading(b, True)
        # not before the lease of the killed node could lapse at etcd
        assert took["mono-ms"] - killed_at >= 1000, (a.lines, b.lines)
        assert cluster.get("/sacme/l2/leader")[0] == b"node-b"
    finally:
        for n in (a, b):
            if n:
                n.close()


def test_leader_cut_off_stops_before_another_takes_over(cluster):
    """node-a reaches only member 0, node-b only members 1 and 2 (which keep
    the quorum): member 0 stops, node-a can no longer renew its lease and
    must stop leading before etcd lets the lease go and node-b wins."""
    eps = cluster.endpoints
    a = b = None
    try:
        a = start_node([eps[0]], "/sacme/l3", "node-a")
        wait_leading(a, True)
        b = start_node(eps[1:], "/sacme/l3", "node-b")
        assert b.lines[0]["leading"] is False
        cluster.stop_member(0)
        stopped = wait_leading(a, False)
        took = wait_leading(b, True)
        assert stopped["mono-ms"] < took["mono-ms"], (a.lines, b.lines)
        assert cluster.get("/sacme/l3/leader")[0] == b"node-b"
    finally:
        for n in (a, b):
            if n:
                n.close()


def test_clean_stop_hands_over_at_once(cluster):
    eps = cluster.endpoints
    a = b = None
    try:
        a = start_node(eps, "/sacme/l4", "node-a")
        wait_leading(a, True)
        b = start_node(eps, "/sacme/l4", "node-b")
        a.signal(signal.SIGTERM)
        assert a.wait() == 0 and a.lines[-1] == {"resigned": True}
        # well within the lease it would otherwise wait out
        took = wait_leading(b, True, timeout=TTL - 1)
        assert took["leader"] == "node-b"
    finally:
        for n in (a, b):
            if n:
                n.close()
