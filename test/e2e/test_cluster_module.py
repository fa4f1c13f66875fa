"""The cluster of httpd nodes end to end (issue 15): three real httpds with
mod_sacme, each with SacmeCluster over a real 3-member etcd, one shared
SacmeClusterKey, HAProxy round-robin in front as the address Pebble's VA
validates http-01 at, and a real Pebble (EAB required, real validation)
behind the quirk proxy, which counts what the CA was asked and can hold an
order in `processing`.

What a user of a cluster depends on, asserted here: one ACME account and one
order per name for the whole cluster, whichever node the CA's validation
reaches; every node serves the same certificate; a killed leader is
replaced and its order in progress completed, not ordered again; one etcd
member lost changes nothing; etcd down entirely leaves every node serving
(and restarting) from its local store, and the cluster converges when etcd
is back; a node with another cluster key refuses and overwrites nothing;
`sacmectl renew --force` on any node renews through the leader; the status
shows the cluster.

Every node's driver starts the same way, and every node must be in the
cluster before the CA is asked anything: HAProxy sends a validation to any
node, and a node that has not joined yet cannot have the answer.  So the
first newAccount request is held at the proxy until each node logged its
role (start_cluster), then passed on unchanged."""

import os
import re
import time

import pytest

from sacmetest import faults, sacmectl
from sacmetest.cluster import cluster_key_file, etcd_lines, key_id
from sacmetest.faults import new_orders, registrations
from sacmetest.module import (ORDERING, RESUMING, assert_served_verified, names_for,
                              order_url_in, root_file)
from sacmetest.quirkproxy import QuirkProxy
from test_module_status import STATUS_CONF, get_json, parse_prometheus, sample
from test_module_status import request as http_request

# log tags of the cluster driver
LEADS = "SACME10601"
FOLLOWS = "SACME10602"
UNREACHABLE = "SACME10603"
REACHABLE = "SACME10604"
LEADERSHIP_LOST = "SACME10605"
WRONG_KEY = "SACME10606"
PASSED_TO_LEADER = "SACME10611"

LEASE = "6s"
LIMIT = 180            # bounds of the waits (seconds), not timing claims
ISSUE_LIMIT = 300      # ten domains on three nodes on a 2-CPU machine
CHALLENGE_PATH = "/.well-known/acme-challenge/"
NEW_ACCOUNT = "/sign-me-up"        # Pebble's newAccount path


@pytest.fixture
def proxy():
    """A Pebble of the test's own (real http-01 validation, no rejected
    nonce: the proxy's counts are exact) behind a quirk proxy."""
    pebble = faults.exact_pebble()
    p = None
    try:
        p = QuirkProxy(pebble).start()
        yield p
    finally:
        if p:
            p.stop()
        pebble.stop()


class Env:
    """What a test's cluster is made of: the etcd, the CA (through the
    proxy), the shared key file and the cluster's name in etcd."""

    def __init__(self, etcd, proxy, make_cluster, tmp, tag):
        self.etcd = etcd
        self.proxy = proxy
        self.make_cluster = make_cluster
        self.tmp = tmp
        self.name = "%s-%s" % (tag, os.urandom(3).hex())
        self.prefix = "/sacme/%s/" % self.name
        self.key = cluster_key_file(tmp)
        self.keys = {}        # node name -> another key file

    def sacme(self, c, node):
        key = self.keys.get(node.name, self.key)
        return c.default_sacme(node) + etcd_lines(self.etcd, self.name, node, key, LEASE)

    def start_cluster(self, domains, n=3, **kw):
        """A started cluster of n nodes for domains whose CA is asked
        nothing before every node has joined (see the module's text)."""
        self.proxy.set(hold=(NEW_ACCOUNT, "request"))
        c = self.make_cluster(n, domains=domains, pebble=self.proxy.pebble,
                              directory_url=self.proxy.directory_url, sacme=self.sacme, **kw)
        roles = wait_roles(c.nodes)
        assert self.proxy.wait_held(LIMIT), "no node asked the CA for the account"
        self.proxy.release(deliver=True)
        return c, roles

    # -- what etcd holds --

    def leader_name(self):
        got = self.etcd.get(self.prefix + "leader")
        return got[0].decode() if got else None

    def store_copy(self):
        return self.etcd.range(self.prefix + "store/")[0]

    def members(self):
        keys = self.etcd.range(self.prefix + "members/")[0]
        return sorted(k[len(self.prefix + "members/"):] for k in keys)

    def wait_members(self, names):
        """Waits until the members in etcd are exactly names: a node whose
        driver exits to activate a certificate leaves (its lease revoked)
        and joins again with its next driver."""
        want = sorted(names)
        last = []

        def same():
            last[:] = self.members()
            return last == want
        try:
            wait_until(same, "the members %s in etcd" % want)
        except AssertionError as e:
            raise AssertionError("%s; last seen %s" % (e, last))


@pytest.fixture
def env(etcd3, proxy, make_cluster, tmp_path, request):
    tag = re.sub(r"[^a-z0-9]", "", request.node.name.replace("test_", ""))[:20]
    return Env(etcd3, proxy, make_cluster, str(tmp_path), tag)


# --- helpers ----------------------------------------------------------------------

def role_lines(node, since=0):
    return [l for l in node.httpd.log()[since:].splitlines() if LEADS in l or FOLLOWS in l]


def wait_until(cond, what, limit=LIMIT, interval=0.2):
    deadline = time.monotonic() + limit
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("timed out (%ss) waiting for %s" % (limit, what))
        time.sleep(interval)


def wait_roles(nodes, since=None, limit=LIMIT):
    """Waits until every node logged whether it leads or follows (since the
    given log marks); returns {node name: its first such line}."""
    since = since or {}

    def all_said():
        lines = {nd.name: role_lines(nd, since.get(nd.name, 0)) for nd in nodes}
        return lines if all(lines.values()) else None
    lines = wait_until(all_said, "every node to log %s or %s" % (LEADS, FOLLOWS), limit)
    return {name: ls[0] for name, ls in lines.items()}


def one_leader(roles):
    """The one node name whose role line says it leads; every other line
    says it follows that node."""
    leaders = [name for name, line in roles.items() if LEADS in line]
    assert len(leaders) == 1, "not exactly one leader: %r" % roles
    for name, line in roles.items():
        if name != leaders[0]:
            assert FOLLOWS in line and leaders[0] in line, \
                "%s does not follow %s: %s" % (name, leaders[0], line)
    return leaders[0]


def talked_to_the_ca(node, since=0):
    """The node's lines of an order made or resumed (since the mark)."""
    return [l for l in node.httpd.log()[since:].splitlines() if ORDERING in l or RESUMING in l]


def assert_ordered_only_while_leading(nodes):
    """Every line of a node ordering or resuming an order comes after that
    node's last word on its role said it leads: a follower never talks to
    the CA."""
    for nd in nodes:
        role = None
        for line in nd.httpd.log().splitlines():
            if LEADS in line:
                role = "leads"
            elif FOLLOWS in line or LEADERSHIP_LOST in line or WRONG_KEY in line:
                role = "not"
            elif (ORDERING in line or RESUMING in line) and role != "leads":
                raise AssertionError("%s ordered while not leading (last role: %s): %s"
                                     % (nd.name, role, line))


def all_names(domains):
    return [n for d in domains for n in d]


def marks(nodes):
    return {nd.name: nd.httpd.mark() for nd in nodes}


def renew_force(node, name):
    res = sacmectl.store_cmd(node.httpd, "renew", "--force", name)
    assert res.rc == sacmectl.EXIT_OK, res.describe()
    return res


def status_json(node):
    return get_json(node.httpd, "/sacme-status/")


# --- the tests --------------------------------------------------------------------

def test_ten_domains_issued_once_for_the_cluster(env, tmp_path):
    domains = [names_for("ten%d-%s" % (i, env.name)) for i in range(10)]
    c, roles = env.start_cluster(domains)
    leader = one_leader(roles)

    serials = c.wait_same_serial(all_names(domains), limit=ISSUE_LIMIT)
    root = root_file(env.proxy.pebble, str(tmp_path))
    for nd in c.nodes:
        for d in domains:
            leaf = assert_served_verified(nd.httpd, d, root)[0]
            assert leaf.serial_number == serials[d[0]], (nd.name, d[0])
    # one certificate per domain, ten in all
    assert len({serials[d[0]] for d in domains}) == len(domains), serials

    # the CA saw one cluster: one account (one EAB binding), one order a name
    assert registrations(env.proxy) == 1, \
        "%d accounts registered for one cluster" % registrations(env.proxy)
    for d in domains:
        for name in d:
            assert len(env.proxy.orders_for(name)) == 1, \
                "%s ordered %d times" % (name, len(env.proxy.orders_for(name)))
    assert new_orders(env.proxy) == len(domains), new_orders(env.proxy)

    # the CA's validations landed on several nodes, and every one passed
    seen = c.lb.backends_seen(CHALLENGE_PATH)
    assert len(seen) > 1, "every validation reached %s: no test of the mirroring" % seen
    validations = c.lb.requests(CHALLENGE_PATH)
    assert all(r.status == 200 for r in validations), \
        [r for r in validations if r.status != 200]

    # the first leader ordered; nobody ordered while following (a leader
    # may hand over when its driver exits to activate what it staged)
    assert talked_to_the_ca(c.node(leader)), "the first leader ordered nothing"
    assert_ordered_only_while_leading(c.nodes)
    env.wait_members(["node1", "node2", "node3"])


def test_killed_leader_is_replaced_and_the_same_order_completes(env):
    names = names_for("kill-%s" % env.name)
    # the CA keeps the order processing once it is finalized
    env.proxy.set(hold_processing_for={names[0]: 3600}, retry_after=1)
    c, roles = env.start_cluster([names])
    first = one_leader(roles)
    leader = c.node(first)

    order_key = env.prefix + "store/staging/%s/order.json" % names[0]

    def held_and_copied():
        if env.proxy.stats["hold_processing_for"] < 1:
            return None
        got = env.etcd.get(order_key)
        return order_url_in(got[0].decode()) if got else None
    order_url = wait_until(held_and_copied,
                           "the order finalized, held processing, and its URL in etcd")
    assert env.leader_name() == first
    assert env.proxy.orders_for(names[0]) == [order_url.split(env.proxy.host, 1)[1]]

    others = [nd for nd in c.nodes if nd is not leader]
    since = marks(others)
    c.kill(leader)

    # another node takes over once the killed node's lease ran out
    def took_over():
        took = [nd for nd in others if nd.httpd.log_lines(LEADS, since[nd.name])]
        return took
    took = wait_until(took_over, "another node to log %s" % LEADS)
    assert len(took) == 1, [nd.name for nd in took]
    new = took[0]
    assert env.leader_name() == new.name

    # the CA finishes the order: the new leader completes THE SAME order
    env.proxy.clear("hold_processing_for")
    serials = c.wait_same_serial(names, nodes=others, limit=LIMIT)
    resumed = new.httpd.log_lines(RESUMING, since[new.name])
    assert resumed and order_url_in(resumed[0]) == order_url, \
        "the new leader did not resume %s: %r" % (order_url, resumed)
    assert not new.httpd.log_lines(ORDERING, since[new.name]), "ordered anew"
    assert new_orders(env.proxy) == 1, "%d orders made" % new_orders(env.proxy)
    assert registrations(env.proxy) == 1, "a second account was registered"
    # one certificate came from the CA, and it is the one served
    assert set(env.proxy.issued.values()) == {serials[names[0]]}, env.proxy.issued


def test_one_etcd_member_lost_issuance_goes_on(env, tmp_path):
    env.etcd.stop_member(0)
    names = names_for("lost1-%s" % env.name)
    c, roles = env.start_cluster([names])
    one_leader(roles)
    serials = c.wait_same_serial(names, limit=LIMIT)
    root = root_file(env.proxy.pebble, str(tmp_path))
    for nd in c.nodes:
        assert_served_verified(nd.httpd, names, root)
    assert new_orders(env.proxy) == 1 and registrations(env.proxy) == 1
    assert env.proxy.issued and set(env.proxy.issued.values()) == {serials[names[0]]}
    env.wait_members(["node1", "node2", "node3"])


def test_etcd_down_nodes_keep_serving_and_converge(env):
    names = names_for("down-%s" % env.name)
    c, roles = env.start_cluster([names])
    one_leader(roles)
    first = c.wait_same_serial(names, limit=LIMIT)[names[0]]

    since = marks(c.nodes)
    env.etcd.stop_all()
    for nd in c.nodes:
        nd.httpd.wait_log(UNREACHABLE, since=since[nd.name], limit=LIMIT)
    for name in names:
        assert set(c.serials(name).values()) == {first}, c.serials(name)
    # and the cluster view says since when (sacmectl reads it from the
    # node's own store: it answers while etcd is away)
    for nd in c.nodes:
        def says_unreachable():
            res = sacmectl.store_cmd(nd.httpd, "list")
            view = (res.json or {}).get("cluster") or {}
            return view.get("unreachable_since") and view
        view = wait_until(says_unreachable, "%s's status to say etcd is out of reach" % nd.name)
        assert view["node"] == nd.name and view["name"] == env.name, view

    # a node restarts without etcd: the configuration check and a graceful
    # restart need only its local store, and it serves the same certificate
    node = c.nodes[0]
    check = node.httpd.check_config()
    assert check.returncode == 0, check.stdout + check.stderr
    restarted = node.httpd.mark()
    node.httpd.graceful()
    for name in names:
        assert node.serial(name) == first, name
    # its new driver finds etcd out of reach too, and says so
    node.httpd.wait_log(UNREACHABLE, since=restarted, limit=LIMIT)

    # etcd back: every node says so, and a renewal reaches every node
    env.etcd.start_all()
    for nd in c.nodes:
        nd.httpd.wait_log(REACHABLE, since=restarted if nd is node else since[nd.name],
                          limit=LIMIT)
    wait_until(env.leader_name, "a leader again after etcd came back")
    renew_force(c.nodes[1], names[0])
    second = c.wait_same_serial(names, exclude={first}, limit=LIMIT)[names[0]]
    assert second != first
    assert registrations(env.proxy) == 1


def test_wrong_cluster_key_refuses_and_overwrites_nothing(env):
    names = names_for("key-%s" % env.name)
    c, roles = env.start_cluster([names])
    one_leader(roles)
    serial = c.wait_same_serial(names, limit=LIMIT)[names[0]]
    cluster_nodes = list(c.nodes)
    wait_until(lambda: env.leader_name() is not None, "the leader key")
    env.wait_members(["node1", "node2", "node3"])
    # the leader's driver is done with the certificate in service once it
    # had its first look at it (ari.json): the copy stays as it is
    ari = env.prefix + "store/staging/%s/ari.json" % names[0]
    wait_until(lambda: ari in env.store_copy(), "the leader's first look at the certificate")

    copy_before = env.store_copy()
    assert copy_before, "the cluster's copy in etcd is empty"
    keyid_before = env.etcd.get(env.prefix + "keyid")
    assert keyid_before and key_id(env.key) in keyid_before[0].decode(), keyid_before
    orders_before = new_orders(env.proxy)

    # a fourth machine with another key file (outside HAProxy's rotation)
    env.keys["node4"] = cluster_key_file(env.tmp)
    node4 = c.add_node()
    line = node4.httpd.wait_log(WRONG_KEY, limit=LIMIT)
    assert key_id(env.keys["node4"]) in line and key_id(env.key) in line, line
    assert "SacmeClusterKey" in line, line

    # it takes nothing: no certificate of the cluster, no store of it
    for name in names:
        assert node4.serial(name) is None, "%s: node4 serves %x" % (name, node4.serial(name))
    assert not os.path.exists(node4.httpd.store("domains", names[0])), \
        os.listdir(node4.httpd.store("domains"))
    assert not os.path.exists(node4.httpd.store("staging", names[0]))
    # never leads, never joins, writes nothing, orders nothing
    assert not node4.httpd.log_lines(LEADS), node4.httpd.log_lines(LEADS)
    assert "node4" not in env.members(), env.members()
    assert env.etcd.get(env.prefix + "nodes/node4") is None
    assert env.store_copy() == copy_before, "the cluster's copy changed"
    assert env.etcd.get(env.prefix + "keyid")[0] == keyid_before[0]
    assert env.leader_name() in [nd.name for nd in cluster_nodes]
    assert new_orders(env.proxy) == orders_before and registrations(env.proxy) == 1
    # the cluster goes on serving its certificate
    for name in names:
        assert set(c.serials(name, cluster_nodes).values()) == {serial}


def test_renew_force_on_a_follower_renews_through_the_leader(env):
    names = names_for("fwd-%s" % env.name)
    c, roles = env.start_cluster([names])
    one_leader(roles)
    first = c.wait_same_serial(names, limit=LIMIT)[names[0]]
    leader = wait_until(env.leader_name, "the leader key")
    follower = next(nd for nd in c.nodes if nd.name != leader)

    since = marks(c.nodes)
    renew_force(follower, names[1])
    line = follower.httpd.wait_log(PASSED_TO_LEADER, since=since[follower.name], limit=LIMIT)
    assert names[0] in line, line

    second = c.wait_same_serial(names, exclude={first}, limit=LIMIT)[names[0]]
    assert second != first
    # the leader ordered; the follower never talked to the CA
    ordered = [nd.name for nd in c.nodes if talked_to_the_ca(nd, since[nd.name])]
    assert ordered and follower.name not in ordered, ordered
    assert_ordered_only_while_leading(c.nodes)
    assert len(env.proxy.orders_for(names[0])) == 2
    assert registrations(env.proxy) == 1


def test_renew_force_on_a_stopped_follower_is_passed_on_when_it_starts(env):
    """sacmectl writes its request into the store of a node whose httpd is
    stopped (or whose driver is between two runs, as after every
    activation); the node's next driver passes it to the leader."""
    names = names_for("fwdstop-%s" % env.name)
    c, roles = env.start_cluster([names])
    one_leader(roles)
    first = c.wait_same_serial(names, limit=LIMIT)[names[0]]
    leader = wait_until(env.leader_name, "the leader key")
    follower = next(nd for nd in c.nodes if nd.name != leader)

    c.stop_node(follower)
    renew_force(follower, names[0])
    mark = follower.httpd.mark()
    c.start_node(follower)
    line = follower.httpd.wait_log(PASSED_TO_LEADER, since=mark, limit=LIMIT)
    assert names[0] in line, line
    second = c.wait_same_serial(names, exclude={first}, limit=LIMIT)[names[0]]
    assert second != first
    assert_ordered_only_while_leading(c.nodes)


def test_status_shows_the_cluster(env):
    names = names_for("st-%s" % env.name)
    c, roles = env.start_cluster([names], extra=STATUS_CONF)
    one_leader(roles)
    serial = c.wait_same_serial(names, limit=LIMIT)[names[0]]
    every = sorted(nd.name for nd in c.nodes)

    def serial_of(view, node):
        text = ((view.get("nodes") or {}).get(node) or {}).get("serials", {}).get(names[0])
        return sacmectl.serial_int(text) if text else None

    # The nodes' status agree once the restarts that activated the
    # certificate are over and each node refreshed its view (every few
    # seconds): one leads, the others follow it, all three are members,
    # and each node is shown serving the certificate it serves.
    def agreed():
        got = {nd.name: status_json(nd).get("cluster") for nd in c.nodes}
        if not all(got.values()):
            return None
        leaders = {cl.get("leader") for cl in got.values()}
        if len(leaders) != 1 or None in leaders:
            return None
        leader = leaders.pop()
        for n, cl in got.items():
            if cl.get("role") != ("leader" if n == leader else "follower") \
                    or sorted(cl.get("members") or []) != every or not cl.get("last_sync") \
                    or any(serial_of(cl, m) != serial for m in every):
                return None
        return got
    try:
        got = wait_until(agreed, "the nodes' status to agree on one leader, three "
                         "members and the serial each serves", limit=LIMIT)
    except AssertionError as e:
        raise AssertionError("%s; last seen: %r" % (
            e, {nd.name: status_json(nd).get("cluster") for nd in c.nodes}))
    leader = next(n for n, cl in got.items() if cl["role"] == "leader")
    assert leader == env.leader_name()
    for name, cl in got.items():
        assert cl["name"] == env.name, cl
        assert cl["node"] == name, cl
        assert cl["unreachable_since"] is None, cl

    follower = next(nd for nd in c.nodes if nd.name != leader)
    status, _, body = http_request(follower.httpd, "GET", "/server-status?auto")
    assert status == 200
    auto = body.decode().splitlines()
    for line in ("SacmeClusterName: %s" % env.name, "SacmeClusterNode: %s" % follower.name,
                 "SacmeClusterRole: follower", "SacmeClusterLeader: %s" % leader):
        assert line in auto, "%r not in:\n%s" % (line, "\n".join(auto))
    # sacmectl on a node: the cluster view, and each node's serial in service
    res = sacmectl.store_cmd(follower.httpd, "list", json_output=False)
    assert res.rc == sacmectl.EXIT_OK, res.describe()
    assert "this node (%s) is follower; leader: %s" % (follower.name, leader) in res.stdout, \
        res.describe()
    res = sacmectl.store_cmd(follower.httpd, "show", names[0], json_output=False)
    assert res.rc == sacmectl.EXIT_OK, res.describe()
    shown = {parts[0]: parts[1] for parts in (l.split() for l in res.stdout.splitlines())
             if len(parts) >= 2 and parts[0] in every}
    assert sorted(shown) == every and \
        all(sacmectl.serial_int(v) == serial for v in shown.values()), res.describe()

    # Prometheus: a monitoring system sees who leads and how many members
    for nd in c.nodes:
        status, _, body = http_request(nd.httpd, "GET", "/sacme-status/?format=prometheus")
        assert status == 200
        samples = parse_prometheus(body.decode())
        labels = {"cluster": env.name, "node": nd.name}
        assert sample(samples, "sacme_cluster_leader", leader=leader, **labels) == \
            (1 if nd.name == leader else 0), nd.name
        assert sample(samples, "sacme_cluster_members", **labels) == 3, nd.name
        assert sample(samples, "sacme_cluster_unreachable_since_timestamp_seconds",
                      **labels) == 0, nd.name

    status, _, body = http_request(c.node(leader).httpd, "GET", "/server-status")
    assert status == 200
    assert "this node (%s) is leader; leader: %s;" % (leader, leader) in body.decode(), \
        body.decode()[-2000:]
