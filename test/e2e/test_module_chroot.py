"""ChrootDir and mod_sacme: refused at `apachectl -t` with a message that
names both directives (issue 11, defect 16). The driver would be forked
inside the chroot, away from the store, the CA certificates and the
resolver."""

from test_module_config import _base, _check


def test_chroot_dir_with_managed_domains_is_refused(tmp_path):
    rc, out = _check(_base(), extra="ChrootDir %s" % tmp_path)
    assert rc != 0, out
    assert "ChrootDir" in out and "SacmeDomain" in out and "SACME10114" in out, out


def test_chroot_dir_without_managed_domains_is_fine(tmp_path):
    rc, out = _check(["SacmeServer https://acme.example.test/dir"],
                     extra="ChrootDir %s" % tmp_path)
    assert rc == 0, out
