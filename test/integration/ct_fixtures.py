"""Fixtures for the mod_ssl_ct integration tests.

- Pki: a root CA, an intermediate CA and leaf certificates (python3-cryptography), written
  as PEM files; leaves may carry embedded (precertificate) SCTs.
- make_sct / sct_list: RFC 6962 v1 SCTs signed with a real log key, TLS-encoded.
- CtLog: a small RFC 6962 log over HTTP on a free loopback port (add-chain, get-sth,
  get-proof-by-hash over a real Merkle tree), with hostile modes for bad-input tests.
- ocsp_response_with_scts: a DER OCSP response whose single response carries SCTs.
- SServer: `openssl s_server` as a proxy backend (-serverinfo, -status_file).
- s_client_ct: what `openssl s_client -ct -ctlogfile` says about the SCTs a server sends.
Everything listens on 127.0.0.1 ports picked at run time; only what is started here is
stopped here.
"""
import base64
import datetime
import hashlib
import json
import os
import struct
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

try:
    import pytest
except ImportError:             # the benchmark uses these fixtures without pytest
    pytest = None

from httpd import Httpd, free_port, wait_port

SCT_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")


def now_ms():
    return int(time.time() * 1000)


def write(path, data, mode=0o644):
    tmp = path + ".tmp"
    with open(tmp, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return path


# --- keys and certificates ------------------------------------------------------------

def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def rsa_key():
    from cryptography.hazmat.primitives.asymmetric import rsa
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def pub_der(key):
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def pub_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def log_id(key):
    return hashlib.sha256(pub_der(key)).digest()


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def cert_der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


class Pki:
    """Root -> intermediate -> leaves, files under dir."""

    def __init__(self, dir):
        self.dir = dir
        os.makedirs(dir, exist_ok=True)
        self.root_key = new_key()
        self.root = self._cert("CT Test Root", self.root_key, None, None, ca=True, serial=1)
        self.int_key = new_key()
        self.inter = self._cert("CT Test Intermediate", self.int_key, self.root,
                                self.root_key, ca=True, serial=2)
        self.root_file = write(os.path.join(dir, "root.pem"), cert_pem(self.root))
        self.int_file = write(os.path.join(dir, "inter.pem"), cert_pem(self.inter))
        self._serial = 100

    def _cert(self, cn, key, issuer, issuer_key, ca=False, serial=None, names=(),
              extra_ext=None):
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        now = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
        b = (x509.CertificateBuilder()
             .subject_name(subject)
             .issuer_name(issuer.subject if issuer else subject)
             .public_key(key.public_key())
             .serial_number(serial)
             .not_valid_before(now)
             .not_valid_after(now + datetime.timedelta(days=3650))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                              False, False), critical=True)
        else:
            b = b.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in (names or [cn])]), critical=False)
        if extra_ext is not None:
            b = b.add_extension(extra_ext, critical=False)
        return b.sign(issuer_key or key, hashes.SHA256())

    def leaf(self, name, embed_log_keys=(), embed_ts=None, rsa=False):
        """(cert, key, files dict). With embed_log_keys, the cert carries precert SCTs."""
        self._serial += 1
        key = rsa_key() if rsa else new_key()
        serial = self._serial
        cert = self._cert(name, key, self.inter, self.int_key, serial=serial, names=[name])
        if embed_log_keys:
            # the SCTs sign the TBS of the final cert without the SCT extension
            tbs = cert.tbs_certificate_bytes
            ikh = hashlib.sha256(self.inter.public_key().public_bytes(
                serialization.Encoding.DER,
                serialization.PublicFormat.SubjectPublicKeyInfo)).digest()
            ts = embed_ts or now_ms() - 60000
            scts = [make_sct(k, None, ts=ts, precert=(ikh, tbs)) for k in embed_log_keys]
            self.last_precert = (ikh, tbs, ts, scts)
            value = der_octet_string(sct_list(scts))
            cert = self._cert(name, key, self.inter, self.int_key, serial=serial,
                              names=[name],
                              extra_ext=x509.UnrecognizedExtension(SCT_OID, value))
            assert cert.tbs_certificate_bytes != tbs
        base = os.path.join(self.dir, name + f"-{serial}")
        files = {
            "cert": write(base + ".crt.pem", cert_pem(cert)),
            "chain": write(base + ".chain.pem", cert_pem(cert) + cert_pem(self.inter)),
            "key": write(base + ".key.pem", key_pem(key), 0o644),
        }
        return cert, key, files


# --- SCTs -------------------------------------------------------------------------------

def make_sct(log_key, cert, ts=None, ext=b"", precert=None):
    """A TLS-encoded v1 SCT by log_key over cert (x509 entry) or precert=(ikh, tbs)."""
    ts = now_ms() - 1000 if ts is None else ts
    if precert:
        ikh, tbs = precert
        entry = struct.pack(">H", 1) + ikh + struct.pack(">I", len(tbs))[1:] + tbs
    else:
        der = cert_der(cert)
        entry = struct.pack(">H", 0) + struct.pack(">I", len(der))[1:] + der
    signed = (bytes([0, 0]) + struct.pack(">Q", ts) + entry + struct.pack(">H", len(ext))
              + ext)
    sig = log_key.sign(signed, ec.ECDSA(hashes.SHA256()))
    return (bytes([0]) + log_id(log_key) + struct.pack(">Q", ts) + struct.pack(">H", len(ext))
            + ext + bytes([4, 3]) + struct.pack(">H", len(sig)) + sig)


def sct_list(scts):
    body = b"".join(struct.pack(">H", len(s)) + s for s in scts)
    return struct.pack(">H", len(body)) + body


def leaf_hash_x509(cert, ts, ext=b""):
    der = cert_der(cert)
    leaf = (bytes([0, 0]) + struct.pack(">Q", ts) + struct.pack(">H", 0)
            + struct.pack(">I", len(der))[1:] + der + struct.pack(">H", len(ext)) + ext)
    return hashlib.sha256(b"\x00" + leaf).digest()


def leaf_hash_precert(ikh, tbs, ts, ext=b""):
    leaf = (bytes([0, 0]) + struct.pack(">Q", ts) + struct.pack(">H", 1) + ikh
            + struct.pack(">I", len(tbs))[1:] + tbs + struct.pack(">H", len(ext)) + ext)
    return hashlib.sha256(b"\x00" + leaf).digest()


def audit_record(key, certs, scts):
    """One server's data in the CTAuditStorage record format (docs/design.md, "Audit files")."""
    out = struct.pack(">HHH", 1, 2, len(key)) + key.encode()
    for c in certs:
        d = cert_der(c)
        out += struct.pack(">H", 3) + struct.pack(">I", len(d))[1:] + d
    for s in scts:
        out += struct.pack(">HH", 4, len(s)) + s
    return out


def ctlogfile(path, log_keys):
    """A log list for `openssl s_client -ctlogfile`."""
    names = [f"log{i}" for i in range(len(log_keys))]
    text = "enabled_logs = " + ",".join(names) + "\n"
    for n, k in zip(names, log_keys):
        text += f"[{n}]\ndescription = Test {n}\nkey = {base64.b64encode(pub_der(k)).decode()}\n"
    return write(path, text)


def s_client_ct(port, ctlog, cafile, tls="-tls1_3", servername="localhost", timeout=20,
                extra=()):
    """The output of openssl s_client -ct -ctlogfile for a connection to port."""
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                        "-servername", servername, "-ct", "-ctlogfile", ctlog,
                        "-CAfile", cafile, tls] + list(extra),
                       input="", capture_output=True, text=True, timeout=timeout)
    return p.stdout + p.stderr


def sct_report(out):
    """(number of SCTs present, list of validation statuses) from s_client output."""
    present = 0
    for line in out.splitlines():
        if line.startswith("SCTs present ("):
            present = int(line.split("(")[1].split(")")[0])
    statuses = [l.split(":", 1)[1].strip() for l in out.splitlines()
                if "SCT validation status" in l]
    return present, statuses


# --- a small DER writer for OCSP responses ------------------------------------------------

def der(tag, body):
    n = len(body)
    if n < 0x80:
        ln = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        ln = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + ln + body


def der_seq(*parts):
    return der(0x30, b"".join(parts))


def der_oid(dotted):
    nums = [int(x) for x in dotted.split(".")]
    body = bytes([40 * nums[0] + nums[1]])
    for n in nums[2:]:
        enc = [n & 0x7f]
        n >>= 7
        while n:
            enc.insert(0, 0x80 | (n & 0x7f))
            n >>= 7
        body += bytes(enc)
    return der(0x06, body)


def der_octet_string(b):
    return der(0x04, b)


def der_int(v):
    b = v.to_bytes((v.bit_length() + 8) // 8, "big")
    return der(0x02, b)


def der_gentime(dt):
    return der(0x18, dt.strftime("%Y%m%d%H%M%SZ").encode())


def ocsp_response_with_scts(cert, issuer, issuer_key, scts):
    """A signed, 'good' OCSP response for cert whose single response carries the SCTs."""
    name_hash = hashlib.sha1(issuer.subject.public_bytes()).digest()
    key_bits = issuer.public_key().public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.UncompressedPoint)
    key_hash = hashlib.sha1(key_bits).digest()
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    cert_id = der_seq(der_seq(der_oid("1.3.14.3.2.26"), der(0x05, b"")),
                      der_octet_string(name_hash), der_octet_string(key_hash),
                      der_int(cert.serial_number))
    ext = der_seq(der_oid("1.3.6.1.4.1.11129.2.4.5"),
                  der_octet_string(der_octet_string(sct_list(scts))))
    single = der_seq(cert_id, der(0x80, b""), der_gentime(now - datetime.timedelta(hours=1)),
                     der(0xa0, der_gentime(now + datetime.timedelta(days=2))),
                     der(0xa1, der_seq(ext)))
    tbs = der_seq(der(0xa2, der_octet_string(key_hash)), der_gentime(now), der_seq(single))
    sig = issuer_key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    basic = der_seq(tbs, der_seq(der_oid("1.2.840.10045.4.3.2")), der(0x03, b"\x00" + sig))
    return der_seq(der(0x0a, b"\x00"),
                   der(0xa0, der_seq(der_oid("1.3.6.1.5.5.7.48.1.1"), der_octet_string(basic))))


def serverinfo_pem(scts):
    """An `openssl s_server -serverinfo` file with extension 18 for TLS 1.2 and 1.3."""
    data = sct_list(scts)
    ext = struct.pack(">I", 0x000011C0) + struct.pack(">HH", 18, len(data)) + data
    b64 = base64.encodebytes(ext).decode()
    return f"-----BEGIN SERVERINFOV2 FOR CT-----\n{b64}-----END SERVERINFOV2 FOR CT-----\n"


# --- an RFC 6962 log ------------------------------------------------------------------------

def _mth(leaves):
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _path(m, leaves):
    n = len(leaves)
    if n <= 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return _path(m, leaves[:k]) + [_mth(leaves[k:])]
    return _path(m - k, leaves[k:]) + [_mth(leaves[:k])]


class CtLog:
    """A CT log on a free loopback port. mode: normal, badjson, badsig, huge, hang,
    wrongid, error. Entries added by add-chain are merged into the tree at once unless
    hold_back is set (then they are 'not yet included')."""

    def __init__(self, mode="normal"):
        self.key = new_key()
        self.mode = mode
        self.hold_back = False
        self.leaves = []               # leaf hashes in the tree
        self.pending = []
        self.submissions = 0
        self.lock = threading.Lock()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        log = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, code, body):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:
                    pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.rstrip("/") != "/ct/v1/add-chain":
                    return self.reply(404, {"error": "not found"})
                log.submissions += 1
                return self.reply(*log.add_chain(body))

            def do_GET(self):
                u = urlparse(self.path)
                if u.path == "/ct/v1/get-sth":
                    return self.reply(200, log.sth())
                if u.path == "/ct/v1/get-proof-by-hash":
                    q = parse_qs(u.query)
                    return self.reply(*log.proof(base64.b64decode(q["hash"][0]),
                                                 int(q["tree_size"][0])))
                return self.reply(404, {"error": "not found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        wait_port(self.port, 5)

    def add_chain(self, body):
        if self.mode == "hang":
            time.sleep(60)
            return 500, {}
        if self.mode == "error":
            return 503, {"error": "try later"}
        if self.mode == "huge":
            return 200, b"{" + b" " * (4 * 1024 * 1024) + b"}"
        if self.mode == "badjson":
            return 200, b'{"sct_version": 0, "id": '
        req = json.loads(body)
        leaf_der = base64.b64decode(req["chain"][0])
        cert = x509.load_der_x509_certificate(leaf_der)
        ts = now_ms() - 500
        signer = new_key() if self.mode in ("badsig", "wrongid") else self.key
        sct = make_sct(signer, cert, ts=ts)
        if self.mode == "badsig":
            sct = sct[:1] + log_id(self.key) + sct[33:]     # our id, someone else's signature
        with self.lock:
            lh = leaf_hash_x509(cert, ts)
            (self.pending if self.hold_back else self.leaves).append(lh)
        sig_part = sct[1 + 32 + 8 + 2:]
        return 200, {"sct_version": 0, "id": base64.b64encode(sct[1:33]).decode(),
                     "timestamp": ts, "extensions": "",
                     "signature": base64.b64encode(sig_part).decode()}

    def sth(self):
        with self.lock:
            size = len(self.leaves)
            root = _mth(self.leaves)
        ts = now_ms()
        signed = bytes([0, 1]) + struct.pack(">QQ", ts, size) + root
        sig = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return {"tree_size": size, "timestamp": ts,
                "sha256_root_hash": base64.b64encode(root).decode(),
                "tree_head_signature": base64.b64encode(bytes([4, 3]) + struct.pack(">H", len(sig))
                                                        + sig).decode()}

    def proof(self, leaf_hash, tree_size):
        with self.lock:
            leaves = self.leaves[:tree_size]
        if leaf_hash not in leaves:
            return 404, {"error_message": "hash not found"}
        m = leaves.index(leaf_hash)
        return 200, {"leaf_index": m,
                     "audit_path": [base64.b64encode(h).decode() for h in _path(m, leaves)]}

    def submit(self, cert):
        """add-chain for cert, as a client would; returns the TLS-encoded SCT."""
        code, r = self.add_chain(json.dumps({"chain": [base64.b64encode(cert_der(cert))
                                                       .decode()]}))
        assert code == 200, r
        ext = base64.b64decode(r["extensions"])
        return (bytes([0]) + base64.b64decode(r["id"]) + struct.pack(">Q", r["timestamp"])
                + struct.pack(">H", len(ext)) + ext + base64.b64decode(r["signature"]))

    def add_leaf(self, leaf_hash):
        with self.lock:
            self.leaves.append(leaf_hash)

    def merge(self):
        with self.lock:
            self.leaves += self.pending
            self.pending = []

    def write_key(self, path):
        return write(path, pub_pem(self.key))

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# --- a backend for the proxy --------------------------------------------------------------

class SServer:
    """`openssl s_server -www` with the given leaf, its chain and optional SCT sources."""

    def __init__(self, files, inter_file, dir, serverinfo=None, status_file=None, tls=None):
        self.port = free_port()
        self.log = os.path.join(dir, f"s_server-{self.port}.log")
        args = ["openssl", "s_server", "-accept", f"127.0.0.1:{self.port}", "-www",
                "-cert", files["cert"], "-key", files["key"], "-cert_chain", inter_file,
                "-naccept", "1000"]
        if serverinfo:
            args += ["-serverinfo", write(os.path.join(dir, f"si-{self.port}.pem"),
                                          serverinfo)]
        if status_file:
            args += ["-status_file", write(os.path.join(dir, f"ocsp-{self.port}.der"),
                                           status_file)]
        if tls:
            args.append(tls)
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        if not wait_port(self.port, 10):
            self.stop()
            raise AssertionError(f"s_server did not start: {open(self.log).read()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


def ct_write_conf(h, body, loglevel="warn ssl_ct:debug ssl:info"):
    """httpd.conf from the harness's base (without mod_md's LogLevel) and our lines."""
    base = "\n".join(("LogLevel " + loglevel) if line.startswith("LogLevel ") else line
                     for line in h.base_conf().splitlines())
    with open(h.conf_path, "w") as f:
        f.write(base + "\n" + body + "\n")
    return h.conf_path


CRASH_MARKS = ("AddressSanitizer", "runtime error:", "AH00052", "Segmentation fault",
               "LeakSanitizer")


def _no_child_crashed(monkeypatch):
    """Fails a test whose apache2 children crashed or tripped a sanitizer, even when what
    the test looked at seemed fine."""
    logs = []
    orig = Httpd.cleanup

    def cleanup(self, keep=False):
        self.stop()
        logs.append((self.error_log, self.log()))
        return orig(self, keep)

    monkeypatch.setattr(Httpd, "cleanup", cleanup)
    yield
    for path, text in logs:
        bad = [m for m in CRASH_MARKS if m in text]
        assert not bad, f"{path}: {bad}\n{text[-5000:]}"


if pytest:
    no_child_crashed = pytest.fixture(autouse=True)(_no_child_crashed)
