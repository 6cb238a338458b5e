"""A stand-in for tailscaled's local API: HTTP on a unix socket that hands out real
certificates from a test CA for the names it is told are assigned to "this machine".

    GET /localapi/v0/cert/NAME?type=pair   (Host: local-tailscaled.sock)
    -> 200, the private key PEM ("EC PRIVATE KEY", as tailscaled writes it) followed by
       the leaf and the intermediate; 404 with tailscaled's kind of text for other names.

Like tailscaled it keeps the certificate it issued and hands it out again until told to
renew it. Per name (or for all) it can misbehave instead: 'garbage' (200, not PEM),
'hang' (never answers), 'mismatch' (a key that is not the certificate's), 'truncated'
(the pair cut in the middle), 'close' (drops the connection without an answer).
It runs in threads of the test process; stop() ends every connection, hung ones too.
"""
import datetime
import os
import shutil
import socket
import socketserver
import tempfile
import threading
from http.server import BaseHTTPRequestHandler

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from certs import CA, new_key, pem_cert

HOST = "local-tailscaled.sock"
PREFIX = "/localapi/v0/cert/"
MODES = ("ok", "garbage", "hang", "mismatch", "truncated", "close")


def _intermediate(root):
    """An intermediate CA below root: (ca-like object usable by certs.CA.issue)."""
    inter = CA.__new__(CA)
    inter.key = new_key()
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fake Tailscale Intermediate")])
    inter.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(root.cert.subject)
                  .public_key(inter.key.public_key()).serial_number(x509.random_serial_number())
                  .not_valid_before(now - datetime.timedelta(days=1))
                  .not_valid_after(now + datetime.timedelta(days=3000))
                  .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                  .add_extension(x509.SubjectKeyIdentifier.from_public_key(inter.key.public_key()),
                                 critical=False)
                  .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                      root.key.public_key()), critical=False)
                  .sign(root.key, hashes.SHA256()))
    return inter


def _ec_key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False


class FakeTailscaled:
    def __init__(self, names=(), days=90, start_days_ago=1):
        self.dir = tempfile.mkdtemp(prefix="mdts-", dir="/tmp")
        os.chmod(self.dir, 0o755)         # apache2's child (User www-data) must reach it
        self.sock = os.path.join(self.dir, "tailscaled.sock")
        self.root = CA("Fake Tailscale Root")
        self.inter = _intermediate(self.root)
        self.assigned = set(names)
        self.days = days
        self.start_days_ago = start_days_ago
        self.mode = "ok"                  # for every name without its own mode
        self.modes = {}                   # name -> mode
        self.requests = []                # (path, host header)
        self.issued = {}                  # name -> (cert, key): what it hands out again
        self.lock = threading.Lock()
        self.release = threading.Event()  # ends hung requests
        self.server = None
        self.thread = None

    @property
    def url(self):
        return f"file://localhost{self.sock}"

    def write_root(self, path=None):
        path = path or os.path.join(self.dir, "root.pem")
        with open(path, "w") as f:
            f.write(pem_cert(self.root.cert))
        return path

    def renew(self, days=None, start_days_ago=None):
        """Like tailscaled renewing: the next requests get new certificates."""
        with self.lock:
            if days is not None:
                self.days = days
            if start_days_ago is not None:
                self.start_days_ago = start_days_ago
            self.issued.clear()

    def pair(self, name):
        with self.lock:
            if name not in self.issued:
                self.issued[name] = self.inter.issue([name], days=self.days,
                                                     start_days_ago=self.start_days_ago)
            return self.issued[name]

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self, status, body, ctype="text/plain; charset=utf-8"):
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = True

            def do_GET(self):
                host = self.headers.get("Host", "")
                fake.requests.append((self.path, host))
                if host != HOST:
                    return self.answer(403, "invalid localapi request\n")
                path, _, query = self.path.partition("?")
                if not path.startswith(PREFIX) or query != "type=pair":
                    return self.answer(404, "404 page not found\n")
                name = path[len(PREFIX):]
                if name not in fake.assigned:
                    return self.answer(404, f'invalid domain "{name}"; must be one of '
                                            f'{sorted(fake.assigned)}\n')
                mode = fake.modes.get(name, fake.mode)
                if mode == "hang":
                    fake.release.wait()
                    return
                if mode == "close":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if mode == "garbage":
                    return self.answer(200, "<html><body>certificates are on vacation</body></html>\n")
                cert, key = fake.pair(name)
                if mode == "mismatch":
                    key = new_key()
                body = _ec_key_pem(key) + pem_cert(cert) + pem_cert(fake.inter.cert)
                if mode == "truncated":
                    body = body[:len(body) * 2 // 3]
                return self.answer(200, body)

        self.server = _Server(self.sock, Handler)
        os.chmod(self.sock, 0o666)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.release.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if os.path.exists(self.sock):
            os.unlink(self.sock)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
