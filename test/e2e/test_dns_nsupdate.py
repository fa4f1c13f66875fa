"""docs/dns/nsupdate.sh, the shipped SacmeDnsCmd provider, against a real
BIND 9 (sacmetest.bind): setup adds one TXT value (never replaces: a
wildcard and its base name need two at one name), teardown removes exactly
that value, both work with the empty environment mod_sacme gives the
command, and a failure is a non-zero exit with one line on stderr."""

import os
import subprocess

import pytest

SCRIPT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..",
                                      "docs", "dns", "nsupdate.sh"))


def run(bind, *args, key=None, server=None):
    argv = [SCRIPT, "-s", server or bind.server, "-k", key or bind.key_file,
            "-z", "test"] + list(args)
    # env={}: as the driver runs it, with nothing inherited
    return subprocess.run(argv, capture_output=True, text=True, env={}, timeout=60)


def test_setup_adds_and_teardown_removes_exactly_one_value(bind):
    name = "_acme-challenge.nsupdate-pair.test"
    v1, v2 = "A" * 43, "b-_9" * 10 + "xyz"
    assert bind.txt(name) == []

    r = run(bind, "setup", name, v1)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), r
    assert bind.txt(name) == [v1]

    # the second value at the same name is added next to the first
    r = run(bind, "setup", name, v2)
    assert (r.returncode, r.stderr) == (0, ""), r
    assert bind.txt(name) == sorted([v1, v2])

    r = run(bind, "teardown", name, v1)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), r
    assert bind.txt(name) == [v2]

    # a value that is not there (a teardown run again) is no failure
    r = run(bind, "teardown", name, v1)
    assert (r.returncode, r.stderr) == (0, ""), r
    assert bind.txt(name) == [v2]

    r = run(bind, "teardown", name, v2)
    assert r.returncode == 0, r
    assert bind.txt(name) == []


def test_refused_update_is_exit_1_with_one_line(bind, tmp_path):
    # a key the server does not know: BIND refuses the update
    wrong = tmp_path / "wrong.key"
    wrong.write_text('key "sacme-test-key" {\n\talgorithm hmac-sha256;\n'
                     '\tsecret "c2VjcmV0IHRoYXQgQklORCBkb2VzIG5vdCBrbm93IGF0IGFsbA==";\n};\n')
    name = "_acme-challenge.nsupdate-refused.test"
    r = run(bind, "setup", name, "v" * 43, key=str(wrong))
    assert r.returncode == 1, r
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nsupdate.sh: setup of " + name), r
    assert bind.txt(name) == []


def test_unreachable_server_is_exit_1(bind):
    from sacmetest.ports import free_udp_tcp_port
    r = run(bind, "setup", "_acme-challenge.nsupdate-down.test", "v" * 43,
            server="127.0.0.1:%d" % free_udp_tcp_port())
    assert r.returncode == 1, r
    assert len(r.stderr.splitlines()) == 1 and "failed" in r.stderr, r


@pytest.mark.parametrize("args", [
    ["setup", "_acme-challenge.x.test\nupdate add evil.test. 60 TXT \"x\"", "v"],
    ["setup", "_acme-challenge.x.test", "v\" \"w"],
    ["setup", "www.x.test", "v"],                 # not an _acme-challenge name
    ["publish", "_acme-challenge.x.test", "v"],   # unknown verb
    ["setup", "_acme-challenge.x.test"],          # no value
])
def test_bad_arguments_are_refused_before_any_update(bind, args):
    """Nothing of a name or value can become an nsupdate command of its own."""
    r = run(bind, *args)
    assert r.returncode == 2, r
    assert len(r.stderr.splitlines()) == 1, r
    assert "evil.test" not in bind.all_txt(), bind.all_txt()
    assert bind.txt("_acme-challenge.x.test") == []
