"""Test fixtures for OCSP stapling: a private CA (root, intermediate, leaves whose AIA names
our responder) and a controllable OCSP responder on a free loopback port.

The responder answers RFC 6960 POSTs (and GETs) with responses built by python3-cryptography
and signed with the intermediate's key (or a delegated responder certificate). Its mode
decides what it answers:
  good, revoked, unknown  a proper response with that status
  garbage                 bytes that are no OCSP response
  huge                    a megabyte of bytes
  other-cert              a proper response about a different certificate
  expired                 a proper response whose nextUpdate has passed
  bad-signature           a response naming the issuer but signed with another key
  unauthorized            an OCSP error status (unauthorized)
  http-500                an HTTP error
  down                    nothing listens on the port
  get-only                good answers to GET (RFC 6960 A.1), 405 to POST
Modes can be set globally or per certificate serial. It answers for any serial of its
issuer (a TestCA's intermediate, or any CA given with set_issuer(), e.g. pebble's
intermediate with the key from pebble's management port). What it emits for good/revoked
verifies with `openssl ocsp` (test_ocsp_fixture_verifies_with_openssl).
"""
import datetime
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, AuthorityInformationAccessOID

from httpd import free_port


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


class Leaf:
    def __init__(self, name, cert, key, cert_file, key_file):
        self.name, self.cert, self.key = name, cert, key
        self.cert_file, self.key_file = cert_file, key_file

    @property
    def serial(self):
        return self.cert.serial_number


class TestCA:
    """Root -> intermediate -> leaves, written as PEM files under dir."""
    __test__ = False

    def __init__(self, dir, ocsp_url, name="MD Test"):
        self.dir = dir
        os.makedirs(dir, exist_ok=True)
        self.ocsp_url = ocsp_url
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = self._sign(_name(f"{name} Root"), self.root_key.public_key(), _name(f"{name} Root"),
                               self.root_key, ca=True)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca = self._sign(_name(f"{name} Intermediate"), self.ca_key.public_key(), self.root.subject,
                             self.root_key, ca=True)
        self.leaves = {}
        self.root_file = os.path.join(dir, "root.pem")
        with open(self.root_file, "w") as f:
            f.write(_pem(self.root))
        self.chain_file = os.path.join(dir, "chain.pem")
        with open(self.chain_file, "w") as f:
            f.write(_pem(self.ca))
        self.ca_key_file = os.path.join(dir, "chain.key.pem")
        with open(self.ca_key_file, "w") as f:
            f.write(_key_pem(self.ca_key))
        # a responder certificate delegated by the intermediate (OCSP signing EKU)
        self.responder_key = ec.generate_private_key(ec.SECP256R1())
        self.responder = self._sign(_name(f"{name} OCSP Responder"), self.responder_key.public_key(),
                                    self.ca.subject, self.ca_key, eku=[ExtendedKeyUsageOID.OCSP_SIGNING])
        # an impostor: the intermediate's name with another key
        self.impostor_key = ec.generate_private_key(ec.SECP256R1())
        self.impostor = self._sign(self.ca.subject, self.impostor_key.public_key(), self.ca.subject,
                                   self.impostor_key, ca=True)

    def _sign(self, subject, pubkey, issuer, issuer_key, ca=False, sans=None, aia=None, eku=None,
              days=90):
        now = _now()
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
             .public_key(pubkey).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(hours=1))
             .not_valid_after(now + datetime.timedelta(days=days))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(pubkey), critical=False))
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]),
                                critical=False)
        if aia:
            b = b.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(aia))]),
                critical=False)
        if eku:
            b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    def issue(self, name, sans=None, rsa_key=True, ocsp_url=None):
        """A leaf for name with AIA OCSP; files <name>.cert.pem (leaf + intermediate), .key.pem."""
        key = rsa.generate_private_key(65537, 2048) if rsa_key else ec.generate_private_key(ec.SECP256R1())
        cert = self._sign(_name(name), key.public_key(), self.ca.subject, self.ca_key,
                          sans=sans or [name], aia=ocsp_url or self.ocsp_url,
                          eku=[ExtendedKeyUsageOID.SERVER_AUTH])
        cf = os.path.join(self.dir, f"{name}.cert.pem")
        kf = os.path.join(self.dir, f"{name}.key.pem")
        with open(cf, "w") as f:
            f.write(_pem(cert) + _pem(self.ca))
        with open(kf, "w") as f:
            f.write(_key_pem(key))
        os.chmod(kf, 0o644)
        leaf = Leaf(name, cert, key, cf, kf)
        self.leaves[cert.serial_number] = leaf
        return leaf


def openssl_index_line(cert, revoked=False):
    """A line of an `openssl ca` index file (as `openssl ocsp -index` reads) for cert."""
    exp = cert.not_valid_after.strftime("%y%m%d%H%M%SZ")
    rev = _now().strftime("%y%m%d%H%M%SZ") if revoked else ""
    subject = "/" + "/".join(a.rfc4514_string() for a in cert.subject)
    return f"{'R' if revoked else 'V'}\t{exp}\t{rev}\t{cert.serial_number:X}\tunknown\t{subject}\n"


class OcspResponder:
    """A small OCSP responder for the certificates of a TestCA."""

    def __init__(self, ca=None, port=None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.ca = ca
        self.issuer = self.issuer_key = None
        self.mode = "good"
        self.modes = {}              # serial -> mode
        self.validity = datetime.timedelta(days=3)
        self.delegated = False       # sign with the delegated responder certificate
        self.requests = 0
        self.hits = {}               # serial -> count
        self._server = None
        self._thread = None
        self._lock = threading.Lock()

    # --- control ---
    def start(self):
        if self._server:
            return self
        responder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                if responder.mode == "get-only":
                    self.send_response(405)
                    self.send_header("Allow", "GET")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._answer(body)

            def do_GET(self):
                import base64
                import urllib.parse
                raw = urllib.parse.unquote(self.path.lstrip("/"))
                try:
                    self._answer(base64.b64decode(raw))
                except ValueError:
                    self._answer(b"")

            def _answer(self, body):
                status, ctype, data = responder.answer(body)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def set_mode(self, mode, serial=None):
        if mode == "down":
            self.stop()
        elif not self._server:
            self.start()
        if serial is None:
            self.mode = mode
            self.modes.clear()
        else:
            self.modes[serial] = mode

    # --- answers ---
    def set_issuer(self, cert_pem, key_pem):
        """Answer for the certificates of another CA (e.g. pebble's intermediate and its key
        from the management port) instead of a TestCA."""
        self.issuer = x509.load_pem_x509_certificate(cert_pem.encode() if isinstance(cert_pem, str) else cert_pem)
        self.issuer_key = serialization.load_pem_private_key(
            key_pem.encode() if isinstance(key_pem, str) else key_pem, password=None)

    def _signer(self):
        if self.ca is not None and getattr(self, "issuer", None) is None:
            return self.ca.ca, self.ca.ca_key
        return self.issuer, self.issuer_key

    def answer(self, body):
        """(http status, content type, body) for a DER OCSP request."""
        with self._lock:
            self.requests += 1
        try:
            req = ocsp.load_der_ocsp_request(body)
        except Exception:
            return 200, "application/ocsp-response", ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.MALFORMED_REQUEST).public_bytes(serialization.Encoding.DER)
        serial = req.serial_number
        with self._lock:
            self.hits[serial] = self.hits.get(serial, 0) + 1
        mode = self.modes.get(serial, self.mode)
        if mode == "get-only":
            mode = "good"
        issuer, _ = self._signer()
        ours = x509.SubjectKeyIdentifier.from_public_key(issuer.public_key()).digest
        if mode == "http-500":
            return 500, "text/plain", b"responder broken\n"
        if mode == "garbage":
            return 200, "application/ocsp-response", b"<html>this is not OCSP</html>\n" * 3
        if mode == "huge":
            return 200, "application/ocsp-response", b"\x30" * (1024 * 1024)
        if mode == "unauthorized" or not isinstance(req.hash_algorithm, hashes.SHA1) \
                or req.issuer_key_hash != ours:
            return 200, "application/ocsp-response", ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(serialization.Encoding.DER)
        return 200, "application/ocsp-response", self.response_der(req, mode)

    def _stand_in(self, serial, issuer):
        if getattr(self, "_dummy_key", None) is None:
            self._dummy_key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        return (x509.CertificateBuilder().subject_name(issuer.subject).issuer_name(issuer.subject)
                .public_key(self._dummy_key.public_key()).serial_number(serial)
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .sign(self._dummy_key, hashes.SHA256()))

    def response_der(self, req, mode="good"):
        """A response to req (an OCSPRequest) in the given mode."""
        now = _now()
        this_update = now - datetime.timedelta(minutes=1)
        next_update = this_update + self.validity
        serial = req.serial_number
        status = ocsp.OCSPCertStatus.GOOD
        rev_time = rev_reason = None
        signer, signer_key = self._signer()
        certs = []
        if self.delegated and self.ca is not None:
            signer, signer_key, certs = self.ca.responder, self.ca.responder_key, [self.ca.responder]
        if mode == "revoked":
            status = ocsp.OCSPCertStatus.REVOKED
            rev_time, rev_reason = now - datetime.timedelta(hours=1), x509.ReasonFlags.key_compromise
        elif mode == "unknown":
            status = ocsp.OCSPCertStatus.UNKNOWN
        elif mode == "other-cert":
            serial += 1
        elif mode == "expired":
            this_update = now - datetime.timedelta(days=3)
            next_update = now - datetime.timedelta(days=1)
        elif mode == "bad-signature":
            if self.ca is not None:
                signer, signer_key, certs = self.ca.impostor, self.ca.impostor_key, []
            else:
                signer_key = ec.generate_private_key(ec.SECP256R1())
        # python3-cryptography 38 (Debian 12) has no add_response_by_hash: a stand-in
        # certificate carries the requested serial; the cert id comes from serial + issuer
        b = ocsp.OCSPResponseBuilder().add_response(
            cert=self._stand_in(serial, self._signer()[0]), issuer=self._signer()[0],
            algorithm=hashes.SHA1(), cert_status=status, this_update=this_update,
            next_update=next_update, revocation_time=rev_time, revocation_reason=rev_reason)
        b = b.responder_id(ocsp.OCSPResponderEncoding.NAME, signer)
        if certs:
            b = b.certificates(certs)
        return b.sign(signer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


class ForwardProxy:
    """A minimal HTTP forward proxy (absolute-URI requests) that counts what it forwards."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.forwarded = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def do_POST(self):
                import urllib.request
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                proxy.forwarded.append(self.path)
                req = urllib.request.Request(self.path, data=body, method="POST", headers={
                    "Content-Type": self.headers.get("Content-Type", "application/ocsp-request")})
                try:
                    with urllib.request.urlopen(req, timeout=10) as r:
                        status, data = r.status, r.read()
                except Exception:
                    status, data = 502, b"bad gateway\n"
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
