"""MDStapling for a certificate obtained over ACME: pebble issues it with our responder's URL
in its AIA (ocspResponderURL), and the responder fixture signs with pebble's intermediate key
(from pebble's management port). Needs the ACME driver and its pebble fixture (pebble.py);
skipped without them."""
import json
import os
import re
import subprocess
import time

import pytest

pebble = pytest.importorskip("pebble")
from pebble import pebble_for, md_conf, wait_staged  # noqa: E402,F401

from ocsp_responder import OcspResponder  # noqa: E402


def staple(h, name):
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{h.https_port}",
                        "-servername", name, "-status"], input="", capture_output=True, text=True,
                       timeout=20)
    m = re.search(r"Cert Status: (\w+)", p.stdout)
    return m.group(1) if m else None


def wait_staple(h, name, want, timeout=20):
    end = time.time() + timeout
    got = None
    while time.time() < end:
        got = staple(h, name)
        if got == want:
            return got
        time.sleep(0.3)
    raise AssertionError(f"staple for {name}: {got}, wanted {want}\n{h.log()[-4000:]}")


@pytest.fixture
def responder():
    r = OcspResponder().start()
    yield r
    r.stop()


def test_acme_certificate_stapled_and_revocation_seen(httpd, pebble_for, responder):
    h = httpd()
    pb = pebble_for(h, config={"ocspResponderURL": responder.url})
    responder.set_issuer(pb._mgmt_get("/intermediates/0"), pb._mgmt_get("/intermediate-keys/0"))
    name = "staple.mdtest.org"
    events = h.path("events.log")
    open(events, "w").close()
    os.chmod(events, 0o666)
    script = h.path("event.sh")
    with open(script, "w") as f:
        f.write(f"#!/bin/sh\necho \"$@\" >> {events}\n")
    os.chmod(script, 0o755)
    h.write_conf(md_conf(pb, h, "MDCAChallenges http-01\nMDStapling on\nMDStaplingRenewWindow 4d\n"
                         f"MDMessageCmd {script}\n")
                 + f"MDomain {name}\n" + h.ssl_vhost(name) + h.http_vhost(name)
                 + "<Location /md-status>\n  SetHandler md-status\n</Location>\n")
    h.start()
    wait_staged(h, name)
    h.graceful()
    assert wait_staple(h, name, "good") == "good"
    status, _, body = h.curl("/md-status")
    md = json.loads(body)["managed-domains"][0]
    assert md["cert"]["rsa"]["ocsp"]["status"] == "good", md["cert"]
    # the CA revokes it: the next renewal of the response (due at each restart with a 4d
    # window over 3-day responses) staples "revoked" and reports it
    responder.set_mode("revoked")
    h.graceful()
    assert wait_staple(h, name, "revoked") == "revoked"
    status, _, body = h.curl("/md-status")
    assert json.loads(body)["managed-domains"][0]["cert"]["rsa"]["ocsp"]["status"] == "revoked"
    with open(events) as f:
        lines = f.read().split("\n")
    assert sum(1 for line in lines if line.endswith(f"ocsp-renewed {name}")) >= 2, lines
