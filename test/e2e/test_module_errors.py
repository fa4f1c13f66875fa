"""A CA that refuses: a wrong EAB HMAC is reported in the error log with the
ACME problem (and without the secret), and httpd keeps serving: the plain
site answers, the managed vhost answers 503 with the fallback certificate."""

import json
import os
import re

import pytest

from sacmetest.httpd import INDEX_TEXT, Httpd, Vhost, _alive
from sacmetest.module import (ERRORED, ISSUE_LIMIT, make_httpd, names_for, pebble_defaults,
                              sacme_lines, wait_job)
from sacmetest.pebble import random_mac_key


def test_wrong_eab_hmac_is_reported_and_httpd_keeps_serving(http01_pebble, httpds):
    pebble = http01_pebble
    names = names_for("wrongeab")
    wrong = random_mac_key()
    assert wrong != pebble.eab["kid-2"]
    h = httpds.add(make_httpd(pebble, [names], kid="kid-2", hmac=wrong))
    h.start()

    line = h.wait_log(ERRORED, limit=ISSUE_LIMIT)
    assert ":error]" in line, "SACME10024 is not logged at level error: " + line
    assert names[0] in line
    assert "unauthorized" in line, "the ACME problem type is not named: " + line
    assert "next attempt at" in line, line
    # the CA's refusal speaks for itself: no OS error before the tag, such as
    # the "(13)Permission denied: " the APR status of the problem made
    # (issue 11, defect 18)
    assert not re.search(r"\(-?\d+\)[^\]]*: SACME10024", line), line
    for secret in (wrong, pebble.eab["kid-2"]):
        assert secret not in h.log(), "an HMAC key is in the error log"

    # httpd is up: the plain server answers
    assert _alive(h.parent_pid())
    status, _, body = h.http_get("/index.html")
    assert status == 200 and body.decode() == INDEX_TEXT, (status, body)

    # the managed vhost: fallback certificate, every request 503
    for name in names[:2]:
        r = h.tls_get(name)
        assert r.is_fallback, "%s: not the fallback certificate: %s" % (name, r.describe())
        assert r.status == 503, "%s: %s" % (name, r.describe())
    assert not os.path.exists(h.store("domains", names[0], "fullchain.pem"))

    # the job remembers the error and when it tries again
    job_path = wait_job(h, names[0])
    with open(job_path) as f:
        job_text = f.read()
    json.loads(job_text)
    assert "unauthorized" in job_text, job_text
    assert wrong not in job_text


def test_challenge_none_with_names_not_prevalidated(http01_pebble, httpds):
    """SacmeChallenge none (Sectigo's private ACME, names validated in SCM):
    when the CA still asks for a validation, the log says the name is not
    pre-validated for the account, instead of waiting for a timeout, and no
    challenge is answered."""
    pebble = http01_pebble
    names = names_for("notprevalidated")
    h = httpds.add(make_httpd(pebble, [names], more=["SacmeChallenge none"]))
    h.start()

    line = h.wait_log(ERRORED, limit=ISSUE_LIMIT)
    assert ":error]" in line, line
    assert names[0] in line
    assert "not pre-validated for this ACME account" in line, line
    assert "next attempt at" in line, line
    # the CA's answer speaks for itself: no "(22)Invalid argument: " before
    # the tag (issue 11, defect 18)
    assert not re.search(r"\(-?\d+\)[^\]]*: SACME10024", line), line
    # nothing was published or answered for the CA
    challenges = h.store("challenges")
    assert not any(files for _, _, files in os.walk(challenges)), \
        "a challenge was published with SacmeChallenge none"
    for name in names[:1]:
        r = h.tls_get(name)
        assert r.is_fallback and r.status == 503, r.describe()


@pytest.mark.parametrize("challenge,where", [("http-01", "port 80 of"),
                                             ("tls-alpn-01", "port 443 of")])
def test_failed_validation_points_at_what_the_ca_could_not_reach(http01_pebble, httpds,
                                                                 challenge, where):
    """The CA cannot reach this httpd for the challenge (its httpPort and
    tlsPort lead nowhere): the error names the challenge type and says which
    port of the name must reach httpd, not the account's EAB (the hint of a
    refused request, which CAs also answer as "unauthorized")."""
    pebble = http01_pebble
    names = names_for("unreach" + challenge.split("-")[0])
    h = Httpd(ssl=True, vhosts=[Vhost(names)], log_level="info ssl:warn")
    kw = {}
    pebble_defaults(pebble, h, kw)
    h.configure(sacme=sacme_lines(pebble, [names], more=["SacmeChallenge " + challenge],
                                  **kw))
    httpds.add(h).start()
    line = h.wait_log(ERRORED, limit=ISSUE_LIMIT)
    assert "(%s)" % challenge in line, line
    assert any(re.search(r"%s %s[ ,]" % (where, re.escape(n)), line) for n in names), line
    assert "EAB" not in line, line
