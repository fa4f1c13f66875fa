"""SacmeNotifyCmd: the command is run as `cmd [args] <event> <domain>` with
SACME_EVENT, SACME_DOMAIN and SACME_NAMES set, for renewing, renewed
(staged) and installed (activated, after the restart)."""

import os

from sacmetest.httpd import USER, user_ids
from sacmetest.module import ISSUE_LIMIT, make_httpd, names_for, notify_command

SCRIPT = """#!/bin/sh
echo "$1 $2 $3 $SACME_NAMES|$SACME_EVENT|$SACME_DOMAIN" >> %s
"""


def _lines(path):
    try:
        with open(path) as f:
            return [l.rstrip("\n") for l in f if l.strip()]
    except OSError:
        return []


def test_notify_command_sees_renewing_renewed_installed(http01_pebble, httpds):
    pebble = http01_pebble
    names = names_for("notify")
    h0 = make_httpd(pebble, [names])
    script, out = notify_command(h0, SCRIPT)
    h0.configure(sacme=h0.sacme + ["SacmeNotifyCmd %s --tag" % script])
    h = httpds.add(h0)
    h.start()

    h.wait_managed_cert(names[0], limit=ISSUE_LIMIT)
    h._wait(lambda: any(l.split(" ")[1:2] == ["installed"] for l in _lines(out)),
            "the 'installed' notification in %s" % out, 60)

    lines = _lines(out)
    events = []
    for line in lines:
        args, env_event, env_domain = line.split("|")
        parts = args.split(" ")
        assert parts[0] == "--tag", "the configured argument is not first: %r" % line
        event, domain, env_names = parts[1], parts[2], parts[3:]
        assert domain == names[0], line
        assert env_event == event, line
        assert env_domain == names[0], line
        assert sorted(env_names) == sorted(names), line
        events.append(event)
    assert "errored" not in events, lines
    for e in ("renewing", "renewed", "installed"):
        assert e in events, "no %r notification: %r" % (e, lines)
    assert events.index("renewing") < events.index("renewed") < events.index("installed"), \
        lines


# exec: grep reads its own masks, which are what the command started with.
# Reading the shell's from a child would race with dash itself, which blocks
# every signal around each fork and clears the mask again afterwards.
SIGNALS_SCRIPT = """#!/bin/sh
exec grep -E '^Sig(Ign|Blk):' /proc/self/status > %s
"""


def _settable(mask):
    """The bits of a /proc signal mask that a program can set: 1..31 and the
    real-time signals from 34; 32 and 33 are the C library's own, and
    whatever started the tests may hold them ignored, out of reach."""
    keep = 0
    for sig in list(range(1, 32)) + list(range(34, 65)):
        keep |= 1 << (sig - 1)
    return mask & keep


def test_notify_command_inherits_no_ignored_or_blocked_signal(http01_pebble, httpds):
    """The driver ignores SIGPIPE, SIGUSR1 (httpd's graceful restart) and
    SIGWINCH, and its threads may block signals: the command must start with
    none of that. (Which thread runs the command decides whether a mask is
    there to clear; test/unit/test_hook.c blocks signals on purpose.)"""
    names = names_for("notify-signals")
    h0 = make_httpd(http01_pebble, [names])
    out_dir = os.path.join(h0.root, "notify-out")
    os.makedirs(out_dir)
    uid, gid = user_ids(USER)
    os.chown(out_dir, uid, gid)
    out = os.path.join(out_dir, "signals.txt")
    script = os.path.join(h0.root, "signals.sh")
    with open(script, "w") as f:
        f.write(SIGNALS_SCRIPT % out)
    os.chmod(script, 0o755)
    h0.configure(sacme=h0.sacme + ["SacmeNotifyCmd %s" % script])
    h = httpds.add(h0)
    h.start()

    # grep writes both lines at once, at its exit
    h._wait(lambda: len(_lines(out)) >= 2, "the notify command's report in %s" % out, 60)
    fields = dict(l.split(":", 1) for l in _lines(out))
    assert set(fields) == {"SigIgn", "SigBlk"}, fields
    assert _settable(int(fields["SigIgn"].strip(), 16)) == 0, \
        "the command inherited ignored signals: %r" % fields
    assert _settable(int(fields["SigBlk"].strip(), 16)) == 0, \
        "the command inherited blocked signals: %r" % fields
