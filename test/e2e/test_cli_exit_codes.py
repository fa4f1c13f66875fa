"""sacmectl's exit codes for errors of this machine (issue 11, defect 13):
a store that cannot be written (read-only, full) or is unsafe exits with
EXIT_LOCAL, a missing store with EXIT_CONFIG, never with 3 ("the CA
refused").  No CA is involved: `renew --force` only writes a request into
the store, and `list` only reads it."""

import json
import os
import subprocess

import pytest

from sacmetest.sacmectl import EXIT_CA_REFUSED, EXIT_CONFIG, EXIT_LOCAL, EXIT_OK, run

DOMAIN = "exit-codes.example"


def make_store(path):
    """A store as a server leaves it (managed.json, requests/), for sacmectl."""
    os.makedirs(path, mode=0o755, exist_ok=True)
    os.chmod(path, 0o755)
    with open(os.path.join(path, "managed.json"), "w") as f:
        json.dump({"server": "https://127.0.0.1:9/dir",
                   "domains": [{"name": DOMAIN, "names": [DOMAIN], "key-type": "p256",
                                "challenge": "http-01"}]}, f)
    os.mkdir(os.path.join(path, "requests"), 0o750)
    return path


def renew(store):
    return run(["renew", "--force", DOMAIN, "--store", store, "--json"])


def assert_local(res):
    assert res.rc == EXIT_LOCAL, res.describe()
    assert res.rc != EXIT_CA_REFUSED
    assert res.error["exit-code"] == EXIT_LOCAL, res.describe()


@pytest.fixture
def tmpfs(tmp_path):
    """A 64 KiB tmpfs of our own (root only), unmounted afterwards."""
    where = tmp_path / "mnt"
    where.mkdir()
    # The README's test command runs as root, so these tests always run
    # there; only a developer's unprivileged run skips them (mounting needs
    # root). As root, a failing mount is an error, not a skip.
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs",
                        str(where)], capture_output=True, text=True)
    assert r.returncode == 0, "cannot mount a tmpfs: %s" % r.stderr
    try:
        yield str(where)
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_missing_store_is_a_configuration_error(tmp_path):
    res = run(["list", "--store", str(tmp_path / "nowhere"), "--json"])
    assert res.rc == EXIT_CONFIG, res.describe()


def test_unsafe_store_is_a_local_error(tmp_path):
    store = make_store(str(tmp_path / "store"))
    assert renew(store).rc == EXIT_OK
    os.chmod(store, 0o777)      # writable by others: refused (SACME_EUNSAFE)
    res = run(["list", "--store", store, "--json"])
    assert_local(res)
    assert "refusing" in res.error["message"], res.describe()


def test_read_only_store_is_a_local_error(tmpfs):
    store = make_store(os.path.join(tmpfs, "store"))
    subprocess.run(["mount", "-o", "remount,ro", tmpfs], check=True)
    res = renew(store)
    assert_local(res)
    assert "Read-only" in res.error["message"], res.describe()


def test_full_store_is_a_local_error(tmpfs):
    store = make_store(os.path.join(tmpfs, "store"))
    # fill the filesystem up to the last block
    fd = os.open(os.path.join(tmpfs, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"x" * 512)
    except OSError:
        pass
    finally:
        os.close(fd)
    res = renew(store)
    assert_local(res)
    assert "cannot write" in res.error["message"], res.describe()
