"""mod_md obtains certificates from a real ACME CA (pebble) and serves them after a
graceful restart; the served chain verifies against pebble's root."""
import json
import os

import pytest

from pebble import pebble_for, md_conf, wait_staged, verify_served, read_job  # noqa: F401


def issue_and_verify(h, pb, name):
    wait_staged(h, name)
    h.graceful()
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    rc, out = verify_served(h, name, root)
    assert rc == 0 and "Verify return code: 0 (ok)" in out, out
    return out


def test_http01_certificate_served_after_graceful(httpd, pebble_for):
    h = httpd()
    pb = pebble_for(h)
    name = "one.mdtest.org"
    h.write_conf(md_conf(pb, h, "MDCAChallenges http-01\n") + f"MDomain {name} www.{name}\n"
                 + h.ssl_vhost(name, aliases=[f"www.{name}"]) + h.http_vhost(name))
    h.start()
    # before the certificate: the fallback is served, which does not verify
    rc, out = verify_served(h, name, pb.write_root(os.path.join(pb.dir, "root.pem")))
    assert rc != 0
    issue_and_verify(h, pb, name)
    # activation moved the set: domains/ holds it, staging/ is gone, job log says installed
    assert os.path.exists(os.path.join(h.store_dir, "domains", name, "pubcert.pem"))
    assert not os.path.exists(os.path.join(h.store_dir, "staging", name))
    job = read_job(h, name, "domains")
    assert job["log"]["entries"][0]["type"] == "installed"
    accounts = os.listdir(os.path.join(h.store_dir, "accounts"))
    assert len(accounts) == 1 and accounts[0].startswith("ACME-127.0.0.1-"), accounts
    with open(os.path.join(h.store_dir, "domains", name, "md.json")) as f:
        assert json.load(f)["ca"]["account"] == accounts[0]
