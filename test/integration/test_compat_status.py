"""Differential tests of the status pages: /md-status, /md-status/NAME,
/.httpd/certificate-status and the server-status ?auto lines of Debian's mod_md (the
reference) and ours, on the same configuration, ports and pebble (compat.py's run_both).

Compared: the JSON key paths and types (values are data: times, serials, ports), and the
?auto lines by name with the values that do not depend on time. Left out, and why:
- renewal.last.* and renewal.log.*: what the renewal driver writes into job.json (owned by
  the driver's compatibility work, test_compat_* of the driver); md-status shows job.json as
  it is.
- the names of EC key types: the reference names them as configured (`P-256`), ours by the
  curve's canonical name until the key spec keeps the configured name (store work, item 17).
"""
import json
import re
import time

import pytest


from certs import CA, write_pair
from compat import OURS, REF, assert_same_paths, run_both, wait_for  # noqa: F401
from pebble import md_conf, pebble_for, wait_staged  # noqa: F401 (fixture)

LOC = ("<Location /md-status>\n  SetHandler md-status\n</Location>\n"
       "<Location /server-status>\n  SetHandler server-status\n</Location>\n"
       "ExtendedStatus on\nMDServerStatus on\n")
UNREACHABLE = "https://127.0.0.1:1/dir"

# owned elsewhere (see the module's doc)
IGNORE = [r"(^|\.)renewal\.last(\.|-run$|$)", r"(^|\.)renewal\.log\."]


def ec_names(path, key):
    """Key types are data: EC curves compared as one placeholder."""
    return "<ec>" if key in ("P-256", "secp256r1", "P-384", "secp384r1") else key


def get_json(h, path, host="localhost", https=False):
    status, _, body = h.curl(path, host=host, https=https)
    if status != 200:
        return status
    return json.loads(body)


def auto_lines(h):
    """The mod_md lines of server-status?auto as [(name, value)] in order."""
    _, _, body = h.curl("/server-status?auto")
    out = []
    for line in body.splitlines():
        if line.startswith("Managed"):
            k, _, v = line.partition(": ")
            out.append((k, v))
    return out


def observe(h, names, hosts=()):
    """What an operator sees: md-status (all and per name), certificate-status per https
    host, the ?auto lines."""
    return {"all": get_json(h, "/md-status"),
            "md": {n: get_json(h, f"/md-status/{n}") for n in names},
            "cs": {n: get_json(h, "/.httpd/certificate-status", host=n, https=True) for n in hosts},
            "auto": auto_lines(h)}


def by_name(doc):
    return {m["name"]: m for m in doc["managed-domains"]}


# ?auto values that do not depend on time, ports or keys
STABLE = re.compile(r"^Managed(Certificates\w+|Staplings\w+|Domain\[\d+\](Domain|Names\[\d+\]|Status|"
                    r"CheckAtName|ActivityFinished|ActivityNewStaged|ActivityLastProblem|Stapling)|"
                    r"Domain\[\d+\]Activity)$")


def _timing(lines):
    """A failed renewal about to be retried shows the seconds until the retry
    (ActivityNextRun); once that time passed and the retry runs, nothing (or, with nothing
    else said, "Activity: Ongoing"): the same state seen a moment apart (MDRetryDelay 1s
    here), left out of the comparison."""
    return [(k, v) for k, v in lines
            if not k.endswith("]ActivityNextRun") and not (k.endswith("]Activity") and v == "Ongoing")]


def assert_same_auto(ref, ours):
    ref, ours = _timing(ref), _timing(ours)
    rk, ok = [k for k, _ in ref], [k for k, _ in ours]
    assert rk == ok, ("?auto line names differ\n-- reference:\n" +
                      "\n".join(f"{k}: {v}" for k, v in ref) +
                      "\n-- ours:\n" + "\n".join(f"{k}: {v}" for k, v in ours))
    for (k, rv), (_, ov) in zip(ref, ours):
        if STABLE.match(k):
            assert rv == ov, f"?auto {k}: the reference has {rv!r}, ours {ov!r}"


def assert_same_obs(obs, rename=None, auto=True):
    ref, ours = obs[REF], obs[OURS]
    rall, oall = by_name(ref["all"]), by_name(ours["all"])
    assert sorted(rall) == sorted(oall)
    for n in rall:
        assert_same_paths(rall[n], oall[n], ignore=IGNORE, rename=rename, what=f"md-status {n}")
    for n, r in ref["md"].items():
        o = ours["md"][n]
        if isinstance(r, int) or isinstance(o, int):
            assert r == o, f"/md-status/{n}: the reference answers {r}, ours {o}"
            continue
        assert_same_paths(r, o, ignore=IGNORE, rename=rename, what=f"md-status/{n}")
    for n, r in ref["cs"].items():
        o = ours["cs"][n]
        assert not isinstance(o, int) or not isinstance(r, dict), \
            f"certificate-status of {n}: the reference answers JSON, ours {o}"
        if isinstance(r, int):
            assert r == o
            continue
        assert_same_paths(r, o, rename=rename, what=f"certificate-status of {n}")
    if auto:
        assert_same_auto(ref["auto"], ours["auto"])


def vhosts(h, names):
    return "".join(h.ssl_vhost(n) + h.http_vhost(n) for n in names)


def staged_then_active(conf_body, names, hosts=None, after_active=None):
    """A scenario: write the conf, wait until all names are staged, observe; graceful,
    observe again."""
    hosts = hosts if hosts is not None else names

    def scenario(h, pb):
        h.write_conf(md_conf(pb, h) + LOC + conf_body(h) + vhosts(h, hosts))
        h.start()
        for n in names:
            wait_staged(h, n)
        time.sleep(1)
        staged = observe(h, names, hosts)
        h.graceful()
        time.sleep(1)
        if after_active:
            after_active(h)
        return {"staged": staged, "active": observe(h, names, hosts)}
    return scenario


def split(obs, phase):
    return {REF: obs[REF][phase], OURS: obs[OURS][phase]}


# --- scenarios ---------------------------------------------------------------------------

def test_single_md_staged_and_active(run_both):
    obs = run_both(staged_then_active(lambda h: "MDomain a.example.org\n", ["a.example.org"]))
    assert_same_obs(split(obs, "staged"))
    assert_same_obs(split(obs, "active"))
    # staged: the certificate is not served yet; it is listed under renewal.cert
    for which in (REF, OURS):
        cs = obs[which]["staged"]["cs"]["a.example.org"]
        assert cs["rsa"] == {} and "sha256-fingerprint" in cs["renewal"]["cert"]["rsa"], (which, cs)
        cs = obs[which]["active"]["cs"]["a.example.org"]
        assert set(cs["rsa"]) == {"valid", "serial", "sha256-fingerprint"} and "renewal" not in cs
        # the issuer in OpenSSL's one-line form
        issuer = obs[which]["active"]["md"]["a.example.org"]["cert"]["rsa"]["issuer-name"]
        assert issuer.startswith("/CN=Pebble Intermediate CA"), (which, issuer)


def test_several_mds(run_both):
    names = ["a.example.org", "b.example.org", "c.example.org"]
    obs = run_both(staged_then_active(
        lambda h: "MDomain a.example.org\nMDomain b.example.org\nMDomain c.example.org\n", names))
    for phase in ("staged", "active"):
        assert_same_obs(split(obs, phase))
    auto = dict(obs[OURS]["staged"]["auto"])
    assert auto["ManagedCertificatesTotal"] == "3" and auto["ManagedCertificatesReady"] == "3"
    assert auto["ManagedCertificatesRenew"] == "3"
    assert [v for k, v in obs[OURS]["active"]["auto"] if k.endswith("]Domain")] == names


def test_dual_key_types(run_both):
    obs = run_both(staged_then_active(
        lambda h: "<MDomain a.example.org>\n  MDPrivateKeys RSA P-256\n</MDomain>\n",
        ["a.example.org"]))
    for phase in ("staged", "active"):
        assert_same_obs(split(obs, phase), rename=ec_names)
    for which in (REF, OURS):
        cs = obs[which]["active"]["cs"]["a.example.org"]
        assert len([k for k in cs if k != "valid"]) == 2, (which, cs)
        auto = obs[which]["active"]["auto"]
        assert len([k for k, _ in auto if k.endswith("CheckAtType")]) == 2


def test_renew_window_due_after_activation(run_both):
    """A window longer than the certificate's life (pebble: 5 years): renewal is due at once after
    activation; the served certificate counts as OK and Renew."""
    def after(h):
        wait_for(lambda: (json.loads(h.curl("/md-status/a.example.org")[2])
                          .get("renewal", {}).get("finished")),
                 what="the second renewal to be staged")
        time.sleep(1)
    obs = run_both(staged_then_active(
        lambda h: "<MDomain a.example.org>\n  MDRenewWindow 2000d\n</MDomain>\n", ["a.example.org"],
        after_active=after))
    assert_same_obs(split(obs, "active"))
    for which in (REF, OURS):
        md = obs[which]["active"]["md"]["a.example.org"]
        assert md["renew"] is True and md["renewal"]["finished"] is True, which
        auto = dict(obs[which]["active"]["auto"])
        assert (auto["ManagedCertificatesOK"], auto["ManagedCertificatesRenew"],
                auto["ManagedCertificatesReady"]) == ("1", "1", "1"), (which, auto)


def test_renew_window_not_due(run_both):
    obs = run_both(staged_then_active(
        lambda h: "<MDomain a.example.org>\n  MDRenewWindow 10%\n</MDomain>\n", ["a.example.org"]))
    assert_same_obs(split(obs, "active"))
    for which in (REF, OURS):
        md = obs[which]["active"]["md"]["a.example.org"]
        assert "renew" not in md and "renewal" not in md, which
        assert any(k == "ManagedDomain[0]ActivityRenew" for k, _ in obs[which]["active"]["auto"])


def unreachable_scenario(extra="", names=("e.example.org",), lookups=None):
    def scenario(h, pb):
        body = "".join(f"<MDomain {n}>\n  MDCertificateAuthority {UNREACHABLE}\n{extra}</MDomain>\n"
                       for n in names)
        h.write_conf(md_conf(pb, h) + LOC + body + vhosts(h, names))
        h.start()
        wait_for(lambda: (json.loads(h.curl(f"/md-status/{names[0]}")[2])
                          .get("renewal", {}).get("errors", 0) > 0),
                 what="a failed renewal")
        time.sleep(0.5)
        return observe(h, list(lookups or names), names)
    return scenario


def test_ca_unreachable_md_status(run_both):
    obs = run_both(unreachable_scenario())
    assert_same_obs(obs, auto=False)
    for which in (REF, OURS):
        md = obs[which]["md"]["e.example.org"]
        assert md["renew"] is True and md["renewal"]["errors"] > 0, which
        assert "url" not in md["ca"], which       # no certificate obtained from a CA yet


def test_certificate_status_under_fallback(run_both):
    """Item 14: while the fallback certificate is served, certificate-status answers JSON."""
    obs = run_both(unreachable_scenario())
    for which in (REF, OURS):
        assert obs[which]["cs"]["e.example.org"] == {"rsa": {}, "renewal": {"cert": {}}}, \
            (which, obs[which]["cs"])


def test_ca_unreachable_server_status_auto(run_both):
    obs = run_both(unreachable_scenario())
    assert_same_auto(obs[REF]["auto"], obs[OURS]["auto"])
    auto = dict(obs[OURS]["auto"])
    assert auto["ManagedCertificatesErrored"] == "1" and auto["ManagedDomain[0]ActivityFinished"] == "no"
    assert auto["ManagedDomain[0]ActivityLastStatus"] == dict(obs[REF]["auto"])["ManagedDomain[0]ActivityLastStatus"]


def test_md_status_lookup_by_domain(run_both):
    """Item 11: /md-status/NAME finds the MD by any of its names, wildcards included; a
    name of no MD gets the whole list, as with the reference."""
    def scenario(h, pb):
        h.write_conf(md_conf(pb, h) + LOC +
                     f"<MDomain example.org *.example.org>\n  MDCertificateAuthority {UNREACHABLE}\n"
                     "</MDomain>\n" + f"<MDomain b.example.net>\n  MDCertificateAuthority {UNREACHABLE}\n"
                     "</MDomain>\n" + vhosts(h, ["example.org", "b.example.net"]))
        h.start()
        time.sleep(1)
        return {n: get_json(h, f"/md-status/{n}")
                for n in ("example.org", "*.example.org", "www.example.org", "WWW.Example.ORG",
                          "a.b.example.org", "nope.example.com", "b.example.net")}
    obs = run_both(scenario)
    for n in obs[REF]:
        r, o = obs[REF][n], obs[OURS][n]
        assert type(r) is type(o), (n, r, o)
        if isinstance(r, int):
            assert r == o, n
        elif "managed-domains" in r:
            assert [m["name"] for m in r["managed-domains"]] == \
                [m["name"] for m in o["managed-domains"]], n
        else:
            assert "managed-domains" not in o and r["name"] == o["name"], n
    assert obs[OURS]["www.example.org"]["name"] == "example.org"


def static_scenario(days, start_days_ago=1, md_lines="", extra=""):
    def scenario(h, pb):
        ca = CA()
        cert, key = ca.issue(["s.example.org"], days=days, start_days_ago=start_days_ago,
                             issuer_url="http://ca.example.org/ca.cer")
        cp, kp = write_pair(h.dir, "s", cert, key)
        h.write_conf(md_conf(pb, h) + LOC + extra +
                     f"<MDomain s.example.org>\n  MDCertificateFile {cp}\n  MDCertificateKeyFile {kp}\n"
                     f"{md_lines}</MDomain>\n" + vhosts(h, ["s.example.org"]))
        h.start()
        time.sleep(1)
        return observe(h, ["s.example.org"], ["s.example.org"])
    return scenario


def test_static_certificate(run_both):
    """Static certificates: listed by position, not due outside the window."""
    obs = run_both(static_scenario(90))
    assert_same_obs(obs)
    for which in (REF, OURS):
        md = obs[which]["md"]["s.example.org"]
        assert "0" in md["cert"] and "renew" not in md, (which, md)


def test_static_certificate_renew_mode_manual(run_both):
    """Item 9: static certificates make the effective renew mode manual (md-status shows
    renew-mode 0); with an explicit MDRenewMode both modules show the same mode."""
    obs = run_both(static_scenario(90))
    for which in (REF, OURS):
        assert obs[which]["md"]["s.example.org"]["renew-mode"] == 0, which
    for mode in ("auto", "always"):
        obs = run_both(static_scenario(90, md_lines=f"  MDRenewMode {mode}\n"))
        assert obs[OURS]["md"]["s.example.org"]["renew-mode"] == \
            obs[REF]["md"]["s.example.org"]["renew-mode"], mode


def test_static_certificate_in_renew_window(run_both):
    """Item 12: renew is true inside the renew window whatever the renew mode."""
    obs = run_both(static_scenario(90, start_days_ago=87))      # 3 days left
    assert_same_obs(obs, auto=False)
    for which in (REF, OURS):
        md = obs[which]["md"]["s.example.org"]
        assert md["renew"] is True, (which, md)
        auto = dict(obs[which]["auto"])
        assert (auto["ManagedCertificatesOK"], auto["ManagedCertificatesRenew"]) == ("1", "1")


@pytest.mark.xfail(reason="the reference's driver finishes a job at once for a static "
                   "certificate inside its window (job.json finished: true, nothing staged); "
                   "ours keeps it unfinished: job.json is the driver's work (compatrt)",
                   strict=False)
def test_static_certificate_in_renew_window_auto(run_both):
    obs = run_both(static_scenario(90, start_days_ago=87))
    assert_same_auto(obs[REF]["auto"], obs[OURS]["auto"])


def test_manual_renew_mode_without_certificate(run_both):
    def scenario(h, pb):
        h.write_conf(md_conf(pb, h) + LOC + "<MDomain m.example.org>\n  MDRenewMode manual\n"
                     "</MDomain>\n" + vhosts(h, ["m.example.org"]))
        h.start()
        time.sleep(2)
        return observe(h, ["m.example.org"], ["m.example.org"])
    obs = run_both(scenario)
    assert_same_obs(obs)
    for which in (REF, OURS):
        assert obs[which]["md"]["m.example.org"]["renew"] is True, which
        assert ("ManagedDomain[0]Activity", "Pending") in obs[which]["auto"], which


def test_server_status_off_by_default(run_both):
    def scenario(h, pb):
        h.write_conf(md_conf(pb, h) + LOC.replace("MDServerStatus on\n", "") +
                     "MDomain a.example.org\n" + vhosts(h, ["a.example.org"]))
        h.start()
        time.sleep(1)
        return auto_lines(h)
    obs = run_both(scenario)
    assert obs[REF] == obs[OURS] == []


def test_several_ca_urls(run_both):
    def scenario(h, pb):
        h.write_conf(md_conf(pb, h) + LOC +
                     f"<MDomain e.example.org>\n  MDCertificateAuthority {UNREACHABLE} "
                     "https://127.0.0.2:1/dir\n</MDomain>\n" + vhosts(h, ["e.example.org"]))
        h.start()
        time.sleep(2)
        return observe(h, ["e.example.org"], ["e.example.org"])
    obs = run_both(scenario)
    assert_same_obs(obs)


@pytest.mark.parametrize("serial", [0x1A2B3C4D5E6F, 0x0A2B3C4D5E6F], ids=["even", "leading-zero"])
def test_stapling_without_responder_log_line(run_both, serial):
    """Item 16: the log line for a certificate without OCSP responder names the MD and the
    serial (in hex, as the reference writes it) in the reference's form."""
    def scenario(h, pb):
        ca = CA()
        cert, key = ca.issue(["s.example.org"], days=90, serial=serial)
        cp, kp = write_pair(h.dir, "s", cert, key, chain=(ca.cert,))
        h.write_conf(md_conf(pb, h) + LOC + "MDStapling on\nLogLevel md:debug\n" +
                     f"<MDomain s.example.org>\n  MDCertificateFile {cp}\n  MDCertificateKeyFile {kp}\n"
                     "</MDomain>\n" + vhosts(h, ["s.example.org"]))
        h.start()
        h.server_cert_pem("s.example.org", extra=["-status"])
        time.sleep(1)
        return h.log()
    obs = run_both(scenario)
    lines = {}
    for which in (REF, OURS):
        found = re.findall(r"md\[s\.example\.org\]: certificate with serial (\w+) has no OCSP responder URL",
                           obs[which])
        assert found, (which, [l for l in obs[which].splitlines() if "OCSP" in l][-5:])
        lines[which] = found[0]
    assert int(lines[OURS], 16) == serial
    assert lines[OURS] == lines[REF]


@pytest.fixture
def responder():
    from ocsp_responder import OcspResponder
    r = OcspResponder().start()
    yield r
    r.stop()


def test_stapling_on(run_both, responder):
    """MDStapling on for a certificate from pebble (its AIA names our OCSP responder): the
    ocsp facts in md-status and the stapling lines of ?auto."""
    from test_ocsp_pebble import wait_staple
    run_both.pebble_config = {"ocspResponderURL": responder.url}
    name = "a.example.org"

    def scenario(h, pb):
        responder.set_issuer(pb._mgmt_get("/intermediates/0"), pb._mgmt_get("/intermediate-keys/0"))
        h.write_conf(md_conf(pb, h, "MDCAChallenges http-01\nMDStapling on\n") + LOC +
                     f"MDomain {name}\n" + vhosts(h, [name]))
        h.start()
        wait_staged(h, name)
        h.graceful()
        wait_staple(h, name, "good")
        time.sleep(1)
        return observe(h, [name], [name])
    obs = run_both(scenario)
    assert_same_obs(obs)
    for which in (REF, OURS):
        assert obs[which]["md"][name]["cert"]["rsa"]["ocsp"]["status"] == "good", which


def test_pages_without_md(run_both):
    """No MDomain: md-status has the version only, certificate-status is not answered, ?auto
    has the counters (zero)."""
    def scenario(h, pb):
        ca = CA()
        cert, key = ca.issue(["plain.example.org"])
        cp, kp = write_pair(h.dir, "plain", cert, key)
        h.write_conf(md_conf(pb, h) + LOC + h.ssl_vhost(
            "plain.example.org", extra=f"  SSLCertificateFile {cp}\n  SSLCertificateKeyFile {kp}\n"))
        h.start()
        return {"all": get_json(h, "/md-status"), "one": get_json(h, "/md-status/x.example.org"),
                "cs": get_json(h, "/.httpd/certificate-status", host="plain.example.org", https=True),
                "auto": auto_lines(h)}
    obs = run_both(scenario)
    r, o = obs[REF], obs[OURS]
    assert list(r["all"]) == list(o["all"]) == ["version"], (r, o)
    assert type(r["one"]) is type(o["one"]) and r["cs"] == o["cs"], (r, o)
    assert [k for k, _ in r["auto"]] == [k for k, _ in o["auto"]], (r["auto"], o["auto"])
