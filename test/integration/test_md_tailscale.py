"""MDCertificateProtocol tailscale against a fake tailscaled (fake_tailscaled.py) on a unix
socket: the certificate is obtained, staged, activated by a graceful restart and served;
renewed inside MDRenewWindow; every misbehaviour of the daemon is explained in job.json,
md-status and the error log while the fallback stays in place; a hanging daemon neither
delays other MDs nor a stop; bad configurations are refused by `apache2 -t`."""
import json
import os
import subprocess
import time

import pytest

from fake_tailscaled import FakeTailscaled
from httpd import process_alive
from pebble import wait_staged, verify_served, read_job, md_status, md_status_location
from test_acme_basic import write_script, event_log, read_events
from test_acme_faults import wait_job

NAME = "node.tail1234.ts.net"


@pytest.fixture
def tailscaled(request):
    """tailscaled(names, **kw): a started fake tailscaled; stopped and removed at the end."""
    made = []

    def make(names=(NAME,), **kw):
        ts = FakeTailscaled(names, **kw).start()
        made.append(ts)
        return ts

    yield make
    for ts in made:
        ts.cleanup()


def ts_md(h, name, ts_url, extra="", aliases=()):
    """An MD using tailscale and its https host."""
    names = " ".join((name,) + tuple(aliases))
    return (f"<MDomain {names}>\n  MDCertificateProtocol tailscale\n"
            f"  MDCertificateAuthority {ts_url}\n{extra}</MDomain>\n"
            + h.ssl_vhost(name, aliases=aliases))


def base(h, extra=""):
    # no challenge can work here (no http port, no acme-tls/1): tailscale needs none
    return (f"MDPortMap http:- https:-\nMDRetryDelay 1s\n" + md_status_location() + extra)


def served_leaf(h, name):
    out = h.server_cert_pem(name)
    p = subprocess.run(["openssl", "x509", "-noout", "-serial", "-enddate", "-issuer"],
                       input=out, capture_output=True, text=True)
    return p.stdout


def served_serial(h, name):
    """The serial number of the leaf served for name, as an int."""
    line = [x for x in served_leaf(h, name).splitlines() if x.startswith("serial=")]
    assert line, served_leaf(h, name)
    return int(line[0][len("serial="):], 16)


def staged_files(h, name):
    d = os.path.join(h.store_dir, "staging", name)
    return sorted(f for f in os.listdir(d) if f.startswith(("privkey", "pubcert"))) \
        if os.path.isdir(d) else []


def test_certificate_obtained_staged_activated_served(httpd, tailscaled):
    h = httpd()
    ts = tailscaled()
    log = event_log(h)
    msg = write_script(h, "message.sh", f'echo "$@" >> {log}\n')
    h.write_conf(base(h, f"MDMessageCmd {msg}\n") + ts_md(h, NAME, ts.url))
    h.start()
    root = ts.write_root()
    rc, out = verify_served(h, NAME, root)
    assert rc != 0, out                  # the fallback until the certificate is active
    job = wait_staged(h, NAME, timeout=20)
    assert job["errors"] == 0
    assert staged_files(h, NAME) == ["privkey.pem", "pubcert.pem"]
    with open(os.path.join(h.store_dir, "staging", NAME, "privkey.pem")) as f:
        assert "ENCRYPTED PRIVATE KEY" in f.read()          # as ACME keys are staged
    assert ts.requests[0] == (f"/localapi/v0/cert/{NAME}?type=pair", "local-tailscaled.sock")
    st = md_status(h, NAME)
    assert st["ca"]["proto"] == "tailscale" and st["ca"]["urls"] == [ts.url], st["ca"]
    assert st["renewal"]["finished"] is True
    assert "secp256r1" in st["renewal"]["cert"], st["renewal"]["cert"]
    assert "secp256r1 certificate obtained" in json.dumps(st["renewal"]["log"])
    end = time.time() + 10      # 'renewed' runs right after job.json is complete
    while time.time() < end and f"renewed {NAME}" not in read_events(h):
        time.sleep(0.1)
    h.graceful()
    rc, out = verify_served(h, NAME, root)
    assert rc == 0 and "Verify return code: 0 (ok)" in out, out
    cert, _ = ts.pair(NAME)
    assert served_serial(h, NAME) == cert.serial_number
    assert os.path.exists(os.path.join(h.store_dir, "domains", NAME, "pubcert.pem"))
    assert not os.path.exists(os.path.join(h.store_dir, "staging", NAME))
    events = read_events(h)
    for ev in ("renewing", "renewed", "installed"):
        assert f"{ev} {NAME}" in events, events
    st = md_status(h)
    md = [m for m in st["managed-domains"] if m["name"] == NAME][0]
    assert md["state"] == 2 and "secp256r1" in md["cert"], md
    # the daemon hands out the same certificate until it renews: nobody asks it again
    assert len(ts.requests) == 1


def test_renewal_inside_window(httpd, tailscaled):
    """A short-lived certificate inside MDRenewWindow is renewed. tailscaled answering
    with the certificate in use is explained and retried until it has a new one."""
    h = httpd()
    ts = tailscaled(days=10, start_days_ago=8)      # 2 days left: inside 33%
    h.write_conf(base(h) + ts_md(h, NAME, ts.url))
    h.start()
    wait_staged(h, NAME, timeout=20)
    h.graceful()
    first = served_leaf(h, NAME)
    # the new child sees the certificate inside the window; the daemon has no newer one
    job = wait_job(h, NAME, lambda j: j.get("errors", 0) >= 1)
    assert "has not renewed it yet" in job["last"]["detail"], job["last"]
    assert "MDRenewWindow 33%" in job["last"]["detail"]
    assert "inside MDRenewWindow" in h.log()
    assert staged_files(h, NAME) == []
    ts.renew(days=90, start_days_ago=0)
    job = wait_staged(h, NAME, timeout=20)
    assert job["errors"] == 0
    h.graceful()
    second = served_leaf(h, NAME)
    assert second != first
    cert, _ = ts.pair(NAME)
    assert served_serial(h, NAME) == cert.serial_number
    rc, out = verify_served(h, NAME, ts.write_root())
    assert rc == 0, out


ERROR_CASES = [
    # (id, daemon mode or setup, expected words in job.json's last.detail)
    ("socket-missing", "no-daemon", ["does not exist", "is tailscaled installed and running"]),
    ("name-not-assigned", "unassigned", ["HTTP status 404", "invalid domain", "must be one of"]),
    ("garbage", "garbage", ["unusable", "not PEM"]),
    ("key-mismatch", "mismatch", ["unusable", "does not belong to the certificate"]),
    ("truncated", "truncated", ["unusable", "truncated"]),
    ("connection-closed", "close", ["no answer from tailscaled"]),
    ("names-not-covered", "alias", ["does not cover www.example.org"]),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_daemon_errors_are_explained(httpd, tailscaled, case):
    _, mode, words = case
    h = httpd()
    ts = tailscaled(names=() if mode == "unassigned" else (NAME,))
    url, aliases = ts.url, ()
    if mode == "no-daemon":
        url = f"file://localhost{ts.dir}/nothing-here.sock"
    elif mode == "alias":
        aliases = ("www.example.org",)
    elif mode in ("garbage", "mismatch", "truncated", "close"):
        ts.mode = mode
    h.write_conf(base(h) + ts_md(h, NAME, url, aliases=aliases))
    h.start()
    job = wait_job(h, NAME, lambda j: j.get("errors", 0) >= 1)
    detail = job["last"]["detail"]
    for w in words:
        assert w in detail, detail
    assert "asking tailscaled" in job["last"]["activity"], job["last"]
    st = md_status(h, NAME)
    assert st["renewal"]["errors"] >= 1
    for w in words:
        assert w in st["renewal"]["last"]["detail"]
    assert f"MDomain {NAME}: renewal failed" in h.log() and words[0] in h.log()
    assert staged_files(h, NAME) == []
    # the fallback stays in place (and still does after a restart)
    h.graceful()
    assert "Apache Managed Domain Fallback" in served_leaf(h, NAME)
    assert not os.path.exists(os.path.join(h.store_dir, "domains", NAME, "pubcert.pem"))


def children(h):
    p = subprocess.run(["ps", "-o", "pid=", "--ppid", str(h.pid())], capture_output=True, text=True)
    return [int(x) for x in p.stdout.split()]


def test_hanging_daemon_delays_neither_others_nor_restarts(httpd, tailscaled):
    """A tailscaled that never answers: the other MD is served meanwhile, the job shows
    what the renewal waits for, and neither a graceful restart nor a graceful stop waits
    for it. (The request itself times out after MD_TAILSCALE_TIMEOUT_MS and is aborted
    when the watchdog stops: both are covered by the unit tests, with short times.)"""
    h = httpd()
    other = "other.tail1234.ts.net"
    ts = tailscaled(names=(NAME, other))
    ts.modes[NAME] = "hang"
    h.write_conf(base(h) + ts_md(h, NAME, ts.url) + ts_md(h, other, ts.url))
    t0 = time.time()
    h.start()
    wait_staged(h, other, timeout=20)
    assert time.time() - t0 < 10
    job = read_job(h, NAME)
    assert job and not job.get("finished") and job.get("errors", 0) == 0, job
    st = md_status(h, NAME)
    assert "asking tailscaled" in json.dumps(st["renewal"]["log"]), st["renewal"]
    # graceful restart: the old child (whose renewal hangs) goes, the new one activates
    # the other MD's certificate and asks tailscaled again
    old = children(h)
    asked = len(ts.requests)
    h.graceful()
    end = time.time() + 8
    while time.time() < end and any(process_alive(c) for c in old):
        time.sleep(0.05)
    assert not any(process_alive(c) for c in old), "the old child did not exit"
    rc, out = verify_served(h, other, ts.write_root())
    assert rc == 0, out
    end = time.time() + 5
    while time.time() < end and len(ts.requests) == asked:
        time.sleep(0.05)
    assert len(ts.requests) > asked
    # graceful stop: at once, not after GracefulShutdownTimeout (5s) with SIGKILL
    pid = h.pid()
    t0 = time.time()
    h._run(["-k", "graceful-stop"])
    while time.time() - t0 < 15 and process_alive(pid):
        time.sleep(0.05)
    took = time.time() - t0
    assert not process_alive(pid)
    h.started = False
    assert took < 4, f"graceful-stop took {took:.1f}s (GracefulShutdownTimeout is 5s)"
    assert "SIGKILL" not in h.log() and "did not exit" not in h.log()


BAD_CONFIGS = [
    ("https-ca", "MDCertificateAuthority https://acme.example.org/dir",
     ["MDCertificateAuthority", "https://acme.example.org/dir", "tailscale"]),
    ("other-host", "MDCertificateAuthority file://elsewhere/run/tailscaled.sock",
     ["MDCertificateAuthority", "elsewhere", "tailscale"]),
    ("two-sockets", "MDCertificateAuthority file:///run/a.sock file:///run/b.sock",
     ["MDCertificateProtocol tailscale", "exactly one"]),
    ("two-keys", "MDCertificateAuthority file:///run/a.sock\n  MDPrivateKeys secp256r1 rsa2048",
     ["MDPrivateKeys", "one"]),
]


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_tailscale_config_is_rejected(httpd, case):
    _, lines, needles = case
    h = httpd()
    h.write_conf(f"<MDomain {NAME}>\n  MDCertificateProtocol tailscale\n  {lines}\n</MDomain>\n"
                 + h.ssl_vhost(NAME))
    rc, out = h.configtest()
    assert rc != 0 and "Syntax OK" not in out, out
    for n in needles:
        assert n in out, out


def test_socket_url_for_acme_is_rejected(httpd):
    h = httpd()
    h.write_conf(f"MDomain {NAME}\nMDCertificateAuthority file://localhost/run/tailscaled.sock\n"
                 + h.ssl_vhost(NAME))
    rc, out = h.configtest()
    assert rc != 0, out
    assert "file://localhost/run/tailscaled.sock" in out and "MDCertificateProtocol tailscale" in out, out


@pytest.mark.parametrize("ca", ["", "MDCertificateAuthority /run/tailscale/tailscaled.sock"],
                         ids=["default-socket", "plain-path"])
def test_good_tailscale_configs(httpd, ca):
    """No MDCertificateAuthority means tailscaled's usual socket; a plain absolute path is a
    socket too; dns-01 only and an IP address are no problem (no challenges are used)."""
    h = httpd()
    h.write_conf(f"MDCAChallenges dns-01\n<MDomain {NAME} 100.64.0.7>\n"
                 f"  MDCertificateProtocol TailScale\n  {ca}\n</MDomain>\n" + h.ssl_vhost(NAME))
    rc, out = h.configtest()
    assert rc == 0 and "Syntax OK" in out, out
