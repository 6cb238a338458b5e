"""MDStapling: OCSP staples that a TLS client (openssl s_client -status) receives from a real
apache2, with a private CA and the responder fixture of ocsp_responder.py.

Certificates are static (MDCertificateFile inside <MDomain> for managed ones, plain
SSLCertificateFile for others), so nothing here depends on ACME.
"""
import json
import os
import re
import stat
import subprocess
import time

import pytest

from httpd import DEBIAN_MOD_MD, MOD_MD, children_of, strace_children
from ocsp_responder import ForwardProxy, OcspResponder, TestCA

EVENT_SCRIPT = """#!/bin/sh
echo "$@" >> {log}
"""


def staples_table(server_status_html):
    """The "Managed Staplings" table of a server-status page."""
    start = server_status_html.index("Managed Staplings")
    return server_status_html[start:server_status_html.index("</table>", start)]


class Setup:
    """A server with a managed (a.example.org) and an unmanaged (b.example.org) vhost."""

    def __init__(self, httpd, responder_mode="good", **httpd_kw):
        self.h = httpd(**httpd_kw)
        self.resp = OcspResponder()
        self.ca = TestCA(self.h.path("ca"), self.resp.url)
        self.resp.ca = self.ca
        self.resp.set_mode(responder_mode)
        self.a = self.ca.issue("a.example.org")
        self.b = self.ca.issue("b.example.org")
        self.events_file = self.h.path("events.log")
        with open(self.events_file, "w"):
            pass
        os.chmod(self.events_file, 0o666)
        self.script = self.h.path("event.sh")
        with open(self.script, "w") as f:
            f.write(EVENT_SCRIPT.format(log=self.events_file))
        os.chmod(self.script, 0o755)

    def conf(self, global_lines="MDStapling on\n", md_lines="", a_extra="", b_extra=""):
        h = self.h
        return (f"MDCertificateAgreement accepted\nMDMessageCmd {self.script} an-arg\nMDRetryDelay 1s\n"
                "MDServerStatus on\n"
                + global_lines
                + f"<MDomain a.example.org>\n  MDCertificateFile {self.a.cert_file}\n"
                  f"  MDCertificateKeyFile {self.a.key_file}\n{md_lines}</MDomain>\n"
                + h.ssl_vhost("a.example.org", extra=a_extra)
                + h.ssl_vhost("b.example.org", extra=f"  SSLCertificateFile {self.b.cert_file}\n"
                              f"  SSLCertificateKeyFile {self.b.key_file}\n" + b_extra)
                + h.http_vhost("localhost", extra="  <Location /md-status>\n    SetHandler md-status\n"
                               "  </Location>\n  <Location /server-status>\n"
                               "    SetHandler server-status\n  </Location>\n"))

    def start(self, **kw):
        self.h.write_conf(self.conf(**kw))
        self.h.start()

    def events(self):
        with open(self.events_file) as f:
            return [line.split() for line in f.read().splitlines() if line.strip()]

    def staple(self, name):
        """(cert status or None, full s_client output) for a fresh handshake with SNI name."""
        p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.h.https_port}",
                            "-servername", name, "-status", "-CAfile", self.ca.root_file],
                           input="", capture_output=True, text=True, timeout=20)
        m = re.search(r"Cert Status: (\w+)", p.stdout)
        return (m.group(1) if m else None), p.stdout

    def wait_staple(self, name, want="good", timeout=15):
        end = time.time() + timeout
        status, out = None, ""
        while time.time() < end:
            status, out = self.staple(name)
            if status == want:
                return status
            time.sleep(0.2)
        raise AssertionError(f"no {want} staple for {name}, last: {status}\n{out}")

    def wait_event(self, event, name, count=1, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            n = sum(1 for e in self.events() if e[-2:] == [event, name])
            if n >= count:
                return n
            time.sleep(0.2)
        raise AssertionError(f"event {event} {name} not seen {count}x: {self.events()}")

    def md_status(self):
        status, _, body = self.h.curl("/md-status")
        assert status == 200, body
        return json.loads(body)

    def md_ocsp(self, name="a.example.org"):
        mds = {m["name"]: m for m in self.md_status()["managed-domains"]}
        # MDCertificateFile certificates are listed by position ("0"), as the reference does
        return mds[name]["cert"]["0"].get("ocsp")

    def store_file(self, leaf, dir):
        sha1 = leaf.cert.fingerprint(__import__("cryptography.hazmat.primitives.hashes",
                                                fromlist=["SHA1"]).SHA1()).hex()
        return os.path.join(self.h.store_dir, "ocsp", dir, f"ocsp-{sha1}.json")

    def no_crash(self):
        log = self.h.log()
        assert "Segmentation fault" not in log and "exit signal" not in log, log[-3000:]


@pytest.fixture
def setup(httpd):
    s = []

    def make(**kw):
        x = Setup(httpd, **kw)
        s.append(x)
        return x
    yield make
    for x in s:
        x.resp.stop()


def test_ocsp_fixture_verifies_with_openssl(setup, tmp_path):
    """What the responder fixture signs verifies with `openssl ocsp` (issuer and delegated)."""
    x = setup()
    for delegated in (False, True):
        x.resp.delegated = delegated
        out = subprocess.run(["openssl", "ocsp", "-issuer", x.ca.chain_file, "-cert", x.a.cert_file,
                              "-url", x.resp.url, "-CAfile", x.ca.root_file],
                             capture_output=True, text=True, timeout=20)
        assert "Response verify OK" in out.stderr + out.stdout, out.stderr
        assert f"{x.a.cert_file}: good" in out.stdout, out.stdout


def test_managed_and_other_get_good_staple(setup):
    x = setup()
    x.start()
    assert x.wait_staple("a.example.org") == "good"
    assert x.wait_staple("b.example.org") == "good"
    x.wait_event("ocsp-renewed", "a.example.org")
    x.wait_event("ocsp-renewed", "other")
    # persisted in the store, in upstream's layout
    fa, fb = x.store_file(x.a, "a.example.org"), x.store_file(x.b, "other")
    for f in (fa, fb):
        j = json.load(open(f))
        assert j["status"] == "good"
        assert set(j["valid"]) == {"from", "until"}
        assert re.fullmatch(r"[A-Za-z0-9_-]+", j["response"])
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o640
    # the status page shows the staple of the managed certificate
    o = x.md_ocsp()
    assert o["status"] == "good", o
    assert o["valid"]["until"].endswith("GMT")
    assert "responder" not in o           # as the reference: the responder is in server-status
    r = o["renewal"]
    assert r["name"] == "a.example.org" and r["finished"] is True and r["errors"] == 0, r
    assert r["last"]["status"] == 0 and "certificate status is good" in r["last"]["detail"], r
    # MDMessageCmd ran as "cmd args... EVENT NAME"
    assert ["an-arg", "ocsp-renewed", "a.example.org"] in x.events()
    # server-status: the staples table and the counters
    status, _, body = x.h.curl("/server-status?auto")
    assert status == 200
    counters = dict(line.split(": ", 1) for line in body.splitlines() if line.startswith("ManagedStaplings"))
    assert counters == {"ManagedStaplingsTotal": "2", "ManagedStaplingsOK": "2",
                        "ManagedStaplingsRenew": "0", "ManagedStaplingsErrored": "0"}, body
    status, _, body = x.h.curl("/server-status")
    table = staples_table(body)
    assert "a.example.org" in table and "b.example.org" in table, body
    assert table.count("<td>good</td>") == 2, body
    # and the handshake path never asks the responder: one fetch per certificate
    served = x.resp.requests
    for _ in range(5):
        assert x.staple("a.example.org")[0] == "good"
    assert x.resp.requests == served
    x.no_crash()


def test_staple_survives_responder_down_and_restart(setup):
    x = setup()
    x.start()
    x.wait_staple("a.example.org")
    x.wait_staple("b.example.org")
    x.resp.set_mode("down")
    x.h.stop()
    x.h.start()
    # the very first handshakes after the restart get the stored staples
    assert x.staple("a.example.org")[0] == "good"
    assert x.staple("b.example.org")[0] == "good"
    assert x.md_ocsp()["status"] == "good"
    x.no_crash()


def test_responder_down_at_first_start(setup):
    x = setup(responder_mode="down")
    x.start()
    x.wait_event("ocsp-errored", "a.example.org")
    status, out = x.staple("a.example.org")
    assert status is None and "no response sent" in out
    assert x.md_ocsp()["renewal"]["errors"] >= 1
    # the responder comes back: the backoff retries and a staple appears
    x.resp.set_mode("good")
    x.wait_staple("a.example.org", timeout=20)
    x.no_crash()


def test_revoked_certificate(setup):
    x = setup()
    x.resp.set_mode("revoked", serial=x.a.serial)
    x.start()
    assert x.wait_staple("a.example.org", want="revoked") == "revoked"
    assert x.wait_staple("b.example.org") == "good"
    x.wait_event("ocsp-renewed", "a.example.org")
    assert x.md_ocsp()["status"] == "revoked"
    assert json.load(open(x.store_file(x.a, "a.example.org")))["status"] == "revoked"
    _, _, body = x.h.curl("/server-status")
    assert "<td>revoked</td>" in staples_table(body)
    assert "REVOKED" in x.h.log()


BAD_MODES = {
    "garbage": "not a DER encoded OCSP response",
    "other-cert": "not about this certificate",
    "expired": "the response expired on",
    "bad-signature": "not signed by the issuer",
    "unauthorized": "answered 'unauthorized'",
    "http-500": "answered HTTP status 500",
    "huge": "larger than 16384 bytes",
}


@pytest.mark.parametrize("mode", list(BAD_MODES))
def test_bad_response_rejected_previous_kept(setup, mode):
    x = setup()
    # renewal always due after a restart: the window is longer than the responses live
    lines = "MDStapling on\nMDStaplingRenewWindow 4d\n"
    x.start(global_lines=lines)
    x.wait_staple("a.example.org")
    before = json.load(open(x.store_file(x.a, "a.example.org")))
    x.resp.set_mode(mode)
    x.h.graceful()
    x.wait_event("ocsp-errored", "a.example.org")
    x.wait_event("ocsp-errored", "other")
    # the previous good staple is still served and still stored
    assert x.staple("a.example.org")[0] == "good"
    assert x.staple("b.example.org")[0] == "good"
    assert json.load(open(x.store_file(x.a, "a.example.org"))) == before
    o = x.md_ocsp()
    assert o["status"] == "good" and o["renewal"]["errors"] >= 1, o
    assert BAD_MODES[mode] in o["renewal"]["last-error"], o
    assert BAD_MODES[mode] in x.h.log()
    _, _, body = x.h.curl("/server-status?auto")
    assert "ManagedStaplingsErrored: 2" in body and "ManagedStaplingsTotal: 2" in body, body
    x.no_crash()


def test_bad_response_without_previous_staples_nothing(setup):
    x = setup(responder_mode="bad-signature")
    x.start()
    x.wait_event("ocsp-errored", "a.example.org")
    status, out = x.staple("a.example.org")
    assert status is None, out
    assert not os.path.exists(x.store_file(x.a, "a.example.org"))
    assert "not signed by the issuer" in x.h.log()


def test_delegated_responder_accepted(setup):
    x = setup()
    x.resp.delegated = True
    x.start()
    assert x.wait_staple("a.example.org") == "good"


def test_stapling_per_md_only(setup):
    """MDStapling on inside one MDomain: only its certificate is stapled by mod_md."""
    x = setup()
    x.start(global_lines="", md_lines="  MDStapling on\n")
    assert x.wait_staple("a.example.org") == "good"
    status, out = x.staple("b.example.org")
    assert status is None and "no response sent" in out
    assert not os.path.exists(os.path.join(x.h.store_dir, "ocsp", "other"))


def test_staple_others_off(setup):
    x = setup()
    x.start(global_lines="MDStapling on\nMDStapleOthers off\n")
    assert x.wait_staple("a.example.org") == "good"
    time.sleep(1)
    assert x.staple("b.example.org")[0] is None
    assert x.resp.hits.get(x.b.serial, 0) == 0


def test_stapling_off_mod_ssl_stapling_works(setup):
    """MDStapling off: mod_ssl's own SSLUseStapling fetches and staples as before."""
    x = setup()
    cache = f"SSLStaplingCache shmcb:{x.h.dir}/run/ssl_stapling(128000)\n"
    x.start(global_lines=cache, a_extra="  SSLUseStapling on\n", b_extra="  SSLUseStapling on\n")
    assert x.wait_staple("a.example.org") == "good"
    assert x.wait_staple("b.example.org") == "good"
    assert not os.listdir(os.path.join(x.h.store_dir, "ocsp"))
    assert x.md_ocsp() is None
    assert not x.events()


def test_old_responses_pruned_at_restart(setup):
    x = setup()
    x.start(global_lines="MDStapling on\nMDStaplingKeepResponse 2d\n")
    x.wait_staple("a.example.org")
    x.wait_staple("b.example.org")
    stale = os.path.join(x.h.store_dir, "ocsp", "other", "ocsp-" + "0" * 40 + ".json")
    with open(stale, "w") as f:
        f.write("{}")
    old = time.time() - 3 * 86400
    os.utime(stale, (old, old))
    in_use = x.store_file(x.b, "other")
    os.utime(in_use, (old, old))
    x.h.graceful()
    assert not os.path.exists(stale)
    assert os.path.exists(in_use)
    assert x.staple("b.example.org")[0] == "good"


def next_fetch(h, name):
    """The next planned OCSP fetch for name, from the server-status staples table."""
    _, _, body = h.curl("/server-status")
    for row in re.findall(r"<tr><td>(.*?)</tr>", staples_table(body), re.S):
        if row.startswith(name + "<"):
            m = re.search(r"<td>at ([^<]+)</td>$", row)
            assert m, row
            return m.group(1)
    raise AssertionError(f"no staples row for {name}: {body}")


def test_switch_one_md_at_a_time(setup):
    """MDStapling on for one MD while another vhost keeps mod_ssl's SSLUseStapling: both staple,
    each from its own provider."""
    x = setup()
    cache = f"SSLStaplingCache shmcb:{x.h.dir}/run/ssl_stapling(128000)\n"
    x.start(global_lines=cache, md_lines="  MDStapling on\n", b_extra="  SSLUseStapling on\n")
    assert x.wait_staple("a.example.org") == "good"
    assert x.wait_staple("b.example.org") == "good"
    assert os.path.exists(x.store_file(x.a, "a.example.org"))
    assert not os.path.exists(os.path.join(x.h.store_dir, "ocsp", "other"))
    assert next_fetch(x.h, "a.example.org").endswith("GMT")


def test_responses_stored_by_debian_mod_md_are_served(setup):
    """Switching from Debian's mod_md to ours while the responder is down: the responses it
    stored (same layout and format) are verified and stapled from the first handshake."""
    x = setup(md_module=DEBIAN_MOD_MD)
    x.start()
    fa, fb = x.store_file(x.a, "a.example.org"), x.store_file(x.b, "other")
    end = time.time() + 15
    while time.time() < end and not (os.path.exists(fa) and os.path.exists(fb)):
        time.sleep(0.2)
    assert os.path.exists(fa) and os.path.exists(fb)
    x.h.stop()
    x.resp.set_mode("down")
    x.h.md_module = MOD_MD
    x.start()
    assert x.staple("a.example.org")[0] == "good"
    assert x.staple("b.example.org")[0] == "good"
    assert x.md_ocsp()["status"] == "good"


def test_responders_contacted_through_md_http_proxy(setup):
    x = setup()
    proxy = ForwardProxy()
    try:
        x.start(global_lines=f"MDStapling on\nMDHttpProxy {proxy.url}\n")
        assert x.wait_staple("a.example.org") == "good"
        assert x.wait_staple("b.example.org") == "good"
        assert proxy.forwarded.count(x.resp.url) >= 2, proxy.forwarded
    finally:
        proxy.stop()


def test_stapling_without_any_mdomain(setup):
    """MDStapling works for plain SSLCertificateFile vhosts when no MDomain is configured."""
    x = setup()
    h = x.h
    h.write_conf(f"MDStapling on\nMDMessageCmd {x.script}\n"
                 + h.ssl_vhost("b.example.org", extra=f"  SSLCertificateFile {x.b.cert_file}\n"
                               f"  SSLCertificateKeyFile {x.b.key_file}\n"))
    h.start()
    assert x.wait_staple("b.example.org") == "good"
    assert os.path.exists(x.store_file(x.b, "other"))
    x.wait_event("ocsp-renewed", "other")


def test_handshakes_never_touch_the_store(setup, tmp_path):
    """The handshake path answers from memory: while a child serves stapled handshakes it
    makes no file system call on the store (strace on the children)."""
    import shutil
    if not shutil.which("strace"):
        pytest.skip("strace not installed")
    x = setup()
    x.start()
    x.wait_staple("a.example.org")
    x.wait_staple("b.example.org")
    parent = x.h.pid()
    out = tmp_path / "strace.out"
    served = set()

    def handshakes():
        for _ in range(5):
            assert x.staple("a.example.org")[0] == "good"
            assert x.staple("b.example.org")[0] == "good"
    # the MPM may start another child meanwhile: trace again until handshakes were seen
    for _ in range(5):
        children = children_of(parent)
        assert children
        trace = strace_children(children, out, handshakes)
        if trace is None:
            pytest.skip("strace cannot attach here")
        # the threads that read a TLS handshake record (0x16 0x03) served the handshakes; the
        # children's watchdog thread may write its metrics meanwhile: not the handshake path
        served = {l.split()[0] for l in trace if re.search(r'read\(\d+, "\\26\\3', l)}
        if served:
            break
    assert served, "strace saw no handshake: the check would be void"
    touched = [l for l in trace if l.split()[0] in served and x.h.store_dir in l]
    assert not touched, touched[:5]


@pytest.mark.parametrize("window,before_until", [("33%", 0.33 * 3 * 86400), ("2d", 2 * 86400),
                                                 ("12h", 12 * 3600)])
def test_renew_window_sets_next_run(setup, window, before_until):
    """The next fetch is planned MDStaplingRenewWindow before the response expires (the
    fixture's responses are valid for 3 days)."""
    from email.utils import parsedate_to_datetime
    x = setup()
    x.start(global_lines=f"MDStapling on\nMDStaplingRenewWindow {window}\n")
    x.wait_staple("a.example.org")
    end = time.time() + 10
    while time.time() < end and not x.md_ocsp()["renewal"].get("last-run"):
        time.sleep(0.2)
    o = x.md_ocsp()
    until = parsedate_to_datetime(o["valid"]["until"]).timestamp()
    next_run = parsedate_to_datetime(next_fetch(x.h, "a.example.org")).timestamp()
    assert abs((until - next_run) - before_until) <= 2, o


def test_responses_stored_by_us_are_served_by_debian_mod_md(setup):
    """The other way round: Debian's mod_md staples what ours stored, responder down."""
    x = setup()
    x.start()
    x.wait_staple("a.example.org")
    x.wait_staple("b.example.org")
    x.h.stop()
    x.resp.set_mode("down")
    x.h.md_module = DEBIAN_MOD_MD
    x.start()
    assert x.wait_staple("a.example.org", timeout=5) == "good"
    assert x.wait_staple("b.example.org", timeout=5) == "good"


def test_md_stapling_takes_over_from_ssl_use_stapling(setup):
    """MDStapling on with SSLUseStapling on (and the cache mod_ssl then insists on): mod_md
    provides the staples, mod_ssl never asks the responder itself."""
    x = setup()
    cache = f"SSLStaplingCache shmcb:{x.h.dir}/run/ssl_stapling(128000)\nMDStapling on\n"
    x.start(global_lines=cache, a_extra="  SSLUseStapling on\n", b_extra="  SSLUseStapling on\n")
    assert x.wait_staple("a.example.org") == "good"
    assert x.wait_staple("b.example.org") == "good"
    for _ in range(3):
        x.staple("a.example.org")
        x.staple("b.example.org")
    assert x.resp.hits == {x.a.serial: 1, x.b.serial: 1}, x.resp.hits
    assert os.path.exists(x.store_file(x.a, "a.example.org"))
    assert os.path.exists(x.store_file(x.b, "other"))


@pytest.mark.parametrize("validity", [["-nmin", "60"], []])
def test_openssl_ocsp_as_responder(setup, validity):
    """Another responder implementation: `openssl ocsp` serving an index file (with and
    without nextUpdate in its responses)."""
    from ocsp_responder import free_port, openssl_index_line
    x = setup()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    good = x.ca.issue("good.example.org", ocsp_url=url)
    bad = x.ca.issue("revoked.example.org", ocsp_url=url)
    index = x.h.path("ca", "index.txt")
    with open(index, "w") as f:
        f.write(openssl_index_line(good.cert) + openssl_index_line(bad.cert, revoked=True))
    proc = subprocess.Popen(["openssl", "ocsp", "-index", index, "-port", str(port), "-rsigner",
                             x.ca.chain_file, "-rkey", x.ca.ca_key_file, "-CA", x.ca.chain_file,
                             "-ignore_err"] + validity,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        h = x.h
        vh = ""
        for leaf in (good, bad):
            vh += h.ssl_vhost(leaf.name, extra=f"  SSLCertificateFile {leaf.cert_file}\n"
                              f"  SSLCertificateKeyFile {leaf.key_file}\n")
        h.write_conf("MDStapling on\n" + vh)
        h.start()
        assert x.wait_staple("good.example.org") == "good"
        assert x.wait_staple("revoked.example.org", want="revoked") == "revoked"
    finally:
        proc.terminate()
        proc.wait(5)


def test_get_only_responder(setup):
    """A responder that refuses POST (405) is asked with GET (RFC 6960 A.1)."""
    x = setup(responder_mode="get-only")
    x.start()
    assert x.wait_staple("a.example.org") == "good"
    assert x.wait_staple("b.example.org") == "good"
