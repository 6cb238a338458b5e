"""A cluster: two real apache2 instances (own ServerRoot, own ports) on one MDStoreDir.

Pebble validates on one node's ports only, so whenever the other renews, that node answers
the challenge from the shared store. Renewal and activation locks are lease locks in the
store (tmp/<md>.lock, activation.lock).

Every test runs twice: with the store on the local file system for both nodes, and with
node B's store on an sshfs mount of node A's store (sshfs.py: our own sshd on loopback, an
SFTP server that refuses hard links, flock() local to the node). There, node B's children
act on the file server as the ssh user (root), node A's children as www-data: B reads all
that A wrote, A reads what B wrote only where it is public (http-01 answers, staging/).
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
from pebble import served_ok as served
from test_acme_basic import write_script, event_log, read_events
from sshfs import SshfsMount, unavailable


class Cluster:
    """The store as node A sees it (a local directory) and as node B sees it: the same
    directory, or an sshfs mount of it."""

    def __init__(self, kind, httpd):
        self.kind = kind
        self.sshfs = kind == "sshfs"
        self.dir = tempfile.mkdtemp(prefix="mdtest-cluster-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.store = os.path.join(self.dir, "md")          # node A's, and where tests look
        os.makedirs(self.store)
        os.chmod(self.store, 0o755)
        self.store_b = self.store
        self.mount = None
        self._httpd = httpd
        self.nodes = []

    def start(self):
        if not self.sshfs:
            return None
        self.store_b = os.path.join(self.dir, "mnt")
        os.makedirs(self.store_b)
        self.mount = SshfsMount(os.path.join(self.dir, "ssh"), self.store, self.store_b)
        return self.mount.start()

    def node(self):
        h = self._httpd()
        self.nodes.append(h)
        return h

    def stop(self):
        for h in self.nodes:               # nothing may use the mount when it goes
            h.stop()
        if self.mount:
            self.mount.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(params=["local", "sshfs"])
def cluster(request, httpd):
    if request.param == "sshfs" and unavailable():
        pytest.skip(unavailable())
    c = Cluster(request.param, httpd)
    why = c.start()
    if why:
        c.stop()
        pytest.skip(why)
    yield c
    c.stop()


def node_conf(pb, h, store, name, extra=""):
    names = name if isinstance(name, (list, tuple)) else [name]
    conf = md_conf(pb, h, f"MDStoreDir {store}\n" + extra)
    for n in names:
        conf += (f"MDomain {n}\n" + h.ssl_vhost(n, extra="  Protocols http/1.1 acme-tls/1\n")
                 + h.http_vhost(n))
    return conf


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


def assert_store_sane(store, name):
    """Every JSON file parses; the served key pairs match (openssl's own check)."""
    for root, _, files in os.walk(store):
        for f in files:
            if f.endswith(".json"):
                with open(os.path.join(root, f)) as fp:
                    json.load(fp)
    assert not [f for f in os.listdir(os.path.join(store, "domains", name)) if ".tmp." in f]


def served_leaf(h, name):
    """The PEM of the leaf certificate node h serves for name."""
    out = h.server_cert_pem(name)
    start = out.find("-----BEGIN CERTIFICATE-----")
    end = out.find("-----END CERTIFICATE-----")
    return out[start:end] if start >= 0 else None


@pytest.mark.parametrize("challenge", ["http-01", "tls-alpn-01"])
def test_simultaneous_start_on_empty_store(cluster, pebble_for, challenge):
    """Both nodes start at the same moment on an empty store: both come up, one order is
    made per MD, and after (simultaneous) graceful restarts both serve the same new
    certificate for every MD; the staged sets are activated once."""
    a, b = cluster.node(), cluster.node()
    # tls-alpn-01 keys are private: on sshfs only B (root on the file server) reads A's
    pb = pebble_for(b if cluster.sshfs and challenge == "tls-alpn-01" else a)
    names = ["cluster.mdtest.org", "cluster2.mdtest.org"]
    store = cluster.store
    extra = f"MDCAChallenges {challenge}\nMDStoreLocks 10s\n"
    a.write_conf(node_conf(pb, a, cluster.store, names, extra))
    b.write_conf(node_conf(pb, b, cluster.store_b, names, extra))
    both(lambda h: h.start(), [a, b])
    for name in names:
        wait_staged(a, name, store=store)
    time.sleep(2)                       # a second order would show up by now
    assert orders(pb) == len(names), pb.log()[-3000:]
    with open(os.path.join(store, "md_store.json")) as f:
        assert json.load(f)["key"]
    both(lambda h: h.graceful(), [a, b])
    for name in names:
        assert served(a, pb, name), a.log()[-3000:]
        assert served(b, pb, name), b.log()[-3000:]
        assert served_leaf(a, name) == served_leaf(b, name)
        activated = a.log().count(f"MDomain {name}: the staged certificate is activated") \
            + b.log().count(f"MDomain {name}: the staged certificate is activated")
        assert activated == 1, (a.log()[-2000:], b.log()[-2000:])
        assert not os.path.exists(os.path.join(store, "archive", name + ".2"))
        assert_store_sane(store, name)
    # restarts racing each other do not disturb anything
    for _ in range(3):
        both(lambda h: h.graceful(), [a, b])
    for name in names:
        assert served(a, pb, name) and served(b, pb, name)
        assert served_leaf(a, name) == served_leaf(b, name)
        assert_store_sane(store, name)
    assert orders(pb) == len(names)
    for h in (a, b):                    # every lock file could be made and read
        for bad in ("without the lock", "cannot create the lock file", "cannot read the lock file"):
            assert bad not in h.log(), h.log()[-3000:]
    # each node said once how it locks in this store
    probe = "lock files are created with "
    assert a.log().count(probe) == 1 and "link()" in a.log(), a.log()[-3000:]
    assert b.log().count(probe) == 1, b.log()[-3000:]
    if cluster.sshfs:
        assert "created with O_CREAT|O_EXCL" in b.log() and "fuse.sshfs" in b.log()
        assert "flock() keeps out processes on this node only" in b.log()


def test_veto_on_one_node_other_renews(cluster, pebble_for):
    """Node A vetoes renewals (MDMessageCmd renewing exits 1); node B renews, with the
    challenge answered by A from the shared store: tls-alpn-01 on one file system, http-01
    when B's files reach A as another user's (sshfs), as its answers are public."""
    a, b = cluster.node(), cluster.node()
    pb = pebble_for(a)
    name = "veto.cluster.mdtest.org"
    challenge = "http-01" if cluster.sshfs else "tls-alpn-01"
    log = event_log(a)
    veto = write_script(a, "veto.sh", f'echo "$@" >> {log}\n[ "$1" = renewing ] && exit 1\nexit 0\n')
    a.write_conf(node_conf(pb, a, cluster.store, name,
                           f"MDCAChallenges {challenge}\nMDMessageCmd {veto}\nMDCheckInterval 1s\n"))
    b.write_conf(node_conf(pb, b, cluster.store_b, name, f"MDCAChallenges {challenge}\n"))
    a.start()
    end = time.time() + 20
    while time.time() < end and read_events(a).count(f"renewing {name}") < 2:
        time.sleep(0.1)
    assert read_events(a).count(f"renewing {name}") >= 2, a.log()[-3000:]
    assert orders(pb) == 0
    b.start()
    job = wait_staged(b, name, store=cluster.store)
    starting = [e["detail"] for e in job["log"]["entries"] if e["type"] == "starting"]
    assert len(starting) == 1 and starting[0].endswith(f":{b.dir}"), starting
    assert job["errors"] == 0 and not [e for e in job["log"]["entries"] if e["type"] == "error"]
    assert f"answering the {challenge} challenge" in a.log()
    assert orders(pb) == 1
    staging = os.path.join(cluster.store, "staging", name)
    seen = os.path.join(cluster.dir, "staging-seen")
    shutil.copytree(staging, seen)
    a.graceful()
    assert not os.path.exists(staging)
    # B still finds the set staged (A was stopped before it cleared staging/, or B sees the
    # store late): B does not activate it again but serves what A activated
    shutil.copytree(seen, staging)
    b.graceful()
    assert f"MDomain {name}: the staged certificate is already active" in b.log(), b.log()[-3000:]
    assert not os.path.exists(os.path.join(cluster.store, "archive", name + ".2"))
    assert not os.path.exists(staging)
    assert served(a, pb, name) and served(b, pb, name)
    assert served_leaf(a, name) == served_leaf(b, name)


def test_killed_holder_lock_taken_over(cluster, pebble_for):
    """The node renewing is SIGKILLed mid-order (parent and children): the other node takes the
    renewal lock over (well within a lease) and finishes. On sshfs, the one killed is A and
    the one taking over B, which creates lock files with O_EXCL (no hard links there)."""
    a, b = cluster.node(), cluster.node()
    first, second = (a, b) if cluster.sshfs else (b, a)
    first_store, second_store = (cluster.store, cluster.store_b) if cluster.sshfs \
        else (cluster.store_b, cluster.store)
    pb = pebble_for(second, env={"PEBBLE_VA_NOSLEEP": "0", "PEBBLE_VA_SLEEPTIME": "4"})
    name = "kill.cluster.mdtest.org"
    first.write_conf(node_conf(pb, first, first_store, name, "MDCAChallenges http-01\n")
                     + md_status_location())
    second.write_conf(node_conf(pb, second, second_store, name, "MDCAChallenges http-01\n"))
    first.start()
    # the first holds the lock and waits for pebble's validation (which goes to the second's
    # port: the second is up after the first's kill)
    lock = lock_path(cluster.store, name)
    end = time.time() + 20
    while time.time() < end and not os.path.exists(lock):
        time.sleep(0.05)
    with open(lock) as f:
        holder = json.load(f)
    assert holder["node"].endswith(f":{first.dir}") and holder["expires"], holder
    # md-status tells which server renews
    end, shown = time.time() + 5, None
    while time.time() < end and not shown:
        shown = md_status(first)["managed-domains"][0].get("renewal", {}).get("lock")
    assert shown and shown["node"] == holder["node"] and shown["pid"] == holder["pid"], shown
    os.killpg(first.pid(), signal.SIGKILL)
    first.started = False
    killed = time.time()
    second.start()
    job = wait_staged(second, name, timeout=60, store=cluster.store)
    assert time.time() - killed < 45, "takeover took longer than a lease"
    assert "took over the lock" in second.log() and "no longer exists" in second.log(), second.log()[-3000:]
    assert "cannot create the lock file" not in second.log()
    starting = [e["detail"] for e in job["log"]["entries"] if e["type"] == "starting"]
    assert starting[0].endswith(f":{second.dir}"), starting
    second.graceful()
    assert served(second, pb, name)
    assert not os.path.exists(lock)     # released by its holder when done


def test_stale_lock_of_vanished_node_expires(cluster, pebble_for):
    """A lock left by a node on another host that no longer exists: its lease runs out, then
    this node renews. The wait is logged in terms an operator can follow."""
    a = cluster.node()
    pb = pebble_for(a)
    name = "stale.cluster.mdtest.org"
    os.makedirs(os.path.join(cluster.store, "tmp"), exist_ok=True)
    until = time.time() + 6
    with open(lock_path(cluster.store, name), "w") as f:
        json.dump({"host": "gone.example", "node": "gone.example:/etc/apache2", "pid": 4242,
                   "token": "x", "acquired": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()),
                   "expires": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(until))}, f)
    a.write_conf(node_conf(pb, a, cluster.store_b, name, "MDCAChallenges http-01\n"))
    a.start()
    wait_staged(a, name, timeout=60, store=cluster.store)
    assert time.time() >= until - 1
    assert "held by gone.example:/etc/apache2 (pid 4242 on gone.example)" in a.log(), a.log()[-3000:]
    assert "took over the lock" in a.log() and "expired" in a.log()


@pytest.mark.parametrize("age", ["fresh", "old"])
def test_garbage_lock_file(cluster, pebble_for, age):
    """A lock file with garbage in it blocks renewal only until nobody touched it for a
    lease; the log names the file."""
    a = cluster.node()
    pb = pebble_for(a)
    name = "garbage.cluster.mdtest.org"
    os.makedirs(os.path.join(cluster.store, "tmp"), exist_ok=True)
    lock = lock_path(cluster.store, name)
    with open(lock, "wb") as f:
        f.write(b"\x00\xffnot json at all{{{")
    if age == "old":
        os.utime(lock, (time.time() - 3600, time.time() - 3600))
    a.write_conf(node_conf(pb, a, cluster.store_b, name, "MDCAChallenges http-01\n"))
    a.start()
    if age == "fresh":
        time.sleep(3)
        assert job_of(cluster.store, name) is None or not job_of(cluster.store, name).get("finished")
        assert f"{lock_path(cluster.store_b, name)} is garbage" in a.log(), a.log()[-3000:]
        os.utime(lock, (time.time() - 3600, time.time() - 3600))   # as if 'later'
    wait_staged(a, name, timeout=45, store=cluster.store)
    assert "took over the lock" in a.log() and "garbage" in a.log(), a.log()[-3000:]


def test_unreadable_challenge_key_is_explained(cluster, pebble_for):
    """tls-alpn-01 across nodes needs the same child user on every node as the file server
    sees it. On sshfs, B's files reach A as root's: A cannot read the challenge key B
    wrote (keys stay 0600), and A's md-status and log say why."""
    if not cluster.sshfs:
        pytest.skip("one user for all children on a local store")
    a, b = cluster.node(), cluster.node()
    pb = pebble_for(a, env={"PEBBLE_VA_NOSLEEP": "0", "PEBBLE_VA_SLEEPTIME": "4"})
    name = "alpn.cluster.mdtest.org"
    log = event_log(a)
    veto = write_script(a, "veto.sh", f'echo "$@" >> {log}\n[ "$1" = renewing ] && exit 1\nexit 0\n')
    a.write_conf(node_conf(pb, a, cluster.store, name,
                           f"MDCAChallenges tls-alpn-01\nMDMessageCmd {veto}\n")
                 + md_status_location())
    b.write_conf(node_conf(pb, b, cluster.store_b, name,
                           "MDCAChallenges tls-alpn-01\n"))
    a.start()
    b.start()
    key = os.path.join(cluster.store, "challenges", name, "acme-tls-alpn-01-privkey.pem")
    end, problem = time.time() + 30, None
    while time.time() < end and not problem:
        if os.path.exists(key):
            assert os.stat(key).st_mode & 0o077 == 0
            m = md_status(a)["managed-domains"][0]
            problem = m.get("renewal", {}).get("challenge-problem")
        time.sleep(0.2)
    assert problem and key in problem and "same child user id" in problem, (problem, b.log()[-3000:])
    end = time.time() + 20
    while time.time() < end and "cannot read " + key not in a.log():
        time.sleep(0.2)
    assert "cannot read " + key in a.log(), a.log()[-3000:]
