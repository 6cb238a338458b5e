"""Crash safety of the store: httpd (parent and children) is killed with SIGKILL at random
moments while certificates are ordered from pebble, staged and activated, and started again
each time. After every kill, every JSON file in the store must parse and every certificate
in domains/ must match its key; at the end every MD is served a certificate that verifies.

MDRenewWindow 3650d (a plain number would be days too) is longer than the certificates'
lifetime, so a renewal starts again after every activation: the kills land in ordering,
staging, activation at start-up and in between. The run is reproducible with
MD_CRASH_SEED=<seed> (printed on failure)."""
import glob
import json
import os
import random
import signal
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from httpd import APACHE2, children_of, process_alive, sanitizer_env, wait_port
from pebble import pebble_for, md_conf, verify_served  # noqa: F401

KILLS = int(os.environ.get("MD_CRASH_KILLS", "14"))
BUDGET_S = 100          # the killing stops after this, whatever KILLS says


class Server:
    """apache2 in the foreground, started by us: its pid is the parent's, its children
    are found by their parent pid. Only these processes are ever signalled."""

    def __init__(self, h):
        self.h = h
        self.proc = None

    def start(self):
        env = dict(os.environ)
        env.update(sanitizer_env())
        out = open(self.h.path("logs", "foreground.out"), "a")
        self.proc = subprocess.Popen([APACHE2, "-f", self.h.conf_path, "-DFOREGROUND"],
                                     stdout=out, stderr=subprocess.STDOUT, env=env)
        out.close()

    def wait_up(self, timeout=30):
        end = time.time() + timeout
        while time.time() < end and self.proc.poll() is None:
            if wait_port(self.h.https_port, 0.2) and children_of(self.proc.pid):
                return True
        return False

    def kill(self):
        """SIGKILL the parent and every child. The parent is stopped first, so that it
        cannot fork a child we would not know of between looking and killing."""
        pid = self.proc.pid
        if self.proc.poll() is None:
            os.kill(pid, signal.SIGSTOP)
        kids = children_of(pid)
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            os.kill(pid, signal.SIGKILL)
        self.proc.wait(10)
        end = time.time() + 10
        while time.time() < end and any(process_alive(k) for k in kids):
            time.sleep(0.02)
        assert not any(process_alive(k) for k in kids), f"children {kids} survived SIGKILL"

    def graceful(self):
        old = self.h.generation()
        os.kill(self.proc.pid, signal.SIGUSR1)
        end = time.time() + 30
        while time.time() < end and self.h.generation() == old:
            time.sleep(0.1)
        wait_port(self.h.https_port, 5)
        time.sleep(0.3)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def public(key_or_cert):
    return key_or_cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_store(store, when):
    """Every JSON file parses; every certificate in domains/ has its key and matches it."""
    for path in glob.glob(os.path.join(store, "**", "*.json"), recursive=True):
        with open(path) as f:
            try:
                json.load(f)
            except ValueError as e:
                raise AssertionError(f"{when}: {path} is no valid JSON: {e}")
    pairs = 0
    for d in glob.glob(os.path.join(store, "domains", "*")):
        for cert_path in glob.glob(os.path.join(d, "*pubcert*.pem")):
            key_path = os.path.join(d, os.path.basename(cert_path).replace("pubcert", "privkey"))
            if d.endswith(".activating") and not os.path.exists(key_path):
                continue            # a set being built: discarded at the next start
            assert os.path.exists(key_path), f"{when}: {cert_path} without {key_path}"
            with open(cert_path, "rb") as f:
                cert = x509.load_pem_x509_certificate(f.read())   # the first: the leaf
            with open(key_path, "rb") as f:
                key = serialization.load_pem_private_key(f.read(), None)
            assert public(cert) == public(key), f"{when}: {cert_path} does not match {key_path}"
            pairs += 1
    return pairs


def issued(store, name):
    """Has domains/<name> a certificate from the CA (not only the fallback)?"""
    return bool(glob.glob(os.path.join(store, "domains", name, "pubcert*.pem")))


def staged(store, name):
    try:
        with open(os.path.join(store, "staging", name, "job.json")) as f:
            return json.load(f).get("finished", False)
    except (OSError, ValueError):
        return False


def test_kill_during_order_stage_activate(httpd, pebble_for):
    seed = int(os.environ.get("MD_CRASH_SEED", str(int(time.time() * 1000) % 100000)))
    rnd = random.Random(seed)
    h = httpd()
    pb = pebble_for(h)
    names = ["crash-a.mdtest.org", "crash-b.mdtest.org", "crash-c.mdtest.org"]
    conf = md_conf(pb, h, "MDCAChallenges http-01\nMDRenewWindow 3650d\n"
                   "MDRetryDelay 200ms\nMDRenewJobs 3\n")
    conf += "<MDomain crash-b.mdtest.org>\n  MDPrivateKeys secp256r1 rsa2048\n</MDomain>\n"
    conf += "".join(f"MDomain {n}\n" if n != "crash-b.mdtest.org" else "" for n in names)
    conf += "".join(h.ssl_vhost(n) + h.http_vhost(n) for n in names)
    h.write_conf(conf)
    rc, out = h.configtest()
    assert rc == 0, out
    s = Server(h)
    kills = []
    begin = time.time()
    try:
        for i in range(KILLS):
            if time.time() - begin > BUDGET_S:
                break
            s.start()
            # a staged set is activated by the parent while it starts: kill early then,
            # else anywhere in ordering (a few seconds with pebble)
            anything_staged = any(staged(h.store_dir, n) for n in names)
            delay = rnd.uniform(0.0, 0.6) if anything_staged and rnd.random() < 0.5 \
                else rnd.uniform(0.2, 4.0)
            time.sleep(delay)
            s.kill()
            pairs = check_store(h.store_dir, f"seed {seed}, kill {i + 1} after {delay:.2f}s")
            kills.append((round(delay, 2), anything_staged, pairs))
        print(f"MD_CRASH_SEED={seed}: {len(kills)} kills (delay, something staged, key pairs "
              f"in domains/): {kills}")
        # last round: no more kills; every MD gets its certificate and serves it
        s.start()
        assert s.wait_up(), h.log()[-5000:]
        end = time.time() + 60
        while time.time() < end and not all(issued(h.store_dir, n) or staged(h.store_dir, n)
                                            for n in names):
            time.sleep(0.2)
        s.graceful()                       # activates what is staged
        check_store(h.store_dir, f"seed {seed}, at the end")
        root = pb.write_root(os.path.join(pb.dir, "root.pem"))
        for n in names:
            assert issued(h.store_dir, n), f"seed {seed}: {n} has no certificate; kills {kills}"
            rc, out = verify_served(h, n, root)
            assert rc == 0 and "Verify return code: 0 (ok)" in out, f"seed {seed}, {n}: {out}"
        rc, out = verify_served(h, names[1], root, extra=["-sigalgs", "RSA-PSS+SHA256"])
        assert rc == 0, f"seed {seed}: the RSA certificate of {names[1]}: {out}"
        assert "Segmentation" not in h.log() and "AH00060" not in h.log(), h.log()[-5000:]
    except AssertionError as e:
        raise AssertionError(f"MD_CRASH_SEED={seed}, kills (delay, staged, pairs) {kills}: {e}")
    finally:
        s.stop()
