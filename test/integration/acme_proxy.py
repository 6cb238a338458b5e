"""An ACME-aware HTTPS reverse proxy in front of pebble, for what pebble 2.4 lacks.

Pebble 2.4.0 has no renewal information (RFC 9773) and no profiles. This proxy adds both
to the directory (`renewalInfo`, `meta.profiles`), answers `GET <renewalInfo>/<cert-id>`
with windows the test sets (per certificate id or a default; with a Retry-After header;
modes for bad answers), records what the ACME client asks (renewal information requests,
the `replaces` and `profile` of every newOrder) and passes everything else to pebble, so
that real issuance works through it.

How all traffic stays here: the ACME client follows URLs from the directory and from
Location/Link headers, and signs the URL it posts to into each JWS ("url" header). The
proxy cannot re-sign, so a request must reach pebble byte-for-byte *with the URL the client
signed*: it forwards the client's Host header (its own host:port) unchanged, and pebble,
which builds its URLs and checks JWS urls from the Host of the request, then names the
proxy everywhere. As a safety net, any `https://<pebble host:port>` still found in a
response (body, Location, Link) is rewritten to the proxy's own address before the client
sees it; Accept-Encoding is dropped so that bodies can be read.

The proxy's TLS certificate is pebble's (made by pebble.py's test CA for 127.0.0.1), so
MDCACertificateFile trusts both alike. Only the threads and sockets made here are closed
here.
"""
import base64
import datetime
import http.client
import http.server
import json
import ssl
import threading
import time
import urllib.parse

try:
    import pytest
except ImportError:          # usable without pytest
    pytest = None

RFC3339 = "%Y-%m-%dT%H:%M:%SZ"


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def ari_cert_id(cert):
    """RFC 9773 section 4.1, computed independently of mod_md: base64url(AKI keyIdentifier)
    "." base64url(DER content octets of the serial number)."""
    from cryptography import x509
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    sn = cert.serial_number
    serial = sn.to_bytes((sn.bit_length() + 8) // 8, "big")   # DER: a leading 0 when the top bit is set

    def enc(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    return f"{enc(aki)}.{enc(serial)}"


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


class Answer:
    """What GET renewalInfo/<id> returns.
    mode: "window" (start/end as given, datetimes or seconds from now), "past" (ended an hour
    ago), "inverted" (ends before it starts), "malformed" (truncated JSON), "500"."""

    def __init__(self, mode="window", start=None, end=None, retry_after=None, explanation=None):
        self.mode, self.start, self.end = mode, start, end
        self.retry_after, self.explanation = retry_after, explanation

    @staticmethod
    def _t(v):
        if isinstance(v, (int, float)):
            return _now() + datetime.timedelta(seconds=v)
        return v

    def render(self):
        """(status, body bytes)."""
        now = _now()
        if self.mode == "500":
            return 500, json.dumps({"type": "urn:ietf:params:acme:error:serverInternal",
                                    "detail": "renewal information is unavailable"}).encode()
        if self.mode == "malformed":
            return 200, b'{"suggestedWindow": {"start": "2025-01-0'
        if self.mode == "past":
            start, end = now - datetime.timedelta(hours=2), now - datetime.timedelta(hours=1)
        elif self.mode == "inverted":
            start, end = now + datetime.timedelta(days=2), now + datetime.timedelta(days=1)
        else:
            start = self._t(self.start if self.start is not None else 30 * 86400)
            end = self._t(self.end if self.end is not None else 31 * 86400)
        doc = {"suggestedWindow": {"start": start.strftime(RFC3339), "end": end.strftime(RFC3339)}}
        if self.explanation:
            doc["explanationURL"] = self.explanation
        return 200, json.dumps(doc).encode()


class AcmeProxy:
    def __init__(self, pebble, ari=True, profiles=None):
        """pebble: a started pebble.Pebble. ari: offer renewalInfo. profiles: dict of
        name -> description for meta.profiles, or None for none."""
        self.pb = pebble
        self.ari = ari
        self.profiles = profiles
        self.lock = threading.Lock()
        self.answers = {}             # cert id (or None: the default) -> Answer
        self.ari_requests = []        # (time.time(), cert id)
        self.orders = []              # payloads (dicts) of newOrder requests that created one
        self.order_attempts = []      # (HTTP status, payload) of every newOrder request
        self.requests = []            # (method, path, status)
        self.new_order_path = None    # learnt from pebble's directory
        self.new_account_path = None
        self.reject_replaces = False  # answer newOrder with "replaces" by alreadyReplaced (409)
        self.upcase_identifiers = False  # authorizations name their identifier in upper case
        self.upstream = f"127.0.0.1:{pebble.port}"
        self.tls_server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls_server.load_cert_chain(pebble.tls["cert"], pebble.tls["key"])
        self.tls_client = ssl.create_default_context(cafile=pebble.ca_file)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.proxy = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    # --- what the test sees and sets ---

    @property
    def port(self):
        return self.httpd.server_address[1]

    @property
    def base(self):
        return f"https://127.0.0.1:{self.port}"

    @property
    def directory(self):
        return f"{self.base}/dir"

    def set_answer(self, mode="window", cert_id=None, **kw):
        """Answer renewal information requests for cert_id (None: every other id)."""
        with self.lock:
            self.answers[cert_id] = Answer(mode, **kw)

    def ari_ids(self):
        with self.lock:
            return [i for _, i in self.ari_requests]

    def ari_times(self, cert_id=None):
        with self.lock:
            return [t for t, i in self.ari_requests if cert_id is None or i == cert_id]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    # --- request handling ---

    def answer_ari(self, cert_id):
        with self.lock:
            self.ari_requests.append((time.time(), cert_id))
            ans = self.answers.get(cert_id) or self.answers.get(None) or Answer()
        status, body = ans.render()
        headers = [("Content-Type", "application/json" if status == 200
                    else "application/problem+json")]
        if ans.retry_after is not None:
            headers.append(("Retry-After", str(ans.retry_after)))
        return status, headers, body

    def rewrite(self, text):
        return text.replace(f"https://{self.upstream}", self.base)

    @staticmethod
    def upcase_identifier(data):
        """An authorization whose identifier a CA spells in upper case (DNS names are
        case-insensitive: RFC 4343)."""
        try:
            d = json.loads(data)
        except ValueError:
            return data
        ident = d.get("identifier") if isinstance(d, dict) else None
        if isinstance(ident, dict) and isinstance(ident.get("value"), str) and "challenges" in d:
            ident["value"] = ident["value"].upper()
            return json.dumps(d).encode()
        return data

    def edit_directory(self, data):
        d = json.loads(self.rewrite(data.decode()))
        self.new_order_path = urllib.parse.urlparse(d.get("newOrder", "")).path or None
        self.new_account_path = urllib.parse.urlparse(d.get("newAccount", "")).path or None
        if self.ari:
            d["renewalInfo"] = f"{self.base}/renewal-info/"
        if self.profiles is not None:
            d.setdefault("meta", {})["profiles"] = dict(self.profiles)
        return json.dumps(d).encode()

    @staticmethod
    def jws_payload(body):
        try:
            return json.loads(b64url_decode(json.loads(body)["payload"]))
        except (ValueError, KeyError, TypeError):
            return {"unreadable": True}

    def record_order(self, body, status):
        """Only reads the JWS (its payload is base64url JSON): the request went on unchanged.
        Pebble rejects some nonces (badNonce), so a retried request counts as one order."""
        payload = self.jws_payload(body)
        with self.lock:
            self.order_attempts.append((status, payload))
            if status == 201:
                self.orders.append(payload)


class _Handler(http.server.BaseHTTPRequestHandler):
    def setup(self):
        # TLS per connection, in this connection's thread (a slow handshake blocks no one)
        self.request = self.server.proxy.tls_server.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, *args):
        pass

    def _send(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        px = self.server.proxy
        path = urllib.parse.urlparse(self.path).path
        if px.ari and self.command == "GET" and path.startswith("/renewal-info/"):
            status, headers, body = px.answer_ari(path[len("/renewal-info/"):])
            with px.lock:
                px.requests.append((self.command, path, status))
            return self._send(status, headers, body)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        if (px.reject_replaces and self.command == "POST" and path == px.new_order_path
                and "replaces" in px.jws_payload(body)):
            # what a CA says when the certificate was replaced already (RFC 9773 section 7.4)
            px.record_order(body, 409)
            with px.lock:
                px.requests.append((self.command, path, 409))
            return self._send(409, [("Content-Type", "application/problem+json")], json.dumps({
                "type": "urn:ietf:params:acme:error:alreadyReplaced",
                "detail": "the certificate was already replaced"}).encode())
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("connection", "accept-encoding", "keep-alive")}
        conn = http.client.HTTPSConnection("127.0.0.1", px.pb.port, context=px.tls_client, timeout=30)
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            r = conn.getresponse()
            data = r.read()
            out = []
            for k, v in r.getheaders():
                if k.lower() in ("content-length", "connection", "transfer-encoding"):
                    continue
                if k.lower() in ("location", "link"):
                    v = px.rewrite(v)
                out.append((k, v))
            ctype = r.getheader("Content-Type", "")
            if self.command == "GET" and path == "/dir" and r.status == 200:
                data = px.edit_directory(data)
            elif "json" in ctype or ctype.startswith("text/"):
                data = px.rewrite(data.decode()).encode()
                if px.upcase_identifiers and "json" in ctype:
                    data = px.upcase_identifier(data)
            if self.command == "POST" and px.new_order_path and path == px.new_order_path:
                px.record_order(body, r.status)
            with px.lock:
                px.requests.append((self.command, path, r.status))
            self._send(r.status, out, data)
        finally:
            conn.close()

    do_GET = do_POST = do_HEAD = _handle


def _proxy_for():
    """proxy_for(pebble, **kw): an AcmeProxy in front of that pebble, closed at the end."""
    made = []

    def make(pb, **kw):
        px = AcmeProxy(pb, **kw)
        made.append(px)
        return px
    yield make
    for px in made:
        px.close()


proxy_for = pytest.fixture(_proxy_for) if pytest else None
