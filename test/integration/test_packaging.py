"""The Debian package (debian/), as a user on Debian 12 gets it with `dpkg-buildpackage -us -uc -b`.

The package is built once per run from a copy of this tree under $top_builddir/packaging/
(its build directory stays there, so a second run only recompiles what changed), then:
its files are its own (no file that an installed Debian package owns), the .load/.conf
files for a2enmod are there, the modules load into Debian's apache2 from where the package
puts them (dpkg -x into a scratch root), `a2dismod md && a2enmod md_ng` switches a copy of
/etc/apache2 to our module and back, lintian reports no error, and the packaged mod_md
obtains a certificate from pebble.
"""
import glob
import os
import re
import shutil
import subprocess

import pytest

from httpd import APACHE2, TOP_BUILDDIR, TOP_SRCDIR
from pebble import pebble_for, md_conf, wait_staged, verify_served  # noqa: F401

# the first build of the package compiles everything: minutes on a busy machine
pytestmark = pytest.mark.timeout(1800)

PKG = "libapache2-mod-md-ng"
WORK = os.path.join(TOP_BUILDDIR, "packaging")
MODDIR = "usr/lib/apache2/modules"
AVAIL = "etc/apache2/mods-available"

# what a build leaves in a source tree: never copied into the package's source
# (autotools' output included: the package build makes its own, once)
_GENERATED = {".git", "_demo", "__pycache__", ".pytest_cache", "install-modules", "autom4te.cache",
              "config.status", "config.log", "config.h", "libtool", "stamp-h1", "Makefile",
              ".libs", ".deps", "configure", "configure~", "Makefile.in", "aclocal.m4",
              "config.h.in", "config.h.in~", "build-aux"}


def _ignore(src, names):
    out = set()
    for n in names:
        path = os.path.join(src, n)
        if n in _GENERATED or n.startswith("_build") or n.endswith((".o", ".lo", ".la")) \
                or (os.path.basename(src) == "m4" and n.endswith(".m4")) \
                or os.path.abspath(path) == os.path.abspath(WORK):
            out.add(n)
        elif os.path.basename(src) == "debian" and n not in (
                "control", "rules", "changelog", "copyright", "source") \
                and not n.endswith((".load", ".conf", ".apache2", ".lintian-overrides")):
            out.add(n)          # debhelper's state and staging: rebuilt every time
    return out


def _sync(src, dst):
    """Copy the tree src to dst, writing only files whose content differs, with the time of
    the copy: make then rebuilds exactly what changed (a copy that kept the source's
    mtime could be older than an object compiled from the previous copy)."""
    os.makedirs(dst, exist_ok=True)
    names = os.listdir(src)
    skip = _ignore(src, names)
    for n in names:
        if n in skip:
            continue
        s, d = os.path.join(src, n), os.path.join(dst, n)
        if os.path.isdir(s) and not os.path.islink(s):
            _sync(s, d)
            continue
        with open(s, "rb") as f:
            data = f.read()
        try:
            with open(d, "rb") as f:
                if f.read() == data:
                    continue
        except OSError:
            pass
        with open(d, "wb") as f:
            f.write(data)
        shutil.copymode(s, d)


def _run(args, **kw):
    kw.setdefault("timeout", 120)
    return subprocess.run(args, capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def package():
    if os.environ.get("SANITIZERS") == "yes":
        pytest.skip("the package is built and checked by the plain build's test run")
    for tool in ("dpkg-buildpackage", "dh_apache2", "lintian", "fakeroot"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing: run scripts/install-deps.sh")
    src = os.path.join(WORK, "src")
    os.makedirs(WORK, exist_ok=True)
    # keep debian/build (the configured build) for an incremental rebuild; everything else
    # of debhelper's is redone, or dh would skip the build of changed sources
    if os.path.isdir(os.path.join(src, "debian")):
        for n in os.listdir(os.path.join(src, "debian")):
            if n != "build":
                p = os.path.join(src, "debian", n)
                shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.remove(p)
    _sync(TOP_SRCDIR, src)
    for old in glob.glob(os.path.join(WORK, f"{PKG}*")):
        os.remove(old)
    env = dict(os.environ, DEB_BUILD_OPTIONS=f"nocheck parallel={os.cpu_count() or 1}")
    env.pop("MAKEFLAGS", None)              # make check's jobserver is not ours
    env.pop("MFLAGS", None)
    log = os.path.join(WORK, "dpkg-buildpackage.log")
    with open(log, "w") as out:
        p = subprocess.run(["nice", "dpkg-buildpackage", "-us", "-uc", "-b", "-nc"], cwd=src,
                           env=env, stdout=out, stderr=subprocess.STDOUT, timeout=1800)
    with open(log) as f:
        assert p.returncode == 0, f"dpkg-buildpackage failed ({log}):\n{f.read()[-8000:]}"
    debs = glob.glob(os.path.join(WORK, f"{PKG}_*.deb"))
    assert len(debs) == 1, debs
    root = os.path.join(WORK, "root")
    shutil.rmtree(root, ignore_errors=True)
    p = _run(["dpkg-deb", "-x", debs[0], root])
    assert p.returncode == 0, p.stderr
    p = _run(["dpkg-deb", "-c", debs[0]])
    assert p.returncode == 0, p.stderr
    entries = []                            # (type char, absolute path)
    for line in p.stdout.splitlines():
        path = line.split(None, 5)[5].split(" -> ")[0]
        entries.append((line[0], os.path.normpath("/" + path)))
    return {"deb": debs[0], "root": root, "entries": entries}


def _conf_lines(path, root):
    """A packaged .load/.conf with its module path moved into the scratch root."""
    with open(path) as f:
        text = f.read()
    return text.replace(f"/{MODDIR}/", f"{root}/{MODDIR}/")


def test_contents_are_our_own_files(package):
    files = {p for t, p in package["entries"] if t != "d"}
    for want in (f"/{MODDIR}/mod_md_ng.so", f"/{MODDIR}/mod_ssl_ct_ng.so",
                 "/usr/bin/ctlogconfig", "/usr/bin/ctauditscts",
                 "/usr/share/man/man1/ctlogconfig.1.gz", "/usr/share/man/man1/ctauditscts.1.gz",
                 f"/{AVAIL}/md_ng.load", f"/{AVAIL}/md_ng.conf",
                 f"/{AVAIL}/ssl_ct_ng.load", f"/{AVAIL}/ssl_ct_ng.conf",
                 f"/usr/share/doc/{PKG}/copyright"):
        assert want in files, f"{want} missing from the package: {sorted(files)}"
    assert any(re.match(rf"/usr/share/doc/{PKG}/mod_md\.md(\.gz)?$", f) for f in files), files
    # no file of ours belongs to an installed Debian package (ours, if installed, aside)
    p = _run(["dpkg-query", "-S"] + sorted(files))
    owners = [line for line in p.stdout.splitlines() if not line.startswith(f"{PKG}:")]
    assert owners == [], f"files owned by Debian packages: {owners}"


def test_load_files_declare_dependencies(package):
    root = package["root"]
    with open(os.path.join(root, AVAIL, "md_ng.load")) as f:
        md_load = f.read()
    assert re.search(r"^# Depends: .*\bssl\b", md_load, re.M), md_load
    assert re.search(r"^# Conflicts: md$", md_load, re.M), md_load
    assert f"LoadModule md_module /{MODDIR}/mod_md_ng.so" in md_load
    with open(os.path.join(root, AVAIL, "ssl_ct_ng.load")) as f:
        ct_load = f.read()
    assert re.search(r"^# Depends: .*\bssl\b", ct_load, re.M), ct_load
    assert f"LoadModule ssl_ct_module /{MODDIR}/mod_ssl_ct_ng.so" in ct_load
    # every status handler of the shipped .conf is for this machine only
    with open(os.path.join(root, AVAIL, "md_ng.conf")) as f:
        conf = f.read()
    blocks = re.findall(r'<Location "(/[^"]+)">(.*?)</Location>', conf, re.S)
    assert {b[0] for b in blocks} == {"/md-status", "/md-metrics", "/server-status"}, blocks
    for where, body in blocks:
        assert re.search(r"^\s*Require local\s*$", body, re.M), (where, body)
    assert re.search(r"^\s*#\s*MDomain ", conf, re.M), "no commented example"


def test_packaged_modules_load_and_serve_status(package, httpd):
    """apache2 -t and a start with both packaged modules and their shipped .conf files;
    the status pages the .conf enables answer from localhost."""
    root = package["root"]
    h = httpd(md_module=None)
    conf = "".join(_conf_lines(os.path.join(root, AVAIL, n), root)
                   for n in ("md_ng.load", "md_ng.conf", "ssl_ct_ng.load", "ssl_ct_ng.conf"))
    h.write_conf(conf + f"MDStoreDir {h.store_dir}\n")
    rc, out = h.configtest()
    assert rc == 0 and "Syntax OK" in out, out
    h.start()
    status, _, body = h.curl("/md-status")
    # no MD configured: the version alone, as Debian's module answers
    assert status == 200 and '"version"' in body, (status, body)
    status, _, body = h.curl("/md-metrics")
    assert status == 200 and "# TYPE " in body, (status, body)
    h.stop()


def test_packaged_tools_run(package, tmp_path):
    """ctlogconfig and ctauditscts as installed: linked against the system's libraries only."""
    bindir = os.path.join(package["root"], "usr/bin")
    db = str(tmp_path / "logs.db")
    p = _run([os.path.join(bindir, "ctlogconfig"), db, "configure-url", "https://ct.example.net/log/"])
    assert p.returncode == 0, p.stdout + p.stderr
    p = _run([os.path.join(bindir, "ctlogconfig"), db, "dump"])
    assert p.returncode == 0 and "https://ct.example.net/log/" in p.stdout, p.stdout + p.stderr
    audit = tmp_path / "audit"
    audit.mkdir()
    p = _run([os.path.join(bindir, "ctauditscts"), str(audit)])
    assert p.returncode == 0 and "0 SCT(s)" in p.stdout, p.stdout + p.stderr


def _a2(confdir, statedir, *args):
    env = dict(os.environ, APACHE_CONFDIR=confdir, APACHE_STATE_DIRECTORY=statedir)
    env.pop("APACHE_ENVVARS", None)
    return _run(list(args), env=env)


def _configtest(confdir):
    """apache2 -t on a full Debian configuration tree, with its envvars as apache2ctl would,
    its run-time directories moved next to it (apache2ctl would create /var/run/apache2)."""
    var = os.path.join(os.path.dirname(confdir), "var")
    for sub in ("run", "lock", "log"):
        os.makedirs(os.path.join(var, sub), exist_ok=True)
    return _run(["sh", "-c", f'. "{confdir}/envvars" && export APACHE_RUN_DIR="{var}/run" '
                 f'APACHE_PID_FILE="{var}/run/apache2.pid" APACHE_LOCK_DIR="{var}/lock" '
                 f'APACHE_LOG_DIR="{var}/log" && exec {APACHE2} -d "{confdir}" -t'],
                env=dict(os.environ, APACHE_CONFDIR=confdir))


def test_a2enmod_switches_between_debian_and_ours(package, tmp_path):
    """On a copy of /etc/apache2 with the package's files: Debian's md is replaced by ours
    with a2dismod/a2enmod (ssl enabled through '# Depends'), enabling both is refused, the
    configuration passes apache2 -t either way, and the store directory is the same."""
    root = package["root"]
    confdir = str(tmp_path / "apache2")
    statedir = str(tmp_path / "state")
    os.makedirs(statedir)
    shutil.copytree("/etc/apache2", confdir, symlinks=True)
    for n in ("md_ng.load", "md_ng.conf", "ssl_ct_ng.load", "ssl_ct_ng.conf"):
        with open(os.path.join(confdir, "mods-available", n), "w") as f:
            f.write(_conf_lines(os.path.join(root, AVAIL, n), root))
    enabled = os.path.join(confdir, "mods-enabled")
    for n in os.listdir(enabled):
        if n.startswith(("md", "ssl", "ssl_ct")):
            os.remove(os.path.join(enabled, n))
    p = _a2(confdir, statedir, "a2enmod", "-q", "md")
    assert p.returncode == 0, p.stdout + p.stderr

    # both at once: refused, nothing enabled
    p = _a2(confdir, statedir, "a2enmod", "md_ng")
    assert p.returncode != 0 and "Module md is enabled" in p.stdout + p.stderr, p.stdout + p.stderr
    assert not os.path.exists(os.path.join(enabled, "md_ng.load"))

    p = _a2(confdir, statedir, "a2dismod", "-q", "md")
    assert p.returncode == 0, p.stdout + p.stderr
    p = _a2(confdir, statedir, "a2enmod", "md_ng")
    assert p.returncode == 0, p.stdout + p.stderr
    for n in ("md_ng.load", "md_ng.conf", "ssl.load"):
        assert os.path.islink(os.path.join(enabled, n)), (n, os.listdir(enabled))
    assert not os.path.exists(os.path.join(enabled, "md.load"))
    rc = _configtest(confdir)
    assert rc.returncode == 0, rc.stdout + rc.stderr
    # the store is ServerRoot/md, as with Debian's module: no MDStoreDir in what we ship
    with open(os.path.join(confdir, "mods-available", "md_ng.conf")) as f:
        assert not re.search(r"^\s*MDStoreDir", f.read(), re.M)

    p = _a2(confdir, statedir, "a2enmod", "ssl_ct_ng")
    assert p.returncode == 0, p.stdout + p.stderr
    rc = _configtest(confdir)
    assert rc.returncode == 0, rc.stdout + rc.stderr

    # and back to Debian's module
    for args in (("a2dismod", "-q", "ssl_ct_ng"), ("a2dismod", "-q", "md_ng"),
                 ("a2enmod", "-q", "md")):
        p = _a2(confdir, statedir, *args)
        assert p.returncode == 0, (args, p.stdout + p.stderr)
    assert os.path.islink(os.path.join(enabled, "md.load"))
    assert not os.path.exists(os.path.join(enabled, "md_ng.load"))
    rc = _configtest(confdir)
    assert rc.returncode == 0, rc.stdout + rc.stderr


def test_lintian_reports_no_error(package):
    p = _run(["lintian", "--fail-on", "error", "--tag-display-limit", "0", package["deb"]],
             timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert not re.search(r"^E: ", p.stdout, re.M), p.stdout


def test_packaged_module_obtains_certificate(package, httpd, pebble_for):
    """The module as the package installs it gets a certificate from pebble and serves it."""
    h = httpd(md_module=os.path.join(package["root"], MODDIR, "mod_md_ng.so"))
    pb = pebble_for(h)
    name = "pkg.mdtest.org"
    h.write_conf(md_conf(pb, h, "MDCAChallenges http-01\n") + f"MDomain {name}\n"
                 + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    wait_staged(h, name)
    h.graceful()
    rc, out = verify_served(h, name, pb.write_root(os.path.join(pb.dir, "root.pem")))
    assert rc == 0 and "Verify return code: 0 (ok)" in out, out
    assert "mod_md_ng.so" in open(h.conf_path).read()


def test_make_install_writes_no_debian_file(tmp_path):
    """`make install` (apxs for the modules) puts nothing where a Debian package has a file."""
    dest = str(tmp_path / "dest")
    p = _run(["make", "-C", TOP_BUILDDIR, "-s", "install", f"DESTDIR={dest}"], timeout=300,
             env={k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS")})
    assert p.returncode == 0, p.stdout + p.stderr
    files = sorted("/" + os.path.relpath(os.path.join(d, n), dest)
                   for d, _, names in os.walk(dest) for n in names)
    moddir = _run(["apxs", "-q", "LIBEXECDIR"]).stdout.strip()
    assert f"{moddir}/mod_md_ng.so" in files and f"{moddir}/mod_ssl_ct_ng.so" in files, files
    assert not [f for f in files if os.path.basename(f) in ("mod_md.so", "mod_ssl_ct.so")], files
    p = _run(["dpkg-query", "-S"] + files)
    owners = [line for line in p.stdout.splitlines() if not line.startswith(f"{PKG}:")]
    assert owners == [], f"make install writes files owned by Debian packages: {owners}"
