"""mod_md configuration: every bad value gets a clear error from `apache2 -t`.

Each case asserts the exit code and that the message names the directive and the value,
as an operator reading the output would need.
"""
import json
import os

import pytest

GOOD_BASE = """
MDCertificateAuthority https://127.0.0.1:1/dir
MDCertificateAgreement accepted
"""


def vhosts(h, *names):
    return "".join(h.ssl_vhost(n) for n in names)


BAD_CASES = [
    # (id, config lines, substrings that must all appear in the output)
    ("rsa-too-small", "MDomain a.example.org\nMDPrivateKeys RSA 1024", ["MDPrivateKeys", "1024"]),
    ("rsa-word-too-small", "MDomain a.example.org\nMDPrivateKeys rsa1024", ["MDPrivateKeys", "1024"]),
    ("unknown-key-type", "MDomain a.example.org\nMDPrivateKeys DSA 2048", ["MDPrivateKeys", "DSA"]),
    ("unknown-curve", "MDomain a.example.org\nMDPrivateKeys secp999r1", ["MDPrivateKeys", "secp999r1"]),
    ("percent-over-100", "MDomain a.example.org\nMDRenewWindow 120%", ["MDRenewWindow", "120%"]),
    ("percent-negative", "MDomain a.example.org\nMDWarnWindow -5%", ["MDWarnWindow", "-5%"]),
    ("bad-duration-unit", "MDomain a.example.org\nMDRenewWindow 10x", ["MDRenewWindow", "10x"]),
    ("bad-duration-text", "MDomain a.example.org\nMDRetryDelay soon", ["MDRetryDelay", "soon"]),
    ("bad-check-interval", "MDomain a.example.org\nMDCheckInterval 5q", ["MDCheckInterval", "5q"]),
    ("bad-stapling-keep", "MDomain a.example.org\nMDStaplingKeepResponse forever",
     ["MDStaplingKeepResponse", "forever"]),
    ("unknown-challenge", "MDomain a.example.org\nMDCAChallenges http-01 http-02",
     ["MDCAChallenges", "http-02"]),
    ("unknown-renew-mode", "MDomain a.example.org\nMDRenewMode sometimes", ["MDRenewMode", "sometimes"]),
    ("unknown-drive-mode", "MDomain a.example.org\nMDDriveMode never", ["MDDriveMode", "never"]),
    ("require-https-value", "MDomain a.example.org\nMDRequireHttps maybe", ["MDRequireHttps", "maybe"]),
    ("same-name-two-mds", "MDomain a.example.org www.example.org\nMDomain b.example.org www.example.org",
     ["www.example.org", "a.example.org", "b.example.org"]),
    ("member-global-name", "MDomain a.example.org\nMDMember www.example.org", ["MDMember", "www.example.org"]),
    ("domainset-no-name", "<MDomainSet>\nMDRenewMode auto\n</MDomainSet>", ["MDomainSet", "domain name"]),
    ("domain-section-no-name", "<MDomain >\n</MDomain>", ["MDomain", "domain name"]),
    ("domainset-not-closed", "<MDomainSet a.example.org>\nMDRenewMode auto\n", ["MDomainSet"]),
    ("global-only-in-section", "<MDomain a.example.org>\nMDStoreDir /tmp/x\n</MDomain>",
     ["MDStoreDir", "MDomain"]),
    ("md-in-directory", "<Directory /tmp>\nMDRenewMode auto\n</Directory>", ["MDRenewMode"]),
    ("eab-file-missing", "MDomain a.example.org\nMDExternalAccountBinding /nonexistent/eab.json",
     ["MDExternalAccountBinding", "/nonexistent/eab.json"]),
    ("store-locks-value", "MDomain a.example.org\nMDStoreLocks sometimes", ["MDStoreLocks", "sometimes"]),
    ("port-map-value", "MDomain a.example.org\nMDPortMap http:eighty", ["MDPortMap", "http:eighty"]),
    ("port-map-scheme", "MDomain a.example.org\nMDPortMap ftp:21", ["MDPortMap", "ftp:21"]),
    ("ca-not-url", "MDomain a.example.org\nMDCertificateAuthority not-a-ca", ["MDCertificateAuthority", "not-a-ca"]),
    ("members-value", "MDomain a.example.org\nMDMembers some", ["MDMembers", "some"]),
    ("match-names-value", "MDomain a.example.org\nMDMatchNames none", ["MDMatchNames", "none"]),
    ("flag-value", "MDomain a.example.org\nMDMustStaple yes", ["MDMustStaple", "yes"]),
    ("retry-failover", "MDomain a.example.org\nMDRetryFailover 0", ["MDRetryFailover", "0"]),
    ("protocol-value", "MDomain a.example.org\nMDCertificateProtocol smtp", ["MDCertificateProtocol", "smtp"]),
    ("dns01-version", "MDomain a.example.org\nMDChallengeDns01Version 3", ["MDChallengeDns01Version", "3"]),
    ("cert-file-missing", "<MDomain a.example.org>\nMDCertificateFile /nonexistent/cert.pem\n</MDomain>",
     ["MDCertificateFile", "/nonexistent/cert.pem"]),
    ("ip-with-dns01-only", "MDomain 127.0.0.1\nMDCAChallenges dns-01", ["127.0.0.1", "dns-01", "http-01"]),
    ("cert-file-global", "MDomain a.example.org\nMDCertificateFile /etc/hostname", ["MDCertificateFile"]),
]


@pytest.mark.parametrize("case", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_config_is_rejected(httpd, case):
    _, lines, needles = case
    h = httpd()
    h.write_conf(GOOD_BASE + lines + "\n" + vhosts(h, "a.example.org"))
    rc, out = h.configtest()
    assert rc != 0, f"apache2 -t accepted:\n{lines}\n{out}"
    assert "Syntax OK" not in out
    for n in needles:
        assert n in out, f"'{n}' missing from the error:\n{out}"


def test_eab_file_not_json(httpd):
    h = httpd()
    bad = h.path("eab.json")
    with open(bad, "w") as f:
        f.write("kid=1, hmac=2\n")
    h.write_conf(GOOD_BASE + f"MDomain a.example.org\nMDExternalAccountBinding {bad}\n")
    rc, out = h.configtest()
    assert rc != 0 and "MDExternalAccountBinding" in out and "not valid JSON" in out, out


def test_eab_file_without_keys(httpd):
    h = httpd()
    bad = h.path("eab.json")
    with open(bad, "w") as f:
        json.dump({"kid": "k1"}, f)
    h.write_conf(GOOD_BASE + f"MDomain a.example.org\nMDExternalAccountBinding {bad}\n")
    rc, out = h.configtest()
    assert rc != 0 and "hmac" in out, out


def test_vhost_in_two_mds_warns(httpd):
    """As with Debian's mod_md: the host belongs to the MD of its first matching name; the
    other name is a warning, not a configuration error."""
    h = httpd()
    h.write_conf(GOOD_BASE + "MDomain a.example.org\nMDomain b.example.org\n"
                 + h.ssl_vhost("a.example.org", aliases=["b.example.org"]))
    rc, out = h.configtest()
    assert rc == 0, out
    assert "a.example.org" in out and "b.example.org" in out and "does not cover" in out, out


def test_wildcard_without_dns01_warns(httpd):
    h = httpd()
    h.write_conf(GOOD_BASE + "MDomain *.example.org\n" + h.ssl_vhost("x.example.org"))
    rc, out = h.configtest()
    assert rc == 0, out
    assert "*.example.org" in out and "dns-01" in out, out


def test_wildcard_with_dns01_no_warning(httpd):
    h = httpd()
    h.write_conf(GOOD_BASE + "MDChallengeDns01 /bin/true\nMDomain *.example.org\n"
                 + h.ssl_vhost("x.example.org"))
    rc, out = h.configtest()
    assert rc == 0, out
    assert "can only be validated with dns-01" not in out, out


ALL_DIRECTIVES = """
MDCertificateAuthority https://127.0.0.1:1/dir letsencrypt-test
MDCertificateAgreement accepted
MDCertificateProtocol ACME
MDContactEmail ops@example.org
MDMembers auto
MDMatchNames all
MDCAChallenges http-01 tls-alpn-01
MDPortMap http:{http} https:{https}
MDChallengeDns01 /bin/echo setup
MDChallengeDns01Version 2
MDPrivateKeys secp384r1 rsa3072
MDRenewMode auto
MDRenewWindow 21d
MDWarnWindow 5%
MDRetryDelay 30s
MDRetryFailover 3
MDCheckInterval 1h
MDInitialDelay 2s
MDActivationDelay 1mi
MDRequireHttps temporary
MDMustStaple off
MDNotifyCmd /bin/echo notify
MDMessageCmd /bin/echo message
MDStoreDir mystore
MDStoreLocks 10s
MDBaseServer off
MDHttpProxy http://127.0.0.1:3128
MDCACertificateFile /etc/ssl/certs/ca-certificates.crt
MDHttpProxyCACertificateFile /etc/ssl/certs/ca-certificates.crt
MDExternalAccountBinding kid-1 zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W
MDProfile tlsserver
MDProfileMandatory off
MDRenewViaARI on
MDServerStatus on
MDCertificateStatus on
MDCertificateCheck crt.sh https://crt.sh?q=
MDCertificateMonitor crt.sh https://crt.sh?q=
MDStapling off
MDStapleOthers on
MDStaplingKeepResponse 7d
MDStaplingRenewWindow 33%
MDomain a.example.org www.a.example.org auto
<MDomainSet b.example.org>
  MDMember www.b.example.org
  MDMembers manual
  MDCertificateAuthority https://127.0.0.2:1/other
  MDCertificateProtocol ACME
  MDCertificateAgreement accepted
  MDContactEmail b-admin@example.org
  MDCAChallenges dns-01
  MDChallengeDns01 /bin/echo b
  MDPrivateKeys RSA 4096
  MDRenewMode always
  MDDriveMode always
  MDRenewWindow 50%
  MDWarnWindow 2d
  MDRequireHttps permanent
  MDMustStaple on
  MDHttpProxy http://127.0.0.1:3129
  MDExternalAccountBinding none
  MDProfile shortlived
  MDProfileMandatory on
  MDRenewViaARI off
  MDStapling on
</MDomainSet>
<MDomain c.example.org>
  MDMember auto
</MDomain>
"""


def test_every_directive_accepted_and_sections_override(httpd):
    h = httpd()
    conf = ALL_DIRECTIVES.format(http=h.http_port, https=h.https_port)
    conf += vhosts(h, "a.example.org", "b.example.org", "c.example.org")
    conf += "<Location /md-status>\n  SetHandler md-status\n</Location>\n"
    h.write_conf(conf)
    rc, out = h.configtest()
    assert rc == 0 and "Syntax OK" in out, out
    h.start()
    store = h.path("mystore")
    a = json.load(open(os.path.join(store, "domains", "a.example.org", "md.json")))
    b = json.load(open(os.path.join(store, "domains", "b.example.org", "md.json")))
    # global values
    assert a["domains"] == ["a.example.org", "www.a.example.org"]
    assert a["renew-window"] == "21d" and a["warn-window"] == "5%"
    assert a["require-https"] == "temporary"
    assert a["ca"]["urls"] == ["https://127.0.0.1:1/dir",
                               "https://acme-staging-v02.api.letsencrypt.org/directory"]
    assert a["ca"]["challenges"] == ["http-01", "tls-alpn-01"]
    assert a["contacts"] == ["mailto:ops@example.org"]
    assert a["privkey"] == [{"type": "EC", "curve": "secp384r1"}, {"type": "RSA", "bits": 3072}]
    assert a["eab"]["kid"] == "kid-1"
    assert a["profile"] == "tlsserver" and a["ari-renewals"] is True and a["stapling"] is False
    assert a["cmd-dns-01"] == "/bin/echo setup"
    # section values override
    assert b["domains"] == ["b.example.org", "www.b.example.org"]
    assert b["transitive"] == 0
    assert b["ca"]["urls"] == ["https://127.0.0.2:1/other"]
    assert b["ca"]["challenges"] == ["dns-01"]
    assert b["contacts"] == ["mailto:b-admin@example.org"]
    assert b["privkey"] == {"type": "RSA", "bits": 4096}
    assert b["renew-mode"] == 2
    assert b["renew-window"] == "50%" and b["warn-window"] == "2d"
    assert b["require-https"] == "permanent"
    assert b["must-staple"] is True and b["stapling"] is True
    assert "eab" not in b
    assert b["profile"] == "shortlived" and b["profile-mandatory"] is True
    assert b["ari-renewals"] is False
    assert b["cmd-dns-01"] == "/bin/echo b"
    status, _, body = h.curl("/md-status")
    assert status == 200, body
    mds = {m["name"]: m for m in json.loads(body)["managed-domains"]}
    assert mds["a.example.org"]["eab"]["hmac"] == "***"
    assert "zWNDZM6" not in body


def test_defaults_when_nothing_is_set(httpd):
    h = httpd()
    h.write_conf("MDomain a.example.org\n" + vhosts(h, "a.example.org"))
    h.start()
    md = json.load(open(os.path.join(h.store_dir, "domains", "a.example.org", "md.json")))
    assert md["renew-window"] == "33%" and md["warn-window"] == "10%"
    assert md["renew-mode"] == 1 and md["transitive"] == 1
    assert md["ca"]["urls"] == ["https://acme-v02.api.letsencrypt.org/directory"]
    assert md["ca"]["proto"] == "ACME"
    assert "privkey" not in md               # default: RSA 2048
    assert md["contacts"] == ["mailto:admin@example.org"]   # from ServerAdmin
    assert md["must-staple"] is False and md["stapling"] is False
    assert "require-https" not in md
