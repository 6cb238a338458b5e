"""A cluster: two real apache2 instances (own ServerRoot, own ports) on one MDStoreDir.

Pebble validates on node A's ports only, so whenever node B renews, A answers the challenge
from the shared store. Renewal locks are lease locks in the store (tmp/<md>.lock).
"""
import json
import os
import shutil
import signal
import tempfile
import threading
import time

import pytest

from pebble import pebble_for, md_conf, wait_staged, verify_served, md_status, md_status_location  # noqa: F401
from test_acme_basic import write_script, event_log, read_events


@pytest.fixture
def shared_store():
    d = tempfile.mkdtemp(prefix="mdtest-cluster-", dir="/tmp")
    os.chmod(d, 0o755)
    yield os.path.join(d, "md")
    shutil.rmtree(d, ignore_errors=True)


def node_conf(pb, h, store, name, extra=""):
    return (md_conf(pb, h, f"MDStoreDir {store}\n" + extra) + f"MDomain {name}\n"
            + h.ssl_vhost(name, extra="  Protocols http/1.1 acme-tls/1\n") + h.http_vhost(name))


def orders(pb):
    return pb.log().count("Added order")


def lock_path(store, name):
    return os.path.join(store, "tmp", name + ".lock")


def job_of(store, name):
    try:
        with open(os.path.join(store, "staging", name, "job.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def both(fn, nodes):
    """Run fn(node) for all nodes at the same moment; re-raise the first failure."""
    errors = []
    barrier = threading.Barrier(len(nodes))

    def run(n):
        try:
            barrier.wait()
            fn(n)
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=run, args=(n,)) for n in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def served(h, pb, name):
    rc, out = verify_served(h, name, pb.write_root(os.path.join(pb.dir, "root.pem")))
    return rc == 0 and "Verify return code: 0 (ok)" in out


def assert_store_sane(store, name):
    """Every JSON file parses; the served key pairs match (openssl's own check)."""
    for root, _, files in os.walk(store):
        for f in files:
            if f.endswith(".json"):
                with open(os.path.join(root, f)) as fp:
                    json.load(fp)
    assert not [f for f in os.listdir(os.path.join(store, "domains", name)) if ".tmp." in f]


@pytest.mark.parametrize("challenge", ["http-01", "tls-alpn-01"])
def test_simultaneous_start_on_empty_store(httpd, pebble_for, shared_store, challenge):
    """Both nodes start at the same moment on an empty store: both come up, one order is
    made, and after (simultaneous) graceful restarts both serve the new certificate."""
    a, b = httpd(), httpd()
    pb = pebble_for(a)
    name = "cluster.mdtest.org"
    extra = f"MDCAChallenges {challenge}\nMDStoreLocks 10s\n"
    for h in (a, b):
        h.write_conf(node_conf(pb, h, shared_store, name, extra))
    both(lambda h: h.start(), [a, b])
    wait_staged(a, name, store=shared_store)
    time.sleep(2)                       # a second order would show up by now
    assert orders(pb) == 1, pb.log()[-3000:]
    with open(os.path.join(shared_store, "md_store.json")) as f:
        assert json.load(f)["key"]
    both(lambda h: h.graceful(), [a, b])
    assert served(a, pb, name), a.log()[-3000:]
    assert served(b, pb, name), b.log()[-3000:]
    activated = a.log().count("the staged certificate is activated") \
        + b.log().count("the staged certificate is activated")
    assert activated == 1, (a.log()[-2000:], b.log()[-2000:])
    assert_store_sane(shared_store, name)
    # restarts racing each other do not disturb anything
    for _ in range(3):
        both(lambda h: h.graceful(), [a, b])
    assert served(a, pb, name) and served(b, pb, name)
    assert_store_sane(shared_store, name)
    assert orders(pb) == 1


def test_veto_on_one_node_other_renews(httpd, pebble_for, shared_store):
    """Node A vetoes renewals (MDMessageCmd renewing exits 1); node B renews, with tls-alpn-01
    answered by A from the shared store."""
    a, b = httpd(), httpd()
    pb = pebble_for(a)
    name = "veto.cluster.mdtest.org"
    log = event_log(a)
    veto = write_script(a, "veto.sh", f'echo "$@" >> {log}\n[ "$1" = renewing ] && exit 1\nexit 0\n')
    a.write_conf(node_conf(pb, a, shared_store, name,
                           f"MDCAChallenges tls-alpn-01\nMDMessageCmd {veto}\nMDCheckInterval 1s\n"))
    b.write_conf(node_conf(pb, b, shared_store, name, "MDCAChallenges tls-alpn-01\n"))
    a.start()
    end = time.time() + 20
    while time.time() < end and read_events(a).count(f"renewing {name}") < 2:
        time.sleep(0.1)
    assert read_events(a).count(f"renewing {name}") >= 2, a.log()[-3000:]
    assert orders(pb) == 0
    b.start()
    job = wait_staged(b, name, store=shared_store)
    starting = [e["detail"] for e in job["log"]["entries"] if e["type"] == "starting"]
    assert len(starting) == 1 and starting[0].endswith(f":{b.dir}"), starting
    assert job["errors"] == 0 and not [e for e in job["log"]["entries"] if e["type"] == "error"]
    assert "answering the tls-alpn-01 challenge" in a.log()
    assert orders(pb) == 1
    a.graceful()
    b.graceful()
    assert served(a, pb, name) and served(b, pb, name)


def test_killed_holder_lock_taken_over(httpd, pebble_for, shared_store):
    """The node renewing is SIGKILLed mid-order (parent and children): the other node takes the
    renewal lock over (well within a lease) and finishes."""
    a, b = httpd(), httpd()
    pb = pebble_for(a, env={"PEBBLE_VA_NOSLEEP": "0", "PEBBLE_VA_SLEEPTIME": "4"})
    name = "kill.cluster.mdtest.org"
    a.write_conf(node_conf(pb, a, shared_store, name, "MDCAChallenges http-01\n"))
    b.write_conf(node_conf(pb, b, shared_store, name, "MDCAChallenges http-01\n")
                 + md_status_location())
    b.start()
    # B holds the lock and waits for pebble's validation (which goes to A's port: A is up
    # after B's kill)
    lock = lock_path(shared_store, name)
    end = time.time() + 20
    while time.time() < end and not os.path.exists(lock):
        time.sleep(0.05)
    with open(lock) as f:
        holder = json.load(f)
    assert holder["node"].endswith(f":{b.dir}") and holder["expires"], holder
    # md-status tells which server renews
    end, shown = time.time() + 5, None
    while time.time() < end and not shown:
        shown = md_status(b)["managed-domains"][0].get("renewal", {}).get("lock")
    assert shown and shown["node"] == holder["node"] and shown["pid"] == holder["pid"], shown
    os.killpg(b.pid(), signal.SIGKILL)
    b.started = False
    killed = time.time()
    a.start()
    job = wait_staged(a, name, timeout=60, store=shared_store)
    assert time.time() - killed < 45, "takeover took longer than a lease"
    assert "took over the lock" in a.log() and "no longer exists" in a.log(), a.log()[-3000:]
    starting = [e["detail"] for e in job["log"]["entries"] if e["type"] == "starting"]
    assert starting[0].endswith(f":{a.dir}"), starting
    a.graceful()
    assert served(a, pb, name)
    assert not os.path.exists(lock)     # released by its holder when done


def test_stale_lock_of_vanished_node_expires(httpd, pebble_for, shared_store):
    """A lock left by a node on another host that no longer exists: its lease runs out, then
    this node renews. The wait is logged in terms an operator can follow."""
    a = httpd()
    pb = pebble_for(a)
    name = "stale.cluster.mdtest.org"
    os.makedirs(os.path.join(shared_store, "tmp"), exist_ok=True)
    until = time.time() + 6
    with open(lock_path(shared_store, name), "w") as f:
        json.dump({"host": "gone.example", "node": "gone.example:/etc/apache2", "pid": 4242,
                   "token": "x", "acquired": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()),
                   "expires": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(until))}, f)
    a.write_conf(node_conf(pb, a, shared_store, name, "MDCAChallenges http-01\n"))
    a.start()
    wait_staged(a, name, timeout=60, store=shared_store)
    assert time.time() >= until - 1
    assert "held by gone.example:/etc/apache2 (pid 4242 on gone.example)" in a.log(), a.log()[-3000:]
    assert "took over the lock" in a.log() and "expired" in a.log()


@pytest.mark.parametrize("age", ["fresh", "old"])
def test_garbage_lock_file(httpd, pebble_for, shared_store, age):
    """A lock file with garbage in it blocks renewal only until nobody touched it for a
    lease; the log names the file."""
    a = httpd()
    pb = pebble_for(a)
    name = "garbage.cluster.mdtest.org"
    os.makedirs(os.path.join(shared_store, "tmp"), exist_ok=True)
    lock = lock_path(shared_store, name)
    with open(lock, "wb") as f:
        f.write(b"\x00\xffnot json at all{{{")
    if age == "old":
        os.utime(lock, (time.time() - 3600, time.time() - 3600))
    a.write_conf(node_conf(pb, a, shared_store, name, "MDCAChallenges http-01\n"))
    a.start()
    if age == "fresh":
        time.sleep(3)
        assert job_of(shared_store, name) is None or not job_of(shared_store, name).get("finished")
        assert f"{lock} is garbage" in a.log(), a.log()[-3000:]
        os.utime(lock, (time.time() - 3600, time.time() - 3600))   # as if 'later'
    wait_staged(a, name, timeout=30, store=shared_store)
    assert "took over the lock" in a.log() and "garbage" in a.log(), a.log()[-3000:]
