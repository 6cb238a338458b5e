"""mod_md start-up: the store on disk, vhost matching, challenge detection, fallback
certificates served to TLS clients, and the md-status page."""
import json
import os
import stat
import subprocess

import pytest

from httpd import Httpd, DEBIAN_MOD_MD

BASE = """
MDCertificateAuthority https://127.0.0.1:1/dir
MDCertificateAgreement accepted
<Location /md-status>
  SetHandler md-status
</Location>
"""


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def md_json(h, name):
    with open(os.path.join(h.store_dir, "domains", name, "md.json")) as f:
        return json.load(f)


def cert_text(pem):
    p = subprocess.run(["openssl", "x509", "-noout", "-subject", "-ext", "subjectAltName",
                        "-dates", "-issuer"], input=pem, capture_output=True, text=True)
    return p.stdout


def test_store_layout_and_permissions(httpd):
    h = httpd()
    h.write_conf(BASE + "MDomain a.example.org www.a.example.org\n" + h.ssl_vhost("a.example.org"))
    h.start()
    s = h.store_dir
    store = json.load(open(os.path.join(s, "md_store.json")))
    assert store["store"]["version"] == 3.0
    assert len(store["key"]) == 64          # base64url of 48 bytes
    assert mode(os.path.join(s, "md_store.json")) == 0o600
    assert mode(os.path.join(s, "domains")) == 0o700
    assert mode(os.path.join(s, "domains", "a.example.org")) == 0o700
    for f in ("md.json", "fallback-privkey.pem", "fallback-pubcert.pem"):
        assert mode(os.path.join(s, "domains", "a.example.org", f)) == 0o600, f
    for d in ("accounts", "staging", "challenges", "ocsp", "archive", "tmp"):
        assert os.path.isdir(os.path.join(s, d)), d
    if os.geteuid() == 0:
        import pwd
        www = pwd.getpwnam("www-data").pw_uid
        for d in ("staging", "challenges", "ocsp", "tmp"):
            assert os.stat(os.path.join(s, d)).st_uid == www, d
    md = md_json(h, "a.example.org")
    assert md["name"] == "a.example.org"
    assert md["domains"] == ["a.example.org", "www.a.example.org"]
    assert md["state"] == 1 and md["state-descr"] == "certificate(rsa) is missing"
    httpd_json = json.load(open(os.path.join(s, "httpd.json")))
    assert set(httpd_json["proto"]) == {"http", "https"}
    # no temp files left behind by atomic writes
    leftovers = [f for _, _, fs in os.walk(s) for f in fs if ".tmp." in f]
    assert not leftovers, leftovers


def test_store_key_kept_across_restarts(httpd):
    h = httpd()
    h.write_conf(BASE + "MDomain a.example.org\n" + h.ssl_vhost("a.example.org"))
    h.start()
    key1 = json.load(open(os.path.join(h.store_dir, "md_store.json")))["key"]
    fb1 = open(os.path.join(h.store_dir, "domains", "a.example.org", "fallback-pubcert.pem")).read()
    h.stop()
    h.start()
    key2 = json.load(open(os.path.join(h.store_dir, "md_store.json")))["key"]
    fb2 = open(os.path.join(h.store_dir, "domains", "a.example.org", "fallback-pubcert.pem")).read()
    assert key1 == key2
    assert fb1 == fb2        # a valid fallback is reused, not regenerated


def test_fallback_certificate_served_and_503(httpd):
    h = httpd()
    h.write_conf(BASE + "MDomain a.example.org\nMDomain b.example.org\n"
                 + h.ssl_vhost("a.example.org", aliases=["alias.a.example.org"])
                 + h.ssl_vhost("b.example.org"))
    h.start()
    for name, sans in (("a.example.org", ["a.example.org", "alias.a.example.org"]),
                       ("b.example.org", ["b.example.org"])):
        text = cert_text(h.server_cert_pem(name))
        assert f"CN = {name}" in text, text
        assert "Apache Managed Domain Fallback" in text, text
        for san in sans:
            assert f"DNS:{san}" in text, text
        status, _, _ = h.curl("/", host=name, https=True)
        assert status == 503


def test_fallback_per_key_type(httpd):
    h = httpd()
    h.write_conf(BASE + "<MDomain a.example.org>\n  MDPrivateKeys secp256r1 rsa3072\n</MDomain>\n"
                 + h.ssl_vhost("a.example.org"))
    h.start()
    d = os.path.join(h.store_dir, "domains", "a.example.org")
    for f in ("fallback-pubcert.secp256r1.pem", "fallback-privkey.secp256r1.pem",
              "fallback-pubcert.pem", "fallback-privkey.pem"):
        assert os.path.exists(os.path.join(d, f)), f
    assert md_json(h, "a.example.org")["state-descr"] == "certificate(secp256r1) is missing"


def test_auto_members_added_manual_not(httpd):
    h = httpd()
    h.write_conf(BASE + "MDomain a.example.org\nMDomain b.example.org manual\n"
                 + h.ssl_vhost("a.example.org", aliases=["www.a.example.org"])
                 + h.ssl_vhost("b.example.org", aliases=["www.b.example.org"]))
    rc, out = h.configtest()
    assert rc == 0, out
    assert "www.b.example.org" in out and "manual" in out     # the warning names the gap
    h.start()
    assert md_json(h, "a.example.org")["domains"] == ["a.example.org", "www.a.example.org"]
    assert md_json(h, "b.example.org")["domains"] == ["b.example.org"]


def test_match_servernames_only(httpd):
    h = httpd()
    h.write_conf(BASE + "MDMatchNames servernames\nMDomain other.example.org\nMDomain a.example.org\n"
                 + h.ssl_vhost("a.example.org", aliases=["other.example.org"]))
    # with 'all', the alias would put the host in two MDs; 'servernames' ignores aliases
    rc, out = h.configtest()
    assert rc != 0 and "other.example.org" in out, out   # the alias belongs to another MD: conflict
    h.write_conf(BASE + "MDMatchNames servernames\nMDomain a.example.org\n"
                 + h.http_vhost("www.a.example.org", aliases=["a.example.org"]))
    h.start()
    md = md_json(h, "a.example.org")
    assert md["domains"] == ["a.example.org"]      # alias matched nothing, host not assigned


def test_base_server_not_managed_unless_asked(httpd):
    h = httpd()
    body = BASE + "MDomain localhost\n"     # the main server's ServerName
    h.write_conf(body)
    h.start()
    status, _, out = h.curl("/md-status")
    md = json.loads(out)["managed-domains"][0]
    assert md["watched"] is False
    h.stop()
    h.write_conf(body.replace("MDomain", "MDBaseServer on\nMDomain"))
    h.start()
    status, _, out = h.curl("/md-status")
    assert json.loads(out)["managed-domains"][0]["watched"] is True


def test_challenge_detection_from_ports_and_protocols(httpd):
    h = httpd()
    h.write_conf(BASE + f"MDPortMap http:{h.http_port} https:{h.https_port}\nMDomain a.example.org\n"
                 + h.ssl_vhost("a.example.org", extra="  Protocols h2 http/1.1 acme-tls/1\n"))
    h.start()
    assert json.load(open(os.path.join(h.store_dir, "httpd.json"))) == \
        {"proto": {"http": True, "https": True}}
    assert md_json(h, "a.example.org")["proto"]["acme-tls/1"] == ["a.example.org"]
    h.stop()
    h.write_conf(BASE + "MDPortMap http:- https:1\nMDomain a.example.org\n"
                 + h.ssl_vhost("a.example.org"))
    h.start()
    assert json.load(open(os.path.join(h.store_dir, "httpd.json"))) == \
        {"proto": {"http": False, "https": False}}
    assert md_json(h, "a.example.org")["proto"]["acme-tls/1"] == []


def test_md_status_page(httpd):
    h = httpd()
    h.write_conf(BASE + "MDomain a.example.org\n<MDomain b.example.org>\n"
                 "  MDExternalAccountBinding kid-9 c2VjcmV0LWhtYWM\n</MDomain>\n"
                 + h.ssl_vhost("a.example.org") + h.ssl_vhost("b.example.org"))
    h.start()
    status, head, body = h.curl("/md-status")
    assert status == 200 and "application/json" in head
    doc = json.loads(body)
    assert doc["version"]
    names = [m["name"] for m in doc["managed-domains"]]
    assert names == ["a.example.org", "b.example.org"]
    b = doc["managed-domains"][1]
    assert b["eab"] == {"kid": "kid-9", "hmac": "***"} and "c2VjcmV0" not in body
    assert b["state"] == 1 and b["watched"] is True and b["renew"] is True
    assert b["cert"] == {}
    status, _, body = h.curl("/md-status/a.example.org")
    assert status == 200 and json.loads(body)["name"] == "a.example.org"
    for bad in ("/md-status/unknown.example.org", "/md-status/..%2fmd_store.json",
                "/md-status/../md_store.json", "/md-status/a.example.org%00"):
        status, _, body = h.curl(bad)
        # a name of no MD gets the list, as with the reference; never a file
        assert status in (400, 404) or (status == 200 and '"managed-domains"' in body), (bad, status)
        assert '"key"' not in body
    status, _, _ = h.curl("/md-status", extra=["-X", "POST"])
    assert status == 405


def test_corrupt_md_json_is_rewritten(httpd):
    h = httpd()
    h.write_conf(BASE + "MDomain a.example.org\n" + h.ssl_vhost("a.example.org"))
    h.start()
    h.stop()
    path = os.path.join(h.store_dir, "domains", "a.example.org", "md.json")
    with open(path, "w") as f:
        f.write('{"name": "a.example.org", "domains": [')      # truncated
    h.start()
    assert md_json(h, "a.example.org")["domains"] == ["a.example.org"]
    assert "md.json is unusable" in h.log()


def test_store_written_by_debian_mod_md_is_read(httpd):
    if not os.path.exists(DEBIAN_MOD_MD):
        pytest.skip("Debian's mod_md.so is not installed")
    ref = httpd(md_module=DEBIAN_MOD_MD)
    conf = BASE + "MDomain a.example.org www.a.example.org\n<MDomain b.example.org>\n" \
        "  MDPrivateKeys secp256r1 rsa2048\n</MDomain>\n" \
        + ref.ssl_vhost("a.example.org") + ref.ssl_vhost("b.example.org")
    ref.write_conf(conf)
    ref.start()
    ref.stop()
    key = json.load(open(os.path.join(ref.store_dir, "md_store.json")))["key"]
    fallback = open(os.path.join(ref.store_dir, "domains", "b.example.org",
                                 "fallback-pubcert.secp256r1.pem")).read()
    # now ours, on the same server root and store
    ours = Httpd.__new__(Httpd)
    ours.__dict__.update(ref.__dict__)
    from httpd import MOD_MD
    ours.md_module = MOD_MD
    ours.write_conf(conf)
    rc, out = ours.configtest()
    assert rc == 0, out
    ours.start()
    try:
        assert json.load(open(os.path.join(ours.store_dir, "md_store.json")))["key"] == key
        assert open(os.path.join(ours.store_dir, "domains", "b.example.org",
                                 "fallback-pubcert.secp256r1.pem")).read() == fallback
        status, _, body = ours.curl("/md-status")
        mds = {m["name"]: m for m in json.loads(body)["managed-domains"]}
        assert mds["b.example.org"]["privkey"] == [{"type": "EC", "curve": "secp256r1"},
                                                   {"type": "RSA", "bits": 2048}]
        assert cert_text(ours.server_cert_pem("b.example.org")).count("b.example.org") >= 1
    finally:
        ours.stop()


def test_corrupt_certificate_shown_on_status_page(httpd):
    h = httpd()
    h.write_conf(BASE + "MDomain a.example.org\nMDomain b.example.org\n"
                 + h.ssl_vhost("a.example.org") + h.ssl_vhost("b.example.org"))
    h.start()
    h.stop()
    d = os.path.join(h.store_dir, "domains", "a.example.org")
    with open(os.path.join(d, "pubcert.pem"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nMIIBtruncated\n")
    with open(os.path.join(d, "privkey.pem"), "w") as f:
        f.write("garbage")
    h.start()
    status, _, body = h.curl("/md-status")
    assert status == 200
    mds = {m["name"]: m for m in json.loads(body)["managed-domains"]}
    assert "pubcert.pem holds no readable certificate" in mds["a.example.org"]["error"]
    assert "error" not in mds["b.example.org"]
    # the host still works with its fallback certificate
    assert "Apache Managed Domain Fallback" in cert_text(h.server_cert_pem("a.example.org"))
    assert "AH10914" in h.log()
