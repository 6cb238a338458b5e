"""IP-address certificates (RFC 8738) through http-01 and tls-alpn-01 against a real pebble,
for IPv4 and IPv6 addresses, alone or mixed with DNS names in one MD."""
import os
import subprocess

import pytest

from acme_proxy import proxy_for  # noqa: F401
from pebble import pebble_for, md_conf, wait_staged, md_status, md_status_location  # noqa: F401


def ipv6_vhosts(h, name):
    """Listen on [::1] too (pebble validates ::1 there). httpd takes no IPv6 ServerName, so
    the address is a ServerAlias, once bracketed and once bare."""
    return (f"Listen [::1]:{h.http_port}\nListen [::1]:{h.https_port} https\n"
            f"<VirtualHost [::1]:{h.https_port}>\n  ServerName v6.mdtest.org\n"
            f"  ServerAlias [{name}]\n  SSLEngine on\n"
            f"  Protocols http/1.1 acme-tls/1\n</VirtualHost>\n"
            f"<VirtualHost [::1]:{h.http_port}>\n  ServerName v6.mdtest.org\n"
            f"  ServerAlias {name}\n</VirtualHost>\n")


def served_sans(h, pb, connect, verify_ip=None, servername=None):
    """openssl s_client's verdict on the chain served at connect, and the leaf's SANs."""
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    args = ["openssl", "s_client", "-connect", connect, "-CAfile", root, "-verify_return_error",
            "-showcerts"]
    if verify_ip:
        args += ["-verify_ip", verify_ip]
    if servername:
        args += ["-servername", servername]
    p = subprocess.run(args, input="", capture_output=True, text=True, timeout=20)
    assert p.returncode == 0 and "Verify return code: 0 (ok)" in p.stdout, p.stdout + p.stderr
    leaf = p.stdout[p.stdout.index("-----BEGIN CERTIFICATE-----"):]
    leaf = leaf[:leaf.index("-----END CERTIFICATE-----") + 25]
    return subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=leaf,
                          capture_output=True, text=True).stdout


@pytest.mark.parametrize("challenge", ["http-01", "tls-alpn-01"])
def test_ipv4_address_certificate(httpd, pebble_for, challenge):
    h = httpd()
    pb = pebble_for(h)
    ip = "127.0.0.1"
    h.write_conf(md_conf(pb, h, f"MDCAChallenges {challenge}\n") + f"MDomain {ip}\n"
                 + h.ssl_vhost(ip, extra="  Protocols http/1.1 acme-tls/1\n") + h.http_vhost(ip))
    h.start()
    wait_staged(h, ip)
    if challenge == "tls-alpn-01":
        # pebble asks for the reverse-DNS name of the address (RFC 8738 section 6)
        assert "answering the tls-alpn-01 challenge for 127.0.0.1" in h.log(), h.log()[-3000:]
    h.graceful()
    text = served_sans(h, pb, f"{ip}:{h.https_port}", verify_ip=ip)
    assert f"IP Address:{ip}" in text and "DNS:" not in text, text


@pytest.mark.parametrize("challenge", ["http-01", "tls-alpn-01"])
def test_ipv6_address_certificate(httpd, pebble_for, challenge):
    """MDomain written in a long form is kept canonical (::1); the [::1] vhost matches it."""
    h = httpd()
    pb = pebble_for(h)
    h.write_conf(md_conf(pb, h, f"MDCAChallenges {challenge}\n") + md_status_location()
                 + "MDMembers manual\nMDomain 0:0:0:0:0:0:0:1\n" + ipv6_vhosts(h, "::1")
                 + h.http_vhost("localhost"))
    h.start()
    wait_staged(h, "::1")
    h.graceful()
    text = served_sans(h, pb, f"[::1]:{h.https_port}", verify_ip="::1")
    assert "IP Address:0:0:0:0:0:0:0:1" in text and "DNS:" not in text, text
    md = md_status(h)["managed-domains"][0]
    assert md["name"] == "::1" and md["domains"] == ["::1"], md
    assert md["state"] == 2 and md.get("watched") is not False, md


def test_names_and_addresses_in_one_md(httpd, pebble_for):
    h = httpd()
    pb = pebble_for(h)
    name, ip = "ipmix.mdtest.org", "127.0.0.1"
    h.write_conf(md_conf(pb, h, "MDCAChallenges http-01\n") + f"MDomain {name} {ip}\n"
                 + h.ssl_vhost(name, aliases=(ip,)) + h.http_vhost(name, aliases=(ip,)))
    h.start()
    wait_staged(h, name)
    h.graceful()
    for kw in ({"verify_ip": ip}, {"servername": name}):
        text = served_sans(h, pb, f"127.0.0.1:{h.https_port}", **kw)
        assert f"IP Address:{ip}" in text and f"DNS:{name}" in text, text


def test_ip_certificate_with_shortlived_profile(httpd, pebble_for, proxy_for):
    """As Let's Encrypt wants it: an address ordered with the 'shortlived' profile (pebble
    behind acme_proxy.py, which offers profiles and records the orders)."""
    h = httpd()
    pb = pebble_for(h)
    px = proxy_for(pb, profiles={"classic": "90 days", "shortlived": "IP addresses allowed"})
    ip = "127.0.0.1"
    h.write_conf(md_conf(pb, h).replace(pb.directory, px.directory)
                 + f"<MDomain {ip}>\n  MDProfile shortlived\n  MDProfileMandatory on\n"
                 + "  MDCAChallenges http-01\n</MDomain>\n" + h.ssl_vhost(ip) + h.http_vhost(ip))
    h.start()
    job = wait_staged(h, ip)
    assert job["profile"] == "shortlived", job
    assert [(o.get("profile"), o.get("identifiers")) for o in px.orders] == \
        [("shortlived", [{"type": "ip", "value": ip}])], px.orders
    h.graceful()
    text = served_sans(h, pb, f"{ip}:{h.https_port}", verify_ip=ip)
    assert f"IP Address:{ip}" in text, text
