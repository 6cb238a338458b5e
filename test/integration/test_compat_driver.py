"""Differential runtime scenarios of the store and the renewal driver (issue 11, items 13 and
17-24): each runs with Debian's mod_md (the reference) and with ours on the same ports and
pebble (compat.RunBoth) and fails when what an operator finds differs: the file names in the
store, the fields of job.json and its `last` object (renewal.last on /md-status) after a
success or a failure, and whether a store written by one module keeps working with the other.

Deliberate differences (docs/mod_md.md, "Differences from Debian's mod_md"): fallback keys are
P-256 (their file names follow the MD's key types all the same); accounts/ is root-only (not
compared); ours names the step (`activity`) and explains the failure (`detail`) in renewal.last
also where the reference leaves them out (LAST_MORE).
"""
import json
import os
import subprocess
import time

import pytest

from compat import REF, OURS, run_both, store_files, assert_same_files, key_paths, \
    diff_paths, wait_for, read_json, need_reference  # noqa: F401
from httpd import DEBIAN_MOD_MD, MOD_MD
from pebble import pebble_for, md_conf, wait_staged, verify_served  # noqa: F401

# renewal.last fields ours may have where the reference has none (documented difference)
LAST_MORE = ("activity", "detail")
EAB_KEYS = {"kid-1": "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W",
            "kid-2": "b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH"}


def job_of(h, name, group="staging"):
    try:
        return read_json(os.path.join(h.store_dir, group, name, "job.json"))
    except (OSError, ValueError):
        return None


def wait_job(h, name, cond, timeout=40, what="the job"):
    return wait_for(lambda: (lambda j: j if j and cond(j) else None)(job_of(h, name)),
                    timeout=timeout, what=f"{what} of {name}\n{h.log()[-3000:]}")


def start_md(h, pb, name, extra="", vhost_extra="", domains=None):
    h.write_conf(md_conf(pb, h) + extra.replace("@DIR@", h.dir)
                 + f"MDomain {' '.join(domains or [name])}\n"
                 + h.ssl_vhost(name, extra=vhost_extra) + h.http_vhost(name))
    h.start()


def script(h, body):
    path = os.path.join(h.dir, "cmd.sh")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body + "\n")
    os.chmod(path, 0o755)
    return path


def assert_same_job(obs, ignore=()):
    """job.json: the same top-level fields (the log's wording is each module's own), and the
    same `last` fields, ours possibly with LAST_MORE."""
    ref, ours = obs[REF]["job"], obs[OURS]["job"]
    assert ref and ours, f"job.json missing: reference {ref}, ours {ours}"
    top = diff_paths(key_paths({k: v for k, v in ref.items() if k not in ("log", "last")}),
                     key_paths({k: v for k, v in ours.items() if k not in ("log", "last")}),
                     ignore=ignore)
    rl, ol = ref.get("last") or {}, ours.get("last") or {}
    last = [f"last.{k}: only the reference has it" for k in rl if k not in ol]
    last += [f"last.{k}: only ours has it" for k in ol if k not in rl and k not in LAST_MORE]
    for k in ("problem", "status-description"):
        if k in rl and k in ol and k == "problem" and rl[k] != ol[k]:
            last.append(f"last.problem: the reference {rl[k]!r}, ours {ol[k]!r}")
    d = top + last
    assert not d, ("job.json differs:\n  " + "\n  ".join(d)
                   + f"\n-- reference: {json.dumps({k: v for k, v in ref.items() if k != 'log'})}"
                   + f"\n-- ours: {json.dumps({k: v for k, v in ours.items() if k != 'log'})}")


# --- store files after an order ------------------------------------------------------------

def wait_announced(h, name):
    """The staged job once the 'renewed' announcements ran (the reference writes job.json
    before and after them, with different `last` objects)."""
    wait_staged(h, name)
    return wait_job(h, name, lambda j: j.get("notified-renewed"), what="the renewed announcement")


def order_and_activate(h, pb, name, extra=""):
    start_md(h, pb, name, extra)
    job = wait_announced(h, name)
    time.sleep(0.5)
    obs = {"job": job, "staged": store_files(h.store_dir)}
    h.graceful()
    obs["active"] = store_files(h.store_dir)
    obs["md"] = read_json(os.path.join(h.store_dir, "domains", name, "md.json"))
    return obs


def only_diff(a, b):
    return sorted(set(a) - set(b)), sorted(set(b) - set(a))


@pytest.mark.parametrize("keys", [None, "P-256", "RSA secp384r1"], ids=["rsa", "p256", "rsa-secp384r1"])
def test_store_files_after_order(run_both, keys):
    name = f"files-{(keys or 'rsa').replace(' ', '').lower()}.mdtest.org"
    extra = f"MDPrivateKeys {keys}\n" if keys else ""
    obs = run_both(lambda h, pb: order_and_activate(h, pb, name, extra))
    for when in ("staged", "active"):
        only_ref, only_ours = only_diff(obs[REF][when], obs[OURS][when])
        assert not only_ref and not only_ours, (
            f"store files differ once {when}\n  only the reference: {only_ref}\n  only ours: {only_ours}")
    # md.json keeps the key types as written
    assert obs[OURS]["md"].get("privkey") == obs[REF]["md"].get("privkey")
    assert_same_job(obs)
    assert obs[OURS]["job"]["last"] == {"status": 0, "valid-from": obs[OURS]["job"]["valid-from"]}


# --- renewal.last after failures -----------------------------------------------------------

def fail_run(name, extra="", vhost_extra="", cond=lambda j: j.get("errors", 0) >= 1, body=None):
    def scenario(h, pb):
        ex = extra
        if body:
            ex = ex.replace("@CMD@", script(h, body))
        start_md(h, pb, name, ex, vhost_extra)
        job = wait_job(h, name, cond)
        return {"job": job, "files": store_files(h.store_dir)}
    return scenario


def next_run_in(job):
    """Seconds from the job's last run to its next run."""
    from email.utils import parsedate_to_datetime
    return (parsedate_to_datetime(job["next-run"]) - parsedate_to_datetime(job["last-run"])).total_seconds()


def test_last_ca_rejects_identifier(run_both):
    name = "blocked.mdtest.org"
    run_both.pebble_config = {"domainBlocklist": [name]}
    obs = run_both(fail_run(name))
    assert_same_job(obs, ignore=["next-run"])
    for which in (REF, OURS):
        last = obs[which]["job"]["last"]
        assert last["problem"] == "urn:ietf:params:acme:error:rejectedIdentifier", (which, last)
        assert last["activity"].startswith("Creating new order"), (which, last)
        # the CA refuses the names: asked again after hours, not after MDRetryDelay
        assert next_run_in(obs[which]["job"]) > 6 * 3600, (which, obs[which]["job"])
    assert obs[OURS]["job"]["last"]["detail"] == obs[REF]["job"]["last"]["detail"]


def test_last_eab_required_not_configured(run_both):
    name = "eabreq.mdtest.org"
    run_both.pebble_config = {"externalAccountBindingRequired": True,
                              "externalAccountMACKeys": EAB_KEYS}
    obs = run_both(fail_run(name))
    assert_same_job(obs, ignore=["next-run"])
    for which in (REF, OURS):
        last = obs[which]["job"]["last"]
        assert last["problem"] == "urn:ietf:params:acme:error:externalAccountRequired", (which, last)
        assert next_run_in(obs[which]["job"]) > 6 * 3600, (which, obs[which]["job"])
    assert obs[OURS]["job"]["last"]["detail"] == obs[REF]["job"]["last"]["detail"]


@pytest.mark.parametrize("extra", ["MDCAChallenges tls-alpn-01\n", "MDCAChallenges dns-01\n"],
                         ids=["tls-alpn-01-without-acme-tls", "dns-01-without-command"])
def test_last_challenge_mismatch(run_both, extra):
    name = "mismatch.mdtest.org"
    obs = run_both(fail_run(name, extra))
    assert_same_job(obs)
    for which in (REF, OURS):
        assert obs[which]["job"]["last"]["problem"] == "challenge-mismatch", obs[which]["job"]["last"]
    # nothing was set up, nothing is left in challenges/
    for which in (REF, OURS):
        assert not [f for f in obs[which]["files"] if f.startswith("challenges/")], obs[which]["files"]


@pytest.mark.parametrize("setup", ["dns01", "message"])
def test_last_challenge_setup_failure(run_both, setup):
    name = f"setup-{setup}.mdtest.org"
    if setup == "dns01":
        extra, body = "MDCAChallenges dns-01\nMDChallengeDns01 @CMD@\n", "exit 1"
    else:
        extra = "MDMessageCmd @CMD@\n"
        body = 'case "$1" in challenge-setup*) exit 3;; esac\nexit 0'
    obs = run_both(fail_run(name, extra, body=body))
    assert_same_job(obs)
    for which in (REF, OURS):
        assert obs[which]["job"]["last"]["problem"] == "challenge-setup-failure", obs[which]["job"]["last"]


@pytest.mark.parametrize("cmd", ["exit 2", None], ids=["exit-2", "cannot-run"])
def test_last_notify_cmd_failure(run_both, cmd):
    name = "notify-fail.mdtest.org"

    def scenario(h, pb):
        path = script(h, cmd) if cmd else "/nonexistent/notify"
        start_md(h, pb, name, f"MDNotifyCmd {path}\n")
        job = wait_job(h, name, lambda j: j.get("finished") and j.get("errors"))
        return {"job": job, "cmd": path}
    obs = run_both(scenario)
    assert_same_job(obs)
    for which in (REF, OURS):
        job = obs[which]["job"]
        code = 2 if cmd else 255
        assert job["last"]["problem"] == "urn:org:apache:httpd:log:AH10108:", (which, job["last"])
        assert job["last"]["detail"] == f"MDNotifyCmd {obs[which]['cmd']} failed with exit code {code}.", \
            (which, job["last"])
        assert job["notified-renewed"] is False and job["errors"] == 1, (which, job)


@pytest.mark.parametrize("event", ["renewing", "renewed"])
def test_last_message_cmd_failure(run_both, event):
    """A failing MDMessageCmd is in renewal.last at any event; a failing 'renewing' call blocks
    the renewal (nothing is ordered)."""
    name = f"message-{event}.mdtest.org"

    def scenario(h, pb):
        path = script(h, f'case "$1" in {event}) exit 4;; esac\nexit 0')
        start_md(h, pb, name, f"MDMessageCmd {path}\n")
        # the job as it is when the failure is recorded (the reference retries the
        # 'renewed' call later and rewrites job.json meanwhile)
        job = wait_job(h, name, lambda j: (j.get("last") or {}).get("problem"))
        time.sleep(1)
        return {"job": job, "cmd": path, "files": store_files(h.store_dir)}
    obs = run_both(scenario)
    # ours notes when it asks again after a veto (next-run), the reference does not
    assert_same_job(obs, ignore=["next-run"] if event == "renewing" else [])
    for which in (REF, OURS):
        last = obs[which]["job"]["last"]
        assert last["problem"] == "urn:org:apache:httpd:log:AH10109:", (which, last)
        assert last["detail"] == f"MDMessageCmd {obs[which]['cmd']} failed with exit code 4.", (which, last)
        if event == "renewing":
            assert not [f for f in obs[which]["files"] if f.endswith("pubcert.pem")
                        and "fallback" not in f], obs[which]["files"]


def test_last_mandatory_profile_missing(run_both):
    name = "profile.mdtest.org"
    obs = run_both(fail_run(name, "MDProfile nonexisting\nMDProfileMandatory on\n"))
    assert_same_job(obs)
    for which in (REF, OURS):
        assert obs[which]["job"]["last"]["activity"].startswith("Creating new order"), obs[which]["job"]


# --- tls-alpn-01 ---------------------------------------------------------------------------

def test_tls_alpn01_skipped_without_acme_tls_1(run_both):
    """MDCAChallenges tls-alpn-01 http-01 and no vhost with acme-tls/1: http-01 is used."""
    name = "alpn-skip.mdtest.org"
    obs = run_both(lambda h, pb: order_and_activate(h, pb, name, "MDCAChallenges tls-alpn-01 http-01\n"))
    assert_same_job(obs)
    only_ref, only_ours = only_diff(obs[REF]["active"], obs[OURS]["active"])
    assert not only_ref and not only_ours, (only_ref, only_ours)


def test_tls_alpn01_with_rsa_key(run_both):
    """With acme-tls/1, tls-alpn-01 works for both; the challenge certificate is RSA (the MD's
    key type), seen by pebble's validation of a client that offers RSA."""
    name = "alpn-rsa.mdtest.org"

    def scenario(h, pb):
        seen = os.path.join(h.dir, "seen")
        os.makedirs(seen)
        os.chmod(seen, 0o777)
        cmd = script(h, f'case "$1" in challenge-setup:tls-alpn-01:*) '
                        f'cat {h.store_dir}/challenges/{name}/acme-tls-alpn-01-pubcert*.pem '
                        f'> {seen}/cert.pem;; esac\nexit 0')
        start_md(h, pb, name, f"MDCAChallenges tls-alpn-01\nMDMessageCmd {cmd}\n",
                 vhost_extra="  Protocols http/1.1 acme-tls/1\n")
        job = wait_announced(h, name)
        text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", f"{seen}/cert.pem"],
                              capture_output=True, text=True).stdout
        return {"job": job, "files": store_files(h.store_dir),
                "rsa": "rsaEncryption" in text, "text": text[:300]}
    obs = run_both(scenario)
    assert_same_job(obs)
    assert not [f for f in obs[OURS]["files"] if f.startswith("challenges/")]
    assert obs[REF]["rsa"] == obs[OURS]["rsa"], obs
    assert obs[OURS]["rsa"], obs[OURS]["text"]


# --- a store shared with the reference -------------------------------------------------------

def alpn_cert(h, name):
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{h.https_port}",
                        "-servername", name, "-alpn", "acme-tls/1"],
                       input="", capture_output=True, text=True, timeout=20)
    return p.stdout


@pytest.mark.parametrize("key", [None, "P-256"], ids=["rsa", "p256"])
def test_challenges_of_the_reference_are_answered_by_ours(httpd, pebble_for, key):
    """The reference sets up http-01 and tls-alpn-01 answers (its challenge-setup message
    fails, so they stay), ours answers both from the same store."""
    need_reference()
    name = f"shared-chall-{key or 'rsa'}.mdtest.org".lower()
    ref = httpd(md_module=DEBIAN_MOD_MD)
    pb = pebble_for(ref)
    extra = (f"MDPrivateKeys {key}\n" if key else "") + "MDMessageCmd @CMD@\n"
    ref.write_conf(md_conf(pb, ref) + extra.replace("@CMD@", script(ref, 'case "$1" in challenge-setup*) exit 3;; esac'))
                   + f"<MDomain {name}>\n  MDCAChallenges tls-alpn-01 http-01\n</MDomain>\n"
                   + ref.ssl_vhost(name, extra="  Protocols http/1.1 acme-tls/1\n") + ref.http_vhost(name))
    ref.start()
    chall = os.path.join(ref.store_dir, "challenges", name)
    wait_for(lambda: os.path.isdir(chall) and [f for f in os.listdir(chall) if "tls-alpn" in f],
             what="the reference's tls-alpn-01 answer")
    ref.stop()
    files = sorted(os.listdir(chall))

    ours = httpd()
    ours.http_port, ours.https_port = ref.http_port, ref.https_port
    ours.write_conf(md_conf(pb, ours) + f"MDStoreDir {ref.store_dir}\nMDRenewMode manual\n"
                    + f"<MDomain {name}>\n  MDCAChallenges tls-alpn-01 http-01\n</MDomain>\n"
                    + ours.ssl_vhost(name, extra="  Protocols http/1.1 acme-tls/1\n") + ours.http_vhost(name))
    ours.start()
    assert sorted(os.listdir(chall)) == files
    out = alpn_cert(ours, name)
    assert "ALPN protocol: acme-tls/1" in out, out
    served = subprocess.run(["openssl", "x509", "-noout", "-text"], input=out, capture_output=True,
                            text=True).stdout
    assert "1.3.6.1.5.5.7.1.31" in served or "acmeIdentifier" in served, served
    for f in files:
        st = os.stat(os.path.join(chall, f))
        if "privkey" not in f:
            assert st.st_mode & 0o004, f"{f} is not readable by httpd's children"
    if "acme-http-01.txt" in files:
        data = open(os.path.join(chall, "acme-http-01.txt")).read()
        token = data.split(".")[0]
        status, _, body = ours.curl(f"/.well-known/acme-challenge/{token}", host=name)
        assert status == 200 and body == data, (status, body)


@pytest.mark.parametrize("first", [REF, OURS])
def test_store_shared_both_ways(httpd, pebble_for, first):
    """A store written by one module (RSA and P-256 certificates) is served by the other
    without a new order and without losing a key; md.json fields written by one are kept."""
    need_reference()
    name = f"shared-{first}.mdtest.org"
    mods = {REF: DEBIAN_MOD_MD, OURS: MOD_MD}
    second = OURS if first == REF else REF
    a = httpd(md_module=mods[first])
    pb = pebble_for(a)
    conf = lambda h: (md_conf(pb, h) + "MDPrivateKeys RSA P-256\nMDRenewWindow 10d\n"
                      + f"MDStoreDir {a.store_dir}\nMDomain {name}\n" + h.ssl_vhost(name) + h.http_vhost(name))
    a.write_conf(conf(a))
    a.start()
    wait_staged(a, name)
    time.sleep(0.5)
    a.graceful()
    a.stop()
    dom = os.path.join(a.store_dir, "domains", name)
    before = {f: open(os.path.join(dom, f)).read() for f in os.listdir(dom) if f.endswith(".pem")}
    md_before = read_json(os.path.join(dom, "md.json"))
    assert {"privkey.pem", "pubcert.pem", "privkey.p-256.pem", "pubcert.p-256.pem"} <= set(before), before

    b = httpd(md_module=mods[second])
    b.http_port, b.https_port = a.http_port, a.https_port
    b.write_conf(conf(b))
    b.start()
    time.sleep(3)
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    for sigalgs in ("ECDSA+SHA256", "RSA+SHA256:RSA-PSS+SHA256"):
        rc, out = verify_served(b, name, root, extra=["-sigalgs", sigalgs, "-tls1_2"])
        assert rc == 0 and "Verify return code: 0 (ok)" in out, out
    assert not os.path.exists(os.path.join(b.store_dir, "staging", name, "job.json")) \
        or not job_of(b, name).get("finished"), "a new certificate was ordered"
    after = {f: open(os.path.join(dom, f)).read() for f in os.listdir(dom) if f.endswith(".pem")}
    for f in ("privkey.pem", "pubcert.pem", "privkey.p-256.pem", "pubcert.p-256.pem"):
        assert after.get(f) == before[f], f"{f} changed or lost"
    md_after = read_json(os.path.join(dom, "md.json"))
    for k in ("ca", "renew-window", "contacts", "privkey"):
        assert md_after.get(k) == md_before.get(k), (k, md_before.get(k), md_after.get(k))


# --- driver: rename, new key type, EAB accounts, corrupt staging ----------------------------

def test_md_rename_takes_over(run_both):
    """MDomain renamed (same domain names, another first name): the stored certificate is
    taken over, nothing is ordered."""
    old, new = "rename-a.mdtest.org", "rename-b.mdtest.org"

    def scenario(h, pb):
        start_md(h, pb, old, domains=[old, new])
        wait_staged(h, old)
        h.graceful()
        h.stop()
        h.write_conf(md_conf(pb, h) + f"MDomain {new} {old}\n" + h.ssl_vhost(new, aliases=[old])
                     + h.http_vhost(new, aliases=[old]))
        h.start()
        time.sleep(4)
        root = pb.write_root(os.path.join(pb.dir, "root.pem"))
        rc, out = verify_served(h, new, root)
        return {"served": rc == 0 and "Verify return code: 0 (ok)" in out,
                "files": store_files(h.store_dir, groups=("domains", "staging", "archive")),
                "ordered": bool(job_of(h, new))}
    obs = run_both(scenario)
    if os.environ.get("COMPAT_DUMP"):
        json.dump(obs, open(os.environ["COMPAT_DUMP"], "w"), indent=1)
    assert obs[OURS]["served"] == obs[REF]["served"], obs
    assert obs[OURS]["ordered"] == obs[REF]["ordered"], obs
    only_ref, only_ours = only_diff(obs[REF]["files"], obs[OURS]["files"])
    assert not only_ref and not only_ours, (only_ref, only_ours)


def test_added_key_type_keeps_existing_certificate(run_both):
    name = "addkey.mdtest.org"

    def scenario(h, pb):
        start_md(h, pb, name)
        wait_staged(h, name)
        h.graceful()
        root = pb.write_root(os.path.join(pb.dir, "root.pem"))
        h.write_conf(md_conf(pb, h) + f"MDPrivateKeys RSA P-256\nMDomain {name}\n"
                     + h.ssl_vhost(name) + h.http_vhost(name))
        h.graceful()
        rc, out = verify_served(h, name, root, extra=["-sigalgs", "RSA+SHA256:RSA-PSS+SHA256", "-tls1_2"])
        rsa_ok = rc == 0 and "Verify return code: 0 (ok)" in out
        job = wait_staged(h, name)
        return {"rsa_served": rsa_ok, "job": job,
                "staged": store_files(h.store_dir, groups=("staging",))}
    obs = run_both(scenario)
    if os.environ.get("COMPAT_DUMP"):
        json.dump(obs, open(os.environ["COMPAT_DUMP"], "w"), indent=1)
    assert obs[REF]["rsa_served"], "the reference serves the RSA certificate meanwhile"
    assert obs[OURS]["rsa_served"], "ours must keep serving the RSA certificate meanwhile"
    only_ref, only_ours = only_diff(obs[REF]["staged"], obs[OURS]["staged"])
    assert not only_ref and not only_ours, (only_ref, only_ours)


def test_eab_accounts_kept_apart(run_both):
    """Two MDs with different EAB kids get two accounts, an MD without EAB none of theirs."""
    run_both.pebble_config = {"externalAccountBindingRequired": True,
                              "externalAccountMACKeys": EAB_KEYS}
    names = ["eab-1.mdtest.org", "eab-2.mdtest.org", "eab-3.mdtest.org"]

    def scenario(h, pb):
        conf = md_conf(pb, h)
        for n, kid in zip(names, ("kid-1", "kid-2", "kid-1")):
            conf += f"<MDomain {n}>\n  MDExternalAccountBinding {kid} {EAB_KEYS[kid]}\n</MDomain>\n"
            conf += h.ssl_vhost(n) + h.http_vhost(n)
        h.write_conf(conf)
        h.start()
        for n in names:
            wait_staged(h, n)
        h.graceful()
        accts = {}
        for n in names:
            accts[n] = read_json(os.path.join(h.store_dir, "domains", n, "md.json"))["ca"].get("account")
        return {"accounts": accts, "n": len(os.listdir(os.path.join(h.store_dir, "accounts")))}
    obs = run_both(scenario)
    for which in (REF, OURS):
        a = obs[which]["accounts"]
        assert a[names[0]] == a[names[2]] != a[names[1]], (which, a)
    assert obs[OURS]["n"] == obs[REF]["n"], obs


def test_corrupt_staged_md_json_is_not_activated(run_both):
    name = "corrupt.mdtest.org"

    def scenario(h, pb):
        start_md(h, pb, name)
        wait_staged(h, name)
        h.stop()
        with open(os.path.join(h.store_dir, "staging", name, "md.json"), "w") as f:
            f.write("{ not json")
        h.start()
        time.sleep(3)
        job = wait_staged(h, name, timeout=40)
        return {"active": store_files(h.store_dir, groups=("domains",)), "job": job,
                "log": h.log()}
    obs = run_both(scenario)
    only_ref, only_ours = only_diff(obs[REF]["active"], obs[OURS]["active"])
    assert not only_ref and not only_ours, (only_ref, only_ours)
    assert not [f for f in obs[OURS]["active"] if f.endswith("/pubcert.pem")], obs[OURS]["active"]


def test_stale_challenges_removed_at_start(run_both):
    """challenges/* of no configured MD go at start-up; a configured MD's stay until used."""
    name = "stale-chall.mdtest.org"

    def scenario(h, pb):
        for d in ("gone.mdtest.org", name):
            os.makedirs(os.path.join(h.store_dir, "challenges", d), exist_ok=True)
            with open(os.path.join(h.store_dir, "challenges", d, "acme-http-01.txt"), "w") as f:
                f.write("token.thumbprint")
        h.write_conf(md_conf(pb, h) + f"MDRenewMode manual\nMDomain {name}\n"
                     + h.ssl_vhost(name) + h.http_vhost(name))
        h.start()
        time.sleep(1)
        return {"files": store_files(h.store_dir, groups=("challenges",))}
    obs = run_both(scenario)
    assert obs[OURS]["files"] == obs[REF]["files"], obs
    assert not [f for f in obs[OURS]["files"] if "gone" in f], obs
