"""IP-address certificates (RFC 8738) through http-01 against a real pebble."""
import os
import subprocess

from pebble import pebble_for, md_conf, wait_staged  # noqa: F401


def test_ip_address_certificate_http01(httpd, pebble_for):
    h = httpd()
    pb = pebble_for(h)
    ip = "127.0.0.1"
    h.write_conf(md_conf(pb, h, "MDCAChallenges http-01\n") + f"MDomain {ip}\n"
                 + h.ssl_vhost(ip) + h.http_vhost(ip))
    h.start()
    wait_staged(h, ip)
    h.graceful()
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    p = subprocess.run(["openssl", "s_client", "-connect", f"{ip}:{h.https_port}", "-CAfile", root,
                        "-verify_return_error", "-verify_ip", ip, "-showcerts"],
                       input="", capture_output=True, text=True, timeout=20)
    assert p.returncode == 0 and "Verify return code: 0 (ok)" in p.stdout, p.stdout + p.stderr
    leaf = p.stdout[p.stdout.index("-----BEGIN CERTIFICATE-----"):]
    leaf = leaf[:leaf.index("-----END CERTIFICATE-----") + 25]
    text = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=leaf,
                          capture_output=True, text=True).stdout
    assert f"IP Address:{ip}" in text and "DNS:" not in text, text
