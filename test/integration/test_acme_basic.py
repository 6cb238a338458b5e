"""mod_md obtains certificates from a real ACME CA (pebble) and serves them after a
graceful restart; the served chain verifies against pebble's root."""
import json
import os
import time

import pytest

from pebble import (pebble_for, md_conf, wait_staged, verify_served, read_job,  # noqa: F401
                    md_status, md_status_location)


def issue_and_verify(h, pb, name):
    wait_staged(h, name)
    h.graceful()
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    rc, out = verify_served(h, name, root)
    assert rc == 0 and "Verify return code: 0 (ok)" in out, out
    return out


def test_http01_certificate_served_after_graceful(httpd, pebble_for):
    h = httpd()
    pb = pebble_for(h)
    name = "one.mdtest.org"
    h.write_conf(md_conf(pb, h, "MDCAChallenges http-01\n") + f"MDomain {name} www.{name}\n"
                 + h.ssl_vhost(name, aliases=[f"www.{name}"]) + h.http_vhost(name))
    h.start()
    # before the certificate: the fallback is served, which does not verify
    rc, out = verify_served(h, name, pb.write_root(os.path.join(pb.dir, "root.pem")))
    assert rc != 0
    issue_and_verify(h, pb, name)
    # activation moved the set: domains/ holds it, staging/ is gone, job log says installed
    assert os.path.exists(os.path.join(h.store_dir, "domains", name, "pubcert.pem"))
    assert not os.path.exists(os.path.join(h.store_dir, "staging", name))
    job = read_job(h, name, "domains")
    assert job["log"]["entries"][0]["type"] == "installed"
    accounts = os.listdir(os.path.join(h.store_dir, "accounts"))
    assert len(accounts) == 1 and accounts[0].startswith("ACME-127.0.0.1-"), accounts
    with open(os.path.join(h.store_dir, "domains", name, "md.json")) as f:
        assert json.load(f)["ca"]["account"] == accounts[0]


def write_script(h, name, body):
    path = h.path(name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


def event_log(h):
    path = h.path("events.log")
    if not os.path.exists(path):
        open(path, "w").close()
        os.chmod(path, 0o666)
    return path


def read_events(h):
    with open(event_log(h)) as f:
        return [line.strip() for line in f if line.strip()]


@pytest.mark.parametrize("explicit", [True, False], ids=["explicit", "detected"])
def test_tls_alpn01_and_two_key_types(httpd, pebble_for, explicit):
    """tls-alpn-01 (no http port mapped; named in MDCAChallenges or detected from the https
    port and 'Protocols acme-tls/1'), one certificate per MDPrivateKeys spec."""
    h = httpd()
    pb = pebble_for(h)
    name = "alpn.mdtest.org"
    challenges = "MDCAChallenges tls-alpn-01\n" if explicit else ""
    h.write_conf(md_conf(pb, h, challenges + "MDPrivateKeys secp256r1 rsa2048\n")
                 .replace(f"http:{h.http_port}", "http:-")
                 + f"MDomain {name}\n"
                 + h.ssl_vhost(name, extra="  Protocols http/1.1 acme-tls/1\n"))
    h.start()
    wait_staged(h, name)
    assert "answering the tls-alpn-01 challenge" in h.log()
    h.graceful()
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    for sigalgs, want in (("ECDSA+SHA256", "Server public key is 256 bit"),
                          ("RSA+SHA256:RSA-PSS+SHA256", "Server public key is 2048 bit")):
        rc, out = verify_served(h, name, root, extra=["-sigalgs", sigalgs, "-tls1_2"])
        assert rc == 0 and "Verify return code: 0 (ok)" in out and want in out, out
    d = os.path.join(h.store_dir, "domains", name)
    for f in ("pubcert.pem", "privkey.pem", "pubcert.secp256r1.pem", "privkey.secp256r1.pem"):
        assert os.path.exists(os.path.join(d, f)), f


@pytest.mark.parametrize("version", [1, 2])
def test_dns01_wildcard_and_events(httpd, pebble_for, version):
    """dns-01 through MDChallengeDns01 (a script that sets TXT records at pebble's DNS),
    a wildcard name, MDMessageCmd events and MDNotifyCmd, md-status of the renewal."""
    h = httpd()
    pb = pebble_for(h)
    name = "wild.mdtest.org"
    log = event_log(h)
    mgmt = f"http://127.0.0.1:{pb.chall_mgmt_port}"
    dns = write_script(h, "dns01.sh", f"""
case "$1" in
setup) curl -s -d "{{\\"host\\":\\"_acme-challenge.$2.\\",\\"value\\":\\"$3\\"}}" {mgmt}/set-txt ;;
teardown) curl -s -d "{{\\"host\\":\\"_acme-challenge.$2.\\"}}" {mgmt}/clear-txt ;;
esac
echo "dns $@" >> {log}
""")
    msg = write_script(h, "message.sh", f'echo "$@" >> {log}\n')
    notify = write_script(h, "notify.sh", f'echo "notify $@" >> {log}\n')
    h.write_conf(md_conf(pb, h, f"MDChallengeDns01 {dns}\nMDCAChallenges dns-01\n"
                         f"MDChallengeDns01Version {version}\n"
                         f"MDMessageCmd {msg} extra-arg\nMDNotifyCmd {notify}\n")
                 + f"MDomain {name} *.{name}\n"
                 + h.ssl_vhost(name, aliases=[f"*.{name}"]) + md_status_location())
    h.start()
    wait_staged(h, name)
    end = time.time() + 10      # 'renewed' and MDNotifyCmd run right after job.json is complete
    while time.time() < end and f"notify {name}" not in read_events(h):
        time.sleep(0.1)
    st = md_status(h)
    md = [m for m in st["managed-domains"] if m["name"] == name][0]
    assert md["renewal"]["finished"] is True
    assert "cert" in md["renewal"] and md["renewal"]["cert"].get("rsa")
    h.graceful()
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    rc, out = verify_served(h, f"x.{name}", root)
    assert rc == 0 and "Verify return code: 0 (ok)" in out, out
    events = read_events(h)
    assert f"extra-arg renewing {name}" in events
    assert f"extra-arg renewed {name}" in events
    assert f"extra-arg installed {name}" in events
    assert f"notify {name}" in events
    assert any(e.startswith(f"extra-arg challenge-setup:dns-01:{name}") for e in events), events
    assert any(e.startswith(f"dns setup {name} ") for e in events), events
    values = sorted(e.split()[-1] for e in events if e.startswith(f"dns setup {name} "))
    assert len(values) == 2, events      # one TXT record for the name, one for the wildcard
    if version == 1:
        assert events.count(f"dns teardown {name}") == 2, events     # version 1: no value
    else:                                # version 2: the value set up, to remove that record
        assert sorted(e.split()[-1] for e in events if e.startswith(f"dns teardown {name} ")) \
            == values, events


def test_renew_jobs_directive_is_checked(httpd):
    h = httpd()
    h.write_conf("MDRenewJobs 0\nMDomain a.mdtest.org\n" + h.ssl_vhost("a.mdtest.org"))
    rc, out = h.configtest()
    assert rc != 0 and "MDRenewJobs" in out and "0" in out, out
    h.write_conf("MDRenewJobs 4\nMDomain a.mdtest.org\n" + h.ssl_vhost("a.mdtest.org"))
    rc, out = h.configtest()
    assert rc == 0, out


def test_missing_agreement_and_mandatory_profile_are_explained(httpd, pebble_for):
    from test_acme_faults import wait_job
    h = httpd()
    pb = pebble_for(h)
    noagree, prof = "noagree.mdtest.org", "profile.mdtest.org"
    h.write_conf(md_conf(pb, h).replace("MDCertificateAgreement accepted\n", "")
                 + f"MDomain {noagree}\n"
                 + f"<MDomain {prof}>\n  MDCertificateAgreement accepted\n  MDProfile shortlived\n"
                 + "  MDContactEmail other@mdtest.org\n"
                 + "  MDProfileMandatory on\n</MDomain>\n"
                 + h.ssl_vhost(noagree) + h.ssl_vhost(prof))
    h.start()
    job = wait_job(h, noagree, lambda j: j.get("errors", 0) >= 1)
    assert "MDCertificateAgreement accepted" in job["last"]["detail"], job["last"]
    assert "terms of service" in job["last"]["detail"]
    job = wait_job(h, prof, lambda j: j.get("errors", 0) >= 1)
    assert "MDProfile shortlived" in job["last"]["detail"], job["last"]


def test_store_lock_delays_activation(httpd, pebble_for):
    """MDStoreLocks: while another server holds the store lock, the staged set waits."""
    import fcntl
    h = httpd()
    pb = pebble_for(h)
    name = "locked.mdtest.org"
    h.write_conf(md_conf(pb, h, "MDStoreLocks 1s\n") + f"MDomain {name}\n"
                 + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    wait_staged(h, name)
    with open(os.path.join(h.store_dir, "store.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        h.graceful()
        assert "the store is locked by another server" in h.log()
        assert os.path.exists(os.path.join(h.store_dir, "staging", name, "pubcert.pem"))
    h.graceful()
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    rc, out = verify_served(h, name, root)
    assert rc == 0 and "Verify return code: 0 (ok)" in out, out


def test_job_log_shows_progress(httpd, pebble_for):
    """job.json (and md-status/NAME) tells what the renewal did, step by step."""
    h = httpd()
    pb = pebble_for(h)
    name = "progress.mdtest.org"
    h.write_conf(md_conf(pb, h) + f"MDomain {name}\n" + h.ssl_vhost(name) + h.http_vhost(name)
                 + md_status_location())
    h.start()
    job = wait_staged(h, name)
    entries = job["log"]["entries"]
    progress = [e["detail"] for e in entries if e["type"] == "progress"]
    assert any(p.startswith("Creating new order for") for p in progress), progress
    assert any(p.startswith("waiting for the CA to validate") for p in progress), progress
    assert any(p.startswith("downloading the certificate") for p in progress), progress
    assert [e["type"] for e in entries].index("finished") < [e["type"] for e in entries].index("starting")
    st = md_status(h, name)
    assert st["renewal"]["finished"] is True
    assert any(e["type"] == "progress" for e in st["renewal"]["log"]["entries"])


def test_expiring_event_at_most_daily(httpd, pebble_for):
    """Inside MDWarnWindow (but not MDRenewWindow) MDMessageCmd hears 'expiring', once."""
    h = httpd()
    pb = pebble_for(h)
    name = "expiring.mdtest.org"
    log = event_log(h)
    msg = write_script(h, "message.sh", f'echo "$@" >> {log}\n')
    h.write_conf(md_conf(pb, h, f"MDMessageCmd {msg}\nMDWarnWindow 3000d\nMDRenewWindow 1d\n")
                 + f"MDomain {name}\n" + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    wait_staged(h, name)
    h.graceful()
    end = time.time() + 10
    while time.time() < end and f"expiring {name}" not in read_events(h):
        time.sleep(0.1)
    assert f"expiring {name}" in read_events(h)
    assert "the certificate expires on" in h.log()
    h.graceful()
    time.sleep(1.5)
    assert read_events(h).count(f"expiring {name}") == 1, read_events(h)


def test_restart_without_mds_after_mds(httpd, pebble_for):
    """Removing every MDomain and restarting gracefully keeps the server up."""
    h = httpd()
    pb = pebble_for(h)
    name = "gone.mdtest.org"
    h.write_conf(md_conf(pb, h) + f"MDomain {name}\n" + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    wait_staged(h, name)
    h.write_conf(h.http_vhost(name))
    h.graceful()
    status, _, _ = h.curl("/.well-known/acme-challenge/x", host=name)
    assert status == 404
    status, _, body = h.curl("/", host=name)
    assert status == 200 and "hello" in body


def test_renew_mode_manual_is_left_alone(httpd, pebble_for):
    h = httpd()
    pb = pebble_for(h)
    manual, auto = "manual.mdtest.org", "auto.mdtest.org"
    h.write_conf(md_conf(pb, h) + f"<MDomain {manual}>\n  MDRenewMode manual\n</MDomain>\n"
                 + f"MDomain {auto}\n" + h.ssl_vhost(manual) + h.ssl_vhost(auto) + h.http_vhost(auto))
    h.start()
    wait_staged(h, auto)
    time.sleep(0.5)
    assert read_job(h, manual) is None
    assert f"MDomain {manual}: no renewal now: MDRenewMode manual" in h.log()


def test_p384_and_rsa3072(httpd, pebble_for):
    h = httpd()
    pb = pebble_for(h)
    name = "keys.mdtest.org"
    h.write_conf(md_conf(pb, h, "MDPrivateKeys secp384r1 RSA 3072\n") + f"MDomain {name}\n"
                 + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    wait_staged(h, name)
    h.graceful()
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    for sigalgs, want in (("ECDSA+SHA384:ECDSA+SHA256", "Server public key is 384 bit"),
                          ("RSA+SHA256:RSA-PSS+SHA256", "Server public key is 3072 bit")):
        rc, out = verify_served(h, name, root, extra=["-sigalgs", sigalgs, "-tls1_2"])
        assert rc == 0 and "Verify return code: 0 (ok)" in out and want in out, out
    assert os.path.exists(os.path.join(h.store_dir, "domains", name, "pubcert.secp384r1.pem"))
