"""Status pages and HTTP features with a static certificate (MDCertificateFile):
md-status, /.httpd/certificate-status, server-status (HTML and ?auto), md-metrics,
MDRequireHttps."""
import base64
import datetime
import json
import re

import pytest
from cryptography import x509

from certs import CA, write_pair, sha256_hex

STATUS = """
MDCertificateAuthority https://127.0.0.1:1/dir
MDCertificateAgreement accepted
<Location /md-status>
  SetHandler md-status
</Location>
<Location /server-status>
  SetHandler server-status
</Location>
<Location /metrics>
  SetHandler md-metrics
</Location>
"""


@pytest.fixture
def static_md(httpd):
    """A server with MD a.example.org on a static certificate, b.example.org without."""
    def make(md_lines="", body_extra=""):
        h = httpd()
        ca = CA()
        cert, key = ca.issue(["a.example.org", "www.a.example.org"], days=90,
                             issuer_url="http://ca.example.org/ca.cer")
        cp, kp = write_pair(h.dir, "a", cert, key)
        h.write_conf(STATUS + f"MDPortMap http:{h.http_port}\n"
                     f"<MDomain a.example.org www.a.example.org>\n  MDCertificateFile {cp}\n"
                     f"  MDCertificateKeyFile {kp}\n{md_lines}</MDomain>\n"
                     "MDomain b.example.org\n"
                     + h.ssl_vhost("a.example.org", aliases=["www.a.example.org"])
                     + h.http_vhost("a.example.org", aliases=["www.a.example.org"])
                     + h.ssl_vhost("b.example.org") + body_extra)
        h.start()
        return h, cert
    return make


def test_static_certificate_served_and_shown(static_md):
    h, cert = static_md()
    pem = h.server_cert_pem("a.example.org")
    assert "CN = a.example.org" in pem and "Test Root CA" in pem
    status, _, body = h.curl("/", host="a.example.org", https=True)
    assert status == 200 and "hello" in body
    doc = json.loads(h.curl("/md-status")[2])
    a = {m["name"]: m for m in doc["managed-domains"]}["a.example.org"]
    assert a["state"] == 2
    assert a["cert-files"] and a["pkey-files"]
    c = a["cert"]["0"]            # static files are listed by position, as the reference does
    assert c["sha256-fingerprint"] == sha256_hex(cert)
    assert int(c["serial"], 16) == cert.serial_number
    assert c["issuer-name"] == "/CN=Test Root CA"       # one-line form, as the reference
    assert c["issuer-uri"] == "http://ca.example.org/ca.cer"
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    sn = cert.serial_number
    b64 = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")
    assert c["ari-cert-id"] == b64(aki) + "." + b64(sn.to_bytes((sn.bit_length() + 8) // 8, "big"))
    assert "renew" not in a        # not inside the renew window


def test_certificate_status_json(static_md):
    h, cert = static_md()
    status, head, body = h.curl("/.httpd/certificate-status", host="a.example.org", https=True)
    assert status == 200 and "application/json" in head
    doc = json.loads(body)
    # as the reference answers: the common validity, and per configured key spec what the
    # md-status lists under that name (static files are listed by position: nothing here)
    assert doc["valid"]["until"].endswith("GMT") and doc["valid"]["from"].endswith("GMT")
    assert doc["rsa"] == {}
    assert "renewal" not in doc
    # not on http, not for hosts without MD
    status, _, _ = h.curl("/.httpd/certificate-status", host="a.example.org")
    assert status == 404


def test_certificate_status_off(static_md):
    h, _ = static_md(body_extra="MDCertificateStatus off\n")
    status, _, _ = h.curl("/.httpd/certificate-status", host="a.example.org", https=True)
    assert status == 404


def test_server_status_html_and_auto(static_md):
    h, cert = static_md(body_extra="ExtendedStatus on\nMDServerStatus on\n")
    status, _, html = h.curl("/server-status")
    assert status == 200
    assert "Managed Certificates" in html
    table = html[html.index("class='md_status'"):]
    rows = re.findall(r"<tr><td>([^<]+)</td>", table)
    assert rows[:2] == ["a.example.org", "b.example.org"]       # alphabetical
    assert f"https://crt.sh?q={sha256_hex(cert)}" in html
    status, _, auto = h.curl("/server-status?auto")
    lines = dict(l.split(": ", 1) for l in auto.splitlines() if l.startswith("Managed"))
    assert lines["ManagedCertificatesTotal"] == "2"
    assert lines["ManagedCertificatesOK"] == "1"
    assert lines["ManagedCertificatesRenew"] == "1"
    # not exclusive: b (no CA reachable) counts as Renew and, once its first try failed, Errored
    assert lines["ManagedCertificatesErrored"] in ("0", "1")
    assert lines["ManagedCertificatesReady"] == "0"
    # per MD, as the reference prints them
    assert lines["ManagedDomain[0]Domain"] == "a.example.org"
    assert lines["ManagedDomain[0]Names[1]"] == "www.a.example.org"
    assert lines["ManagedDomain[0]Status"] == "good"
    assert lines["ManagedDomain[0]CheckAtFingerprint"] == sha256_hex(cert)
    assert int(lines["ManagedDomain[0]ActivityRenew"]) > 0
    assert lines["ManagedDomain[1]Status"].startswith("incomplete")
    assert lines["ManagedStaplingsTotal"] == "0"


def test_server_status_off_by_default(static_md):
    h, _ = static_md()
    _, _, auto = h.curl("/server-status?auto")
    assert "ManagedCertificates" not in auto and "ManagedStaplings" not in auto


def test_server_status_off(static_md):
    h, _ = static_md(body_extra="MDServerStatus off\n")
    _, _, auto = h.curl("/server-status?auto")
    assert "ManagedCertificates" not in auto


def test_metrics_prometheus_text(static_md):
    h, cert = static_md()
    status, head, body = h.curl("/metrics")
    assert status == 200 and "text/plain; version=0.0.4" in head
    sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? '
                        r'-?[0-9.e+]+$')
    typed = set()
    for line in body.splitlines():
        if line.startswith("# TYPE"):
            typed.add(line.split()[2])
            continue
        if line.startswith("#") or not line:
            continue
        assert sample.match(line), line
        assert line.split("{")[0].split()[0] in typed, line
    na = int(cert.not_valid_after.replace(tzinfo=datetime.timezone.utc).timestamp())
    assert re.search(r'mod_md_certificate_not_after_timestamp_seconds\{md="a.example.org",'
                     rf'key_type="secp256r1"\}} {na}$', body, re.M), body
    assert 'mod_md_domain_state{md="b.example.org",state="incomplete"} 1' in body
    assert "mod_md_managed_domains 2" in body
    status, _, _ = h.curl("/metrics", extra=["-X", "DELETE"])
    assert status == 405


@pytest.mark.parametrize("mode,code", [("temporary", 302), ("permanent", 301)])
def test_require_https_redirects(static_md, mode, code):
    h, _ = static_md(md_lines=f"  MDRequireHttps {mode}\n")
    status, head, _ = h.curl("/some/path?x=1&y=2", host="www.a.example.org")
    assert status == code, head
    loc = re.search(r"^Location: (.*)$", head, re.M | re.I).group(1).strip()
    assert loc == f"https://www.a.example.org:{h.https_port}/some/path?x=1&y=2"
    status, _, _ = h.curl("/.well-known/acme-challenge/abc", host="a.example.org")
    assert status == 404          # never redirected
    status, head, _ = h.curl("/", host="a.example.org", https=True)
    assert status == 200
    hsts = re.search(r"^Strict-Transport-Security: (.*)$", head, re.M | re.I)
    if mode == "permanent":
        assert hsts and hsts.group(1).strip() == "max-age=15768000"
    else:
        assert not hsts


def test_require_https_off_and_other_md(static_md):
    h, _ = static_md(body_extra="MDRequireHttps off\n")
    status, _, _ = h.curl("/", host="a.example.org")
    assert status == 200


def test_require_https_global_portmap_default_port(httpd):
    """With MDPortMap mapping public 443 to the local https port, the redirect has no port."""
    h = httpd()
    ca = CA()
    cert, key = ca.issue(["a.example.org"])
    cp, kp = write_pair(h.dir, "a", cert, key)
    h.write_conf(STATUS + f"MDPortMap http:{h.http_port} https:{h.https_port}\nMDRequireHttps permanent\n"
                 f"<MDomain a.example.org>\n  MDCertificateFile {cp}\n  MDCertificateKeyFile {kp}\n"
                 "</MDomain>\n" + h.ssl_vhost("a.example.org") + h.http_vhost("a.example.org"))
    h.start()
    status, head, _ = h.curl("/x", host="a.example.org")
    assert status == 301
    assert re.search(r"^Location: https://a.example.org/x\s*$", head, re.M | re.I), head


def test_no_redirect_while_certificate_missing(httpd):
    h = httpd()
    h.write_conf(STATUS + "MDRequireHttps permanent\nMDomain b.example.org\n"
                 + h.ssl_vhost("b.example.org") + h.http_vhost("b.example.org"))
    h.start()
    status, _, _ = h.curl("/", host="b.example.org")
    assert status == 200


@pytest.mark.parametrize("problem", ["mismatch", "expired"])
def test_static_certificate_problems_rejected(httpd, problem):
    h = httpd()
    ca = CA()
    cert, key = ca.issue(["a.example.org"], days=10 if problem == "expired" else 90,
                         start_days_ago=20 if problem == "expired" else 1)
    if problem == "mismatch":
        _, key = ca.issue(["other.example.org"])
    cp, kp = write_pair(h.dir, "a", cert, key)
    h.write_conf(STATUS + f"<MDomain a.example.org>\n  MDCertificateFile {cp}\n"
                 f"  MDCertificateKeyFile {kp}\n</MDomain>\n" + h.ssl_vhost("a.example.org"))
    rc, out = h.configtest()
    assert rc != 0
    assert cp in out
    assert ("does not match" in out) if problem == "mismatch" else ("expired" in out), out
