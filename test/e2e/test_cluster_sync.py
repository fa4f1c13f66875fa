"""The cluster's copy of the store in a real etcd (sacme_cluster_sync): what
one node's store does reaches another node's store, a private key only
sealed, and a node with another cluster key takes nothing."""

import base64
import json
import os
import tempfile

from test_etcd_client import Running, cluster, etcd, probe  # noqa: F401 (fixtures)

DOMAIN = "sync.example.test"
TOKEN_KEPT = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
TOKEN_GONE = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"


def key_file(tmp):
    path = os.path.join(tmp, "cluster-%s.key" % os.urandom(4).hex())
    with open(path, "w") as f:
        f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    os.chmod(path, 0o600)
    return path


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_copy_reaches_another_store_sealed(cluster, tmp_path):
    eps = cluster.endpoints
    key = key_file(str(tmp_path))
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    _, out, _ = probe(eps, "sync-write", a, key, "/sacme/s1", DOMAIN)
    assert out == [{"unpushed": 0}], out

    # in etcd: the key sealed, the rest as the store keeps it
    copy, _ = cluster.range("/sacme/s1/store/")
    sealed = copy["/sacme/s1/store/staging/%s/privkey.pem" % DOMAIN]
    assert sealed.startswith(b"sacme-seal-1:") and b"PRIVATE KEY" not in sealed
    assert json.loads(copy["/sacme/s1/store/staging/%s/order.json" % DOMAIN]) == \
        {"url": "https://ca/order/1"}
    assert "/sacme/s1/store/challenges/%s/%s" % (DOMAIN, TOKEN_GONE) not in copy

    _, out, _ = probe(eps, "sync-pull", b, key, "/sacme/s1")
    assert out[0]["applied"] == 3, out
    for rel in ("staging/%s/privkey.pem" % DOMAIN, "staging/%s/order.json" % DOMAIN,
                "challenges/%s/%s" % (DOMAIN, TOKEN_KEPT)):
        assert read(os.path.join(b, rel)) == read(os.path.join(a, rel)), rel
    assert os.stat(os.path.join(b, "staging", DOMAIN, "privkey.pem")).st_mode & 0o777 == 0o600
    assert not os.path.exists(os.path.join(b, "challenges", DOMAIN, TOKEN_GONE))


def test_node_with_another_key_takes_nothing(cluster, tmp_path):
    eps = cluster.endpoints
    a, c = str(tmp_path / "a"), str(tmp_path / "c")
    probe(eps, "sync-write", a, key_file(str(tmp_path)), "/sacme/s2", DOMAIN)
    rc, out, _ = probe(eps, "sync-pull", c, key_file(str(tmp_path)), "/sacme/s2", ok=False)
    assert rc == 1 and "SacmeClusterKey" in out[0]["error"], out
    assert not os.path.exists(os.path.join(c, "staging", DOMAIN)), os.listdir(c)
    assert not os.path.exists(os.path.join(c, "challenges", DOMAIN))


def test_follower_sees_changes_as_they_come(cluster, tmp_path):
    eps = cluster.endpoints
    key = key_file(str(tmp_path))
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    _, out, _ = probe(eps, "sync-pull", b, key, "/sacme/s3")
    assert out[0]["applied"] == 0
    f = Running(eps, "sync-follow", b, key, "/sacme/s3", out[0]["revision"] + 1, 5)
    try:
        probe(eps, "sync-write", a, key, "/sacme/s3", DOMAIN)
        assert f.wait() == 0
        # key, order, two answers put and one withdrawn: five changes
        assert f.lines[-1]["applied"] == 5, f.lines
        assert read(os.path.join(b, "staging", DOMAIN, "privkey.pem")) == \
            read(os.path.join(a, "staging", DOMAIN, "privkey.pem"))
        assert os.path.exists(os.path.join(b, "challenges", DOMAIN, TOKEN_KEPT))
        assert not os.path.exists(os.path.join(b, "challenges", DOMAIN, TOKEN_GONE))
    finally:
        f.close()


def test_unsealed_private_key_in_etcd_is_refused(cluster, tmp_path):
    """Whoever can write to etcd without the cluster key cannot hand a node a
    private key of their choosing."""
    eps = cluster.endpoints
    key = key_file(str(tmp_path))
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    probe(eps, "sync-write", a, key, "/sacme/s4", DOMAIN)
    planted = read(os.path.join(a, "staging", DOMAIN, "privkey.pem")).decode()
    cluster.put("/sacme/s4/store/staging/%s/privkey.pem" % DOMAIN, planted)
    _, out, err = probe(eps, "sync-pull", b, key, "/sacme/s4")
    assert out[0]["applied"] == 2, out
    assert not os.path.exists(os.path.join(b, "staging", DOMAIN, "privkey.pem"))


def _write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def test_pull_removes_what_the_copy_no_longer_holds(cluster, tmp_path):
    """A node's driver restarts at every activation; a removal made in the
    copy meanwhile (an order finished, an answer withdrawn) is only seen
    when it reads the copy again, which must then remove the file: an
    order left behind was resumed again, its certificate refused for a
    key that had moved on. Accounts are kept, and so are requests; an
    empty copy (a new cluster) removes nothing."""
    eps = cluster.endpoints
    key = key_file(str(tmp_path))
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    probe(eps, "sync-write", a, key, "/sacme/s5", DOMAIN)
    probe(eps, "sync-pull", b, key, "/sacme/s5")
    finished = os.path.join(b, "staging", "done.example.test", "order.json")
    withdrawn = os.path.join(b, "challenges", DOMAIN, TOKEN_GONE)
    account = os.path.join(b, "accounts", "ca.example-0123456789abcdef", "account.json")
    request = os.path.join(b, "requests", "done.example.test.json")
    _write(finished, '{"url": "https://ca/order/finished"}')
    _write(withdrawn, TOKEN_GONE + ".thumbprint")
    _write(account, '{"url": "https://ca/acct/1"}', 0o600)
    _write(request, '{"action": "renew"}')

    _, out, _ = probe(eps, "sync-pull", b, key, "/sacme/s5")
    assert not os.path.exists(finished)
    assert not os.path.exists(withdrawn)
    assert os.path.exists(account) and os.path.exists(request)
    # what the copy holds is still there
    assert read(os.path.join(b, "staging", DOMAIN, "order.json")) == \
        read(os.path.join(a, "staging", DOMAIN, "order.json"))
    assert os.path.exists(os.path.join(b, "challenges", DOMAIN, TOKEN_KEPT))

    # an empty copy: nothing of the store goes
    _write(finished, '{"url": "https://ca/order/finished"}')
    _, out, _ = probe(eps, "sync-pull", b, key, "/sacme/s5-empty")
    assert out[0]["applied"] == 0, out
    assert os.path.exists(finished)
    assert os.path.exists(os.path.join(b, "staging", DOMAIN, "order.json"))
