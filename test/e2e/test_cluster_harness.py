"""The cluster tests' harness itself (sacmetest.haproxy, sacmetest.cluster),
before the cluster feature: HAProxy really spreads requests over the httpd
nodes and its log names the node that answered each one; a node killed
with SIGKILL stops answering and the others take its requests; and a
Pebble whose httpPort (tlsPort) is HAProxy's HTTP (TLS) frontend validates
http-01 (tls-alpn-01) through HAProxy, so a single node gets its
certificate that way.  The cluster tests (issue 15) build on exactly these
facts."""

import os

from sacmetest.cluster import NODE_FILE, OWN
from sacmetest.haproxy import ACME_TLS
from sacmetest.httpd import _alive
from sacmetest.module import ISSUE_LIMIT, assert_served_verified, names_for, root_file

CHALLENGE_PATH = "/.well-known/acme-challenge/"
NODE_PATH = "/" + NODE_FILE


def _get_nodes(c, count):
    """count GETs of the node file through HAProxy; the node names that
    answered, in order."""
    answered = []
    for _ in range(count):
        status, _, body = c.lb.http_get(NODE_PATH)
        assert status == 200, "GET %s through haproxy: %s %r" % (NODE_PATH, status, body)
        answered.append(body.decode().strip())
    return answered


def test_haproxy_round_robins_over_three_nodes(make_cluster):
    c = make_cluster(3, pebble=None)
    names = [nd.name for nd in c.nodes]
    assert names == ["node1", "node2", "node3"]
    answered = _get_nodes(c, 6)
    # round robin: every node answered, twice each
    assert sorted(answered) == sorted(names * 2), answered

    # the log names, for every request, the node whose answer the client got
    logged = c.lb.wait_requests(NODE_PATH, 6)
    assert [r.server for r in logged] == answered
    assert all(r.status == 200 and r.method == "GET" for r in logged), logged
    assert c.lb.backends_seen(NODE_PATH) == set(names)
    assert c.lb.backends_seen(CHALLENGE_PATH) == set()


def test_killed_node_is_passed_over_and_comes_back(make_cluster):
    c = make_cluster(3, pebble=None)
    victim = c.node("node2")
    parent = victim.httpd.parent_pid()
    killed = c.kill(victim)
    assert parent in killed and len(killed) > 1, "not the whole node was killed: %r" % killed
    assert not any(_alive(p) for p in killed)

    mark = c.lb.mark()
    answered = _get_nodes(c, 6)
    assert set(answered) == {"node1", "node3"}, answered
    c.lb.wait_requests(NODE_PATH, 6, since=mark)
    assert c.lb.backends_seen(NODE_PATH, since=mark) == {"node1", "node3"}

    # started again from the ServerRoot the kill left, it answers again
    c.start_node(victim)
    mark = c.lb.mark()
    answered = _get_nodes(c, 6)
    assert set(answered) == {"node1", "node2", "node3"}, answered


def test_one_node_gets_its_certificate_through_haproxy(make_cluster, tmp_path):
    names = names_for("lb-one")
    c = make_cluster(1, domains=[names], pebble=OWN)
    assert c.lb.port == c.pebble.http_port

    serials = c.wait_same_serial(names, limit=ISSUE_LIMIT)
    node = c.nodes[0]
    leaves = assert_served_verified(node.httpd, names, root_file(c.pebble, str(tmp_path)))
    assert {leaf.serial_number for leaf in leaves} == set(serials.values())
    assert c.pebble.cert_status("%x" % leaves[0].serial_number).get("Status") == "Valid"

    # Pebble validated every name over http-01, through HAProxy, answered
    # by the one node
    validations = c.lb.wait_requests(CHALLENGE_PATH, len(names))
    assert all(r.server == "node1" and r.status == 200 for r in validations), validations
    assert c.lb.backends_seen(CHALLENGE_PATH) == {"node1"}


def test_one_node_gets_its_certificate_over_tls_alpn_through_haproxy(make_cluster, tmp_path):
    names = names_for("lb-alpn")
    c = make_cluster(1, domains=[names], pebble=OWN, more=["SacmeChallenge tls-alpn-01"])
    assert c.lb.tls_port == c.pebble.tls_port

    serials = c.wait_same_serial(names, limit=ISSUE_LIMIT)
    leaves = assert_served_verified(c.nodes[0].httpd, names,
                                    root_file(c.pebble, str(tmp_path)))
    assert {leaf.serial_number for leaf in leaves} == set(serials.values())

    # Pebble's validation handshakes (ALPN acme-tls/1) for every name went
    # through HAProxy's TLS frontend to the node; nothing over http-01
    validations = c.lb.wait_tls_connections(ACME_TLS, len(names))
    assert {r.uri for r in validations} == set(names), validations
    assert c.lb.tls_backends_seen() == {"node1"}
    assert c.lb.requests(CHALLENGE_PATH) == []


def test_node_taken_out_of_rotation_or_stopped(make_cluster):
    c = make_cluster(2, pebble=None)
    assert c.lb.server_states() == {"node1": "no", "node2": "no"}   # "no check"
    c.lb.set_enabled("node1", False)
    assert c.lb.server_states()["node1"] == "MAINT"
    assert set(_get_nodes(c, 4)) == {"node2"}
    c.lb.set_enabled("node1", True)
    assert set(_get_nodes(c, 4)) == {"node1", "node2"}

    # a stopped node keeps its ServerRoot and serves again once started
    node2 = c.node("node2")
    marker = os.path.join(node2.httpd.root, "kept")
    open(marker, "w").close()
    c.stop_node(node2)
    assert not node2.running and os.path.exists(marker)
    assert set(_get_nodes(c, 4)) == {"node1"}
    c.start_node(node2)
    assert set(_get_nodes(c, 4)) == {"node1", "node2"}
