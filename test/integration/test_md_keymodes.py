"""Private key files in the store are 0600 from creation, whatever the umask httpd runs
with: staged keys and the staged account key (written by the child), and the activated set
and fallbacks in domains/ (written by the parent), for an order with pebble."""
import os
import stat

import pytest

from pebble import pebble_for, md_conf, wait_staged, verify_served  # noqa: F401


def key_files(store):
    for d, _, files in os.walk(store):
        for f in files:
            if f.endswith(".pem") and ("key" in f or f == "account.pem"):
                yield os.path.join(d, f)


def check_modes(store, seen):
    for path in key_files(store):
        seen.add(os.path.relpath(path, store).split(os.sep)[0])
        m = stat.S_IMODE(os.lstat(path).st_mode)
        assert m == 0o600, f"{path}: mode {m:o}"


@pytest.mark.parametrize("mask", [0o000, 0o022], ids=["umask000", "umask022"])
def test_key_files_0600_after_order(httpd, pebble_for, mask):
    h = httpd()
    pb = pebble_for(h)
    name = f"keys{mask:o}.mdtest.org"
    h.write_conf(md_conf(pb, h, "MDCAChallenges http-01\nMDPrivateKeys secp256r1 rsa2048\n")
                 + f"MDomain {name}\n" + h.ssl_vhost(name) + h.http_vhost(name))
    old = os.umask(mask)
    try:
        h.start()
        seen = set()
        check_modes(h.store_dir, seen)               # fallbacks
        wait_staged(h, name)
        check_modes(h.store_dir, seen)               # staged keys, staged account
        h.graceful()
        check_modes(h.store_dir, seen)               # activated set, accounts/
    finally:
        os.umask(old)
    assert {"domains", "staging", "accounts"} <= seen, seen
    rc, out = verify_served(h, name, pb.write_root(os.path.join(pb.dir, "root.pem")))
    assert rc == 0, out
