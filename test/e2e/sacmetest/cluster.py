"""A cluster of httpd nodes behind one HAProxy, for the cluster tests
(issue 15): N real httpds (sacmetest.httpd.Httpd, each its own ServerRoot,
HTTP and HTTPS ports, the same managed names), Debian's HAProxy
round-robin over their plain-HTTP ports (sacmetest.haproxy), and the
HAProxy frontend on the port Pebble's VA connects to for http-01 (its
httpPort), so a validation request may land on any node.  HAProxy's TLS
frontend, passing connections through to the nodes' HTTPS ports, is on
Pebble's tlsPort: the same for tls-alpn-01.

    c = Cluster(3, domains=[names_for("a"), ...], pebble=pebble,
                sacme=lambda c, node: c.default_sacme(node) + ["SacmeCluster ..."],
                track=httpds.add).start()
    c.kill(c.nodes[0]); c.start_node(c.nodes[0])
    c.wait_same_serial(["a.test", ...])    -> {name: serial}
    c.lb.backends_seen("/.well-known/acme-challenge/")
    c.add_node()       a node more, outside HAProxy's rotation
    c.cleanup()

pebble: a started Pebble (its httpPort becomes the frontend's port, so a
test may pass a Pebble it also uses otherwise; the cluster does not stop
it), OWN (the default: a Pebble of the cluster's own, faults.exact_pebble,
stopped at cleanup), or None (no CA: the nodes get only what `sacme`
returns, by default nothing).

With etcd (sacmetest.etcd.EtcdCluster), etcd_lines() gives a node's
cluster directives (SacmeCluster etcd ..., SacmeClusterName,
SacmeClusterNode, SacmeClusterKey, SacmeClusterLease), and
cluster_key_file() writes a key file as SacmeClusterKey wants it:

    key = cluster_key_file(str(tmp_path))
    sacme=lambda c, node: c.default_sacme(node) + etcd_lines(etcd, "web", node, key)

sacme(cluster, node) -> the node's Sacme* lines.  The default,
Cluster.default_sacme, gives every node the same lines (module.sacme_lines
for the cluster's domains, with the CA file and SacmeTrustedRoots in the
node's ServerRoot); a test adds the cluster directives by wrapping it.
"""

import base64
import hashlib
import hmac
import os
import signal
import ssl
import time

from . import faults
from .haproxy import HAProxy
from .httpd import Httpd, Vhost, _alive
from .module import pebble_defaults, sacme_lines

OWN = "own"
NODE_FILE = "node.txt"      # in each node's DocumentRoot: its name
KEY_ID_LABEL = b"sacme key id"   # what a cluster key's id is the HMAC of


def cluster_key_file(directory, name=None):
    """A new SacmeClusterKey file in directory: 32 random bytes in base64 on
    one line (what `openssl rand -base64 32` writes), root's, mode 0600.
    Returns its path."""
    path = os.path.join(directory, name or "cluster-%s.key" % os.urandom(4).hex())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    os.chmod(path, 0o600)
    return path


def key_id(path):
    """The id of the cluster key in path as mod_sacme names it (sacme_seal:
    the first 8 bytes of HMAC-SHA256 under the key of "sacme key id", in
    hex), computed here independently."""
    with open(path) as f:
        key = base64.b64decode(f.read().strip())
    return hmac.new(key, KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def etcd_lines(etcd, name, node, key_file, lease="6s", more=()):
    """The cluster directives of node (a Node, or a node name) in the
    cluster `name` over the members of etcd (an EtcdCluster; its plain-http
    loopback URLs, or https with its CA through SacmeClusterTLS)."""
    node_name = node if isinstance(node, str) else node.name
    lines = ["SacmeCluster etcd %s" % " ".join(etcd.endpoints),
             "SacmeClusterName %s" % name,
             "SacmeClusterNode %s" % node_name,
             "SacmeClusterKey file:%s" % key_file]
    if lease:
        lines.append("SacmeClusterLease %s" % lease)
    if etcd.tls:
        tls = "SacmeClusterTLS %s" % etcd.ca_file
        if etcd.client_auth:
            tls += " %s %s" % (etcd.client_cert_file, etcd.client_key_file)
        lines.append(tls)
    return lines + list(more)


class Node:
    """One httpd of the cluster.  name: node1, node2, ... (also its server
    name in HAProxy); httpd: its Httpd."""

    def __init__(self, index, httpd):
        self.index = index
        self.name = "node%d" % (index + 1)
        self.httpd = httpd
        with open(os.path.join(httpd.htdocs, NODE_FILE), "w") as f:
            f.write(self.name + "\n")

    @property
    def running(self):
        return self.httpd.started

    def serial(self, sni):
        """The serial of the certificate served for sni (unverified TLS), or
        None if the node serves its fallback or does not answer."""
        try:
            r = self.httpd.tls_get(sni)
        except (OSError, ssl.SSLError):
            return None
        return None if r.is_fallback else r.serial

    def __repr__(self):
        return "Node(%s, http %d, https %d)" % (self.name, self.httpd.port,
                                               self.httpd.https_port)


def _pgid(pid):
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _exists(pid):
    """pid is still in the process table (alive or a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _group_members(pgid):
    """The pids of the live processes in process group pgid."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _pgid(int(entry)) == pgid:
            out.append(int(entry))
    return out


class Cluster:
    """n httpd nodes behind one HAProxy, with or without a Pebble (see the
    module's text).  Without a Pebble and without domains the nodes serve
    plain HTTP and have no HTTPS vhost (nothing would give them a
    certificate)."""

    def __init__(self, n=3, *, domains=(), pebble=OWN, directory_url=None, sacme=None,
                 vhosts=None, log_level="info ssl:warn", track=None, lb_port=None,
                 lb_tls_port=None, extra="", **sacme_kw):
        """n nodes; domains: list of name lists (the same on every node);
        vhosts: HTTPS vhosts of every node (default one per domain);
        directory_url: SacmeServer instead of Pebble's own (a quirk proxy's);
        track: called with every Httpd (conftest's httpds.add, so failed
        tests show the error logs); lb_port, lb_tls_port: the frontends'
        ports (default Pebble's httpPort and tlsPort); extra: more lines of
        every node's httpd.conf (Httpd's extra); sacme_kw: more arguments
        of module.sacme_lines."""
        if n < 1:
            raise ValueError("a cluster has at least one node")
        self.n = n
        self.domains = [list(d) for d in domains]
        self.vhosts = vhosts
        self.log_level = log_level
        self.extra = extra
        self.directory_url = directory_url
        self.sacme_fn = sacme or Cluster.default_sacme
        self.sacme_kw = sacme_kw
        self.track = track
        self.lb_port = lb_port
        self.lb_tls_port = lb_tls_port
        self.pebble_arg = pebble
        self.pebble = None
        self.own_pebble = False
        self.nodes = []
        self.lb = None

    # -- configuration --

    def default_sacme(self, node):
        """The Sacme* lines of a single server for the cluster's domains
        and Pebble (none without a Pebble)."""
        if self.pebble is None:
            return []
        kw = dict(self.sacme_kw)
        pebble_defaults(self.pebble, node.httpd, kw)
        lines = sacme_lines(self.pebble, self.domains, **kw)
        if self.directory_url:
            lines = [("SacmeServer %s" % self.directory_url)
                     if l.startswith("SacmeServer ") else l for l in lines]
        return lines

    def configure(self, node=None):
        """(Re)write the httpd.conf of node (default: every node) with the
        lines of the sacme function; effective at its next start/graceful."""
        for nd in ([node] if node else self.nodes):
            nd.httpd.configure(sacme=self.sacme_fn(self, nd))

    # -- lifecycle --

    def start(self):
        """Start Pebble (if OWN), HAProxy, then the nodes (so a node's first
        order finds the frontend listening)."""
        try:
            self._start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def _start(self):
        if self.pebble_arg == OWN:
            self.pebble = faults.exact_pebble()
            self.own_pebble = True
        else:
            self.pebble = self.pebble_arg
        port, tls_port = self.lb_port, self.lb_tls_port
        if self.pebble is not None:
            port = port if port is not None else self.pebble.http_port
            tls_port = tls_port if tls_port is not None else self.pebble.tls_port
        vhosts = self.vhosts
        if vhosts is None:
            vhosts = [Vhost(d) for d in self.domains]
        for i in range(self.n):
            self.nodes.append(self._new_node(i, vhosts))
        self.configure()
        self.lb = HAProxy({nd.name: nd.httpd.port for nd in self.nodes}, port=port,
                          tls_backends={nd.name: nd.httpd.https_port for nd in self.nodes},
                          tls_port=tls_port)
        self.lb.start()
        for nd in self.nodes:
            nd.httpd.start()

    def _new_node(self, index, vhosts):
        h = Httpd(ssl=True, log_level=self.log_level, vhosts=vhosts, extra=self.extra)
        if self.track:
            self.track(h)
        return Node(index, h)

    def add_node(self, start=True):
        """One node more (node<n+1>), configured by the sacme function like
        the others and started unless start=False.  HAProxy does not send it
        requests: it answers no validation of the CA (a machine being
        brought in, or one the test keeps apart)."""
        vhosts = self.vhosts
        if vhosts is None:
            vhosts = [Vhost(d) for d in self.domains]
        node = self._new_node(len(self.nodes), vhosts)
        self.nodes.append(node)
        self.configure(node)
        if start:
            node.httpd.start()
        return node

    def node(self, name):
        for nd in self.nodes:
            if nd.name == name:
                return nd
        raise KeyError(name)

    def running(self):
        return [nd for nd in self.nodes if nd.running]

    def start_node(self, node):
        """Start a stopped or killed node (its store as it was left); HAProxy
        sends it requests again as soon as it listens."""
        node.httpd.start()

    def stop_node(self, node):
        """apache2 -k stop, keeping the node's ServerRoot; HAProxy passes its
        requests to the other nodes."""
        node.httpd.stop(cleanup=False)

    def kill(self, node, limit=30):
        """SIGKILL every process of the node at once (the parent, its
        children and its driver): a crashed machine.  Its ServerRoot stays
        as the crash left it (pid file, driver.pid, store)."""
        h = node.httpd
        parent = h.parent_pid()
        driver = h.driver_pid()
        pids = set()
        # httpd -k start detaches: the parent leads its own process group,
        # which its children (workers, the driver) share
        if parent and _alive(parent):
            group = _pgid(parent)
            if group is not None:
                pids.update(_group_members(group))
            pids.add(parent)
        if driver and _alive(driver):
            pids.add(driver)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # wait until they are reaped, not only dead: apache2 -k start takes
        # the pid file's pid for a running server while it is a zombie
        # (the parent was reparented to init, which reaps it a bit later)
        deadline = time.monotonic() + limit
        while any(_exists(p) for p in pids):
            if time.monotonic() > deadline:
                raise RuntimeError("%s: processes %r outlived SIGKILL"
                                   % (node.name, [p for p in pids if _exists(p)]))
            time.sleep(0.05)
        h.started = False
        return sorted(pids)

    def cleanup(self):
        """Stop every node (removing its ServerRoot unless a failed test
        keeps it), HAProxy, and the cluster's own Pebble."""
        errors = []
        for nd in self.nodes:
            try:
                nd.httpd.stop()
            except Exception as e:   # stop the others all the same
                errors.append(e)
        if self.lb:
            self.lb.cleanup()
        if self.own_pebble and self.pebble:
            self.pebble.stop()
            self.own_pebble = False
        if errors:
            raise errors[0]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
        return False

    # -- what the nodes serve --

    def serials(self, sni, nodes=None):
        """{node name: serial served for sni, or None (fallback, no answer)}
        over the running nodes (or the given ones)."""
        return {nd.name: nd.serial(sni) for nd in (nodes or self.running())}

    def wait_same_serial(self, names, limit=120, nodes=None, exclude=()):
        """Wait until every running node (or every one of nodes) serves a
        managed certificate for every name, the same serial on all nodes
        for each name, and none of the serials in exclude (the ones a
        renewal replaces).  Returns {name: serial}."""
        nodes = nodes or self.running()
        exclude = set(exclude)
        last = {}

        def converged():
            for name in names:
                seen = self.serials(name, nodes)
                last[name] = seen
                values = set(seen.values())
                if len(values) != 1 or None in values or values & exclude:
                    return False
            return True
        deadline = time.monotonic() + limit
        while not converged():
            if time.monotonic() > deadline:
                raise AssertionError(
                    "timed out (%ss) waiting for every node to serve the same "
                    "certificate for every name; last seen (node: serial):\n%s"
                    % (limit, "\n".join("  %s: %s" % (name, _fmt(s))
                                        for name, s in last.items())))
            time.sleep(0.5)
        return {name: next(iter(last[name].values())) for name in names}


def _fmt(seen):
    return ", ".join("%s %s" % (k, "fallback/none" if v is None else "%x" % v)
                     for k, v in sorted(seen.items()))
