"""Switching modules keeps the data: a store written by Debian's mod_md (upstream 2.6) is
used by ours, with its account and its certificates."""
import os
import time

import pytest

from httpd import DEBIAN_MOD_MD
from pebble import pebble_for, md_conf, wait_staged, verify_served, stop_httpd  # noqa: F401


def test_debian_store_is_taken_over(httpd, pebble_for):
    if not os.path.exists(DEBIAN_MOD_MD):
        pytest.skip("Debian's mod_md is not installed")
    deb = httpd(md_module=DEBIAN_MOD_MD)
    pb = pebble_for(deb)
    store = deb.store_dir
    old, new = "takeover.mdtest.org", "takeover-new.mdtest.org"
    deb.write_conf(md_conf(pb, deb) + f"MDomain {old}\n" + deb.ssl_vhost(old) + deb.http_vhost(old))
    deb.start()
    end = time.time() + 30
    while time.time() < end and not os.path.exists(os.path.join(store, "staging", old, "pubcert.pem")):
        time.sleep(0.2)
    time.sleep(1)
    deb.graceful()
    assert os.path.exists(os.path.join(store, "domains", old, "pubcert.pem")), deb.log()[-3000:]
    stop_httpd(deb)
    accounts = os.listdir(os.path.join(store, "accounts"))
    assert len(accounts) == 1

    ours = httpd()
    ours.http_port, ours.https_port = deb.http_port, deb.https_port
    ours.write_conf(md_conf(pb, ours) + f"MDStoreDir {store}\n" + f"MDomain {old}\nMDomain {new}\n"
                    + ours.ssl_vhost(old) + ours.ssl_vhost(new) + ours.http_vhost(old))
    ours.start()
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    rc, out = verify_served(ours, old, root)          # Debian's certificate, served by us
    assert rc == 0 and "Verify return code: 0 (ok)" in out, out
    wait_staged(ours, new, store=store)
    assert "created ACME account" not in ours.log()   # Debian's (RSA) account is used
    ours.graceful()
    rc, out = verify_served(ours, new, root)
    assert rc == 0 and "Verify return code: 0 (ok)" in out, out
    assert os.listdir(os.path.join(store, "accounts")) == accounts
