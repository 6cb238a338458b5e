"""MDActivation hot: certificates obtained and renewed from a real ACME CA (pebble) go live
without a restart. What a client sees is checked with openssl s_client (serial, key type,
chain verifying against pebble's root); the server is never restarted (same parent pid,
one 'resuming normal operations')."""
import json
import os
import re
import shutil
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pebble import (pebble_for, md_conf, verify_served, read_job,  # noqa: F401
                    md_status, md_status_location)

RSA_SIGALGS = "rsa_pss_rsae_sha256:rsa_pkcs1_sha256"
EC_SIGALGS = "ecdsa_secp256r1_sha256"
SIGALGS = {"rsa2048": RSA_SIGALGS, "secp256r1": EC_SIGALGS}
PEM_RE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def make_httpd(httpd, mpm="event"):
    h = httpd()
    if mpm == "prefork":
        base = (h.base_conf().replace("mpm_event_module", "mpm_prefork_module")
                .replace("mod_mpm_event.so", "mod_mpm_prefork.so")
                .replace("ThreadsPerChild 10\n", "").replace("ServerLimit 2\n", "ServerLimit 20\n")
                .replace("StartServers 1\n", "StartServers 2\n"))
        orig = h.write_conf
        h.write_conf = lambda body, base_=True: orig(base + body, base=False)
    return h


def served(h, name, sigalgs=None):
    """The leaf certificate served for SNI name (restricted to sigalgs), or None."""
    out = h.server_cert_pem(name, extra=["-sigalgs", sigalgs] if sigalgs else [])
    m = PEM_RE.search(out)
    return x509.load_pem_x509_certificate(m.group(0).encode()) if m else None


def wait_for(pred, timeout, step=0.25, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def serials(h, name, keys):
    out = {}
    for k in keys:
        c = served(h, name, SIGALGS[k])
        out[k] = c.serial_number if c else None
    return out


def key_kind(cert):
    k = cert.public_key()
    return "rsa2048" if isinstance(k, rsa.RSAPublicKey) else "secp256r1" if isinstance(k, ec.EllipticCurvePublicKey) else None


def cert_file(key):
    return "pubcert.pem" if key.startswith("rsa") else f"pubcert.{key}.pem"


def staged_serial(h, name, key="rsa2048"):
    """The serial of the complete staged certificate for key right now, else None."""
    job = read_job(h, name)
    if not job or not job.get("finished"):
        return None
    try:
        with open(os.path.join(h.store_dir, "staging", name, cert_file(key))) as f:
            return x509.load_pem_x509_certificate(PEM_RE.search(f.read()).group(0).encode()).serial_number
    except (OSError, AttributeError, ValueError):
        return None


def hot_conf(pb, h, name, keys, challenge, extra=""):
    lines = (f"MDCAChallenges {challenge}\nMDPrivateKeys {' '.join(keys)}\n"
             f"MDActivation hot\nMDRenewWindow 3650d\n" + extra)
    conf = md_conf(pb, h, lines)
    if challenge == "tls-alpn-01":
        conf = conf.replace(f"http:{h.http_port}", "http:-")
        vhost = h.ssl_vhost(name, extra="  Protocols http/1.1 acme-tls/1\n")
    else:
        vhost = h.ssl_vhost(name) + h.http_vhost(name)
    return conf + f"MDomain {name}\n" + vhost + md_status_location()


@pytest.mark.parametrize("keys,challenge,mpm", [
    (["rsa2048"], "http-01", "event"),
    (["secp256r1"], "tls-alpn-01", "prefork"),
    (["secp256r1", "rsa2048"], "http-01", "prefork"),
    (["rsa2048", "secp256r1"], "tls-alpn-01", "event"),
], ids=["rsa-http01-event", "ec-alpn-prefork", "dual-http01-prefork", "dual-alpn-event"])
def test_obtain_and_renew_without_restart(httpd, pebble_for, keys, challenge, mpm):
    h = make_httpd(httpd, mpm)
    pb = pebble_for(h)
    name = "hot.mdtest.org"
    h.write_conf(hot_conf(pb, h, name, keys, challenge))
    h.start()
    pid = h.pid()
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))

    # obtain: the fallback is replaced by a verifying certificate without a restart
    try:
        wait_for(lambda: verify_served(h, name, root)[0] == 0, 90, what="the first certificate")
    except AssertionError:
        print(verify_served(h, name, root)[1])
        raise
    first = serials(h, name, keys)
    for k in keys:
        assert first[k], (k, first)
        assert key_kind(served(h, name, SIGALGS[k])) == k

    # renew: the renew window covers the whole lifetime, so a new set is staged at once;
    # its serial is served within 10 s of being staged
    staged = wait_for(lambda: staged_serial(h, name, keys[0]), 90, step=0.05, what="a staged renewal")
    t0 = time.time()
    wait_for(lambda: served(h, name, SIGALGS[keys[0]]).serial_number == staged, 10, step=0.2,
             what="the staged certificate to be served")
    latency = time.time() - t0
    now = serials(h, name, keys)
    for k in keys:
        assert now[k] != first[k], (k, first, now)
        assert key_kind(served(h, name, SIGALGS[k])) == k
    rc, out = verify_served(h, name, root)
    assert rc == 0, out
    assert h.pid() == pid and h.generation() == 1, "the server was restarted"
    assert "is live without restart" in h.log()
    print(f"staged -> served: {latency:.2f}s")
    assert "Segmentation fault" not in h.log()

    # md-status shows the certificate actually served
    st = md_status(h, name)
    served_rsa_or_ec = served(h, name, SIGALGS[keys[0]])
    shown = [c.get("serial", "").lower() for c in st["cert"].values()] if isinstance(st.get("cert"), dict) else []
    assert format(served_rsa_or_ec.serial_number, "x") in [s.lstrip("0") for s in shown] or \
        format(served_rsa_or_ec.serial_number, "X").lower() in json.dumps(st).lower(), st


def helper_pids(h):
    return [int(m) for m in re.findall(r"activation helper pid (\d+)", h.log())]


def test_helper_follows_restarts_and_stop(httpd, pebble_for):
    """The activation helper is replaced at a graceful restart and gone after the stop."""
    h = httpd()
    pb = pebble_for(h)
    name = "helper.mdtest.org"
    h.write_conf(hot_conf(pb, h, name, ["secp256r1"], "http-01"))
    h.start()
    wait_for(lambda: helper_pids(h), 10, what="the helper")
    first = helper_pids(h)[-1]
    assert os.path.exists(f"/proc/{first}")
    h.graceful()
    wait_for(lambda: len(helper_pids(h)) >= 2, 10, what="a new helper")
    second = helper_pids(h)[-1]
    assert second != first and not os.path.exists(f"/proc/{first}")
    h.stop()
    wait_for(lambda: not os.path.exists(f"/proc/{second}"), 10, what="the helper to end")


def test_graceful_default_unchanged(httpd, pebble_for):
    """Without MDActivation (graceful) a staged certificate waits for the restart."""
    h = httpd()
    pb = pebble_for(h)
    name = "cold.mdtest.org"
    h.write_conf(md_conf(pb, h, "MDCAChallenges http-01\n") + f"MDomain {name}\n"
                 + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    wait_for(lambda: staged_serial(h, name), 90, what="the staged certificate")
    time.sleep(4)
    assert verify_served(h, name, root)[0] != 0          # still the fallback
    assert os.path.exists(os.path.join(h.store_dir, "staging", name, "job.json"))
    h.graceful()
    assert verify_served(h, name, root)[0] == 0


def test_directive_values(httpd):
    h = httpd()
    h.write_conf("MDActivation lukewarm\nMDomain x.mdtest.org\n")
    rc, out = h.configtest()
    assert rc != 0 and "MDActivation: invalid value 'lukewarm'" in out, out
    h.write_conf("MDActivationSlotSize 10\nMDomain x.mdtest.org\n")
    rc, out = h.configtest()
    assert rc != 0 and "MDActivationSlotSize" in out, out
    h.write_conf("MDActivation graceful\n<MDomain x.mdtest.org>\n  MDActivation hot\n</MDomain>\n")
    rc, out = h.configtest()
    assert rc == 0, out
