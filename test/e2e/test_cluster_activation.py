"""A cluster's certificates on each node (issue 15): the leader's copy in
etcd keeps the last set of each domain after every node put it into
service (a node that joins later takes it from there), so a node whose
driver starts again, as every driver does at each graceful restart, reads
that set again: it must not stage it once more, or every restart would
bring the next one."""

import base64
import os
import tempfile

import pytest

from sacmetest.etcd import EtcdCluster
from sacmetest.haproxy import ACME_TLS
from sacmetest.module import ISSUE_LIMIT, assert_served_verified, names_for, root_file

CHALLENGE_PATH = "/.well-known/acme-challenge/"

LEASE = "6s"


@pytest.fixture(scope="module")
def etcd():
    e = EtcdCluster(3)
    e.start()
    yield e
    e.stop()


def key_file():
    fd, path = tempfile.mkstemp(prefix="sacme-cluster-key-")
    os.write(fd, (base64.b64encode(os.urandom(32)).decode() + "\n").encode())
    os.close(fd)
    os.chmod(path, 0o600)
    return path


def cluster_lines(etcd, name, key):
    def lines(c, node):
        return c.default_sacme(node) + [
            "SacmeCluster etcd " + " ".join(etcd.endpoints),
            "SacmeClusterName " + name,
            "SacmeClusterNode " + node.name,
            "SacmeClusterKey file:" + key,
            "SacmeClusterLease " + LEASE,
        ]
    return lines


def test_a_set_in_service_is_not_staged_again(make_cluster, etcd):
    doms = [names_for("act")]
    name = doms[0][0]
    c = make_cluster(3, domains=doms, sacme=cluster_lines(etcd, "act", key_file()))
    serial = c.wait_same_serial([name])[name]
    # the copy still holds the set every node has in service
    copy, _ = etcd.range("/sacme/act/store/staging/%s/" % name)
    assert any(k.endswith("/fullchain.pem") for k in copy), sorted(copy)

    for node in c.nodes:
        h = node.httpd
        mark = h.mark()
        h.graceful()
        # the new driver took the whole copy...
        h.wait_log("SACME10607", since=mark, limit=60)
        # ...and staged nothing of it: nothing to activate, no restart for it
        assert not os.path.exists(h.store("staging", name, "fullchain.pem"))
        assert not os.path.exists(h.store("staging", name, "privkey.pem"))
        assert h.log_lines("SACME10608", since=mark) == []
        assert h.log_lines("SACME10232", since=mark) == []
        assert node.serial(name) == serial


def test_tls_alpn_answers_reach_every_node(make_cluster, etcd, tmp_path):
    """tls-alpn-01 in a cluster: the challenge certificate (and its key,
    sealed in etcd) reaches every node, whose mod_ssl presents it to the
    CA's acme-tls/1 handshake, wherever HAProxy sends it."""
    names = names_for("calpn")
    c = make_cluster(3, domains=[names], sacme=cluster_lines(etcd, "calpn", key_file()),
                     more=["SacmeChallenge tls-alpn-01"])
    serials = c.wait_same_serial(names, limit=ISSUE_LIMIT)
    leaves = assert_served_verified(c.nodes[1].httpd, names, root_file(c.pebble, str(tmp_path)))
    assert {leaf.serial_number for leaf in leaves} == set(serials.values())

    # every validation handshake was answered with the challenge
    # certificate (else the authorization fails and no certificate comes),
    # and they reached more than one node; nothing over http-01
    validations = c.lb.wait_tls_connections(ACME_TLS, len(names))
    assert {r.uri for r in validations} == set(names), validations
    assert len(c.lb.tls_backends_seen()) > 1, c.lb.tls_backends_seen()
    assert c.lb.requests(CHALLENGE_PATH) == []
    # the leader waited for every member's copy of each answer
    leader = [n for n in c.nodes if n.httpd.log_lines("SACME10610")]
    assert len(leader) == 1 and not any(n.httpd.log_lines("SACME10609") for n in c.nodes)
