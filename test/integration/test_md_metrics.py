"""md-metrics as Prometheus sees it: the live page of a real apache2 (a stapled certificate,
an MD whose renewal fails, the renewal driver running) passes `promtool check metrics`
and has the series operators alert on; the example alert rules of docs/md-alerts.yml
pass `promtool check rules` and fire (`promtool test rules`) on the series they are for."""
import os
import re
import shutil
import subprocess
import time

import pytest

from httpd import TOP_SRCDIR, free_port
from ocsp_responder import OcspResponder, TestCA

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
RULES = os.path.join(TOP_SRCDIR, "docs", "md-alerts.yml")


@pytest.fixture(autouse=True)
def need_promtool():
    if not os.access(PROMTOOL, os.X_OK):
        pytest.fail("promtool is missing (Debian package prometheus): run scripts/install-deps.sh")


def promtool(*args, stdin=None):
    p = subprocess.run([PROMTOOL] + list(args), input=stdin, capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout + p.stderr


def samples(body, family):
    """{labels-string: value} of one family's samples."""
    out = {}
    for m in re.finditer(rf"^{family}(\{{[^}}]*\}})? (\S+)$", body, re.M):
        out[m.group(1) or ""] = float(m.group(2))
    return out


@pytest.fixture
def server(httpd):
    h = httpd()
    resp = OcspResponder()
    ca = TestCA(h.path("ca"), resp.url)
    resp.ca = ca
    resp.set_mode("good")
    a = ca.issue("a.example.org")
    dead_ca = f"https://127.0.0.1:{free_port()}/directory"       # nothing listens there
    h.write_conf(
        "MDCertificateAgreement accepted\nMDRetryDelay 1s\nMDStapling on\n"
        f"<MDomain a.example.org>\n  MDCertificateFile {a.cert_file}\n"
        f"  MDCertificateKeyFile {a.key_file}\n</MDomain>\n"
        f"<MDomain fail.example.org>\n  MDCertificateAuthority {dead_ca}\n</MDomain>\n"
        + h.ssl_vhost("a.example.org") + h.ssl_vhost("fail.example.org")
        + h.http_vhost("localhost", extra="  <Location /md-metrics>\n    SetHandler md-metrics\n"
                       "  </Location>\n"))
    h.start()
    yield h
    resp.stop()


def wait_metrics(h, ready, timeout=40):
    end = time.time() + timeout
    body = ""
    while time.time() < end:
        status, _, body = h.curl("/md-metrics")
        assert status == 200, body
        if ready(body):
            return body
        time.sleep(0.5)
    raise AssertionError(f"metrics not as expected within {timeout}s:\n{body}\n{h.log()[-3000:]}")


def test_live_metrics_pass_promtool(server):
    h = server
    t0 = time.time()

    def ready(body):
        return samples(body, "mod_md_renewal_failures_total").get('{md="fail.example.org"}', 0) >= 2 \
            and samples(body, "mod_md_ocsp_staple_next_update_timestamp_seconds") \
            and samples(body, "mod_md_driver_last_check_timestamp_seconds")
    body = wait_metrics(h, ready)

    rc, out = promtool("check", "metrics", stdin=body)
    assert rc == 0 and not out.strip(), f"promtool check metrics:\n{out}\n{body}"

    # every family has HELP and TYPE; counters end in _total, nothing else does
    helps = set(re.findall(r"^# HELP (\S+) \S", body, re.M))
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", body, re.M))
    names = {m.group(1) for m in re.finditer(r"^([a-z_:]+)[{ ]", body, re.M)}
    assert names <= helps and names <= set(types), (names, helps, types)
    for name, kind in types.items():
        assert (kind == "counter") == name.endswith("_total"), (name, kind)

    # the state enumeration: one 0/1 series per state, exactly one 1 per MD
    state = samples(body, "mod_md_domain_state")
    assert set(state.values()) <= {0.0, 1.0}, state
    for md, want in (("a.example.org", "complete"), ("fail.example.org", "incomplete")):
        ones = [k for k, v in state.items() if f'md="{md}"' in k and v == 1]
        assert ones == [f'{{md="{md}",state="{want}"}}'], state
        assert sum(1 for k in state if f'md="{md}"' in k) == 6, state

    # what operators alert on
    not_after = samples(body, "mod_md_certificate_not_after_timestamp_seconds")
    assert not_after['{md="a.example.org",key_type="rsa"}'] > time.time() + 20 * 86400, not_after
    staple = samples(body, "mod_md_ocsp_staple_next_update_timestamp_seconds")
    assert staple['{md="a.example.org",key_type="rsa"}'] > time.time(), staple
    assert samples(body, "mod_md_ocsp_staple_status") == {
        '{md="a.example.org",key_type="rsa",status="good"}': 1,
        '{md="a.example.org",key_type="rsa",status="revoked"}': 0,
        '{md="a.example.org",key_type="rsa",status="unknown"}': 0}, body
    check = samples(body, "mod_md_driver_last_check_timestamp_seconds")[""]
    assert t0 - 5 <= check <= time.time() + 1, (t0, check)
    assert samples(body, "mod_md_renewal_consecutive_errors")['{md="fail.example.org"}'] >= 1
    assert samples(body, "mod_md_renewal_failures_total")['{md="a.example.org"}'] == 0

    # the counter lives in the store: a restart does not reset it
    before = samples(body, "mod_md_renewal_failures_total")['{md="fail.example.org"}']
    h.graceful()
    status, _, body = h.curl("/md-metrics")
    assert samples(body, "mod_md_renewal_failures_total")['{md="fail.example.org"}'] >= before


def test_alert_rules_check():
    rc, out = promtool("check", "rules", RULES)
    assert rc == 0 and "SUCCESS: 5 rules found" in out, out


ALERT_TESTS = """
rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      # time() starts at 0 here: a certificate ending 10 days after the epoch, another 30
      - series: 'mod_md_certificate_not_after_timestamp_seconds{{md="soon.example.org",key_type="rsa"}}'
        values: '864000x3000'
      - series: 'mod_md_certificate_not_after_timestamp_seconds{{md="later.example.org",key_type="rsa"}}'
        values: '2592000x3000'
      - series: 'mod_md_renewal_consecutive_errors{{md="soon.example.org"}}'
        values: '3x3000'
      - series: 'mod_md_renewal_consecutive_errors{{md="later.example.org"}}'
        values: '0x3000'
      - series: 'mod_md_ocsp_staple_next_update_timestamp_seconds{{md="soon.example.org",key_type="rsa"}}'
        values: '3600x3000'
      - series: 'mod_md_ocsp_staple_next_update_timestamp_seconds{{md="later.example.org",key_type="rsa"}}'
        values: '864000x3000'
      - series: 'mod_md_ocsp_staple_status{{md="soon.example.org",key_type="rsa",status="revoked"}}'
        values: '0x3000'
      - series: 'mod_md_driver_last_check_timestamp_seconds'
        values: '0x3000'
    alert_rule_test:
      - eval_time: 2h
        alertname: MDCertificateExpiresSoon
        exp_alerts:
          - exp_labels: {{severity: warning, md: soon.example.org, key_type: rsa}}
            exp_annotations:
              summary: "Certificate of soon.example.org (rsa) expires in less than 14 days"
              description: "mod_md renews at mod_md_certificate_renew_at_timestamp_seconds; see /md-status/soon.example.org for the renewal job."
      - eval_time: 23h
        alertname: MDRenewalFailing
        exp_alerts: []
      - eval_time: 25h
        alertname: MDRenewalFailing
        exp_alerts:
          - exp_labels: {{severity: warning, md: soon.example.org}}
            exp_annotations:
              summary: "Renewal of soon.example.org has been failing for more than 24 hours"
              description: "3 failed runs in a row; the last error is in /md-status/soon.example.org."
      - eval_time: 2h
        alertname: MDStapleExpired
        exp_alerts:
          - exp_labels: {{severity: critical, md: soon.example.org, key_type: rsa}}
            exp_annotations:
              summary: "The OCSP response stapled for soon.example.org (rsa) has expired"
              description: "Clients that require stapling (Must-Staple) refuse the certificate."
      - eval_time: 2h
        alertname: MDCertificateRevoked
        exp_alerts: []
      - eval_time: 20h
        alertname: MDRenewalDriverStalled
        exp_alerts: []
      - eval_time: 30h
        alertname: MDRenewalDriverStalled
        exp_alerts:
          - exp_labels: {{severity: warning}}
            exp_annotations:
              summary: "mod_md's renewal driver has not checked the managed domains for a day"
"""


def test_alert_rules_fire(tmp_path):
    """The example rules fire on the series they are written for, and only then."""
    test_file = tmp_path / "md-alerts.test.yml"
    test_file.write_text(ALERT_TESTS.format(rules=RULES))
    rc, out = promtool("test", "rules", str(test_file))
    assert rc == 0 and "SUCCESS" in out, out
