"""mod_ssl_ct, server side: what `openssl s_client -ct -ctlogfile` sees, over TLS 1.2/1.3."""
import glob
import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from httpd import MOD_SSL_CT, TOP_BUILDDIR, children_of, strace_children  # noqa: E402
from ct_fixtures import (no_child_crashed,  # noqa: F401
                         CtLog, Pki, cert_der, ctlogfile, make_sct, new_key, now_ms,  # noqa
                         ct_write_conf, pub_der, pub_pem, s_client_ct, sct_report, write)

CTLOGCONFIG = os.path.join(TOP_BUILDDIR, "support", "ctlogconfig")
TLS = ["-tls1_2", "-tls1_3"]


@pytest.fixture
def logs_to_stop():
    started = []
    yield started
    for log in started:
        log.stop()


def setup_server(h, pki, leaf_files, global_conf="", vhost_conf=""):
    os.makedirs(h.path("ctstore"), exist_ok=True)
    ct_write_conf(h, f"LoadModule ssl_ct_module {MOD_SSL_CT}\n"
                  f"CTSCTStorage {h.path('ctstore')}\n"
                 f"{global_conf}\n"
                 + h.ssl_vhost("localhost", extra=(
                     f"  SSLCertificateFile {leaf_files['chain']}\n"
                     f"  SSLCertificateKeyFile {leaf_files['key']}\n"
                     f"  Header always set X-CT-Client \"%{{SSL_CT_CLIENT_STATUS}}e\"\n"
                     f"{vhost_conf}")))


def wait_scts(h, ctlog, pki, want, tls="-tls1_3", timeout=20):
    """Poll s_client until it reports `want` SCTs; returns (present, statuses, output)."""
    end = time.time() + timeout
    while True:
        out = s_client_ct(h.https_port, ctlog, pki.root_file, tls=tls)
        present, statuses = sct_report(out)
        if present == want or time.time() > end:
            return present, statuses, out
        time.sleep(0.5)


def cert_dir(h, cert):
    return h.path("ctstore", hashlib.sha256(cert_der(cert)).hexdigest())


@pytest.fixture
def pki(tmp_path):
    d = str(tmp_path)
    os.chmod(d, 0o755)
    return Pki(os.path.join(d, "pki"))


def test_static_scts_valid_tls12_and_tls13(httpd, pki):
    h = httpd(md_module=None)
    log1, log2 = new_key(), new_key()
    cert, key, files = pki.leaf("localhost")
    sdir = h.path("scts")
    os.makedirs(sdir)
    write(os.path.join(sdir, "log1.sct"), make_sct(log1, cert))
    # an SCT with extensions is sent and validates like any other
    write(os.path.join(sdir, "log2-ext.sct"), make_sct(log2, cert, ext=b"\x01\x02\x03"))
    setup_server(h, pki, files, f"CTStaticSCTs {files['cert']} {sdir}")
    h.start()
    ctlog = ctlogfile(h.path("ctlogs.cnf"), [log1, log2])
    for tls in TLS:
        present, statuses, out = wait_scts(h, ctlog, pki, 2, tls=tls)
        assert present == 2, out
        assert statuses == ["valid", "valid"], out
    # a client that does not know the logs sees the SCTs but cannot validate them
    other = ctlogfile(h.path("other.cnf"), [new_key()])
    out = s_client_ct(h.https_port, other, pki.root_file)
    present, statuses = sct_report(out)
    assert present == 2 and "valid" not in statuses, out
    # the CTSCTStorage layout (docs/mod_ssl_ct.md, docs/design.md "CTSCTStorage layout")
    d = cert_dir(h, cert)
    with open(os.path.join(d, "servercerts.pem")) as f:
        pem = f.read()
    assert pem.count("BEGIN CERTIFICATE") == 2
    assert os.path.exists(os.path.join(d, "collated"))


def test_static_dir_changes_live_and_bad_files(httpd, pki):
    h = httpd(md_module=None)
    log1, log2 = new_key(), new_key()
    cert, key, files = pki.leaf("localhost")
    sdir = h.path("scts")
    os.makedirs(sdir)
    good = make_sct(log1, cert)
    write(os.path.join(sdir, "a.sct"), good)
    setup_server(h, pki, files, f"CTStaticSCTs {files['cert']} {sdir}")
    h.start()
    ctlog = ctlogfile(h.path("ctlogs.cnf"), [log1, log2])
    present, statuses, out = wait_scts(h, ctlog, pki, 1)
    assert (present, statuses) == (1, ["valid"]), out
    # bad files next to good ones: truncated, oversized, garbage, empty
    write(os.path.join(sdir, "trunc.sct"), good[:-5])
    write(os.path.join(sdir, "big.sct"), b"\x00" * 70000)
    write(os.path.join(sdir, "garbage.sct"), os.urandom(120))
    write(os.path.join(sdir, "empty.sct"), b"")
    write(os.path.join(sdir, "b.sct"), make_sct(log2, cert))
    present, statuses, out = wait_scts(h, ctlog, pki, 2, tls="-tls1_2")
    assert (present, statuses) == (2, ["valid", "valid"]), out
    end = time.time() + 10
    while time.time() < end and "garbage.sct" not in h.log():
        time.sleep(0.3)
    for name in ("trunc.sct", "big.sct", "garbage.sct", "empty.sct"):
        assert name in h.log()
    os.unlink(os.path.join(sdir, "a.sct"))
    present, statuses, out = wait_scts(h, ctlog, pki, 1)
    assert present == 1, out
    # nothing usable left: nothing sent, and no stale collated file
    os.unlink(os.path.join(sdir, "b.sct"))
    present, statuses, out = wait_scts(h, ctlog, pki, 0)
    assert present == 0, out
    assert "SCTs present" not in out or "SCTs present (0)" in out
    end = time.time() + 10
    while time.time() < end and os.path.exists(os.path.join(cert_dir(h, cert), "collated")):
        time.sleep(0.3)
    assert not os.path.exists(os.path.join(cert_dir(h, cert), "collated"))


def test_filtering_future_distrusted_limit(httpd, pki):
    h = httpd(md_module=None)
    keys = [new_key() for _ in range(5)]
    cert, key, files = pki.leaf("localhost")
    sdir = h.path("scts")
    os.makedirs(sdir)
    for i, k in enumerate(keys[:4]):
        write(os.path.join(sdir, f"{i}.sct"), make_sct(k, cert))
    write(os.path.join(sdir, "future.sct"), make_sct(keys[4], cert, ts=now_ms() + 3600000))
    distrusted = write(h.path("distrusted.pem"), pub_pem(keys[3]))
    setup_server(h, pki, files, f"CTStaticSCTs {files['cert']} {sdir}\n"
                 f"CTStaticLogConfig - {distrusted} 1 - - -\n"
                 "CTServerHelloSCTLimit 2\n")
    h.start()
    ctlog = ctlogfile(h.path("ctlogs.cnf"), keys)
    present, statuses, out = wait_scts(h, ctlog, pki, 2)
    assert (present, statuses) == (2, ["valid", "valid"]), out
    # a higher limit shows that only the future and the distrusted SCT were left out
    h.stop()
    setup_server(h, pki, files, f"CTStaticSCTs {files['cert']} {sdir}\n"
                 f"CTStaticLogConfig - {distrusted} 1 - - -\n")
    h.start()
    present, statuses, out = wait_scts(h, ctlog, pki, 3)
    assert (present, statuses) == (3, ["valid"] * 3), out
    assert "future" in h.log()


def test_sct_from_log_native_submission(httpd, pki, logs_to_stop):
    log = CtLog()
    logs_to_stop.append(log)
    h = httpd(md_module=None)
    cert, key, files = pki.leaf("localhost")
    keyfile = log.write_key(h.path("log.pem"))
    setup_server(h, pki, files, f"CTStaticLogConfig - {keyfile} - - - {log.url}\n")
    h.start()
    ctlog = ctlogfile(h.path("ctlogs.cnf"), [log.key])
    for tls in TLS:
        present, statuses, out = wait_scts(h, ctlog, pki, 1, tls=tls)
        assert (present, statuses) == (1, ["valid"]), out + h.log()
    d = cert_dir(h, cert)
    autos = glob.glob(os.path.join(d, "AUTO_*.sct"))
    assert [os.path.basename(a) for a in autos] == [f"AUTO_127.0.0.1_{log.port}_-.sct"]
    with open(os.path.join(d, "logs")) as f:
        assert f.read().strip() == log.url
    # submitted once, not per child or per handshake
    n = log.submissions
    time.sleep(3)
    assert log.submissions == n == 1
    # the client's CT awareness reaches the request
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{h.https_port}",
                        "-servername", "localhost", "-ct", "-ctlogfile", ctlog, "-ign_eof",
                        "-quiet"],
                       input="GET / HTTP/1.0\r\nHost: localhost\r\n\r\n", capture_output=True,
                       text=True, timeout=20)
    assert "X-CT-Client: peer-aware" in p.stdout
    status, head, body = h.curl("/", https=True)
    assert "X-CT-Client: peer-unaware" in head


def test_sct_from_log_ctlogclient(httpd, pki, logs_to_stop):
    log = CtLog()
    logs_to_stop.append(log)
    h = httpd(md_module=None)
    cert, key, files = pki.leaf("localhost")
    keyfile = log.write_key(h.path("log.pem"))
    calls = h.path("client-calls.txt")
    write(calls, "", 0o666)
    # a CTLogClient that checks the upstream argument list, then does add-chain itself
    client = write(h.path("ctclient.py"), f"""#!/usr/bin/python3
import base64, json, sys, struct, urllib.request
args = sys.argv[1:]
open({calls!r}, "a").write(" ".join(args) + "\\n")
opts = dict(a[2:].split("=", 1) for a in args if a.startswith("--"))
assert args[-1] == "upload" and opts["logtostderr"] == "true", args
pems = open(opts["ct_server_submission"]).read().split("-----END CERTIFICATE-----")
chain = ["".join(p.split("-----")[2].split()) for p in pems if "BEGIN" in p]
req = urllib.request.Request(opts["ct_server"] + "ct/v1/add-chain",
                             json.dumps({{"chain": chain}}).encode(),
                             {{"Content-Type": "application/json"}})
r = json.load(urllib.request.urlopen(req, timeout=10))
ext = base64.b64decode(r["extensions"])
sct = (bytes([0]) + base64.b64decode(r["id"]) + struct.pack(">Q", r["timestamp"])
       + struct.pack(">H", len(ext)) + ext + base64.b64decode(r["signature"]))
open(opts["ct_server_response_out"], "wb").write(sct)
""", 0o755)
    setup_server(h, pki, files, f"CTLogClient {client}\n"
                 f"CTStaticLogConfig - {keyfile} - - - {log.url}\n")
    h.start()
    ctlog = ctlogfile(h.path("ctlogs.cnf"), [log.key])
    present, statuses, out = wait_scts(h, ctlog, pki, 1)
    assert (present, statuses) == (1, ["valid"]), out + h.log() + open(calls).read()
    d = cert_dir(h, cert)
    line = open(calls).read().splitlines()[0]
    assert line == (f"--ct_server={log.url} --logtostderr=true "
                    f"--ct_server_submission={d}/servercerts.pem "
                    f"--ct_server_response_out={d}/AUTO_127.0.0.1_{log.port}_-.sct "
                    f"--ct_server_public_key={keyfile} upload")


@pytest.mark.parametrize("mode", ["badjson", "badsig", "wrongid", "huge", "hang", "error"])
def test_hostile_log_keeps_good_scts(httpd, pki, logs_to_stop, mode):
    log = CtLog(mode=mode)
    logs_to_stop.append(log)
    h = httpd(md_module=None)
    good_log = new_key()
    cert, key, files = pki.leaf("localhost")
    sdir = h.path("scts")
    os.makedirs(sdir)
    write(os.path.join(sdir, "good.sct"), make_sct(good_log, cert))
    keyfile = log.write_key(h.path("log.pem"))
    setup_server(h, pki, files, f"CTStaticSCTs {files['cert']} {sdir}\n"
                 f"CTStaticLogConfig - {keyfile} - - - {log.url}\n")
    h.start()
    end = time.time() + 25
    while time.time() < end and f"submitting to log {log.url} failed" not in h.log():
        time.sleep(0.3)
    assert f"submitting to log {log.url} failed" in h.log()
    ctlog = ctlogfile(h.path("ctlogs.cnf"), [good_log, log.key])
    present, statuses, out = wait_scts(h, ctlog, pki, 1)
    assert (present, statuses) == (1, ["valid"]), out
    assert not glob.glob(os.path.join(cert_dir(h, cert), "AUTO_*.sct"))
    assert h.pid() and "Segmentation" not in h.log() and "AH00052" not in h.log()


def test_log_db_live_distrust_and_trust(httpd, pki, logs_to_stop):
    log = CtLog()
    logs_to_stop.append(log)
    h = httpd(md_module=None)
    cert, key, files = pki.leaf("localhost")
    keyfile = log.write_key(h.path("log.pem"))
    db = h.path("logs.db")
    subprocess.run([CTLOGCONFIG, db, "configure-public-key", keyfile], check=True)
    lid = hashlib.sha256(pub_der(log.key)).hexdigest().upper()
    subprocess.run([CTLOGCONFIG, db, "configure-url", lid, log.url], check=True)
    setup_server(h, pki, files, f"CTLogConfigDB {db}\n")
    h.start()
    ctlog = ctlogfile(h.path("ctlogs.cnf"), [log.key])
    present, statuses, out = wait_scts(h, ctlog, pki, 1)
    assert (present, statuses) == (1, ["valid"]), out + h.log()
    subprocess.run([CTLOGCONFIG, db, "distrust", lid], check=True)
    time.sleep(3)          # every child looks at the DB about every 2 seconds
    present, statuses, out = wait_scts(h, ctlog, pki, 0)
    assert present == 0, out
    subprocess.run([CTLOGCONFIG, db, "trust", lid], check=True)
    time.sleep(3)
    present, statuses, out = wait_scts(h, ctlog, pki, 1)
    assert (present, statuses) == (1, ["valid"]), out
    # a locked DB: reported, the configuration read before stays in force
    con = sqlite3.connect(db, isolation_level=None, timeout=1)
    con.execute("BEGIN EXCLUSIVE")
    con.execute("UPDATE loginfo SET url = url")
    os.utime(db)
    end = time.time() + 10
    while time.time() < end and "is locked by another process; keeping" not in h.log():
        time.sleep(0.3)
    assert "is locked by another process; keeping" in h.log()
    present, statuses, out = wait_scts(h, ctlog, pki, 1)
    assert (present, statuses) == (1, ["valid"]), out
    con.execute("ROLLBACK")
    con.close()
    end = time.time() + 10
    while time.time() < end and "readable again" not in h.log():
        time.sleep(0.3)
    assert "readable again" in h.log()
    # a broken DB is reported and the configuration read before stays in force
    os.rename(db, db + ".bak")
    write(db, b"not a database at all" * 10, 0o644)
    end = time.time() + 10
    while time.time() < end and "not a CT log config DB" not in h.log():
        time.sleep(0.3)
    assert "not a CT log config DB" in h.log(), h.log()
    present, statuses, out = wait_scts(h, ctlog, pki, 1)
    assert (present, statuses) == (1, ["valid"]), out


@pytest.mark.parametrize("line,expect", [
    ("CTStaticLogConfig - - - - -", "CTStaticLogConfig"),
    ("CTStaticLogConfig abc - - - - http://x/", "abc"),
    ("CTStaticLogConfig " + "g" * 64 + " - - - - http://x/", "g" * 64),
    ("CTStaticLogConfig - /nonexistent/key.pem - - - -", "/nonexistent/key.pem"),
    ("CTStaticLogConfig - {notakey} - - - -", "public key"),
    ("CTStaticLogConfig - - 2 - - http://x/", "'2'"),
    ("CTStaticLogConfig - - - 12x - http://x/", "12x"),
    ("CTServerHelloSCTLimit 0", "CTServerHelloSCTLimit"),
    ("CTServerHelloSCTLimit many", "many"),
    ("CTMaxSCTAge -5", "-5"),
    ("CTProxyAwareness sometimes", "sometimes"),
    ("CTSCTStorage /nonexistent/dir", "/nonexistent/dir"),
    ("CTAuditStorage /nonexistent/audit", "/nonexistent/audit"),
    ("CTLogClient /nonexistent/ct", "/nonexistent/ct"),
    ("CTLogConfigDB {baddb}", "CTLogConfigDB"),
    ("CTLogConfigDB {wrongdb}", "not a CT log config DB"),
    ("CTLogConfigDB /nonexistent/logs.db", "/nonexistent/logs.db"),
    ("CTStaticSCTs /nonexistent/cert.pem /tmp", "/nonexistent/cert.pem"),
])
def test_bad_directive_values_rejected(httpd, pki, line, expect):
    h = httpd(md_module=None)
    notakey = write(h.path("notakey.pem"), "hello\n")
    baddb = write(h.path("bad.db"), b"garbage" * 100)
    wrongdb = h.path("wrong.db")
    con = sqlite3.connect(wrongdb)
    con.execute("CREATE TABLE loginfo(name TEXT)")
    con.commit()
    con.close()
    line = line.format(notakey=notakey, baddb=baddb, wrongdb=wrongdb)
    ct_write_conf(h, f"LoadModule ssl_ct_module {MOD_SSL_CT}\n{line}\n")
    rc, out = h.configtest()
    assert rc != 0, out
    assert expect in out, out


def test_good_config_accepted(httpd, pki):
    h = httpd(md_module=None)
    key = new_key()
    keyfile = write(h.path("log.pem"), pub_pem(key))
    os.makedirs(h.path("run", "audit"))
    os.makedirs(h.path("run", "ctstore"))
    lid = hashlib.sha256(pub_der(key)).hexdigest()
    ct_write_conf(h, f"LoadModule ssl_ct_module {MOD_SSL_CT}\n"
                 f"CTSCTStorage ctstore\nCTAuditStorage audit\n"
                 f"CTStaticLogConfig {lid} {keyfile} 0 1000 - http://127.0.0.1:1/\n"
                 f"CTStaticLogConfig - - - - - https://log.example/ct/\n"
                 "CTMaxSCTAge 3600\nCTServerHelloSCTLimit 5\nCTProxyAwareness require\n"
                 + h.http_vhost("other.test", extra="  CTProxyAwareness oblivious\n"))
    rc, out = h.configtest()
    assert rc == 0, out


def test_sct_refreshed_after_max_age(httpd, pki, logs_to_stop):
    log = CtLog()
    logs_to_stop.append(log)
    h = httpd(md_module=None)
    cert, key, files = pki.leaf("localhost")
    keyfile = log.write_key(h.path("log.pem"))
    setup_server(h, pki, files, f"CTStaticLogConfig - {keyfile} - - - {log.url}\n"
                 "CTMaxSCTAge 10\n")
    h.start()
    ctlog = ctlogfile(h.path("ctlogs.cnf"), [log.key])
    present, statuses, out = wait_scts(h, ctlog, pki, 1)
    assert (present, statuses) == (1, ["valid"]), out
    first = [l for l in out.splitlines() if "Timestamp" in l]
    end = time.time() + 25
    while time.time() < end and log.submissions < 2:
        time.sleep(0.5)
    assert log.submissions == 2
    end = time.time() + 10
    while time.time() < end:
        out = s_client_ct(h.https_port, ctlog, pki.root_file)
        if [l for l in out.splitlines() if "Timestamp" in l] != first:
            break
        time.sleep(0.5)
    assert sct_report(out) == (1, ["valid"]), out
    assert [l for l in out.splitlines() if "Timestamp" in l] != first


def test_graceful_restart_keeps_sending(httpd, pki):
    h = httpd(md_module=None)
    log1 = new_key()
    cert, key, files = pki.leaf("localhost")
    sdir = h.path("scts")
    os.makedirs(sdir)
    write(os.path.join(sdir, "a.sct"), make_sct(log1, cert, ts=now_ms() - 60000))
    setup_server(h, pki, files, f"CTStaticSCTs {files['cert']} {sdir}")
    h.start()
    ctlog = ctlogfile(h.path("ctlogs.cnf"), [log1])
    assert wait_scts(h, ctlog, pki, 1)[:2] == (1, ["valid"])
    h.graceful()
    h.graceful()
    present, statuses, out = wait_scts(h, ctlog, pki, 1, tls="-tls1_2")
    assert (present, statuses) == (1, ["valid"]), out
    assert "AH00052" not in h.log()     # no child crashed


def test_sni_vhosts_and_rsa_ecdsa_certs(httpd, pki):
    """Each certificate gets its own SCTs: two name-based vhosts, one with RSA and ECDSA."""
    h = httpd(md_module=None)
    logs = [new_key() for _ in range(3)]
    ec_cert, _, ec_files = pki.leaf("a.test")
    rsa_cert, _, rsa_files = pki.leaf("a.test", rsa=True)
    b_cert, _, b_files = pki.leaf("b.test")
    conf = f"LoadModule ssl_ct_module {MOD_SSL_CT}\nCTSCTStorage {h.path('ctstore')}\n"
    os.makedirs(h.path("ctstore"))
    for i, (cert, files) in enumerate(((ec_cert, ec_files), (rsa_cert, rsa_files),
                                       (b_cert, b_files))):
        d = h.path(f"scts{i}")
        os.makedirs(d)
        write(os.path.join(d, "x.sct"), make_sct(logs[i], cert, ts=now_ms() - 60000))
        conf += f"CTStaticSCTs {files['cert']} {d}\n"
    conf += h.ssl_vhost("a.test", extra=(
        f"  SSLCertificateFile {ec_files['chain']}\n  SSLCertificateKeyFile {ec_files['key']}\n"
        f"  SSLCertificateFile {rsa_files['chain']}\n  SSLCertificateKeyFile {rsa_files['key']}\n"))
    conf += h.ssl_vhost("b.test", extra=(
        f"  SSLCertificateFile {b_files['chain']}\n  SSLCertificateKeyFile {b_files['key']}\n"))
    ct_write_conf(h, conf)
    h.start()

    def log_names(out):
        return [l.split(":", 1)[1].strip() for l in out.splitlines()
                if l.strip().startswith("Log       :")]
    ctlog = ctlogfile(h.path("ctlogs.cnf"), logs)
    for tls in TLS:
        out = s_client_ct(h.https_port, ctlog, pki.root_file, tls=tls, servername="a.test",
                          extra=["-sigalgs", "ECDSA+SHA256"])
        assert sct_report(out) == (1, ["valid"]) and log_names(out) == ["Test log0"], out
        out = s_client_ct(h.https_port, ctlog, pki.root_file, tls=tls, servername="a.test",
                          extra=["-sigalgs", "RSA-PSS+SHA256:RSA+SHA256"])
        assert sct_report(out) == (1, ["valid"]) and log_names(out) == ["Test log1"], out
        out = s_client_ct(h.https_port, ctlog, pki.root_file, tls=tls, servername="b.test")
        assert sct_report(out) == (1, ["valid"]) and log_names(out) == ["Test log2"], out


def test_handshakes_never_touch_the_store(httpd, pki, tmp_path):
    """Handshakes answer from memory: while a child serves SCTs, only its refresh thread
    (named ct-refresh) makes file system calls on CTSCTStorage or the static SCT dir."""
    import shutil
    if not shutil.which("strace"):
        pytest.skip("strace not installed")
    h = httpd(md_module=None)
    log1 = new_key()
    cert, key, files = pki.leaf("localhost")
    sdir = h.path("scts")
    os.makedirs(sdir)
    write(os.path.join(sdir, "a.sct"), make_sct(log1, cert, ts=now_ms() - 60000))
    setup_server(h, pki, files, f"CTStaticSCTs {files['cert']} {sdir}")
    h.start()
    ctlog = ctlogfile(h.path("ctlogs.cnf"), [log1])
    assert wait_scts(h, ctlog, pki, 1)[:2] == (1, ["valid"])
    parent = h.pid()
    children = children_of(parent)
    assert children
    refresh = set()
    for pid in children:
        for tid in os.listdir(f"/proc/{pid}/task"):
            if open(f"/proc/{pid}/task/{tid}/comm").read().strip() == "ct-refresh":
                refresh.add(tid)
    assert refresh, "no ct-refresh thread found"
    def handshakes():
        for i in range(12):
            out_ = s_client_ct(h.https_port, ctlog, pki.root_file, tls=TLS[i % 2])
            assert sct_report(out_) == (1, ["valid"]), out_
        time.sleep(2.5)          # let the refresh thread run at least once
    trace = strace_children(children, tmp_path / "strace.out", handshakes)
    if trace is None:
        pytest.skip("strace cannot attach here")
    store = [l for l in trace if h.path("ctstore") in l or sdir in l]
    assert any(l.split()[0] in refresh for l in store), \
        "the refresh thread was not seen: the check would be void"
    assert all(l.split()[0] in refresh for l in store), \
        [l for l in store if l.split()[0] not in refresh][:5]
