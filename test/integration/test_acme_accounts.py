"""ACME accounts: one account for many MDs and across restarts, external account binding,
renewal of an existing certificate inside MDRenewWindow."""
import json
import os
import time

from pebble import pebble_for, md_conf, wait_staged, verify_served, read_job  # noqa: F401


def served_serial(h, name, root):
    rc, out = verify_served(h, name, root)
    assert rc == 0 and "Verify return code: 0 (ok)" in out, out
    leaf = out.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return leaf


def test_one_account_for_concurrent_mds_and_restarts(httpd, pebble_for):
    h = httpd()
    pb = pebble_for(h)
    names = [f"acct{i}.mdtest.org" for i in range(4)]
    conf = md_conf(pb, h) + "".join(f"MDomain {n}\n" for n in names) \
        + "".join(h.ssl_vhost(n) for n in names) + h.http_vhost(names[0])
    h.write_conf(conf)
    h.start()
    for n in names:
        wait_staged(h, n)
    assert h.log().count("created ACME account") == 1
    h.graceful()
    accounts = os.listdir(os.path.join(h.store_dir, "accounts"))
    assert len(accounts) == 1, accounts
    for n in names:
        with open(os.path.join(h.store_dir, "domains", n, "md.json")) as f:
            assert json.load(f)["ca"]["account"] == accounts[0]
    # a new MD after the restart: the account in accounts/ (root only) is used by the child
    new = "acct-new.mdtest.org"
    h.write_conf(conf + f"MDomain {new}\n" + h.ssl_vhost(new))
    h.graceful()
    wait_staged(h, new)
    assert h.log().count("created ACME account") == 1
    h.graceful()
    assert os.listdir(os.path.join(h.store_dir, "accounts")) == accounts
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    served_serial(h, new, root)


def test_external_account_binding(httpd, pebble_for):
    h = httpd()
    hmac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
    pb = pebble_for(h, config={"externalAccountBindingRequired": True,
                               "externalAccountMACKeys": {"kid-1": hmac}})
    with_eab, without = "eab.mdtest.org", "noeab.mdtest.org"
    eab_file = h.path("eab.json")
    with open(eab_file, "w") as f:
        json.dump({"kid": "kid-1", "hmac": hmac}, f)
    # without EAB first: the CA refuses a new account
    h.write_conf(md_conf(pb, h) + f"MDomain {without}\n" + h.ssl_vhost(without))
    h.start()
    end = time.time() + 10
    job = None
    while time.time() < end:
        job = read_job(h, without)
        if job and job.get("errors"):
            break
        time.sleep(0.2)
    assert job and "MDExternalAccountBinding" in job["last"]["detail"], job
    # with EAB (the JSON file form): the account is created and bound
    h.write_conf(md_conf(pb, h)
                 + f"<MDomain {with_eab}>\n  MDExternalAccountBinding {eab_file}\n</MDomain>\n"
                 + h.ssl_vhost(with_eab))
    h.graceful()
    wait_staged(h, with_eab)
    h.graceful()
    served_serial(h, with_eab, pb.write_root(os.path.join(pb.dir, "root.pem")))


def test_renewal_inside_window_replaces_certificate(httpd, pebble_for):
    """A window longer than the lifetime makes every certificate due: after the first is
    installed, the driver renews, and the next restart serves a new certificate and
    archives the previous set."""
    h = httpd()
    pb = pebble_for(h)
    name = "renew.mdtest.org"
    h.write_conf(md_conf(pb, h, "MDRenewWindow 3000d\n") + f"MDomain {name}\n"
                 + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    wait_staged(h, name)
    h.graceful()
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    first = served_serial(h, name, root)
    wait_staged(h, name)
    assert "inside MDRenewWindow" in h.log()
    h.graceful()
    second = served_serial(h, name, root)
    assert first != second
    assert os.path.isdir(os.path.join(h.store_dir, "archive", f"{name}.2"))
