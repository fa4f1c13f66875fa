"""dns-01 end to end: a real BIND 9 taking TSIG-signed updates
(sacmetest.bind), Pebble validating against it (-dnsserver), httpd with
`SacmeChallenge dns-01` and the shipped docs/dns/nsupdate.sh as
SacmeDnsCmd.  Certificates are issued and served (a single name, a wildcard
with its base name, ten domains at once) and every _acme-challenge record
is gone from the zone afterwards.  Failures of the command (exit 1, a hang
past SacmeDnsTimeout, garbage on stderr) and a record that never shows
(SacmeDnsCheck) each give a tagged error with the command's output, run the
teardown, keep the fallback certificate and wait for the backoff.  A
driver killed between setup and teardown leaves a record that the next
driver tears down."""

import json
import os
import shutil
import signal
import time

import pytest

from sacmetest import certcheck
from sacmetest.httpd import USER, Vhost, user_ids
from sacmetest.module import (ERRORED, ISSUE_LIMIT, LOG_LIMIT, assert_served_verified,
                              make_httpd, root_file, wait_job)
from sacmetest.ports import free_udp_tcp_port
from test_module_config import _base, _script, refused_output

NSUPDATE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..",
                                        "docs", "dns", "nsupdate.sh"))

SETUP_FAILED = "SACME10470"
SET_UP = "SACME10472"
TORN_DOWN = "SACME10473"
NOT_SHOWN = "SACME10475"
ALL_SHOWN = "SACME10476"
LEFTOVERS_TORN_DOWN = "SACME10479"
DRIVER_DIED = "SACME10029"
DRIVER_DIED_EARLY = "SACME10038"


def challenge_names(names):
    return ["_acme-challenge." + n.lstrip("*.") for n in names]


def driver_dir(h, name):
    """A directory in h's root the driver (the User) may write."""
    path = os.path.join(h.root, name)
    os.makedirs(path, exist_ok=True)
    uid, gid = user_ids(USER)
    os.chown(path, uid, gid)
    return path


def nsupdate_cmd(h, bind):
    """SacmeDnsCmd with the shipped script (copied where the User reaches
    it) and a copy of the TSIG key the User may read."""
    d = driver_dir(h, "dns")
    script = os.path.join(d, "nsupdate.sh")
    shutil.copyfile(NSUPDATE, script)
    os.chmod(script, 0o755)
    key = bind.key_copy(d, *user_ids(USER))
    return "%s -s %s -k %s -z test" % (script, bind.server, key)


def dns_httpd(pebble, bind, domains, *, cmd=None, more=(), **kw):
    h = make_httpd(pebble, domains, **kw)
    lines = ["SacmeChallenge dns-01",
             "SacmeDnsCmd %s" % (cmd(h) if callable(cmd) else (cmd or nsupdate_cmd(h, bind)))]
    h.configure(sacme=h.sacme + lines + list(more))
    return h


def assert_no_records(bind, names):
    for n in challenge_names(names):
        assert bind.txt(n) == [], "%s is still in the zone: %r" % (n, bind.txt(n))


def assert_nothing_recorded(h, domain):
    path = h.store("staging", domain, "dns.json")
    assert not os.path.exists(path), "dns.json left: %s" % open(path).read()


# --- success --------------------------------------------------------------------


def test_single_name(dns01_pebble, bind, httpds, tmp_path):
    names = ["dns-one.test"]
    h = httpds.add(dns_httpd(dns01_pebble, bind, [names]))
    h.start()
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    assert_served_verified(h, names, root_file(dns01_pebble, str(tmp_path)))
    assert len(h.log_lines(SET_UP)) == 1, h.log_lines(SET_UP)
    h.wait_log(TORN_DOWN, limit=LOG_LIMIT)
    assert_no_records(bind, names)
    assert_nothing_recorded(h, names[0])
    assert not h.log_lines(ERRORED), h.log_lines(ERRORED)


def test_wildcard_and_base_name_in_one_certificate(dns01_pebble, bind, httpds, tmp_path):
    """Two values at one _acme-challenge name at the same time: setup adds,
    never replaces, or one of the two validations fails."""
    base = "dns-wild.test"
    names = [base, "*." + base]
    vhosts = [Vhost([base]), Vhost(["shop." + base])]
    h = httpds.add(dns_httpd(dns01_pebble, bind, [names], vhosts=vhosts))
    h.start()
    h.wait_managed_cert(base, limit=ISSUE_LIMIT)
    root = root_file(dns01_pebble, str(tmp_path))
    # a vhost under the wildcard is served the same certificate, verified
    # against Pebble's root with its own host name
    for sni in (base, "shop." + base):
        r = h.tls_get(sni, cafile=root)
        assert not r.is_fallback, (sni, r.describe())
        assert sorted(certcheck.dns_sans(r.cert)) == sorted(names), certcheck.dns_sans(r.cert)
    assert len(h.log_lines(SET_UP)) == 2, h.log_lines(SET_UP)
    h._wait(lambda: len(h.log_lines(TORN_DOWN)) == 2, "both teardowns", LOG_LIMIT)
    assert_no_records(bind, names)
    assert_nothing_recorded(h, base)


def test_ten_domains_at_once(dns01_pebble, bind, httpds, tmp_path):
    domains = [["dns-ten-%d.test" % i, "www.dns-ten-%d.test" % i] for i in range(10)]
    h = httpds.add(dns_httpd(dns01_pebble, bind, domains))
    h.start()
    root = root_file(dns01_pebble, str(tmp_path))
    for names in domains:
        h.wait_managed_cert(names[0], limit=ISSUE_LIMIT * 2)
    for names in domains:
        assert_served_verified(h, names, root)
    # A driver that staged a set exits for its activation while other
    # orders are in flight: their records are torn down by their resumed
    # issuance or by the next driver's start, not necessarily by this one.
    def all_gone():
        return (not any(bind.txt(n) for names in domains for n in challenge_names(names))
                and not any(os.path.exists(h.store("staging", names[0], "dns.json"))
                            for names in domains))
    h._wait(all_gone, "every record gone from the zone and the store", LOG_LIMIT)
    assert not h.log_lines(ERRORED), h.log_lines(ERRORED)


# --- failures -----------------------------------------------------------------------

# A DNS command that records its calls and fails its setup as told; its
# teardown always succeeds.
HOOK = """#!/bin/sh
echo "$*" >> %(calls)s
mode=$1
shift
if [ "$1" = teardown ]; then
    exit 0
fi
case $mode in
fail)    echo "provider says: zone example.invalid is locked" >&2; exit 1 ;;
hang)    echo "contacting the provider"; sleep 300 ;;
garbage) printf 'all done\\n\\033[31mWARNING: deprecated API\\n' >&2; exit 0 ;;
noop)    exit 0 ;;
esac
"""


def failing_hook(h, mode):
    d = driver_dir(h, "hook")
    calls = os.path.join(d, "calls.txt")
    script = os.path.join(d, "hook.sh")
    with open(script, "w") as f:
        f.write(HOOK % {"calls": calls})
    os.chmod(script, 0o755)
    h.calls_file = calls
    return "%s %s" % (script, mode)


def calls(h):
    try:
        with open(h.calls_file) as f:
            return [l.split() for l in f if l.strip()]
    except OSError:
        return []


def _failure(dns01_pebble, bind, httpds, tag, mode, expect_text, more=()):
    names = ["dns-fail-%s.test" % mode]
    h0 = make_httpd(dns01_pebble, [names],
                    more=["SacmeRetryDelay 1h", "SacmeDnsTimeout 3s"] + list(more))
    h0.configure(sacme=h0.sacme + ["SacmeChallenge dns-01",
                                   "SacmeDnsCmd %s" % failing_hook(h0, mode)])
    h = httpds.add(h0)
    h.start()
    line = h.wait_log(tag, limit=ISSUE_LIMIT)
    assert names[0] in line, line
    for text in expect_text:
        assert text in line, "%r not in the log line: %s" % (text, line)
    err = h.wait_log(ERRORED, limit=LOG_LIMIT)
    assert names[0] in err, err
    # the teardown of exactly what was set up
    h._wait(lambda: any(c[1] == "teardown" for c in calls(h)), "the teardown", LOG_LIMIT)
    setups = [c for c in calls(h) if c[1] == "setup"]
    teardowns = [c for c in calls(h) if c[1] == "teardown"]
    assert len(setups) == 1, calls(h)
    assert setups[0][2:] == teardowns[0][2:], calls(h)
    assert setups[0][2] == "_acme-challenge." + names[0], setups
    assert len(setups[0][3]) == 43, setups          # base64url of SHA-256
    # the fallback is still served, and the next attempt waits the backoff
    assert h.tls_get(names[0]).is_fallback
    with open(wait_job(h, names[0])) as f:
        job = json.load(f)
    assert job["next-attempt"] >= time.time() + 3000, job
    time.sleep(3)      # no second attempt right away (a retry would set up again)
    assert len([c for c in calls(h) if c[1] == "setup"]) == 1, calls(h)
    assert_nothing_recorded(h, names[0])
    return h, line, job


def test_command_exits_1(dns01_pebble, bind, httpds):
    _, _, job = _failure(dns01_pebble, bind, httpds, SETUP_FAILED, "fail",
                         ["exited with 1", "zone example.invalid is locked"])
    assert "zone example.invalid is locked" in json.dumps(job), job


def test_command_hangs_past_the_timeout(dns01_pebble, bind, httpds):
    _failure(dns01_pebble, bind, httpds, SETUP_FAILED, "hang",
             ["killed after the 3 s timeout", "contacting the provider"])


def test_command_prints_garbage_on_stderr(dns01_pebble, bind, httpds):
    _, line, _ = _failure(dns01_pebble, bind, httpds, SETUP_FAILED, "garbage",
                          ["wrote to stderr", "WARNING: deprecated API"])
    assert "\033" not in line, "an escape sequence reached the log: %r" % line


def test_record_never_shows(dns01_pebble, bind, httpds):
    """The command says it worked but did nothing: SacmeDnsCheck (BIND
    itself) never shows the value, so the CA is never told to look."""
    _failure(dns01_pebble, bind, httpds, NOT_SHOWN, "noop",
             ["does not show TXT _acme-challenge.dns-fail-noop.test"],
             more=["SacmeDnsCheck %s" % bind.server])


# --- the kill test --------------------------------------------------------------------

# nsupdate.sh, except that its setup fails without touching DNS once the
# file STOP exists: the order the next driver resumes cannot put the record
# back, so what the zone shows is what the start-up cleanup left.
KILL_HOOK = """#!/bin/sh
if [ "$1" = setup ] && [ -e %(stop)s ]; then
    echo "stopped by the test" >&2
    exit 1
fi
exec %(script)s -s %(server)s -k %(key)s -z test "$@"
"""


def test_driver_killed_between_setup_and_teardown(dns01_pebble, bind, httpds):
    names = ["dns-kill.test"]
    record = challenge_names(names)[0]
    h0 = make_httpd(dns01_pebble, [names], more=["SacmeRetryDelay 1h",
                                                   "SacmeDnsTimeout 10m"])
    d = driver_dir(h0, "dns")
    script = os.path.join(d, "nsupdate.sh")
    shutil.copyfile(NSUPDATE, script)
    os.chmod(script, 0o755)
    key = bind.key_copy(d, *user_ids(USER))
    stop = os.path.join(h0.root, "stop-setup")
    hook = os.path.join(d, "hook.sh")
    with open(hook, "w") as f:
        f.write(KILL_HOOK % {"stop": stop, "script": script, "server": bind.server,
                             "key": key})
    os.chmod(hook, 0o755)
    # the driver waits for a resolver that never answers: it holds the
    # record set up until it is killed
    silent = "127.0.0.1:%d" % free_udp_tcp_port()
    h0.configure(sacme=h0.sacme + ["SacmeChallenge dns-01", "SacmeDnsCmd %s" % hook,
                                   "SacmeDnsCheck %s" % silent])
    h = httpds.add(h0)
    h.start()
    h.wait_log(SET_UP, limit=ISSUE_LIMIT)
    h._wait(lambda: len(bind.txt(record)) == 1, "the record in the zone", LOG_LIMIT)
    value = bind.txt(record)[0]
    with open(h.store("staging", names[0], "dns.json")) as f:
        recorded = json.load(f)["records"]
    assert [(r["name"], r["value"]) for r in recorded] == [(record, value)], recorded
    assert recorded[0]["command"] == [hook], recorded

    with open(stop, "w"):
        pass
    os.chmod(stop, 0o644)
    pid = h.driver_pid()
    mark = h.mark()
    os.kill(pid, signal.SIGKILL)
    h.wait_log_any([DRIVER_DIED, DRIVER_DIED_EARLY], since=mark, limit=LOG_LIMIT)
    # The next driver resumes the order (its records may be under
    # validation, so its start leaves them); the setup it tries again is
    # refused, and its teardown removes what the killed driver set up.
    line = h.wait_log(TORN_DOWN, since=mark, limit=LOG_LIMIT * 2)
    assert record in line and str(pid) not in line, line
    assert bind.txt(record) == [], "the record is still in the zone"
    h._wait(lambda: not os.path.exists(h.store("staging", names[0], "dns.json")),
            "dns.json to be empty", LOG_LIMIT)
    assert h.tls_get(names[0]).is_fallback


def test_leftover_record_torn_down_at_start(dns01_pebble, bind, httpds):
    """A record dns.json names for a domain without an order in progress
    (its driver was killed after the order ended, or its teardown failed)
    is torn down by the next driver before anything else, with the command
    recorded for it."""
    names = ["dns-left.test"]
    record = challenge_names(names)[0]
    h = httpds.add(dns_httpd(dns01_pebble, bind, [names]))
    h.start()
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    assert_no_records(bind, names)
    cmd = [l.split(None, 1)[1] for l in h.sacme if l.startswith("SacmeDnsCmd ")][0]
    h.keep_dir = True      # started again in the same root
    h.stop()
    h.keep_dir = False

    # what a driver killed between setup and the end of its order leaves
    value = "left-behind-value-" + "x" * 25
    bind.add_txt(record, value)
    staging = h.store("staging", names[0])
    path = os.path.join(staging, "dns.json")
    with open(path, "w") as f:
        json.dump({"records": [{"name": record, "value": value,
                                "command": cmd.split(),
                                "added": "2026-01-01T00:00:00Z"}]}, f)
    os.chown(path, *user_ids(USER))
    os.chmod(path, 0o640)
    assert bind.txt(record) == [value]

    mark = h.mark()
    h.start()
    line = h.wait_log(LEFTOVERS_TORN_DOWN, since=mark, limit=LOG_LIMIT)
    assert "1 dns-01 record" in line, line
    assert bind.txt(record) == [], "the leftover record is still in the zone"
    assert not os.path.exists(path), "dns.json still lists it"


# --- apachectl -t -----------------------------------------------------------------------

DNS_CASES = [
    # (id, what the message must name, bad lines, good twin)
    ("dns-01-without-command", ["SacmeDnsCmd", "SACME10480"],
     lambda: _base(more=["SacmeChallenge dns-01"]),
     lambda: _base(more=["SacmeChallenge dns-01", "SacmeDnsCmd /bin/true"])),
    ("dns-01-in-a-set-without-command", ["SacmeDnsCmd", "dns-set.test"],
     lambda: _base(more=["<SacmeDomainSet dns-set.test>", "SacmeChallenge http-01 dns-01",
                         "</SacmeDomainSet>"]),
     lambda: _base(more=["<SacmeDomainSet dns-set.test>", "SacmeChallenge http-01 dns-01",
                         "SacmeDnsCmd /bin/true --zone x", "SacmeDnsTimeout 5m",
                         "SacmeDnsCheck [::1]:5353", "</SacmeDomainSet>"])),
    ("dns-cmd-relative", ["SacmeDnsCmd", "absolute"],
     lambda: _base(more=["SacmeDnsCmd nsupdate.sh -k key"]),
     lambda: _base(more=["SacmeDnsCmd /bin/true -k key"])),
    ("dns-cmd-not-executable", ["SacmeDnsCmd", "executable"],
     lambda: _base(more=["SacmeDnsCmd " + _script(0o644)]),
     lambda: _base(more=["SacmeDnsCmd " + _script(0o755)])),
    ("dns-cmd-missing", ["SacmeDnsCmd", "not a file"],
     lambda: _base(more=["SacmeDnsCmd /nonexistent/nsupdate.sh"]),
     lambda: _base(more=["SacmeDnsCmd /bin/true"])),
    ("dns-cmd-twice", ["SacmeDnsCmd"],
     lambda: _base(more=["SacmeDnsCmd /bin/true", "SacmeDnsCmd /bin/false"]),
     lambda: _base(more=["SacmeDnsCmd /bin/false"])),
    ("dns-check-host-name", ["SacmeDnsCheck", "not an IP address"],
     lambda: _base(more=["SacmeDnsCheck ns1.example.com"]),
     lambda: _base(more=["SacmeDnsCheck 192.0.2.53"])),
    ("dns-check-bad-port", ["SacmeDnsCheck", "port"],
     lambda: _base(more=["SacmeDnsCheck 127.0.0.1:99999"]),
     lambda: _base(more=["SacmeDnsCheck 127.0.0.1:5353"])),
    ("dns-timeout-too-long", ["SacmeDnsTimeout", "1h"],
     lambda: _base(more=["SacmeDnsTimeout 2h"]),
     lambda: _base(more=["SacmeDnsTimeout 1h"])),
    ("dns-timeout-not-a-duration", ["SacmeDnsTimeout"],
     lambda: _base(more=["SacmeDnsTimeout soon"]),
     lambda: _base(more=["SacmeDnsTimeout 90s"])),
]


@pytest.mark.parametrize("case", DNS_CASES, ids=[c[0] for c in DNS_CASES])
def test_dns_config_mistake_fails_config_check(case):
    _, words, bad, good = case
    out = refused_output(bad(), good())
    for w in words:
        assert w in out, "the message does not name %r:\n%s" % (w, out)


def test_dns_check_sees_the_records_before_the_ca_looks(dns01_pebble, bind, httpds, tmp_path):
    """With SacmeDnsCheck on the zone's server the driver asks it (UDP DNS
    of its own) and goes on once every value is there."""
    names = ["dns-checked.test", "*.dns-checked.test"]
    h = httpds.add(dns_httpd(dns01_pebble, bind, [names],
                             vhosts=[Vhost([names[0]])],
                             more=["SacmeDnsCheck %s" % bind.server]))
    h.start()
    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    seen = h.log_lines(ALL_SHOWN)
    assert len(seen) == 1 and bind.server in seen[0], h.log_lines("SACME1047")
    # after both setups (the wildcard's and the base name's, one name)
    log = h.log()
    assert log.index(ALL_SHOWN) > max(log.index(l) for l in h.log_lines(SET_UP))
    assert not h.log_lines(NOT_SHOWN)
    r = h.tls_get(names[0], cafile=root_file(dns01_pebble, str(tmp_path)))
    assert sorted(certcheck.dns_sans(r.cert)) == sorted(names)
    h._wait(lambda: not os.path.exists(h.store("staging", names[0], "dns.json")),
            "dns.json to be empty", LOG_LIMIT)
    assert_no_records(bind, names)
