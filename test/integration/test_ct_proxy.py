"""mod_ssl_ct, proxy side: backends from `openssl s_server` with SCTs in the TLS extension,
the certificate and a stapled OCSP response; CTProxyAwareness oblivious/aware/require."""
import glob
import os
import struct
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from httpd import MOD_SSL_CT  # noqa: E402
from ct_fixtures import (no_child_crashed,  # noqa: F401
                         Pki, SServer, cert_der, ct_write_conf, make_sct, new_key, now_ms,  # noqa: E402
                         ocsp_response_with_scts, pub_pem, serverinfo_pem, write)

LOGFMT = ('LogFormat "%U %>s status=%{SSL_CT_PROXY_STATUS}e '
          'sources=%{SSL_CT_PROXY_SCT_SOURCES}e" ct\n')


@pytest.fixture
def env(httpd, tmp_path):
    """A PKI, two log keys (trusted, distrusted), and a list of started backends."""
    d = str(tmp_path)
    os.chmod(d, 0o755)

    class Env:
        pki = Pki(os.path.join(d, "pki"))
        trusted = new_key()
        distrusted = new_key()
        unknown = new_key()
        dir = d
        backends = []

        def backend(self, name, **kw):
            cert, key, files = self.pki.leaf(name, embed_log_keys=kw.pop("embed", ()))
            make = kw.pop("make", None)
            if make:
                kw.update(make(cert))
            b = SServer(files, self.pki.int_file, d, **kw)
            b.cert = cert
            self.backends.append(b)
            return b

    e = Env()
    yield e
    for b in e.backends:
        b.stop()


def proxy_httpd(httpd, e, routes, global_conf="", audit=False):
    """routes: {(vhost name, awareness): [(path, backend), ...]} on the http port."""
    h = httpd(md_module=None, extra_modules=["proxy", "proxy_http"])
    if audit:
        os.makedirs(h.path("audit"))
        global_conf += f"CTAuditStorage {h.path('audit')}\n"
    tk = write(h.path("trusted.pem"), pub_pem(e.trusted))
    dk = write(h.path("distrusted.pem"), pub_pem(e.distrusted))
    body = (f"LoadModule ssl_ct_module {MOD_SSL_CT}\n"
            f"CTStaticLogConfig - {tk} - - - -\n"
            f"CTStaticLogConfig - {dk} 1 - - -\n"
            f"{global_conf}\n{LOGFMT}"
            f"CustomLog {h.path('logs', 'access.log')} ct\n")
    for (name, awareness), paths in routes.items():
        extra = (f"  SSLProxyEngine on\n  SSLProxyCACertificateFile {e.pki.root_file}\n"
                 "  SSLProxyCheckPeerName off\n")
        if awareness:
            extra += f"  CTProxyAwareness {awareness}\n"
        for path, b in paths:
            extra += f"  ProxyPass {path} https://127.0.0.1:{b.port}/\n"
        body += h.http_vhost(name, extra=extra)
    ct_write_conf(h, body)
    h.start()
    return h


def access_lines(h, path, n=1):
    """The access log lines for path, once there are n of them (the log is written after
    the response went out, so it may lag behind the client)."""
    end = time.time() + 5
    lines = []
    while time.time() < end:
        try:
            lines = [l for l in open(h.path("logs", "access.log")) if l.startswith(path)]
        except OSError:
            lines = []
        if len(lines) >= n:
            break
        time.sleep(0.1)
    return lines


def sct_src(e, leaf_cert, key=None, **kw):
    return make_sct(key or e.trusted, leaf_cert, ts=now_ms() - 60000, **kw)


def test_require_accepts_valid_sct_from_each_source(httpd, env):
    e = env
    tls = e.backend("tls.test", make=lambda c: {"serverinfo": serverinfo_pem([sct_src(e, c)])})
    tls12 = e.backend("tls12.test", tls="-tls1_2",
                      make=lambda c: {"serverinfo": serverinfo_pem([sct_src(e, c)])})
    emb = e.backend("emb.test", embed=[e.trusted])
    ocsp = e.backend("ocsp.test", make=lambda c: {"status_file": ocsp_response_with_scts(
        c, e.pki.inter, e.pki.int_key, [sct_src(e, c)])})
    h = proxy_httpd(httpd, e, {("req.test", "require"): [("/tls/", tls), ("/tls12/", tls12),
                                                         ("/emb/", emb), ("/ocsp/", ocsp)]})
    for path, src in (("/tls/", "tlsext"), ("/tls12/", "tlsext"), ("/emb/", "certext"),
                      ("/ocsp/", "ocsp")):
        status, head, body = h.curl(path, host="req.test")
        assert status == 200, f"{path}: {status}\n{h.log()}"
        # a second request (cached verdict, maybe a reused connection) too
        status, head, body = h.curl(path, host="req.test")
        assert status == 200, path
        lines = access_lines(h, path, 2)
        assert len(lines) == 2, lines
        for line in lines:
            assert f"status=peer-aware sources={src}\n" in line, line


@pytest.mark.parametrize("case", ["none", "unknown", "distrusted", "badsig", "future",
                                  "malformed", "embedded-unknown"])
def test_require_refuses_aware_passes(httpd, env, case):
    e = env

    def make(c):
        if case == "none":
            return {}
        if case == "unknown":
            return {"serverinfo": serverinfo_pem([sct_src(e, c, key=e.unknown)])}
        if case == "distrusted":
            return {"serverinfo": serverinfo_pem([sct_src(e, c, key=e.distrusted)])}
        if case == "badsig":
            other = e.pki.leaf("other.test")[0]      # a valid SCT, but of another cert
            return {"serverinfo": serverinfo_pem([sct_src(e, other)])}
        if case == "future":
            return {"serverinfo": serverinfo_pem([make_sct(e.trusted, c,
                                                           ts=now_ms() + 3600000)])}
        if case == "malformed":
            good = sct_src(e, c)
            return {"serverinfo": serverinfo_pem([good[:-7], b"\x00" * 10])}
        return {}

    b = e.backend("b.test", make=make, embed=[e.unknown] if case == "embedded-unknown" else ())
    h = proxy_httpd(httpd, e, {("req.test", "require"): [("/b/", b)],
                               ("aware.test", None): [("/b/", b)],
                               ("obl.test", "oblivious"): [("/b/", b)]})
    status, head, body = h.curl("/b/", host="req.test")
    assert 500 <= status < 600, f"{case}: require gave {status}"
    assert "CTProxyAwareness require refuses" in h.log() or case == "malformed" and \
        "refuses" in h.log(), h.log()
    # aware (the default): the same backend is used, the outcome is visible
    status, head, body = h.curl("/b/", host="aware.test")
    assert status == 200, f"{case}: aware gave {status}"
    status, head, body = h.curl("/b/", host="obl.test")
    assert status == 200
    line = access_lines(h, "/b/", 3)
    assert len(line) == 3


def test_aware_reports_unaware_backend_and_oblivious_sets_nothing(httpd, env):
    e = env
    b = e.backend("plain.test")
    s = e.backend("sct.test", make=lambda c: {"serverinfo": serverinfo_pem([sct_src(e, c)])})
    h = proxy_httpd(httpd, e, {("aware.test", "aware"): [("/plain/", b)],
                               ("obl.test", "oblivious"): [("/sct/", s)]})
    assert h.curl("/plain/", host="aware.test")[0] == 200
    assert "status=peer-unaware sources=-" in access_lines(h, "/plain/")[0]
    assert h.curl("/sct/", host="obl.test")[0] == 200
    assert "status=- sources=-" in access_lines(h, "/sct/")[0]


def test_thousand_scts_and_audit(httpd, env):
    e = env
    def many(c):
        good = sct_src(e, c)
        junk = [make_sct(e.unknown, c, ts=now_ms() - 60000 - i) for i in range(20)]
        # 1000 SCTs in the TLS extension (as many as fit in 64 KiB), the good one last. In
        # TLS 1.3 the extension (type, length, list length, list) sits in the certificate
        # entry's extensions, whose length is 16 bits too: the list gets 65535 - 6 bytes at
        # most (ECDSA signatures vary in length: one more byte made s_server fail now and then)
        scts = (junk * 60)[:999]
        while len(b"".join(scts)) + 2 * len(scts) + len(good) + 2 > 65535 - 6:
            scts.pop()
        return {"serverinfo": serverinfo_pem(scts + [good])}

    b = e.backend("many.test", make=many)
    h = proxy_httpd(httpd, e, {("req.test", "require"): [("/b/", b)]}, audit=True)
    audit = h.path("audit")
    status, head, body = h.curl("/b/", host="req.test")
    assert status == 200, h.log()
    assert h.curl("/b/", host="req.test")[0] == 200
    assert "Segmentation" not in h.log()
    assert glob.glob(os.path.join(audit, "audit_*.tmp"))
    h.stop()
    outs = glob.glob(os.path.join(audit, "audit_*.out"))
    assert outs and not glob.glob(os.path.join(audit, "audit_*.tmp"))
    data = b"".join(open(p, "rb").read() for p in outs)
    # u16 1 | u16 2 | u16 keylen | key | u16 3 | u24 len | leaf DER ...
    assert data[:4] == b"\x00\x01\x00\x02"
    klen = struct.unpack(">H", data[4:6])[0]
    pos = 6 + klen
    assert data[pos:pos + 2] == b"\x00\x03"
    clen = int.from_bytes(data[pos + 2:pos + 5], "big")
    assert data[pos + 5:pos + 5 + clen] == cert_der(b.cert)
    # written once per certificate and child, not per request
    assert data.count(b"\x00\x01\x00\x02") == 1


def audit_scts(data):
    """The SCTs of every record of an audit file."""
    scts, pos = [], 0
    while pos < len(data):
        t = struct.unpack(">H", data[pos:pos + 2])[0]
        if t == 1:
            pos += 2
        elif t == 2:
            pos += 4 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
        elif t == 3:
            pos += 5 + int.from_bytes(data[pos + 2:pos + 5], "big")
        else:
            assert t == 4, data[pos:pos + 8]
            n = struct.unpack(">H", data[pos + 2:pos + 4])[0]
            scts.append(data[pos + 4:pos + 4 + n])
            pos += 4 + n
    return scts


def test_audit_keeps_only_accepted_scts(httpd, env):
    """SCTs the proxy rejected (unknown or distrusted log, bad signature, future) are not
    written to the audit file; an accepted one is."""
    e = env
    made = {}

    def scts(c):
        good = sct_src(e, c)
        bad = bytearray(sct_src(e, c))
        bad[-1] ^= 1
        made["good"] = good
        made["rejected"] = [make_sct(e.unknown, c, ts=now_ms() - 60000),
                            sct_src(e, c, key=e.distrusted), bytes(bad),
                            make_sct(e.trusted, c, ts=now_ms() + 3600 * 1000)]
        return {"serverinfo": serverinfo_pem(made["rejected"] + [good])}
    b = e.backend("mixed.test", make=scts)
    only_bad = e.backend("bad.test", make=lambda c: {"serverinfo": serverinfo_pem(
        [make_sct(e.unknown, c, ts=now_ms() - 60000)])})
    h = proxy_httpd(httpd, e, {("req.test", "aware"): [("/b/", b), ("/x/", only_bad)]},
                    audit=True)
    assert h.curl("/b/", host="req.test")[0] == 200, h.log()
    assert h.curl("/x/", host="req.test")[0] == 200, h.log()
    h.stop()
    data = b"".join(open(p, "rb").read() for p in
                    glob.glob(os.path.join(h.path("audit"), "audit_*.out")))
    assert audit_scts(data) == [made["good"]]
    assert data.count(b"\x00\x01\x00\x02") == 1        # no record for bad.test


def test_audit_end_to_end_with_ctauditscts(httpd, env):
    """What the proxy stores for audit is what ctauditscts proves included in the log."""
    import subprocess
    from httpd import TOP_BUILDDIR
    from ct_fixtures import CtLog
    e = env
    log = CtLog()
    try:
        b = e.backend("logged.test", make=lambda c: {"serverinfo": serverinfo_pem(
            [log.submit(c)])})
        h = httpd(md_module=None, extra_modules=["proxy", "proxy_http"])
        os.makedirs(h.path("audit"))
        keyfile = log.write_key(h.path("log.pem"))
        ct_write_conf(h, f"LoadModule ssl_ct_module {MOD_SSL_CT}\n"
                      f"CTStaticLogConfig - {keyfile} - - - {log.url}\n"
                      f"CTAuditStorage {h.path('audit')}\n"
                      + h.http_vhost("req.test", extra=(
                          f"  SSLProxyEngine on\n  SSLProxyCACertificateFile {e.pki.root_file}\n"
                          "  SSLProxyCheckPeerName off\n  CTProxyAwareness require\n"
                          f"  ProxyPass /b/ https://127.0.0.1:{b.port}/\n")))
        h.start()
        status, head, body = h.curl("/b/", host="req.test")
        assert status == 200, h.log()
        h.stop()
        p = subprocess.run([os.path.join(TOP_BUILDDIR, "support", "ctauditscts"), "-l",
                            f"{keyfile}={log.url}", h.path("audit")], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "CN=logged.test" in p.stdout and ": included (leaf 0 of 1)" in p.stdout, p.stdout
    finally:
        log.stop()


def test_require_follows_log_db_changes(httpd, env):
    """Distrusting the log in the DB makes `require` refuse without a restart: cached
    verdicts do not outlive the configuration they were made with."""
    import subprocess
    from httpd import TOP_BUILDDIR
    ctlogconfig = os.path.join(TOP_BUILDDIR, "support", "ctlogconfig")
    e = env
    b = e.backend("b.test", make=lambda c: {"serverinfo": serverinfo_pem([sct_src(e, c)])})
    h = httpd(md_module=None, extra_modules=["proxy", "proxy_http"])
    keyfile = write(h.path("trusted.pem"), pub_pem(e.trusted))
    db = h.path("logs.db")
    subprocess.run([ctlogconfig, db, "configure-public-key", keyfile], check=True)
    ct_write_conf(h, f"LoadModule ssl_ct_module {MOD_SSL_CT}\nCTLogConfigDB {db}\n"
                  + h.http_vhost("req.test", extra=(
                      f"  SSLProxyEngine on\n  SSLProxyCACertificateFile {e.pki.root_file}\n"
                      "  SSLProxyCheckPeerName off\n  CTProxyAwareness require\n"
                      f"  ProxyPass /b/ https://127.0.0.1:{b.port}/ disablereuse=On\n")))
    h.start()
    assert h.curl("/b/", host="req.test")[0] == 200, h.log()
    # every child looks at the DB about every 2 seconds
    subprocess.run([ctlogconfig, db, "distrust", "#1"], check=True)
    time.sleep(3.5)
    for _ in range(4):
        assert 500 <= h.curl("/b/", host="req.test")[0] < 600, h.log()
    subprocess.run([ctlogconfig, db, "trust", "#1"], check=True)
    time.sleep(3.5)
    for _ in range(4):
        assert h.curl("/b/", host="req.test")[0] == 200, h.log()


def test_cached_verdict_dies_with_its_configuration(httpd, env):
    """A verdict is current only for the log configuration it was made with, told by a
    generation number: a later configuration that happens to live at the address of an
    old one (the refresh frees the old pool, the allocator hands the memory out again two
    changes later) must not revive a verdict made before a log was distrusted."""
    import subprocess
    from httpd import TOP_BUILDDIR
    ctlogconfig = os.path.join(TOP_BUILDDIR, "support", "ctlogconfig")
    e = env
    b = e.backend("b.test", make=lambda c: {"serverinfo": serverinfo_pem([sct_src(e, c)])})
    h = httpd(md_module=None, extra_modules=["proxy", "proxy_http"])
    keyfile = write(h.path("trusted.pem"), pub_pem(e.trusted))
    db = h.path("logs.db")
    subprocess.run([ctlogconfig, db, "configure-public-key", keyfile], check=True)
    ct_write_conf(h, f"LoadModule ssl_ct_module {MOD_SSL_CT}\nCTLogConfigDB {db}\n"
                  + h.http_vhost("req.test", extra=(
                      f"  SSLProxyEngine on\n  SSLProxyCACertificateFile {e.pki.root_file}\n"
                      "  SSLProxyCheckPeerName off\n  CTProxyAwareness require\n"
                      f"  ProxyPass /b/ https://127.0.0.1:{b.port}/ disablereuse=On\n")))
    h.start()

    def change(*args):
        subprocess.run([ctlogconfig, db] + list(args), check=True, capture_output=True)
        time.sleep(3.5)                 # every child looks at the DB about every 2 seconds

    for round in range(2):
        # a configuration read from the DB (not the first one, which lives in pconf)
        change("configure-url", "#1", f"http://127.0.0.1:{round + 1}/")
        assert h.curl("/b/", host="req.test")[0] == 200, h.log()     # verdict cached
        change("configure-url", "#1", f"http://127.0.0.1:{round + 10}/")
        change("distrust", "#1")
        for _ in range(3):
            assert 500 <= h.curl("/b/", host="req.test")[0] < 600, (round, h.log())
        change("trust", "#1")
        assert h.curl("/b/", host="req.test")[0] == 200, h.log()
