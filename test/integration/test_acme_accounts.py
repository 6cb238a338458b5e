"""ACME accounts: one account for many MDs and across restarts, external account binding,
renewal of an existing certificate inside MDRenewWindow."""
import json
import os
import time

from pebble import pebble_for, md_conf, wait_staged, read_job, served_leaf_pem  # noqa: F401


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
    served_leaf_pem(h, new, root)


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
    # the CA's problem, as the reference shows it; the log says what to configure
    assert job and job["last"]["problem"] == "urn:ietf:params:acme:error:externalAccountRequired", job
    assert "MDExternalAccountBinding" in h.log()
    # with EAB (the JSON file form): the account is created and bound
    h.write_conf(md_conf(pb, h)
                 + f"<MDomain {with_eab}>\n  MDExternalAccountBinding {eab_file}\n</MDomain>\n"
                 + h.ssl_vhost(with_eab))
    h.graceful()
    wait_staged(h, with_eab)
    h.graceful()
    served_leaf_pem(h, with_eab, pb.write_root(os.path.join(pb.dir, "root.pem")))


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
    first = served_leaf_pem(h, name, root)
    wait_staged(h, name)
    assert "inside MDRenewWindow" in h.log()
    h.graceful()
    second = served_leaf_pem(h, name, root)
    assert first != second
    assert os.path.isdir(os.path.join(h.store_dir, "archive", f"{name}.2"))


def _b64u(data):
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def deactivate_account(h, pb):
    """Deactivate the stored account at pebble, signing with its key from the store."""
    import base64
    import ssl
    import urllib.error
    import urllib.request
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    with open(os.path.join(h.store_dir, "md_store.json")) as f:
        key64 = json.load(f)["key"]
    passwd = base64.urlsafe_b64decode(key64 + "=" * (-len(key64) % 4))
    acct_dir = os.path.join(h.store_dir, "accounts", os.listdir(os.path.join(h.store_dir, "accounts"))[0])
    with open(os.path.join(acct_dir, "account.json")) as f:
        url = json.load(f)["url"]
    with open(os.path.join(acct_dir, "account.pem"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=passwd)
    ctx = ssl.create_default_context(cafile=pb.ca_file)
    for attempt in range(10):       # pebble rejects some nonces (badNonce): sign again
        with urllib.request.urlopen(urllib.request.Request(
                f"https://127.0.0.1:{pb.port}/nonce-plz", method="HEAD"), context=ctx) as r:
            nonce = r.headers["Replay-Nonce"]
        prot = _b64u(json.dumps({"alg": "ES256", "kid": url, "nonce": nonce, "url": url}).encode())
        payload = _b64u(json.dumps({"status": "deactivated"}).encode())
        der = key.sign(f"{prot}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
        r_, s_ = decode_dss_signature(der)
        sig = _b64u(r_.to_bytes(32, "big") + s_.to_bytes(32, "big"))
        body = json.dumps({"protected": prot, "payload": payload, "signature": sig}).encode()
        req = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/jose+json"})
        try:
            with urllib.request.urlopen(req, context=ctx) as r:
                assert json.load(r)["status"] == "deactivated"
                return
        except urllib.error.HTTPError as e:
            if e.code != 400 or "badNonce" not in e.read().decode():
                raise
    raise AssertionError("pebble kept rejecting the nonce")


def test_deactivated_account_is_replaced(httpd, pebble_for):
    h = httpd()
    pb = pebble_for(h)
    first, second = "first.mdtest.org", "second.mdtest.org"
    conf = md_conf(pb, h) + h.http_vhost(first)
    h.write_conf(conf + f"MDomain {first}\n" + h.ssl_vhost(first))
    h.start()
    wait_staged(h, first)
    h.graceful()
    deactivate_account(h, pb)
    h.write_conf(conf + f"MDomain {first}\nMDomain {second}\n" + h.ssl_vhost(first)
                 + h.ssl_vhost(second))
    h.graceful()
    wait_staged(h, second)
    assert "is not usable any more" in h.log()
    assert h.log().count("created ACME account") == 2
    h.graceful()
    assert len(os.listdir(os.path.join(h.store_dir, "accounts"))) == 2
    served_leaf_pem(h, second, pb.write_root(os.path.join(pb.dir, "root.pem")))
