"""Faults: a misbehaving or unreachable CA, failed validation, a vetoing MDMessageCmd and a
killed child. Each test checks what the user sees: job.json, md-status, the log, the
certificate served."""
import glob
import http.server
import json
import os
import signal
import re
import threading
import time

import pytest

from httpd import free_port
from pebble import (pebble_for, md_conf, wait_staged, read_job,  # noqa: F401
                    md_status, md_status_location, served_ok)
from test_acme_basic import write_script, event_log, read_events


def wait_job(h, name, pred, timeout=30):
    end = time.time() + timeout
    job = None
    while time.time() < end:
        job = read_job(h, name)
        if job and pred(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job of {name} never matched; last: {json.dumps(job, indent=1)}\n"
                         f"{h.log()[-4000:]}")


def test_nonce_rejects_are_retried(httpd, pebble_for):
    h = httpd()
    pb = pebble_for(h, env={"PEBBLE_WFE_NONCEREJECT": "50"})
    name = "nonce.mdtest.org"
    h.write_conf(md_conf(pb, h) + f"MDomain {name}\n" + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    wait_staged(h, name)
    h.graceful()
    assert served_ok(h, pb, name)


def test_unreachable_ca_errors_without_delaying_others(httpd, pebble_for):
    h = httpd()
    pb = pebble_for(h)
    dead = f"https://127.0.0.1:{free_port()}/dir"
    bad, good = "dead.mdtest.org", "alive.mdtest.org"
    h.write_conf(md_conf(pb, h) + md_status_location()
                 + f"<MDomain {bad}>\n  MDCertificateAuthority {dead}\n</MDomain>\n"
                 + f"MDomain {good}\n"
                 + h.ssl_vhost(bad) + h.ssl_vhost(good) + h.http_vhost(good))
    t0 = time.time()
    h.start()
    wait_staged(h, good, timeout=20)
    assert time.time() - t0 < 15
    job = wait_job(h, bad, lambda j: j.get("errors", 0) >= 3, timeout=30)
    detail = job["last"]["detail"]
    assert "unreachable" in detail and dead in detail, detail
    # retries back off: the delay before the next run grows with the errors
    errors = [e for e in job["log"]["entries"] if e["type"] == "error"]
    assert len(errors) >= 3
    st = md_status(h, bad)
    assert "unreachable" in st["renewal"]["last"]["detail"]
    assert st["renewal"]["errors"] >= 3
    assert "renewal failed" in h.log() and bad in h.log()
    # the MD without certificate keeps its fallback (which does not verify), the other works
    h.graceful()
    assert served_ok(h, pb, good)
    assert not served_ok(h, pb, bad)


def test_retry_delay_doubles(httpd, pebble_for):
    h = httpd()
    pb = pebble_for(h)
    name = "backoff.mdtest.org"
    dead = f"https://127.0.0.1:{free_port()}/dir"
    log = event_log(h)
    msg = write_script(h, "message.sh", f'echo "$@" >> {log}\n')
    h.write_conf(md_conf(pb, h, f"MDMessageCmd {msg}\n").replace("MDRetryDelay 1s", "MDRetryDelay 400ms")
                 + f"<MDomain {name}>\n  MDCertificateAuthority {dead}\n</MDomain>\n"
                 + h.ssl_vhost(name))
    h.start()
    wait_job(h, name, lambda j: j.get("errors", 0) >= 4, timeout=30)
    # 'errored' at most once an hour, however often it fails
    assert read_events(h).count(f"errored {name}") == 1, read_events(h)
    # run times from the log (newest first): the gaps between the attempts grow
    runs = [l for l in h.log().splitlines() if "renewal failed (attempt" in l and name in l]
    stamps = []
    for line in runs:
        m = re.match(r"\[\w+ \w+ \d+ (\d+):(\d+):(\d+\.\d+)", line)
        stamps.append(int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)))
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert len(gaps) >= 3 and gaps[2] > gaps[0] * 1.5, gaps


def test_failover_to_second_ca(httpd, pebble_for):
    h = httpd()
    pb = pebble_for(h)
    name = "failover.mdtest.org"
    dead = f"https://127.0.0.1:{free_port()}/dir"
    h.write_conf(md_conf(pb, h).replace(f"MDCertificateAuthority {pb.directory}",
                                        f"MDCertificateAuthority {dead} {pb.directory}")
                 .replace("MDRetryDelay 1s", "MDRetryDelay 300ms")
                 + "MDRetryFailover 2\n" + f"MDomain {name}\n" + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    job = wait_staged(h, name, timeout=30)
    starts = [e["detail"] for e in job["log"]["entries"] if e["type"] == "starting"]
    assert starts[0].startswith(f"renewal with {pb.directory} on "), starts
    assert sum(1 for s in starts if dead in s) == 2, starts
    h.graceful()
    assert served_ok(h, pb, name)


def test_failed_validation_is_explained(httpd, pebble_for):
    h = httpd()
    pb = pebble_for(h, config={"httpPort": free_port()})   # pebble validates on a dead port
    name = "novalid.mdtest.org"
    h.write_conf(md_conf(pb, h, "MDCAChallenges http-01\n") + md_status_location()
                 + f"MDomain {name}\n" + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    job = wait_job(h, name, lambda j: j.get("errors", 0) >= 1)
    detail = job["last"]["detail"]
    assert "http-01" in detail and name in detail and "could not validate" in detail, detail
    assert job["last"].get("problem", "").startswith("urn:ietf:params:acme:error:"), job["last"]
    assert not os.path.exists(os.path.join(h.store_dir, "staging", name, "pubcert.pem"))
    # the challenge answer is removed again
    assert not glob.glob(os.path.join(h.store_dir, "challenges", name, "*"))


def test_renewing_veto_skips_and_retries(httpd, pebble_for):
    h = httpd()
    pb = pebble_for(h)
    name = "veto.mdtest.org"
    log = event_log(h)
    flag = h.path("veto-once")
    open(flag, "w").close()
    os.chmod(h.dir, 0o777)
    msg = write_script(h, "message.sh", f"""echo "$@" >> {log}
if [ "$1" = renewing ] && [ -e {flag} ]; then rm -f {flag}; exit 1; fi
exit 0
""")
    h.write_conf(md_conf(pb, h, f"MDMessageCmd {msg}\nMDCheckInterval 1s\n") + f"MDomain {name}\n"
                 + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    job = wait_staged(h, name, timeout=30)
    # a veto is no error: noted in the job log, no backoff, no 'errored', asked again at the
    # next check (MDCheckInterval)
    entries = job["log"]["entries"]
    assert not [e for e in entries if e["type"] == "error"], entries
    vetoes = [e for e in entries if e["type"] == "message-renewing" and e.get("status")]
    assert len(vetoes) == 1 and "failed with exit code 1." in vetoes[0]["detail"], entries
    assert job["errors"] == 0, job
    end = time.time() + 10      # 'renewed' runs right after job.json is complete
    while time.time() < end and f"renewed {name}" not in read_events(h):
        time.sleep(0.1)
    events = read_events(h)
    assert events.count(f"renewing {name}") == 2, events
    assert f"errored {name}" not in events, events
    assert "vetoed the renewal" in h.log(), h.log()[-3000:]


def test_child_killed_during_order(httpd, pebble_for):
    """SIGKILL the renewing child while pebble waits before validating: the next child
    finishes with the same account and the store holds only complete files."""
    h = httpd()
    pb = pebble_for(h, env={"PEBBLE_VA_NOSLEEP": "0", "PEBBLE_VA_SLEEPTIME": "3"})
    name = "killed.mdtest.org"
    h.write_conf(md_conf(pb, h, "MDCAChallenges http-01\n") + f"MDomain {name}\n"
                 + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    chall = os.path.join(h.store_dir, "challenges", name, "acme-http-01.txt")
    end = time.time() + 20
    while time.time() < end and not os.path.exists(chall):
        time.sleep(0.05)
    assert os.path.exists(chall), h.log()[-3000:]
    m = re.findall(r"\[pid (\d+):tid \d+\] AH10955: MDomain " + re.escape(name), h.log())
    assert m, h.log()[-3000:]
    os.kill(int(m[-1]), signal.SIGKILL)
    wait_staged(h, name, timeout=40)
    time.sleep(0.5)                 # job.json is saved once more after the announcements
    assert h.log().count("created ACME account") == 1
    for path in glob.glob(os.path.join(h.store_dir, "**", "*"), recursive=True):
        assert ".tmp." not in os.path.basename(path), path
        if path.endswith(".json"):
            with open(path) as f:
                json.load(f)
    h.graceful()
    assert served_ok(h, pb, name)
    assert len(os.listdir(os.path.join(h.store_dir, "accounts"))) == 1


# ---- a hostile CA (plain HTTP, served from this test) ----

class HostileCA(http.server.ThreadingHTTPServer):
    def __init__(self, mode):
        self.mode = mode
        super().__init__(("127.0.0.1", 0), HostileHandler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/dir"


class HostileHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, body, ctype="application/json", status=200, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Replay-Nonce", "n" + str(time.time_ns()))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self._send(b"")

    def do_GET(self):
        mode = self.server.mode
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if mode == "not-json":
            self._send(b"<html>this is no ACME server</html>", "text/html")
        elif mode == "huge":
            self._send(b"{" + b" " * (3 * 1024 * 1024) + b"}")
        elif mode == "wrong-types":
            self._send(json.dumps({"newNonce": 42, "newAccount": [base], "newOrder": {}}).encode())
        else:  # "bad-account"/"rate-limited": a directory, but new accounts fail
            self._send(json.dumps({"newNonce": base + "/nonce", "newAccount": base + "/acct",
                                   "newOrder": base + "/order"}).encode())

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.server.mode == "rate-limited":
            self._send(json.dumps({"type": "urn:ietf:params:acme:error:rateLimited",
                                   "detail": "too many new accounts"}).encode(),
                       "application/problem+json", status=429, headers=[("Retry-After", "120")])
            return
        self._send(b"[1, 2, 3]", status=201, headers=[("Location", "x")])


@pytest.mark.parametrize("mode,expect", [
    ("not-json", "is not an ACME directory"),
    ("huge", "answer is refused"),
    ("wrong-types", "no valid \"newNonce\""),
    ("bad-account", "not a JSON object"),
], ids=["not-json", "huge", "wrong-types", "bad-account"])
def test_hostile_ca_is_rejected(httpd, pebble_for, mode, expect):
    h = httpd()
    ca = HostileCA(mode)
    try:
        name = f"{mode}.mdtest.org"
        h.write_conf(f"MDCertificateAuthority {ca.url}\nMDCertificateAgreement accepted\n"
                     f"MDPortMap http:{h.http_port} https:{h.https_port}\nMDRetryDelay 1s\n"
                     + f"MDomain {name}\n" + h.ssl_vhost(name))
        h.start()
        job = wait_job(h, name, lambda j: j.get("errors", 0) >= 1, timeout=20)
        assert expect in job["last"]["detail"], job["last"]
        staged = sorted(os.listdir(os.path.join(h.store_dir, "staging", name)))
        assert staged == ["job.json", "md.json"], staged     # md.json first, as the reference
    finally:
        h.stop()
        ca.shutdown()


# ---- a CA that issues the wrong certificate: pebble behind a tampering HTTPS proxy ----

class TamperingProxy(http.server.ThreadingHTTPServer):
    """Forwards everything to pebble (keeping the Host header, so pebble's URLs and JWS url
    checks point at the proxy), but replaces downloaded certificate chains."""

    def __init__(self, pb, mode):
        import ssl
        self.pb, self.mode = pb, mode
        self.ari_ids, self.orders = [], []
        super().__init__(("127.0.0.1", 0), TamperingHandler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pb.tls["cert"], pb.tls["key"])
        self.socket = ctx.wrap_socket(self.socket, server_side=True)
        self.client_ctx = ssl.create_default_context(cafile=pb.ca_file)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"https://127.0.0.1:{self.server_address[1]}/dir"

    def forged_chain(self, names):
        import datetime
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                               critical=False)
                .sign(key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.PEM)


class TamperingHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _ari(self):
        """RFC 9773 renewal information, served by the proxy for pebble (which has none)."""
        import datetime
        self.server.ari_ids.append(self.path.rsplit("/", 1)[1])
        start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        data = json.dumps({"suggestedWindow": {
            "start": start.strftime(fmt),
            "end": (start + datetime.timedelta(hours=1)).strftime(fmt)}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _forward(self):
        import base64
        import http.client
        if self.server.mode == "ari" and self.path.startswith("/renewal-info/"):
            return self._ari()
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        if self.server.mode == "ari" and "order-plz" in self.path and body:
            pl = json.loads(body)["payload"]
            self.server.orders.append(json.loads(base64.urlsafe_b64decode(pl + "=" * (-len(pl) % 4))))
        conn = http.client.HTTPSConnection("127.0.0.1", self.server.pb.port,
                                           context=self.server.client_ctx, timeout=10)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        conn.request(self.command, self.path, body=body if body else None, headers=headers)
        r = conn.getresponse()
        data = r.read()
        if self.server.mode == "ari" and self.path == "/dir":
            d = json.loads(data)
            d["renewalInfo"] = f"https://127.0.0.1:{self.server.server_address[1]}/renewal-info/"
            data = json.dumps(d).encode()
        elif self.server.mode == "ari":
            pass
        elif r.getheader("Content-Type", "").startswith("application/pem-certificate-chain"):
            names = ["evil.mdtest.org"] if self.server.mode == "other-names" else [self.server.name]
            data = self.server.forged_chain(names)
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_POST = do_HEAD = _forward


@pytest.mark.parametrize("mode,expect", [
    ("other-names", "does not cover all names"),
    ("other-key", "does not belong to our private key"),
], ids=["other-names", "other-key"])
def test_wrong_certificate_is_not_staged(httpd, pebble_for, mode, expect):
    h = httpd()
    pb = pebble_for(h)
    proxy = TamperingProxy(pb, mode)
    name = f"{mode}.mdtest.org"
    proxy.name = name
    try:
        h.write_conf(md_conf(pb, h).replace(pb.directory, proxy.url) + f"MDomain {name}\n"
                     + h.ssl_vhost(name) + h.http_vhost(name))
        h.start()
        job = wait_job(h, name, lambda j: j.get("errors", 0) >= 1)
        assert expect in job["last"]["detail"], job["last"]
        assert "downloading the certificate" in job["last"]["activity"], job["last"]
        staged = sorted(os.listdir(os.path.join(h.store_dir, "staging", name)))
        assert not [f for f in staged if f.startswith(("pubcert", "privkey"))], staged
    finally:
        h.stop()
        proxy.shutdown()


def test_graceful_restart_during_order(httpd, pebble_for):
    """A graceful restart while pebble waits before validating: the renewal is finished
    once (by the old child, or by the new one when the old stopped), without an error."""
    h = httpd()
    pb = pebble_for(h, env={"PEBBLE_VA_NOSLEEP": "0", "PEBBLE_VA_SLEEPTIME": "2"})
    name = "restarted.mdtest.org"
    h.write_conf(md_conf(pb, h, "MDCAChallenges http-01\n") + f"MDomain {name}\n"
                 + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    chall = os.path.join(h.store_dir, "challenges", name, "acme-http-01.txt")
    end = time.time() + 20
    while time.time() < end and not os.path.exists(chall):
        time.sleep(0.05)
    assert os.path.exists(chall), h.log()[-3000:]
    h.graceful()
    job = wait_staged(h, name, timeout=40)
    assert job["errors"] == 0, job
    assert h.log().count("new certificate staged") == 1, h.log()[-4000:]
    time.sleep(1)
    assert read_job(h, name)["finished"] is True
    h.graceful()
    assert served_ok(h, pb, name)


# ---- MDHttpProxy: all ACME traffic through a CONNECT proxy ----

class ConnectProxy(threading.Thread):
    """A minimal HTTP CONNECT proxy that records the targets it tunnels to."""

    def __init__(self):
        import socket
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.targets = []
        self.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.tunnel, args=(c,), daemon=True).start()

    def tunnel(self, c):
        import select
        import socket
        head = b""
        while b"\r\n\r\n" not in head:
            data = c.recv(4096)
            if not data:
                c.close()
                return
            head += data
        line = head.split(b"\r\n")[0].decode()
        method, target = line.split()[:2]
        if method != "CONNECT":
            c.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            c.close()
            return
        self.targets.append(target)
        host, port = target.rsplit(":", 1)
        u = socket.create_connection((host, int(port)))
        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        socks = [c, u]
        try:
            while True:
                r, _, _ = select.select(socks, [], [], 30)
                if not r:
                    break
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        raise EOFError
                    (u if s is c else c).sendall(data)
        except (OSError, EOFError):
            pass
        c.close()
        u.close()

    def close(self):
        import socket
        try:        # wakes the accept() of run(): a closed fd number may be reused at once
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.join(5)


def test_http_proxy_carries_acme_traffic(httpd, pebble_for):
    h = httpd()
    pb = pebble_for(h)
    proxy = ConnectProxy()
    name = "proxied.mdtest.org"
    try:
        h.write_conf(md_conf(pb, h, f"MDHttpProxy {proxy.url}\n") + f"MDomain {name}\n"
                     + h.ssl_vhost(name) + h.http_vhost(name))
        h.start()
        wait_staged(h, name)
        assert f"127.0.0.1:{pb.port}" in proxy.targets, proxy.targets
        h.graceful()
        assert served_ok(h, pb, name)
    finally:
        proxy.close()


def test_dead_proxy_is_explained(httpd, pebble_for):
    h = httpd()
    pb = pebble_for(h)
    name = "noproxy.mdtest.org"
    h.write_conf(md_conf(pb, h, f"MDHttpProxy http://127.0.0.1:{free_port()}\n")
                 + f"MDomain {name}\n" + h.ssl_vhost(name))
    h.start()
    job = wait_job(h, name, lambda j: j.get("errors", 0) >= 1)
    assert "unreachable" in job["last"]["detail"] and "proxy" in job["last"]["detail"].lower(), job["last"]


def test_retry_after_is_honoured(httpd):
    """A CA answering 429 with Retry-After: the next attempt waits that long, not just
    MDRetryDelay, and the detail carries the CA's problem."""
    from email.utils import parsedate_to_datetime
    h = httpd()
    ca = HostileCA("rate-limited")
    name = "ratelimited.mdtest.org"
    try:
        h.write_conf(f"MDCertificateAuthority {ca.url}\nMDCertificateAgreement accepted\n"
                     f"MDPortMap http:{h.http_port} https:{h.https_port}\nMDRetryDelay 1s\n"
                     + f"MDomain {name}\n" + h.ssl_vhost(name))
        h.start()
        job = wait_job(h, name, lambda j: j.get("errors", 0) >= 1, timeout=20)
        assert job["last"]["problem"] == "urn:ietf:params:acme:error:rateLimited", job["last"]
        assert "too many new accounts" in job["last"]["detail"]
        wait = parsedate_to_datetime(job["next-run"]) - parsedate_to_datetime(job["last-run"])
        assert 100 <= wait.total_seconds() <= 130, (job["last-run"], job["next-run"])
        time.sleep(2)
        assert read_job(h, name)["errors"] == 1      # no retry after MDRetryDelay
    finally:
        h.stop()
        ca.shutdown()


def test_restart_after_fixing_config_retries_at_once(httpd, pebble_for):
    """Errors back off, but a graceful restart with a corrected configuration tries again
    right away instead of waiting out the retry delay."""
    h = httpd()
    pb = pebble_for(h)
    name = "fixed.mdtest.org"
    base = md_conf(pb, h).replace("MDRetryDelay 1s", "MDRetryDelay 1h")
    h.write_conf(base.replace("MDCertificateAgreement accepted\n", "") + f"MDomain {name}\n"
                 + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    job = wait_job(h, name, lambda j: j.get("errors", 0) >= 1)
    assert "MDCertificateAgreement" in job["last"]["detail"]
    h.write_conf(base + f"MDomain {name}\n" + h.ssl_vhost(name) + h.http_vhost(name))
    h.graceful()
    wait_staged(h, name, timeout=20)
    h.graceful()
    assert served_ok(h, pb, name)


def test_wildcard_without_dns01_is_explained(httpd, pebble_for):
    h = httpd()
    pb = pebble_for(h)
    name = "nowild.mdtest.org"
    h.write_conf(md_conf(pb, h) + f"MDomain {name} *.{name}\n"
                 + h.ssl_vhost(name, aliases=[f"*.{name}"]) + h.http_vhost(name))
    h.start()
    job = wait_job(h, name, lambda j: j.get("errors", 0) >= 1)
    detail = job["last"]["detail"]
    assert f"*.{name}" in detail and "dns-01" in detail and "MDChallengeDns01" in detail, detail


def test_renewal_via_ari(httpd, pebble_for):
    """MDRenewViaARI: the certificate is far from MDRenewWindow, but the CA's renewal
    information (RFC 9773) says now: it is renewed, the order names what it replaces."""
    import base64
    from cryptography import x509
    h = httpd()
    pb = pebble_for(h)
    proxy = TamperingProxy(pb, "ari")
    name = "ari.mdtest.org"
    try:
        h.write_conf(md_conf(pb, h).replace(pb.directory, proxy.url) + f"MDomain {name}\n"
                     + h.ssl_vhost(name) + h.http_vhost(name))
        h.start()
        wait_staged(h, name)
        assert not proxy.ari_ids                 # no certificate yet: nothing to ask
        h.graceful()
        with open(os.path.join(h.store_dir, "domains", name, "pubcert.pem"), "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        serial = cert.serial_number.to_bytes((cert.serial_number.bit_length() + 8) // 8, "big")

        def b64(b):
            return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
        cert_id = f"{b64(aki)}.{b64(serial)}"
        wait_staged(h, name, timeout=20)
        assert cert_id in proxy.ari_ids, (cert_id, proxy.ari_ids)
        assert "MDRenewViaARI" in h.log()
        assert proxy.orders[-1].get("replaces") == cert_id, proxy.orders
        h.graceful()
        assert served_ok(h, pb, name)
    finally:
        h.stop()
        proxy.shutdown()
