"""Differential configuration scenarios: `apache2 -t` with Debian's mod_md (the reference)
and with ours on the same configuration (compat.py).

Each scenario fails when the two modules differ: one accepts what the other refuses, or
ours refuses without the reference's words. The deliberate differences (values that can
never work, refused by ours at `apache2 -t` while the reference fails later) are listed in
EARLY and in docs/mod_md.md, "Differences from Debian's mod_md"; their test checks that the
reference does accept them, and that ours names the directive, the value and, where the
reference has one, its later words.

A few scenarios start both servers (no CA is reachable: md.json is written at start-up) to
compare what the configuration makes of an MD (md.json).
"""
import json
import os
import re
import time

import pytest

from certs import CA, write_pair
from compat import DEBIAN_MOD_MD, MOD_MD, REF, OURS, assert_same_verdict, need_reference
from httpd import Httpd

M = "MDomain a.example.org\n"


def vhost(name, body=""):
    return lambda h: (f"<VirtualHost 127.0.0.1:{h.https_port}>\n  ServerName {name}\n"
                      f"  SSLEngine on\n{body}</VirtualHost>\n")


def cat(*parts):
    """A configuration made of strings and callables conf(h)."""
    return lambda h: "".join(p(h) if callable(p) else p for p in parts)


# (id, configuration, the reference's phrase our message must contain when both refuse;
#  None: its whole message line)
SAME = [
    # item 1: MDPortMap
    ("portmap-numeric", M + "MDPortMap 80:8080 443:8443", None),
    ("portmap-numeric-dash", M + "MDPortMap 80:- 443:8443", None),
    ("portmap-scheme", M + "MDPortMap http:8080 https:-", None),
    ("portmap-trailing-text", M + "MDPortMap 80:8080x", None),
    ("portmap-other-number", M + "MDPortMap 81:8080", None),
    ("portmap-no-colon", M + "MDPortMap 80", None),
    ("portmap-other-scheme", M + "MDPortMap ftp:21", None),
    ("portmap-upper-scheme", M + "MDPortMap HTTP:8080", None),
    ("portmap-port-range", M + "MDPortMap http:80000", None),
    ("portmap-port-zero", M + "MDPortMap https:0", None),
    ("portmap-port-text", M + "MDPortMap http:eighty", None),
    # item 2: MDomain in <VirtualHost>
    ("mdomain-in-vhost", cat(vhost("a.example.org", "  MDomain a.example.org\n")), None),
    ("mdomain-in-vhost-noname",
     lambda h: f"<VirtualHost 127.0.0.1:{h.https_port}>\n  MDomain a.example.org\n</VirtualHost>\n", None),
    ("mdomain-section-in-vhost",
     cat(vhost("a.example.org", "  <MDomain a.example.org>\n    MDRenewMode manual\n  </MDomain>\n")), None),
    ("md-settings-in-vhost", cat(M, vhost("a.example.org", "  MDRenewMode manual\n  MDPrivateKeys P-256\n"
                                            "  MDContactEmail v@example.org\n  MDPortMap http:8080\n")), None),
    # item 3: MDRequireHttps in <If>, not in <Directory>/<Location>
    ("requirehttps-if", M + "<If \"true\">\n  MDRequireHttps permanent\n</If>\n", None),
    ("requirehttps-if-in-vhost", cat(M, vhost("a.example.org", "  <If \"true\">\n  MDRequireHttps temporary\n  </If>\n")), None),
    ("requirehttps-files", M + "<Files x>\n  MDRequireHttps permanent\n</Files>\n", None),
    ("requirehttps-directory", M + "<Directory /tmp>\n  MDRequireHttps permanent\n</Directory>\n", None),
    ("requirehttps-location", cat(M, vhost("a.example.org", "  <Location />\n  MDRequireHttps permanent\n  </Location>\n")), None),
    ("requirehttps-if-in-directory", M + "<Directory /tmp>\n<If \"true\">\nMDRequireHttps permanent\n</If>\n</Directory>\n", None),
    ("requirehttps-value", M + "MDRequireHttps maybe", None),
    # item 4: names are not judged at configuration time
    ("name-bad-chars", "MDomain bad_na!me.example.org", None),
    ("name-leading-dash", "MDomain -a.example.org", None),
    ("name-numeric-tld", "MDomain 300.1.2.3", None),
    ("name-wildcard-ip", "MDomain *.192.0.2.1", None),
    ("name-upper-case", "MDomain a.example.org A.EXAMPLE.ORG", None),
    ("mdomain-mode-only", "MDomain manual", None),
    ("mdomain-no-name", "MDomain", None),
    ("section-no-name", "<MDomain>\n</MDomain>", None),
    ("section-in-section", "<MDomain a.example.org>\n<MDomain b.example.org>\n</MDomain>\n</MDomain>", None),
    # item 5: matching of hosts
    ("alias-of-other-md", cat("MDomain a.example.org\nMDomain b.example.org\n",
                              lambda h: h.ssl_vhost("a.example.org", ["b.example.org"])), None),
    ("alias-of-other-md-servernames", cat("MDMatchNames servernames\nMDomain a.example.org\nMDomain b.example.org\n",
                                          lambda h: h.ssl_vhost("a.example.org", ["b.example.org"])), None),
    ("wildcard-overlap", cat("MDMatchNames servernames\nMDomain *.example.org\nMDomain sub.example.org\n",
                             lambda h: h.ssl_vhost("sub.example.org")), None),
    ("vhost-names-of-two-mds", cat("MDomain a.example.org\nMDomain b.example.org\n",
                                   lambda h: h.ssl_vhost("x.example.org", ["a.example.org", "b.example.org"])), None),
    ("matchnames-value", M + "MDMatchNames none", None),
    # item 6: MDPrivateKeys
    ("keys-none", M + "MDPrivateKeys", "needs to specify the private key type"),
    ("keys-two-rsa", M + "MDPrivateKeys RSA 2048 RSA 3072", None),
    ("keys-two-rsa-case", M + "MDPrivateKeys rsa RSA", None),
    ("keys-two-curves-case", M + "MDPrivateKeys P-256 p-256", None),
    ("keys-two-curve-names", M + "MDPrivateKeys secp256r1 P-256", None),
    ("keys-default-alone", M + "MDPrivateKeys Default", None),
    ("keys-default-and-rsa", M + "MDPrivateKeys Default RSA", None),
    ("keys-rsa-and-default", M + "MDPrivateKeys RSA Default", None),
    ("keys-rsa-small", M + "MDPrivateKeys RSA 1024", None),
    ("keys-rsa-word-small", M + "MDPrivateKeys rsa1024", None),
    ("keys-mixed", M + "MDPrivateKeys P-256 RSA 3072 secp384r1", None),
    # item 5b: a global setting that cannot apply to one MD is a warning for that MD
    ("keys-global-two-tailscale-md", "MDPrivateKeys RSA P-256\n<MDomain a.example.org>\n"
                                     "  MDCertificateProtocol tailscale\n</MDomain>", None),
    # item 7: MDHttpProxy
    ("proxy-good", M + "MDHttpProxy http://proxy.example.org:3128", None),
    ("proxy-negative-port", M + "MDHttpProxy https://127.0.0.1:-443", None),
    ("proxy-port-zero", M + "MDHttpProxy http://127.0.0.1:0", None),
    ("proxy-no-scheme", M + "MDHttpProxy 127.0.0.1:3128", None),
    ("proxy-ftp", M + "MDHttpProxy ftp://proxy.example.org:21", None),
    ("proxy-socks", M + "MDHttpProxy socks5://proxy.example.org:1080", None),
    ("proxy-bad-host", M + "MDHttpProxy http://proxy_1.example.org/", None),
    ("proxy-blank", M + "MDHttpProxy 'http://proxy .example.org/'", None),
    # item 8: MDExternalAccountBinding
    ("eab-base64url", M + "MDExternalAccountBinding kid-1 zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG", None),
    ("eab-base64-padded", M + "MDExternalAccountBinding kid-1 YWJjZA==", None),
    ("eab-base64-plus-slash", M + "MDExternalAccountBinding kid-1 +/+/", None),
    ("eab-kid-any-text", M + "MDExternalAccountBinding 'key id 7' YWJj", None),
    ("eab-none", M + "MDExternalAccountBinding none", None),
    ("eab-file-missing", M + "MDExternalAccountBinding /nonexistent/eab.json", None),
    ("eab-file-relative-missing", M + "MDExternalAccountBinding eab.json", "file not found: <root>/eab.json"),
    # item 8b: agreement
    ("agreement-accepted", M + "MDCertificateAgreement accepted", None),
    ("agreement-url", M + "MDCertificateAgreement https://ca.example.org/tos.pdf", None),
    # item 10: the reference's words
    ("flag-yes", M + "MDMustStaple yes", None),
    ("flag-stapling", M + "MDStapling 1", None),
    ("flag-ari", M + "MDRenewViaARI enabled", None),
    ("flag-profile-mandatory", M + "MDProfileMandatory true", None),
    ("flag-base-server", M + "MDBaseServer yes", None),
    ("flag-server-status", M + "MDServerStatus no", None),
    ("flag-certificate-status", M + "MDCertificateStatus 0", None),
    ("flag-staple-others", M + "MDStapleOthers y", None),
    ("ca-unknown-name", M + "MDCertificateAuthority letsencrypt-tst", None),
    ("ca-missing-host", M + "MDCertificateAuthority https:/acme.example.org", None),
    ("ca-invalid-port", M + "MDCertificateAuthority https://acme.example.org:-1/dir", None),
    ("ca-bad-host", M + "MDCertificateAuthority https://a_b.example.org/dir", None),
    ("ca-names", M + "MDCertificateAuthority LetsEncrypt buypass-test https://acme.example.org/dir", None),
    ("ca-other-scheme", M + "MDCertificateAuthority ftp://acme.example.org/dir", None),
    ("ca-none", M + "MDCertificateAuthority", None),
    ("ca-plain-path", M + "MDCertificateAuthority /run/tailscale.sock",
     "The CA name '/run/tailscale.sock' is not known and it is not a URL either (missing uri scheme)."),
    ("renewmode-value", M + "MDRenewMode sometimes", None),
    ("drivemode-value", M + "MDDriveMode never", None),
    ("members-value", M + "MDMembers some", None),
    ("member-name-outside", M + "MDMember b.example.org", None),
    ("retry-failover-zero", M + "MDRetryFailover 0", None),
    ("retry-failover-text", M + "MDRetryFailover x", None),
    ("retry-failover-trailing", M + "MDRetryFailover 5x", None),
    ("dns01-version", M + "MDChallengeDns01Version 3", None),
    ("dns01-version-in-section", "<MDomain a.example.org>\n  MDChallengeDns01Version 2\n</MDomain>", None),
    ("global-in-section", "<MDomain a.example.org>\n  MDStoreDir md2\n</MDomain>", None),
    ("cert-file-outside", M + "MDCertificateFile /etc/hostname", None),
    ("contact-any", M + "MDContactEmail webmaster", None),
    ("challenges-upper", M + "MDCAChallenges HTTP-01 tls-alpn-01", None),
    ("challenges-none", M + "MDCAChallenges", None),
    ("protocol-case", M + "MDCertificateProtocol acme", None),
    ("notify-empty", M + "MDNotifyCmd", None),
    ("dns01-cmd-empty", M + "MDChallengeDns01", None),
    ("profile-any", M + "MDProfile 'my profile'", None),
    ("cert-check-any", M + "MDCertificateCheck crt.sh notaurl", None),
    ("cert-check-one-arg", M + "MDCertificateCheck crt.sh", "MDCertificateCheck takes two arguments"),
    ("ca-file-missing", M + "MDCACertificateFile /nonexistent/ca.pem", None),
    ("proxy-ca-file-in-section", "<MDomain a.example.org>\n  MDHttpProxyCACertificateFile /etc/hostname\n</MDomain>", None),
    ("status-in-section", "<MDomain a.example.org>\n  MDServerStatus off\n  MDStapleOthers off\n</MDomain>", None),
    ("store-locks-value", M + "MDStoreLocks sometimes", None),
    ("store-locks-negative", M + "MDStoreLocks -5", None),
    # contexts: httpd's own words
    ("mdomain-in-if", "<If \"true\">\n  MDomain a.example.org\n</If>", None),
    ("mdomain-in-location", "<Location /x>\n  MDomain a.example.org\n</Location>", None),
    ("renewmode-in-directory", M + "<Directory /tmp>\n  MDRenewMode auto\n</Directory>", None),
]

# Durations: a plain number, units, percentages, 0, 100%, garbage, negative values, as the
# reference reads them (item 0: days for certificate windows and delays, seconds for timers).
DURATIONS = ["MDRenewWindow", "MDWarnWindow", "MDStaplingRenewWindow", "MDStaplingKeepResponse",
             "MDActivationDelay", "MDRetryDelay", "MDCheckInterval", "MDInitialDelay", "MDStoreLocks"]
VALUES = ["30", "10d", "12h", "30mi", "45s", "500ms", "33%", "0", "0%", "100%", "120%", "-5",
          "-5%", "garbage", "10x", "1.5d", "%", "' 5d'"]
for d in DURATIONS:
    for v in VALUES:
        SAME.append((f"{d}-{v.strip(chr(39)).strip()}", M + f"{d} {v}", None))

# Every directive with a good value in every context: the global level, <VirtualHost>,
# <MDomain>, <If>, <Directory>, <Location>. (The static files need their pair and a real
# certificate: they are covered above and in EARLY.)
GOOD = {
    "MDomain": "b.example.org", "MDMember": "c.example.org", "MDMembers": "auto",
    "MDMatchNames": "all", "MDCertificateAuthority": "letsencrypt", "MDCertificateProtocol": "ACME",
    "MDCertificateAgreement": "accepted", "MDContactEmail": "a@example.org",
    "MDCAChallenges": "http-01", "MDPortMap": "http:80", "MDChallengeDns01": "/bin/true",
    "MDChallengeDns01Version": "2", "MDPrivateKeys": "RSA", "MDRenewMode": "auto",
    "MDDriveMode": "auto", "MDRenewWindow": "30", "MDWarnWindow": "10", "MDRetryDelay": "5s",
    "MDRetryFailover": "3", "MDCheckInterval": "12h", "MDInitialDelay": "1s",
    "MDActivationDelay": "1d", "MDRequireHttps": "temporary", "MDMustStaple": "on",
    "MDNotifyCmd": "/bin/true", "MDMessageCmd": "/bin/true", "MDStoreDir": "md",
    "MDStoreLocks": "on", "MDBaseServer": "off", "MDHttpProxy": "http://p.example.org:3128",
    "MDCACertificateFile": "/etc/hostname", "MDHttpProxyCACertificateFile": "/etc/hostname",
    "MDExternalAccountBinding": "kid YWJj", "MDProfile": "classic", "MDProfileMandatory": "on",
    "MDRenewViaARI": "on", "MDServerStatus": "on", "MDCertificateStatus": "on",
    "MDCertificateCheck": "crt.sh https://crt.sh?q=", "MDStapling": "on",
    "MDStapleOthers": "on", "MDStaplingKeepResponse": "7d", "MDStaplingRenewWindow": "33%",
}
CONTEXTS = {
    "global": "MDomain z.example.org\n{}\n",
    "vhost": "MDomain z.example.org\n<VirtualHost 127.0.0.1:1>\n  ServerName v.example.org\n  {}\n</VirtualHost>\n",
    "mdomain": "<MDomain a.example.org>\n  {}\n</MDomain>\n",
    "if": "MDomain z.example.org\n<If \"true\">\n  {}\n</If>\n",
    "directory": "MDomain z.example.org\n<Directory /tmp>\n  {}\n</Directory>\n",
    "location": "MDomain z.example.org\n<Location /x>\n  {}\n</Location>\n",
}
for d, v in GOOD.items():
    for cn, ct in CONTEXTS.items():
        SAME.append((f"context-{cn}-{d}", ct.format(f"{d} {v}"), None))

# Values that can never work: the reference takes them at `apache2 -t` and fails later (at
# start-up or at the first renewal); ours refuses them at once. (id, configuration, words
# our message must contain: the directive, the value, the reference's later words)
EARLY = [
    ("key-unknown-type", M + "MDPrivateKeys DSA", ["MDPrivateKeys", "DSA", "ec curve unknown: DSA"]),
    ("key-unknown-curve", M + "MDPrivateKeys secp999r1", ["MDPrivateKeys", "ec curve unknown: secp999r1"]),
    ("key-size-as-curve", M + "MDPrivateKeys RSA 2048 4096", ["MDPrivateKeys", "ec curve unknown: 4096"]),
    ("key-x25519", M + "MDPrivateKeys X25519", ["MDPrivateKeys", "X25519"]),
    ("key-rsa-word", M + "MDPrivateKeys RSAx", ["MDPrivateKeys", "ec curve unknown: RSAx"]),
    ("key-rsa-then-number", M + "MDPrivateKeys RSA2048 2048", ["MDPrivateKeys", "ec curve unknown: 2048"]),
    ("key-rsa-huge", M + "MDPrivateKeys RSA 99999", ["MDPrivateKeys", "99999"]),
    ("key-rsa-above-16384", M + "MDPrivateKeys RSA 16385", ["MDPrivateKeys", "16385"]),
    ("challenge-unknown", M + "MDCAChallenges http-02", ["MDCAChallenges", "http-02", "challenge-mismatch"]),
    ("protocol-unknown", M + "MDCertificateProtocol smtp", ["MDCertificateProtocol", "unknown CA protocol 'smtp'"]),
    ("agreement-word", M + "MDCertificateAgreement maybe",
     ["MDCertificateAgreement", "invalid agreement uri (missing uri scheme): maybe"]),
    ("agreement-bad-url", M + "MDCertificateAgreement https://ca.example.org:0/tos",
     ["MDCertificateAgreement", "invalid agreement uri (invalid port)"]),
    ("eab-hmac-undecodable", M + "MDExternalAccountBinding kid-1 '!!!notb64'",
     ["MDExternalAccountBinding", "!!!notb64", "external account binding HMAC value is not valid base64"]),
    ("eab-hmac-broken-padding", M + "MDExternalAccountBinding kid-1 YW=Jj",
     ["MDExternalAccountBinding", "YW=Jj", "not valid base64"]),
    ("name-in-two-mds", "MDomain a.example.org www.example.org\nMDomain b.example.org www.example.org",
     ["two Managed Domains have an overlap in domain 'www.example.org'"]),
    ("same-md-twice", "MDomain a.example.org\nMDomain a.example.org",
     ["two Managed Domains have an overlap in domain 'a.example.org'"]),
    ("name-with-slash", "MDomain a/b.example.org", ["MDomain", "a/b.example.org"]),
    ("name-dot-dot", "MDomain ..", ["MDomain", ".."]),
    ("member-with-slash", "<MDomain a.example.org>\n  MDMember b/c\n</MDomain>", ["MDMember", "b/c"]),
    ("ca-socket-for-acme", M + "MDCertificateAuthority file://localhost/run/tailscale.sock",
     ["MDCertificateAuthority", "file://localhost/run/tailscale.sock", "tailscale"]),
    ("tailscale-md-two-keys", "<MDomain a.example.org>\n  MDCertificateProtocol tailscale\n"
                              "  MDPrivateKeys RSA P-256\n</MDomain>", ["MDPrivateKeys", "tailscale"]),
    ("ip-dns01-only", "MDomain 127.0.0.1\nMDCAChallenges dns-01", ["127.0.0.1", "dns-01"]),
    ("static-cert-without-key", "<MDomain a.example.org>\n  MDCertificateFile /etc/hostname\n</MDomain>",
     ["needs one MDCertificateKeyFile for each MDCertificateFile"]),
    ("static-cert-missing", "<MDomain a.example.org>\n  MDCertificateFile /nonexistent/cert.pem\n"
                            "  MDCertificateKeyFile /nonexistent/key.pem\n</MDomain>",
     ["MDCertificateFile", "file not found: /nonexistent/cert.pem"]),
    ("static-cert-not-pem", "<MDomain a.example.org>\n  MDCertificateFile /etc/hostname\n"
                            "  MDCertificateKeyFile /etc/hostname\n</MDomain>",
     ["MDCertificateFile", "/etc/hostname"]),
]


@pytest.mark.parametrize("conf,phrase", [(c, p) for _, c, p in SAME], ids=[i for i, _, _ in SAME])
def test_same_verdict(conf, phrase):
    assert_same_verdict(conf, phrase=phrase)


@pytest.mark.parametrize("conf,words", [(c, w) for _, c, w in EARLY], ids=[i for i, _, _ in EARLY])
def test_refused_early(conf, words):
    assert_same_verdict(conf, refused_early=words)


def test_every_directive_of_the_reference_is_known():
    """Every MD* directive of the reference is one of ours (a configuration never fails on
    an unknown directive after switching)."""
    need_reference()
    with open(DEBIAN_MOD_MD, "rb") as f:
        data = f.read()
    # the directive names are NUL-terminated strings of the module's table
    theirs = {m.decode() for m in re.findall(rb"(?<=\0)(MD[A-Z][A-Za-z0-9]+)(?=\0)", data)}
    theirs.add("MDomain")
    body = "\n".join(f"# {d}" for d in sorted(theirs))
    h = Httpd(name="cfg-directives", md_module=MOD_MD)
    try:
        missing = []
        for d in sorted(theirs):
            h.write_conf(f"{d}\n")
            rc, out = h.configtest()
            if "Invalid command" in out:
                missing.append(d)
        assert not missing, f"directives of the reference unknown to ours: {missing}"
        assert len(theirs) > 40, body
    finally:
        h.cleanup()


# --- EAB files ---------------------------------------------------------------------------

EAB_FILES = {
    "good": '{"kid": "kid-1", "hmac": "YWJjZA=="}',
    "no-hmac": '{"kid": "kid-1"}',
    "no-kid": '{"hmac": "YWJj"}',
    "empty-kid": '{"kid": "", "hmac": "YWJj"}',
    "number-kid": '{"kid": 7, "hmac": "YWJj"}',
    "not-json": "not json",
    "array": "[1]",
}


@pytest.mark.parametrize("name", sorted(EAB_FILES))
def test_eab_file(tmp_path, name):
    path = tmp_path / f"{name}.json"
    path.write_text(EAB_FILES[name])
    os.chmod(tmp_path, 0o755)
    os.chmod(path, 0o644)
    assert_same_verdict(M + f"MDExternalAccountBinding {path}")


def test_eab_file_undecodable_hmac_refused_early(tmp_path):
    path = tmp_path / "eab.json"
    path.write_text('{"kid": "kid-1", "hmac": "!!"}')
    assert_same_verdict(M + f"MDExternalAccountBinding {path}",
                        refused_early=["MDExternalAccountBinding", "not valid base64"])


# --- what the configuration makes of an MD (md.json) -------------------------------------

def md_json_of(which, conf, name, base=True):
    """Start the server with one module (no CA reachable) and read domains/NAME/md.json."""
    h = Httpd(name=f"cfgjson-{which}", md_module={REF: DEBIAN_MOD_MD, OURS: MOD_MD}[which])
    try:
        body = conf(h)
        if not base:
            body = h.base_conf().replace("ServerAdmin admin@example.org\n", "") + body
        h.write_conf(body, base=base)
        h.start()
        path = os.path.join(h.store_dir, "domains", name, "md.json")
        end = time.time() + 10
        while not os.path.exists(path) and time.time() < end:
            time.sleep(0.1)
        with open(path) as f:
            return json.load(f)
    finally:
        h.cleanup()


def both_md_json(conf, name, base=True):
    need_reference()
    return {w: md_json_of(w, conf, name, base) for w in (REF, OURS)}


def ca_lines(h):
    return (f"MDCertificateAuthority https://127.0.0.1:1/dir\nMDCertificateAgreement accepted\n"
            f"MDPortMap http:{h.http_port} https:{h.https_port}\nMDRenewMode manual\n")


def test_agreement_url_kept_in_md_json():
    """8b: the terms-of-service URL is kept as ca.agreement."""
    j = both_md_json(cat(ca_lines, "MDCertificateAgreement https://ca.example.org/tos.pdf\n", M,
                         lambda h: h.ssl_vhost("a.example.org")), "a.example.org")
    assert j[REF]["ca"]["agreement"] == "https://ca.example.org/tos.pdf"
    assert j[OURS]["ca"]["agreement"] == j[REF]["ca"]["agreement"]


def test_contact_from_vhost_server_admin():
    """8c: no MDContactEmail, no global ServerAdmin: the ServerAdmin of the MD's host."""
    conf = cat(ca_lines, M, vhost("a.example.org", "  ServerAdmin host-admin@example.org\n"))
    j = both_md_json(conf, "a.example.org", base=False)
    assert j[REF]["contacts"] == ["mailto:host-admin@example.org"]
    assert j[OURS]["contacts"] == j[REF]["contacts"]


def test_mdomain_in_vhost_and_vhost_settings():
    """2: MDomain inside <VirtualHost> defines the MD as at global level; MD settings written
    in the host (outside <MDomain>) have no effect, as with the reference."""
    conf = cat(lambda h: ca_lines(h).replace("MDRenewMode manual\n", ""),
               vhost("a.example.org", "  MDomain a.example.org\n  MDRenewMode always\n"
                                      "  MDPrivateKeys P-256\n"))
    j = both_md_json(conf, "a.example.org")
    for key in ("domains", "renew-mode", "privkey", "contacts"):
        assert j[OURS].get(key) == j[REF].get(key), (key, j)


@pytest.mark.parametrize("section,glob", [("", ""), ("  MDRenewMode auto\n", ""),
                                          ("", "MDRenewMode always\n"), ("  MDRenewMode manual\n", "")],
                         ids=["default", "auto-in-section", "always-global", "manual"])
def test_static_certificate_renew_mode(tmp_path, section, glob):
    """9: static certificates make the renew mode manual unless it is 'always'."""
    os.chmod(tmp_path, 0o755)
    cert, key = CA().issue(["a.example.org"], days=90)
    cp, kp = write_pair(str(tmp_path), "a", cert, key)
    os.chmod(kp, 0o644)
    conf = cat(lambda h: ca_lines(h).replace("MDRenewMode manual\n", ""), glob,
               f"<MDomain a.example.org>\n  MDCertificateFile {cp}\n  MDCertificateKeyFile {kp}\n"
               f"{section}</MDomain>\n", lambda h: h.ssl_vhost("a.example.org"))
    j = both_md_json(conf, "a.example.org")
    assert j[OURS]["renew-mode"] == j[REF]["renew-mode"], j
