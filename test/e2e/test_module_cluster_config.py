"""The cluster directives at `apache2 -t`: every mistake is refused naming
the directive, next to a good twin that passes."""

import base64
import os
import tempfile

import pytest

from test_module_config import _base, refused_output

URL = "http://127.0.0.1:2379"


def _key_file(mode=0o600, content=None):
    fd, path = tempfile.mkstemp(prefix="sacme-cluster-", suffix=".key")
    with os.fdopen(fd, "w") as f:
        f.write(content if content is not None
                else base64.b64encode(os.urandom(32)).decode() + "\n")
    os.chmod(path, mode)
    return path


def _cluster(more=(), key=True, url=URL):
    lines = ["SacmeCluster etcd %s" % url, "SacmeClusterNode node-1"]
    if key:
        lines.append("SacmeClusterKey file:%s" % (key if isinstance(key, str) else _key_file()))
    return _base(more=lines + list(more))


CASES = [
    ("not-etcd", ["SacmeCluster"],
     lambda: _base(more=["SacmeCluster zookeeper %s" % URL]), lambda: _cluster()),
    ("plain-http-not-loopback", ["SacmeCluster"],
     lambda: _cluster(url="http://192.0.2.10:2379"), lambda: _cluster()),
    ("no-key", ["SacmeClusterKey"],
     lambda: _cluster(key=False), lambda: _cluster()),
    ("key-readable-by-others", ["SacmeClusterKey"],
     lambda: _cluster(key=_key_file(0o644)), lambda: _cluster(key=_key_file(0o600))),
    ("key-not-32-bytes", ["SacmeClusterKey"],
     lambda: _cluster(key=_key_file(content=base64.b64encode(os.urandom(16)).decode())),
     lambda: _cluster()),
    ("key-without-file-prefix", ["SacmeClusterKey"],
     lambda: _base(more=["SacmeCluster etcd %s" % URL, "SacmeClusterNode n",
                         "SacmeClusterKey /etc/sacme.key"]),
     lambda: _cluster()),
    ("https-without-tls-ca", ["SacmeCluster", "SacmeClusterTLS"],
     lambda: _cluster(url="https://127.0.0.1:2379"),
     lambda: _cluster(url="https://127.0.0.1:2379",
                      more=["SacmeClusterTLS /etc/ssl/certs/ca-certificates.crt"])),
    ("name-without-cluster", ["SacmeClusterName"],
     lambda: _base(more=["SacmeClusterName web"]), lambda: _base()),
    ("bad-name", ["SacmeClusterName"],
     lambda: _cluster(more=["SacmeClusterName 'a/b'"]),
     lambda: _cluster(more=["SacmeClusterName web-1"])),
    ("lease-too-short", ["SacmeClusterLease"],
     lambda: _cluster(more=["SacmeClusterLease 1s"]),
     lambda: _cluster(more=["SacmeClusterLease 30s"])),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_cluster_mistake_fails_config_check(case):
    _, directives, bad, good = case
    out = refused_output(bad(), good())
    assert any(d in out for d in directives), \
        "the message does not name %s:\n%s" % (" or ".join(directives), out)
