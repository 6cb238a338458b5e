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

    # md-status shows the certificates actually served (the renewals go on meanwhile)
    wait_for(lambda: status_serials(h, name) == {s for s in serials(h, name, keys).values()}, 10,
             what="md-status to show the served certificates")


def status_serials(h, name, https=False):
    st = md_status(h, name, https=https)
    return {int(c["serial"], 16) for c in st.get("cert", {}).values()
            if isinstance(c, dict) and "serial" in c}


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


def write_script(h, name, body):
    path = h.path(name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


def read_events(h):
    try:
        with open(h.path("events.log")) as f:
            return [line.strip() for line in f if line.strip()]
    except OSError:
        return []


def obtain_hot(httpd, pebble_for, name, extra="", keys=("secp256r1",)):
    """A server with MDActivation hot (ordinary renew window) that obtained its first
    certificate without a restart; returns (h, pb, root, serial served)."""
    h = httpd()
    pb = pebble_for(h)
    events = h.path("events.log")
    open(events, "w").close()
    os.chmod(events, 0o666)
    cmd = write_script(h, "events.sh", f'echo "$1 $2" >> {events}\n')
    conf = hot_conf(pb, h, name, list(keys), "http-01", f"MDMessageCmd {cmd}\n" + extra)
    h.write_conf(conf.replace("MDRenewWindow 3650d\n", ""))
    h.start()
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    return h, pb, root


def test_installed_event_status_and_certificate_status(httpd, pebble_for):
    name = "ev.mdtest.org"
    h, pb, root = obtain_hot(httpd, pebble_for, name, extra="MDRequireHttps temporary\n")
    wait_for(lambda: verify_served(h, name, root)[0] == 0, 90, what="the certificate")
    serial = served(h, name).serial_number
    # 'installed' ran at the hot activation (as at a restart), and nothing restarted
    wait_for(lambda: f"installed {name}" in read_events(h), 10, what="the installed event")
    assert h.generation() == 1
    # the status pages show the served certificate, not the fallback of the start
    assert status_serials(h, name, https=True) == {serial}
    st = md_status(h, name, https=True)
    assert st["state"] == 2, st                          # MD_S_COMPLETE, no longer incomplete
    status, _, body = h.curl("/.httpd/certificate-status", host=name, https=True)
    assert status == 200, body
    assert format(serial, "X") in body.upper(), body
    # MDRequireHttps redirects from the moment a real certificate is served
    status, head, _ = h.curl("/", host=name)
    assert status == 302 and f"https://{name}" in head, (status, head)
    # the 503 of the fallback ended with it
    status, _, body = h.curl("/", host=name, https=True)
    assert status == 200 and "hello from the test server" in body, (status, body)


def stage_by_hand(h, name, key_pem):
    """A complete staged set whose certificate is the served one but whose key is key_pem."""
    dom = os.path.join(h.store_dir, "domains", name)
    stg = os.path.join(h.store_dir, "staging", name)
    os.makedirs(stg, exist_ok=True)
    shutil.copy(os.path.join(dom, "pubcert.secp256r1.pem"), stg)
    shutil.copy(os.path.join(dom, "md.json"), stg)
    with open(os.path.join(stg, "privkey.secp256r1.pem"), "w") as f:
        f.write(key_pem)
    with open(os.path.join(stg, "job.json.tmp"), "w") as f:
        json.dump({"name": name, "finished": True}, f)
    os.rename(os.path.join(stg, "job.json.tmp"), os.path.join(stg, "job.json"))


def test_staged_key_mismatch_never_activated(httpd, pebble_for):
    name = "badkey.mdtest.org"
    h, pb, root = obtain_hot(httpd, pebble_for, name)
    wait_for(lambda: verify_served(h, name, root)[0] == 0, 90, what="the certificate")
    serial = served(h, name).serial_number
    with open(os.path.join(h.store_dir, "domains", name, "pubcert.secp256r1.pem")) as f:
        before = f.read()
    other = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                            "ec_paramgen_curve:P-256"], capture_output=True, text=True, check=True).stdout
    stage_by_hand(h, name, other)
    wait_for(lambda: not os.path.exists(os.path.join(h.store_dir, "staging", name)), 10,
             what="the bad staged set to be discarded")
    assert "does not fit" in h.log()
    st = md_status(h, name)
    assert "does not fit" in st.get("error", ""), st
    assert served(h, name).serial_number == serial
    with open(os.path.join(h.store_dir, "domains", name, "pubcert.secp256r1.pem")) as f:
        assert f.read() == before
    assert verify_served(h, name, root)[0] == 0


def test_staged_set_incomplete_discarded(httpd, pebble_for):
    """A staged set without its key (half-written, or its key went away while being read)
    is discarded: the served certificate stays, md-status says why."""
    name = "half.mdtest.org"
    h, pb, root = obtain_hot(httpd, pebble_for, name)
    wait_for(lambda: verify_served(h, name, root)[0] == 0, 90, what="the certificate")
    serial = served(h, name).serial_number
    stage_by_hand(h, name, "")
    os.unlink(os.path.join(h.store_dir, "staging", name, "privkey.secp256r1.pem"))
    wait_for(lambda: not os.path.exists(os.path.join(h.store_dir, "staging", name)), 10,
             what="the incomplete staged set to be discarded")
    assert "lacks the secp256r1 certificate or key" in md_status(h, name).get("error", "")
    assert served(h, name).serial_number == serial
    assert verify_served(h, name, root)[0] == 0


def test_slot_too_small_waits_for_restart(httpd, pebble_for):
    name = "small.mdtest.org"
    h, pb, root = obtain_hot(httpd, pebble_for, name, extra="MDActivationSlotSize 1024\n")
    wait_for(lambda: "MDActivationSlotSize gives" in h.log(), 90, what="the slot size error")
    assert "raise MDActivationSlotSize" in h.log()
    st = md_status(h, name)
    assert "MDActivationSlotSize" in st.get("error", ""), st
    assert verify_served(h, name, root)[0] != 0          # still the fallback
    # activated into domains/ all the same: the next restart serves it
    assert os.path.exists(os.path.join(h.store_dir, "domains", name, "pubcert.secp256r1.pem"))
    h.graceful()
    assert verify_served(h, name, root)[0] == 0


def test_static_files_untouched(httpd):
    from certs import CA, pem_cert, pem_key
    h = httpd()
    name = "static.mdtest.org"
    cert, key = CA().issue([name])
    with open(h.path("cert.pem"), "w") as f:
        f.write(pem_cert(cert))
    with open(h.path("key.pem"), "w") as f:
        f.write(pem_key(key))
    h.write_conf(f"MDActivation hot\n<MDomain {name}>\n  MDCertificateFile {h.path('cert.pem')}\n"
                 f"  MDCertificateKeyFile {h.path('key.pem')}\n</MDomain>\n" + h.ssl_vhost(name))
    h.start()
    assert served(h, name).serial_number == cert.serial_number
    assert "MDActivation hot does nothing for static certificate files" in h.log()
    assert not helper_pids(h)


def test_graceful_restarts_during_hot_activations(httpd, pebble_for):
    """Renewals and hot activations keep coming while the server restarts gracefully:
    every restart finds a complete domains/ set, serves a verifying certificate, and no
    helper is left behind."""
    h = make_httpd(httpd)
    pb = pebble_for(h)
    name = "restart.mdtest.org"
    h.write_conf(hot_conf(pb, h, name, ["secp256r1"], "http-01"))
    h.start()
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    wait_for(lambda: verify_served(h, name, root)[0] == 0, 90, what="the certificate")
    for _ in range(4):
        time.sleep(1.5)
        h.graceful()
        rc, out = verify_served(h, name, root)
        assert rc == 0, out
    dom = os.path.join(h.store_dir, "domains")
    assert os.path.exists(os.path.join(dom, name, "pubcert.secp256r1.pem"))
    assert not [d for d in os.listdir(dom) if d.endswith(".activating")]
    pids = helper_pids(h)
    assert len(pids) == 5
    assert all(not os.path.exists(f"/proc/{p}") for p in pids[:-1])
    assert "Segmentation fault" not in h.log()


def test_fallback_answers_503_until_obtained(httpd):
    """No certificate yet (the CA is unreachable): https answers 503 as without hot."""
    from httpd import free_port
    h = httpd()
    name = "nocert.mdtest.org"
    h.write_conf(f"MDCertificateAuthority https://127.0.0.1:{free_port()}/dir\n"
                 "MDCertificateAgreement accepted\n"
                 f"MDPortMap http:{h.http_port} https:{h.https_port}\nMDActivation hot\n"
                 f"MDomain {name}\n" + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    status, _, _ = h.curl("/", host=name, https=True)
    assert status == 503
    assert "Fallback" in h.server_cert_pem(name)


def test_cluster_node_follows_without_restart(httpd, pebble_for):
    """Two servers on one store: A renews and activates again and again (its renew window
    covers the lifetime); B, with an ordinary window, serves each new set from domains/
    without a restart and without ordering anything itself."""
    import tempfile
    d = tempfile.mkdtemp(prefix="mdtest-hotcluster-", dir="/tmp")
    os.chmod(d, 0o755)
    store = os.path.join(d, "md")
    a = make_httpd(httpd)
    b = make_httpd(httpd)
    pb = pebble_for(a)
    name = "cluster.mdtest.org"
    a.write_conf(hot_conf(pb, a, name, ["secp256r1"], "http-01", f"MDStoreDir {store}\n"))
    a.start()
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    wait_for(lambda: verify_served(a, name, root)[0] == 0, 90, what="A's certificate")
    b.write_conf(hot_conf(pb, b, name, ["secp256r1"], "http-01", f"MDStoreDir {store}\n")
                 .replace("MDRenewWindow 3650d\n", ""))
    b.start()
    b_pid = b.pid()
    first = served(b, name).serial_number
    # a later set of A's reaches B within a few seconds of A serving it
    later = wait_for(lambda: (lambda s: s if s != first else None)(served(a, name).serial_number),
                     60, what="A to serve a renewed certificate")
    wait_for(lambda: served(b, name).serial_number not in (first,), 10, step=0.3,
             what="B to serve a renewed certificate")
    assert later
    rc, out = verify_served(b, name, root)
    assert rc == 0, out
    assert b.pid() == b_pid and b.generation() == 1
    assert "renewing," not in b.log(), "B renewed although its certificate was fresh"
    assert "is live without restart" in b.log()
    assert "Segmentation fault" not in a.log() + b.log()
    a.stop()
    b.stop()
    shutil.rmtree(d, ignore_errors=True)


def child_rss(parent):
    """{pid: RSS in KiB} of the server's children (the activation helper among them)."""
    out = subprocess.run(["ps", "--ppid", str(parent), "-o", "pid=,rss=,args="], capture_output=True,
                         text=True).stdout
    return {int(line.split()[0]): int(line.split()[1]) for line in out.splitlines() if line.strip()}


def store_serials(h, name):
    """Serials of every set that was in domains/ (the current one and the archived ones)."""
    found = set()
    for root, _, files in os.walk(h.store_dir):
        if os.path.basename(root) != name and not os.path.basename(root).startswith(name + "."):
            continue
        for f in files:
            if f.startswith("pubcert"):
                with open(os.path.join(root, f)) as fp:
                    m = PEM_RE.search(fp.read())
                if m:
                    found.add(x509.load_pem_x509_certificate(m.group(0).encode()).serial_number)
    return found


@pytest.mark.timeout(240)
def test_soak_handshakes_across_activations(httpd, pebble_for):
    """For MD_HOT_SOAK_SECONDS (default 90): renewals are hot-activated one after the other
    while a client handshakes without pause. No handshake fails, every certificate served
    verifies for the name and is one that was activated, and the children's memory stays
    flat."""
    import socket
    import ssl
    seconds = float(os.environ.get("MD_HOT_SOAK_SECONDS", "90"))
    h = make_httpd(httpd)
    pb = pebble_for(h)
    name = "soak.mdtest.org"
    h.write_conf(hot_conf(pb, h, name, ["secp256r1", "rsa2048"], "http-01"))
    h.start()
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    wait_for(lambda: verify_served(h, name, root)[0] == 0, 90, what="the first certificate")
    ctx = ssl.create_default_context(cafile=root)
    seen, failures, count = set(), [], 0
    rss_start = None
    start = time.time()
    while time.time() - start < seconds:
        if rss_start is None and time.time() - start > seconds / 3:
            rss_start = child_rss(h.pid())
        try:
            with socket.create_connection(("127.0.0.1", h.https_port), timeout=10) as sock:
                with ctx.wrap_socket(sock, server_hostname=name) as tls:
                    der = tls.getpeercert(binary_form=True)
            seen.add(x509.load_der_x509_certificate(der).serial_number)
            count += 1
        except (OSError, ssl.SSLError) as e:
            failures.append(repr(e))
    rss_end = child_rss(h.pid())
    assert not failures, failures[:5]
    assert len(seen) >= 3, f"only {len(seen)} certificates in {count} handshakes"
    unknown = seen - store_serials(h, name)
    assert not unknown, f"served certificates that were never activated: {unknown}"
    common = set(rss_start) & set(rss_end)
    assert common
    grown = {p: rss_end[p] - rss_start[p] for p in common}
    # under ASan freed memory stays in its quarantine: RSS says nothing there (LeakSanitizer
    # checks leaks in that pass)
    if os.environ.get("SANITIZERS") != "yes":
        assert all(g < 8 * 1024 for g in grown.values()), f"children's RSS grew (KiB): {grown}"
    assert h.generation() == 1 and "Segmentation fault" not in h.log()
    print(f"soak: {count} handshakes, {len(seen)} certificates, RSS growth KiB {grown}")


def test_activation_delay_holds_hot_activation(httpd, pebble_for):
    """MDActivationDelay (a plain number is days) keeps a staged set in staging/ with hot."""
    h = httpd()
    pb = pebble_for(h)
    name = "delay.mdtest.org"
    h.write_conf(hot_conf(pb, h, name, ["secp256r1"], "http-01", "MDActivationDelay 1\n")
                 .replace("MDRenewWindow 3650d\n", ""))
    h.start()
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    wait_for(lambda: staged_serial(h, name, "secp256r1"), 90, what="the staged certificate")
    wait_for(lambda: "MDActivationDelay keeps it until" in h.log(), 10, what="the delay message")
    time.sleep(2.5)
    assert verify_served(h, name, root)[0] != 0                   # still the fallback
    assert staged_serial(h, name, "secp256r1")
    assert h.log().count("MDActivationDelay keeps it until") == 1  # said once, not every second


def cert_status(h, name, sigalgs=None):
    """(OCSP 'Cert Status' stapled, serial of the served leaf, serial the staple is for) of
    one handshake."""
    out = h.server_cert_pem(name, extra=["-status"] + (["-sigalgs", sigalgs] if sigalgs else []))
    m = re.search(r"Cert Status: (\w+)", out)
    leaf = PEM_RE.search(out)
    serial = x509.load_pem_x509_certificate(leaf.group(0).encode()).serial_number if leaf else None
    sn = re.search(r"Serial Number: ([0-9A-F]+)", out)
    return (m.group(1) if m else None), serial, (int(sn.group(1), 16) if sn else None)


@pytest.mark.parametrize("keys", [("secp256r1",), ("rsa2048", "secp256r1")], ids=["ec", "dual"])
def test_stapling_follows_hot_certificates(httpd, pebble_for, keys):
    """MDStapling staples for the certificate hot activation put in place: from the fallback to
    the first certificate, then to its renewal (the staple is for the served serial)."""
    from ocsp_responder import OcspResponder
    resp = OcspResponder().start()
    try:
        h = make_httpd(httpd)
        pb = pebble_for(h, config={"ocspResponderURL": resp.url})
        resp.set_issuer(pb._mgmt_get("/intermediates/0"), pb._mgmt_get("/intermediate-keys/0"))
        name = "staple-hot.mdtest.org"
        h.write_conf(hot_conf(pb, h, name, list(keys), "http-01",
                              "MDStapling on\nLogLevel md:debug ssl:debug\n"))
        h.start()
        root = pb.write_root(os.path.join(pb.dir, "root.pem"))
        wait_for(lambda: verify_served(h, name, root)[0] == 0, 90, what="the first certificate")

        def staples_follow():
            # renewals go on (window over the whole lifetime): the serials served get their staple
            for k in keys:
                seen, mismatch = set(), []
                end = time.time() + 60
                while time.time() < end and len(seen) < 2:
                    status, serial, stapled = cert_status(h, name, SIGALGS[k])
                    if status == "good" and stapled == serial:
                        seen.add(serial)
                    elif stapled is not None and stapled != serial:
                        mismatch.append((serial, stapled))
                    time.sleep(0.3)
                assert len(seen) >= 2, (k, seen, [l for l in h.log().splitlines() if "stapl" in l.lower()][-20:])
                assert not mismatch, mismatch          # never the staple of another certificate

        staples_follow()
        assert h.generation() == 1
        # after a restart mod_ssl loads a real certificate (stapled through its own callback):
        # the renewals hot-activated from then on are stapled too
        h.graceful()
        staples_follow()
        wait_for(lambda: all(c.get("ocsp", {}).get("status") == "good"
                             for c in md_status(h, name)["cert"].values() if "serial" in c),
                 15, what="md-status to show the staples of the served certificates")
    finally:
        resp.stop()
