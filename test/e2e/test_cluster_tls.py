"""A cluster over etcd the way it is deployed (issue 15): https to every
member, the members requiring a client certificate, and the CA file, the
client certificate and its key in a directory only root can enter. The
driver reads them before it gives up root: the nodes join, one leads, and
every node serves the same certificate."""

import os
import stat

import pytest

from sacmetest.etcd import EtcdCluster
from sacmetest.module import names_for
from test_cluster_activation import key_file


@pytest.fixture(scope="module")
def etcd_tls():
    e = EtcdCluster(3, client_auth=True)
    e.start()
    yield e
    e.stop()


def test_cluster_over_etcd_with_tls_and_client_certificates(make_cluster, etcd_tls):
    e = etcd_tls
    # the files are root's, in a directory no one else may enter
    assert stat.S_IMODE(os.stat(os.path.dirname(e.client_key_file)).st_mode) & 0o077 == 0
    assert all(u.startswith("https://") for u in e.endpoints)
    key = key_file()

    def lines(c, node):
        return c.default_sacme(node) + [
            "SacmeCluster etcd " + " ".join(e.endpoints),
            "SacmeClusterName tls",
            "SacmeClusterNode " + node.name,
            "SacmeClusterTLS %s %s %s" % (e.ca_file, e.client_cert_file, e.client_key_file),
            "SacmeClusterKey file:" + key,
            "SacmeClusterLease 6s",
        ]

    doms = [names_for("tls")]
    c = make_cluster(2, domains=doms, sacme=lines)
    serials = c.wait_same_serial([doms[0][0]])
    assert serials[doms[0][0]]
    leaders = [n.name for n in c.nodes if n.httpd.log_lines("SACME10601")]
    assert len(leaders) >= 1
    # the copy is in etcd, the certificate key in it sealed
    copy, _ = e.range("/sacme/tls/store/staging/%s/" % doms[0][0])
    key_value = copy["/sacme/tls/store/staging/%s/privkey.pem" % doms[0][0]]
    assert key_value.startswith(b"sacme-seal-1:"), key_value[:40]
    assert b"PRIVATE KEY" not in key_value
