"""The module built by `make` loads into a real httpd and says so."""

import os

from sacmetest.httpd import Httpd, module_path


def test_module_is_built_as_a_shared_object():
    assert os.path.isfile(module_path()), "mod_sacme.so not built at %s" % module_path()


def test_config_check_accepts_the_module():
    h = Httpd()
    r = h.check_config()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Syntax OK" in r.stdout + r.stderr


def test_httpd_loads_the_module_and_logs_its_version():
    with Httpd() as h:
        h.wait_log("SACME10001: mod_sacme ")
        line = [l for l in h.log().splitlines() if "SACME10001" in l][0]
        # the line is tagged with the module and carries the version
        assert ":info]" in line and "sacme" in line
        assert "mod_sacme 0.1.0 loaded" in line
