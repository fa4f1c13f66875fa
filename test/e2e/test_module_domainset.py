"""<SacmeDomainSet NAME...> ... </SacmeDomainSet>: a managed domain with
settings of its own.  With the real Pebble, one httpd with two sets: each
certificate has its set's key type, the status shows each domain's renewal
and alert windows, and each set's notify command runs for its domain only;
what a set leaves out it takes from the lines outside any set, wherever they
stand in the file.  Wrong uses are refused by `apache2 -t`, naming the
directive."""

import datetime

import pytest

from sacmetest import certcheck
from sacmetest.httpd import Vhost
from sacmetest.module import ISSUE_LIMIT, make_httpd, names_for, notify_command
from sacmetest.sacmectl import EXIT_OK, store_cmd
from test_module_config import _check, refused_output
from test_module_status import STATUS_CONF, get_json, rfc3339

SCRIPT = """#!/bin/sh
echo "$1 $2" >> %s
"""


def _script(h, tag):
    """A notify command writing '<event> <domain>' lines to a file the
    driver (the User) may write; returns (script, output file)."""
    return notify_command(h, SCRIPT, tag)


def _events(path):
    try:
        with open(path) as f:
            return [l.split() for l in f if l.strip()]
    except OSError:
        return []


def test_two_sets_each_with_its_own_settings(http01_pebble, httpds):
    pebble = http01_pebble
    a, b = names_for("dset-a"), names_for("dset-b")
    h0 = make_httpd(pebble, [], vhosts=[Vhost(a), Vhost(b)], extra=STATUS_CONF)
    script_a, out_a = _script(h0, "a")
    script_b, out_b = _script(h0, "b")
    h0.configure(sacme=h0.sacme + [
        "<SacmeDomainSet %s>" % " ".join(a),
        "    SacmeKeyType p384",
        "    SacmeRenewWindow 20d",
        "    SacmeWarnWindow 5d 10d",
        "    SacmeNotifyCmd %s" % script_a,
        "</SacmeDomainSet>",
        "<SacmeDomainSet %s>" % " ".join(b),
        "    SacmeChallenge http-01",
        "</SacmeDomainSet>",
        # the defaults come after the sets, and still apply to b
        "SacmeKeyType rsa2048",
        "SacmeWarnWindow 21d 3d",
        "SacmeNotifyCmd %s" % script_b,
    ])
    h = httpds.add(h0)
    h.start()
    served_a = h.wait_managed_cert(a[0], limit=ISSUE_LIMIT).cert
    served_b = h.wait_managed_cert(b[0], limit=ISSUE_LIMIT).cert

    # each certificate has its set's key type, the default where none is set
    assert certcheck.key_type(served_a.public_key()) == "p384"
    assert certcheck.key_type(served_b.public_key()) == "rsa2048"
    for leaf, names in ((served_a, a), (served_b, b)):
        assert sorted(certcheck.dns_sans(leaf)) == sorted(names)

    # the status shows each domain's own windows, and the renewal time
    # follows a's 20 days (less a jitter of at most a tenth of them)
    doms = {d["name"]: d for d in get_json(h, "/sacme-status/")["domains"]}
    da, db = doms[a[0]], doms[b[0]]
    assert (da["key-types"], db["key-types"]) == (["p384"], ["rsa2048"])
    assert (da["renew-window"], db["renew-window"]) == ("20d", "33%")
    assert (da["warn-window"], db["warn-window"]) == (["10d", "5d"], ["21d", "3d"])
    not_after = rfc3339(da["valid-until"])
    renew_at = rfc3339(da["renew-at"])
    assert not_after - datetime.timedelta(days=22) <= renew_at \
        <= not_after - datetime.timedelta(days=20), da
    assert rfc3339(db["renew-at"]) < rfc3339(db["valid-until"]) - datetime.timedelta(days=22)
    # sacmectl, which reads the configuration from the store, sees the same
    res = store_cmd(h, "show", a[0])
    assert res.rc == EXIT_OK, res.describe()
    assert res.json["warn-window"] == ["10d", "5d"], res.json
    assert res.json["renew-window"] == "20d", res.json

    # each command hears about its own domain only
    for out, dom in ((out_a, a[0]), (out_b, b[0])):
        h._wait(lambda: ["installed", dom] in _events(out),
                "the 'installed' notification for %s in %s" % (dom, out), 60)
    assert {e[1] for e in _events(out_a)} == {a[0]}, _events(out_a)
    assert {e[1] for e in _events(out_b)} == {b[0]}, _events(out_b)


# --- wrong uses: refused by -t, naming the directive ---------------------------

SERVER = "https://127.0.0.1:9/acme/directory"     # -t does no network I/O
HMAC = "c2VjcmV0LWhtYWMta2V5LWZvci10aGUtdGVzdHM"
PLAIN = names_for("dset-conf")
SET = names_for("dset-set")
OTHER = names_for("dset-other")


def _conf(inside=(), names=SET, before=(), after=()):
    """A good configuration with one SacmeDomain and one set holding the
    lines inside; before/after go around the set."""
    return (["SacmeServer %s" % SERVER, "SacmeEAB kid-1 " + HMAC, "SacmeAgreement accepted",
             "SacmeDomain %s" % " ".join(PLAIN)] + list(before)
            + ["<SacmeDomainSet %s>" % " ".join(names)]
            + ["    " + l for l in inside] + ["</SacmeDomainSet>"] + list(after))


OTHER_CA = "https://127.0.0.1:9/other/directory"
NO_SERVER = ["SacmeDomain %s" % " ".join(PLAIN),
             "<SacmeDomainSet %s>" % " ".join(SET), "    SacmeServer %s" % SERVER,
             "    SacmeEAB none", "</SacmeDomainSet>"]
SERVER_LEVEL = ["SacmeStoreDir /tmp/sacme-elsewhere", "SacmeMaxParallel 4",
                "SacmeCheckInterval 1h", "SacmeRetryDelay 5m", "SacmeAutoRestart off",
                "SacmeDomain inner.example.test"]

# (id, what the message must name, bad lines, good lines)
CASES = [
    ("server-level-" + l.split()[0], [l.split()[0], "not allowed inside <SacmeDomainSet>"],
     lambda l=l: _conf(inside=[l]), lambda l=l: _conf(after=[l]))
    for l in SERVER_LEVEL
] + [
    ("other-module", ["<SacmeDomainSet>", "ServerAlias"],
     lambda: _conf(inside=["ServerAlias alias.dset-set.test"]), lambda: _conf()),
    ("nested", ["<SacmeDomainSet>", "nested"],
     lambda: _conf(inside=["<SacmeDomainSet %s>" % " ".join(OTHER), "</SacmeDomainSet>"]),
     lambda: _conf(after=["<SacmeDomainSet %s>" % " ".join(OTHER), "</SacmeDomainSet>"])),
    ("no-names", ["<SacmeDomainSet>", "at least one name"],
     lambda: _conf(names=[]), lambda: _conf()),
    ("unclosed", ["<SacmeDomainSet"],
     lambda: _conf()[:-1], lambda: _conf()),
    ("name-of-a-domain", ["<SacmeDomainSet>", PLAIN[1]],
     lambda: _conf(names=SET + [PLAIN[1]]), lambda: _conf()),
    ("name-of-another-set", ["<SacmeDomainSet>", OTHER[0]],
     lambda: _conf(names=OTHER, before=["<SacmeDomainSet %s>" % OTHER[0], "</SacmeDomainSet>"]),
     lambda: _conf(names=OTHER[1:], before=["<SacmeDomainSet %s>" % OTHER[0],
                                            "</SacmeDomainSet>"])),
    ("name-invalid", ["<SacmeDomainSet>", "not_a_name"],
     lambda: _conf(names=SET + ["not_a_name"]), lambda: _conf()),
    ("101-names", ["<SacmeDomainSet>", "100"],
     lambda: _conf(names=["n%d.dset-many.test" % i for i in range(101)]),
     lambda: _conf(names=["n%d.dset-many.test" % i for i in range(100)])),
    ("notify-url-not-https-in-a-set", ["SacmeNotifyURL", "https"],
     lambda: _conf(inside=["SacmeNotifyURL http://hooks.example.test/x"]),
     lambda: _conf(inside=["SacmeNotifyURL https://hooks.example.test/x"])),
    ("twice-in-a-set", ["SacmeKeyType", "twice"],
     lambda: _conf(inside=["SacmeKeyType p384", "SacmeKeyType p256"]),
     lambda: _conf(inside=["SacmeKeyType p384"], after=["SacmeKeyType p256"])),
    ("bad-value-in-a-set", ["SacmeRenewWindow"],
     lambda: _conf(inside=["SacmeRenewWindow soon"]),
     lambda: _conf(inside=["SacmeRenewWindow 10d"])),
    # several CAs and accounts (issue 12, points 2 and 3)
    ("server-not-https-in-a-set", ["SacmeServer", "http://127.0.0.1:9/dir"],
     lambda: _conf(inside=["SacmeServer http://127.0.0.1:9/dir"]),
     lambda: _conf(inside=["SacmeServer %s" % OTHER_CA])),
    ("server-url-twice", ["SacmeServer", "twice"],
     lambda: _conf(inside=["SacmeServer %s %s" % (OTHER_CA, OTHER_CA), "SacmeEAB none none"]),
     lambda: _conf(inside=["SacmeServer %s %s" % (OTHER_CA, SERVER), "SacmeEAB none none"])),
    ("server-no-url", ["SacmeServer", "directory URL"],
     lambda: _conf(inside=["SacmeServer"]), lambda: _conf()),
    ("eab-fewer-than-urls", ["SacmeEAB", "1 credential", "2 URL", SET[0]],
     lambda: _conf(inside=["SacmeServer %s %s" % (OTHER_CA, SERVER), "SacmeEAB none"]),
     lambda: _conf(inside=["SacmeServer %s %s" % (OTHER_CA, SERVER), "SacmeEAB none none"])),
    ("eab-inherited-for-two-urls", ["SacmeEAB", "2 URL"],
     lambda: _conf(inside=["SacmeServer %s %s" % (OTHER_CA, SERVER)]),
     lambda: _conf(inside=["SacmeServer %s %s" % (OTHER_CA, SERVER), "SacmeEAB none none"])),
    ("eab-too-many-words", ["SacmeEAB"],
     lambda: _conf(inside=["SacmeEAB kid-2 %s HS256 more" % HMAC]),
     lambda: _conf(inside=["SacmeEAB kid-2 %s HS256" % HMAC])),
    ("eab-missing-file-in-list", ["SacmeEAB", "/nonexistent/eab-2.json"],
     lambda: _conf(inside=["SacmeServer %s %s" % (OTHER_CA, SERVER),
                           "SacmeEAB none file:/nonexistent/eab-2.json"]),
     lambda: _conf(inside=["SacmeServer %s %s" % (OTHER_CA, SERVER), "SacmeEAB none none"])),
    ("failover-zero", ["SacmeRetryFailover", "'0'"],
     lambda: _conf(inside=["SacmeRetryFailover 0"]),
     lambda: _conf(inside=["SacmeRetryFailover 1"])),
    ("failover-not-a-number", ["SacmeRetryFailover", "often"],
     lambda: _conf(after=["SacmeRetryFailover often"]),
     lambda: _conf(after=["SacmeRetryFailover 13"])),
    ("failover-twice-in-a-set", ["SacmeRetryFailover", "twice"],
     lambda: _conf(inside=["SacmeRetryFailover 2", "SacmeRetryFailover 3"]),
     lambda: _conf(inside=["SacmeRetryFailover 2"], after=["SacmeRetryFailover 3"])),
    ("one-account-two-contact-lists", ["SacmeContact", PLAIN[0], SET[0], "same account"],
     lambda: _conf(inside=["SacmeContact a@example.test"]),
     lambda: _conf(inside=["SacmeContact a@example.test", "SacmeEAB kid-2 " + HMAC])),
    ("no-server-for-a-domain", ["SacmeServer", PLAIN[0]],
     lambda: NO_SERVER, lambda: ["SacmeServer %s" % SERVER] + NO_SERVER),
    ("wildcard-http01-in-a-set", ["*.dset-set.test"],
     lambda: _conf(names=SET + ["*.dset-set.test"]),
     lambda: _conf(names=SET + ["*.dset-set.test"], inside=["SacmeChallenge none"])),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_wrong_use_of_a_set_fails_config_check(case):
    _, words, bad, good = case
    out = refused_output(bad(), good())
    for w in words:
        assert w in out, "the message does not name %r:\n%s" % (w, out)


def test_set_inside_a_virtual_host_is_refused():
    base = _conf()[:4]
    rc, out = _check(base, vhost_lines=["<SacmeDomainSet %s>" % " ".join(SET),
                                        "</SacmeDomainSet>"])
    assert rc != 0 and "<SacmeDomainSet" in out and "Invalid command" not in out, out
