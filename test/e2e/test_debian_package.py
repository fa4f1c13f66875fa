"""The Debian package, as an admin of a Debian server uses it: build
libapache2-mod-sacme with dpkg-buildpackage from a copy of the sources,
check it with lintian, install it with apt-get, configure the SYSTEM
apache2 (/etc/apache2: mods-available/sacme.conf, a site made from Debian's
default-ssl, a2enmod, a2ensite, apache2ctl), get a certificate from a local
Pebble with real http-01, then `apt-get remove` and `apt-get purge`.

The machine's apache2 is the admin's: the test holds a machine-wide lock,
snapshots /etc/apache2 and the a2enmod records of /var/lib/apache2, makes
the system instance listen on loopback ports only, and afterwards puts
everything back (and checks that it did), stops the instance it started and
purges the package.  One test, so that pytest-xdist never runs two parts of
it on two workers at once.
"""

import json
import os
import pwd
import re
import shutil
import stat

import pytest

from sacmetest import certcheck
from sacmetest.httpd import process_uid
from sacmetest.module import (ACTIVATED, ISSUE_LIMIT, assert_served_verified,
                              live_chain, root_file)
from sacmetest.pebble import Pebble, free_port
from sacmetest.sysapache import (A2_STATE_DIRS, CONF_DIR, Snapshot, SystemApache,
                                 fingerprint, machine_lock, run, system_pid)

PACKAGE = "libapache2-mod-sacme"
STORE = "/var/lib/apache2/sacme"
DRIVER_USER = "sacme"
SITE = "sacme-e2e-ssl"
NAMES = ["deb.test", "www.deb.test"]
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# What a copy of the sources leaves out: builds, generated autotools files,
# caches (the package build runs autoreconf itself).
_GENERATED_TOP = {".git", "autom4te.cache", "aclocal.m4", "configure", "configure~",
                  "config.h.in", "config.h.in~", "Makefile.in", "m4", "build-aux",
                  "Makefile", "config.status", "config.log", "config.h", "libtool",
                  "stamp-h1"}
_GENERATED_ANY = {"__pycache__", ".pytest_cache", ".libs", ".deps", ".dirstamp"}
APT = ("apt-get", "-y", "-o", "DPkg::Lock::Timeout=300")


def _ignore(directory, names):
    out = {n for n in names if n in _GENERATED_ANY or n.endswith((".o", ".lo", ".la"))}
    if os.path.abspath(directory) == TOP:
        out |= {n for n in names if n in _GENERATED_TOP or n.startswith("build")}
    return out


def _package_status():
    """dpkg's two letters (ii installed, rc removed with its conffiles
    left), or "" when dpkg has nothing of it."""
    r = run("dpkg-query", "-W", "-f=${db:Status-Abbrev}", PACKAGE)
    status = r.stdout.strip() if r.returncode == 0 else ""
    return "" if status in ("un", "pn") else status


def _ok(r, what):
    assert r.returncode == 0, "%s failed (exit %d):\n%s%s" % (what, r.returncode,
                                                            r.stdout[-6000:], r.stderr[-6000:])
    return r.stdout + r.stderr


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    """The package built from a copy of the sources, and lintian's verdict."""
    work = tmp_path_factory.mktemp("deb")
    src = work / "libapache2-mod-sacme"
    shutil.copytree(TOP, src, symlinks=True, ignore=_ignore)
    jobs = os.cpu_count() or 2
    # the unit tests are run by test/run-tests already (make check)
    r = run("dpkg-buildpackage", "-us", "-uc", "-b", cwd=str(src), timeout=1800, env={"DEB_BUILD_OPTIONS": "nocheck parallel=%d" % jobs})
    _ok(r, "dpkg-buildpackage")
    debs = [f for f in os.listdir(work) if re.match(PACKAGE + r"_.*\.deb$", f)]
    assert len(debs) == 1, "dpkg-buildpackage made %r" % os.listdir(work)
    path = str(work / debs[0])
    lint = run("lintian", "--info", path, timeout=600)
    return path, lint.stdout + lint.stderr


@pytest.fixture
def system(tmp_path, httpds):
    """The machine's apache2, lent to the test and given back as it was
    (tracked by httpds: a failed test's report shows its error log)."""
    with machine_lock():
        status = _package_status()
        assert status == "", \
            "%s is already on this machine (%s): the test would remove it" % (PACKAGE, status)
        assert not os.path.lexists(STORE), \
            "%s exists: the test's purge would remove someone's store" % STORE
        was_running = system_pid() is not None
        snap = Snapshot((CONF_DIR,) + A2_STATE_DIRS, str(tmp_path))
        pebble = Pebble(always_valid=False, nosleep=True)
        pebble.start()
        h = httpds.add(SystemApache(pebble.http_port, free_port(), STORE))
        try:
            yield h, pebble
        finally:
            try:
                h.stop()
                if _package_status():
                    run("dpkg", "--purge", PACKAGE)
                shutil.rmtree(STORE, ignore_errors=True)
            finally:
                snap.restore()
                pebble.stop()
                if was_running:
                    run("apache2ctl", "start")
            assert snap.changed() == [], "not restored: %r" % snap.changed()


def _sacme_conf(h, pebble):
    """mods-available/sacme.conf as the README has the admin fill it in:
    the package's file with its commented directives set."""
    path = os.path.join(CONF_DIR, "mods-available", "sacme.conf")
    with open(path) as f:
        text = f.read()
    eab = os.path.join(CONF_DIR, "sacme-eab.json")
    fd = os.open(eab, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"kid": "kid-1", "hmac": pebble.eab["kid-1"]}, f)
    # Pebble's API CA and issuing root: in no system bundle
    api_ca = os.path.join(CONF_DIR, "sacme-e2e-pebble-api-ca.pem")
    shutil.copyfile(pebble.ca_file, api_ca)
    roots = os.path.join(CONF_DIR, "sacme-e2e-pebble-roots.pem")
    with open(roots, "w") as f:
        f.write(pebble.root_pem())
    for p in (api_ca, roots):
        os.chmod(p, 0o644)
    values = {
        "SacmeServer": pebble.directory_url,
        "SacmeEAB": "file:" + eab,
        "SacmeContact": "admin@example.test",
        "SacmeAgreement": "accepted",
        "SacmeDomain": " ".join(NAMES),
    }
    for name, value in values.items():
        text, n = re.subn(r"(?m)^(\s*)#%s\s.*$" % name, r"\g<1>%s %s" % (name, value), text)
        assert n == 1, "no commented %s line in the package's sacme.conf" % name
    assert re.search(r"(?m)^\s*SacmeStoreDir %s$" % STORE, text), text
    assert re.search(r"(?m)^\s*SacmeDriverUser %s$" % DRIVER_USER, text), text
    more = ["SacmeCACertificate " + api_ca, "SacmeTrustedRoots " + roots,
            # Pebble stands for the CA's port 80
            "SacmePortMap http:%d" % h.port]
    text = text.replace("</IfModule>", "".join("\t%s\n" % l for l in more) + "</IfModule>")
    with open(path, "w") as f:
        f.write(text)
    return path


def _loopback_ports(h):
    """ports.conf: the system instance on loopback, on the test's ports."""
    path = os.path.join(CONF_DIR, "ports.conf")
    with open(path) as f:
        text = f.read()
    text = re.sub(r"(?m)^Listen 80$", "Listen 127.0.0.1:%d" % h.port, text)
    text = re.sub(r"(?m)^(\s*)Listen 443$", r"\g<1>Listen 127.0.0.1:%d" % h.https_port, text)
    assert text.count("127.0.0.1:") == 3, text      # http, mod_ssl, mod_gnutls
    with open(path, "w") as f:
        f.write(text)
    # mod_sacme's lines are at level info
    conf = os.path.join(CONF_DIR, "apache2.conf")
    with open(conf) as f:
        text = f.read()
    text, n = re.subn(r"(?m)^LogLevel warn$", "LogLevel info ssl:warn", text)
    assert n == 1
    with open(conf, "w") as f:
        f.write(text)


def _site(h):
    """A site made from Debian's default-ssl.conf the way its comments tell
    an admin to: ServerName, and no certificate lines (mod_sacme supplies
    the certificate)."""
    with open(os.path.join(CONF_DIR, "sites-available", "default-ssl.conf")) as f:
        text = f.read()
    text = text.replace("<VirtualHost *:443>", "<VirtualHost *:%d>\n\t\tServerName %s\n"
                        "\t\tServerAlias %s" % (h.https_port, NAMES[0], " ".join(NAMES[1:])))
    text = re.sub(r"(?m)^\s*SSLCertificate(Key)?File\s.*$", "", text)
    assert "ServerName %s" % NAMES[0] in text
    with open(os.path.join(CONF_DIR, "sites-available", SITE + ".conf"), "w") as f:
        f.write(text)


def _driver_uid(h):
    pid = h.driver_pid()
    try:
        return process_uid(pid) if pid else None
    except OSError:
        return None     # that driver ended meanwhile


def _mode(path):
    st = os.stat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def test_debian_package_on_the_system_apache2(deb, system, tmp_path):
    path, lintian = deb
    h, pebble = system

    # lintian: no error (warnings are explained in docs/operations.md)
    errors = [l for l in lintian.splitlines() if l.startswith("E: ")]
    assert errors == [], "lintian errors:\n" + lintian

    # --- install: the module, sacmectl, man pages, the account, the store
    out = _ok(run(*APT, "install", path), "apt-get install")
    assert _package_status() == "ii", out
    for f in ("/usr/lib/apache2/modules/mod_sacme.so", "/usr/sbin/sacmectl",
              "/usr/share/man/man8/sacmectl.8.gz", "/usr/share/man/man8/mod_sacme.8.gz",
              "/usr/share/doc/%s/directives.md.gz" % PACKAGE,
              "/etc/apache2/mods-available/sacme.load"):
        assert os.path.exists(f), f
    assert _mode(STORE) == (0, 0, 0o755)
    driver_uid = pwd.getpwnam(DRIVER_USER).pw_uid
    r = run("man", "--pager=cat", "8", "sacmectl")
    assert "sacmectl" in r.stdout and "EXIT STATUS" in r.stdout, r.stdout + r.stderr

    # --- configure as the README says
    _loopback_ports(h)
    conf = _sacme_conf(h, pebble)
    _site(h)
    _ok(run("a2enmod", "ssl", "sacme"), "a2enmod ssl sacme")
    _ok(run("a2ensite", SITE), "a2ensite")
    assert os.path.islink("/etc/apache2/mods-enabled/sacme.load")
    assert os.path.islink("/etc/apache2/mods-enabled/ssl.load")
    _ok(run("apache2ctl", "configtest"), "apache2ctl configtest")

    # a broken SacmeServer: configtest names the directive and the file
    with open(conf) as f:
        good = f.read()
    with open(conf, "w") as f:
        f.write(good.replace("SacmeServer https://", "SacmeServer http://"))
    r = run("apache2ctl", "-t")
    assert r.returncode != 0, "apache2ctl -t accepted an http:// SacmeServer"
    assert "SacmeServer" in r.stderr and "sacme.conf" in r.stderr, r.stderr
    with open(conf, "w") as f:
        f.write(good)

    # --- the system instance obtains and serves the certificate
    h.start()
    h.wait_managed_cert(NAMES[0], limit=ISSUE_LIMIT)
    leaf = assert_served_verified(h, NAMES, root_file(pebble, str(tmp_path)))[0]
    assert live_chain(h, NAMES[0])[0] == leaf, "not the certificate of the store"
    assert pebble.cert_status(certcheck.serial_hex(leaf)).get("Status") == "Valid"
    assert h.log_lines(ACTIVATED), "no %s in %s" % (ACTIVATED, h.error_log)
    # the driving process runs as the package's account (the one started
    # by the activation's restart may not have dropped root yet)
    h._wait(lambda: _driver_uid(h) == driver_uid,
            "the driving process to run as %s" % DRIVER_USER)
    assert _mode(os.path.join(STORE, "accounts"))[0] == driver_uid
    # sacmectl finds the store through Debian's apache2.conf: named, and
    # without any option (the package's store is not /etc/apache2/sacme)
    out = _ok(run("sacmectl", "list", "--config", "/etc/apache2/apache2.conf"), "sacmectl list")
    assert NAMES[0] in out, out
    assert not os.path.exists("/etc/apache2/sacme/managed.json")
    out = _ok(run("sacmectl", "list"), "sacmectl list without options")
    assert NAMES[0] in out, out
    with open(os.path.join(STORE, "domains", NAMES[0], "fullchain.pem"), "rb") as f:
        live = f.read()
    h.stop()

    # a2dismod: the module is off, its store as it was
    store_before = fingerprint(STORE)
    _ok(run("a2dismod", "sacme"), "a2dismod sacme")
    assert not os.path.lexists("/etc/apache2/mods-enabled/sacme.load")
    assert fingerprint(STORE) == store_before

    # --- remove: everything of the package goes, the store stays
    out = _ok(run(*APT, "remove", PACKAGE), "apt-get remove")
    assert _package_status() == "rc", out
    assert not os.path.exists("/usr/lib/apache2/modules/mod_sacme.so")
    assert not os.path.lexists("/etc/apache2/mods-enabled/sacme.load")
    assert "%s (ACME account key, certificates, private keys) is kept" % STORE in out, out
    with open(os.path.join(STORE, "domains", NAMES[0], "fullchain.pem"), "rb") as f:
        assert f.read() == live
    assert os.listdir(os.path.join(STORE, "accounts")), "the account is gone"
    assert _mode(STORE) == (0, 0, 0o755)

    # --- purge: the store goes, after a notice
    out = _ok(run(*APT, "purge", PACKAGE), "apt-get purge")
    assert _package_status() == "", out
    assert "purge: removing the store %s" % STORE in out, out
    assert not os.path.lexists(STORE)
    assert not os.path.exists("/etc/apache2/mods-available/sacme.conf")


def test_make_install_puts_the_a2enmod_files(tmp_path):
    """`make install` on Debian: sacme.load and the commented sacme.conf in
    mods-available (what a2enmod reads), the man pages; an admin's
    sacme.conf survives a second install and an uninstall."""
    build = os.environ.get("SACME_BUILD_DIR") or os.path.join(TOP, "build")
    dest = str(tmp_path / "dest")
    _ok(run("make", "-C", build, "install", "DESTDIR=" + dest), "make install")
    mods = dest + "/etc/apache2/mods-available"
    with open(os.path.join(mods, "sacme.load")) as f:
        load = f.read()
    assert "LoadModule sacme_module /usr/lib/apache2/modules/mod_sacme.so\n" in load, load
    assert os.path.isfile(dest + "/usr/lib/apache2/modules/mod_sacme.so")
    assert "# Depends: ssl" in load, "a2enmod sacme must enable mod_ssl too"
    with open(os.path.join(mods, "sacme.conf")) as f:
        conf = f.read()
    assert "\tSacmeStoreDir /var/lib/apache2/sacme\n" in conf
    # without --with-driver-user the account may not exist: commented out
    assert "\t#SacmeDriverUser sacme\n" in conf
    for d in ("SacmeServer", "SacmeEAB", "SacmeDomain"):
        assert re.search(r"(?m)^\s*#%s\s" % d, conf), d
    mans = [f for f in os.listdir(dest + "/usr/local/share/man/man8")]
    assert sorted(mans) == ["mod_sacme.8", "sacmectl.8"]
    assert os.path.isfile(dest + "/usr/local/sbin/sacmectl")

    with open(os.path.join(mods, "sacme.conf"), "a") as f:
        f.write("# the admin's line\n")
    out = _ok(run("make", "-C", build, "install", "DESTDIR=" + dest), "make install again")
    assert "keeping" in out and "sacme.conf" in out, out
    _ok(run("make", "-C", build, "uninstall", "DESTDIR=" + dest), "make uninstall")
    assert not os.path.exists(os.path.join(mods, "sacme.load"))
    with open(os.path.join(mods, "sacme.conf")) as f:
        assert f.read().endswith("# the admin's line\n")
