"""ctauditscts: inclusion proofs from a real (test) RFC 6962 log, checked by the tool."""
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from httpd import TOP_BUILDDIR, free_port  # noqa: E402
from ct_fixtures import (CtLog, Pki, audit_record, leaf_hash_precert, make_sct,  # noqa: E402
                         new_key, now_ms, write)

CTAUDITSCTS = os.path.join(TOP_BUILDDIR, "support", "ctauditscts")
CTLOGCONFIG = os.path.join(TOP_BUILDDIR, "support", "ctlogconfig")


@pytest.fixture
def setup(tmp_path):
    pki = Pki(str(tmp_path / "pki"))
    log = CtLog()
    audit = tmp_path / "audit"
    audit.mkdir()
    yield pki, log, str(audit), str(tmp_path)
    log.stop()


def run(args):
    p = subprocess.run([CTAUDITSCTS] + args, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def sct_lines(out):
    return [l.strip() for l in out.splitlines() if l.strip().startswith("SCT ")]


def test_included_pending_and_embedded(setup):
    pki, log, audit, d = setup
    c1 = pki.leaf("one.test")[0]
    s1 = log.submit(c1)
    for _ in range(6):                      # a tree with a few more leaves
        log.submit(pki.leaf("filler.test")[0])
    log.hold_back = True
    c2 = pki.leaf("two.test")[0]
    s2 = log.submit(c2)                     # accepted, not merged yet
    c3, _, _ = pki.leaf("emb.test", embed_log_keys=[log.key])
    ikh, tbs, ts, (s3,) = pki.last_precert
    log.add_leaf(leaf_hash_precert(ikh, tbs, ts))
    write(os.path.join(audit, "audit_1.out"),
          audit_record("k1", [c1, pki.inter], [s1]) + audit_record("k2", [c2, pki.inter], [s2])
          + audit_record("k3", [c3, pki.inter], [s3]))
    keyfile = log.write_key(os.path.join(d, "log.pem"))
    rc, out = run(["-l", f"{keyfile}={log.url}", audit])
    lines = sct_lines(out)
    assert len(lines) == 3, out
    assert ": included (leaf 0 of 8)" in lines[0], out
    assert "not yet included" in lines[1], out
    assert ": included (leaf 8 of 9)" in lines[2] or ": included" in lines[2], out
    assert rc == 0, out
    # once merged, the pending one is included too; via the log DB this time
    log.merge()
    db = os.path.join(d, "logs.db")
    subprocess.run([CTLOGCONFIG, db, "configure-public-key", keyfile], check=True)
    lid = [l.split(":", 1)[1].strip() for l in subprocess.run(
        [CTLOGCONFIG, db, "dump"], capture_output=True, text=True).stdout.splitlines()
        if "Log id" in l][0]
    subprocess.run([CTLOGCONFIG, db, "configure-url", lid, log.url], check=True)
    rc, out = run([audit, db])
    assert rc == 0, out
    assert all(": included" in l for l in sct_lines(out)), out


def test_not_found_unknown_unreachable_truncated(setup):
    pki, log, audit, d = setup
    c1 = pki.leaf("one.test")[0]
    s1 = log.submit(c1)
    c2 = pki.leaf("two.test")[0]
    old = make_sct(log.key, c2, ts=now_ms() - 3 * 86400 * 1000)   # never logged, old
    stranger = make_sct(new_key(), c2)
    good = audit_record("k1", [c1, pki.inter], [s1])
    write(os.path.join(audit, "audit_1.out"),
          good + audit_record("k2", [c2, pki.inter], [old, stranger]))
    keyfile = log.write_key(os.path.join(d, "log.pem"))
    rc, out = run(["-l", f"{keyfile}={log.url}", audit])
    lines = sct_lines(out)
    assert rc == 2, out
    assert ": included" in lines[0]
    assert ": not found" in lines[1], out
    assert ": unknown log" in lines[2], out
    # truncated in the middle of a record: reported, the complete part still audited
    write(os.path.join(audit, "audit_1.out"), good + audit_record("k2", [c2], [old])[:-9])
    rc, out = run(["-l", f"{keyfile}={log.url}", audit])
    assert rc == 2 and "truncated" in out, out
    assert len(sct_lines(out)) == 1 and ": included" in sct_lines(out)[0], out
    # a log that does not answer
    write(os.path.join(audit, "audit_1.out"), good)
    rc, out = run(["-t", "2", "-l", f"{keyfile}=http://127.0.0.1:{free_port()}/", audit])
    assert rc == 2 and ": log unreachable" in out, out
    rc, out = run(["-l", f"{keyfile}={log.url}", audit])
    assert rc == 0, out


def test_tampered_tree_head_or_proof(setup):
    pki, log, audit, d = setup
    c1 = pki.leaf("one.test")[0]
    s1 = log.submit(c1)
    log.submit(pki.leaf("x.test")[0])
    write(os.path.join(audit, "audit_1.out"), audit_record("k1", [c1, pki.inter], [s1]))
    keyfile = log.write_key(os.path.join(d, "log.pem"))
    orig = log.proof

    def bad_proof(h, size):
        code, r = orig(h, size)
        if code == 200:
            r["audit_path"] = [r["audit_path"][0][::-1]]
        return code, r
    log.proof = bad_proof
    rc, out = run(["-l", f"{keyfile}={log.url}", audit])
    assert rc == 2 and "invalid proof" in sct_lines(out)[0], out
    log.proof = orig
    # a tree head signed by another key is refused
    other = write(os.path.join(d, "other.pem"), open(keyfile).read())
    log.key, real = new_key(), log.key
    rc, out = run(["-l", f"{other}={log.url}", audit])
    log.key = real
    assert rc == 2, out


def test_signature_checked_before_inclusion_and_future_fails(setup):
    """An SCT whose signature does not verify, or whose timestamp lies in the future, is a
    failure with a line of its own, never 'not yet included'."""
    pki, log, audit, d = setup
    c1 = pki.leaf("one.test")[0]
    s1 = log.submit(c1)
    keyfile = log.write_key(os.path.join(d, "log.pem"))
    future = make_sct(log.key, c1, ts=now_ms() + 3600 * 1000)        # signed by the log
    forged = bytearray(make_sct(log.key, c1, ts=now_ms() + 3600 * 1000))
    forged[-1] ^= 1                                                   # not signed by it
    recent_forged = bytearray(make_sct(log.key, c1, ts=now_ms() - 1000))
    recent_forged[-1] ^= 1
    wrong_cert = make_sct(log.key, pki.leaf("other.test")[0], ts=now_ms() - 1000)
    write(os.path.join(audit, "audit_1.out"),
          audit_record("k1", [c1, pki.inter], [s1, future, bytes(forged), bytes(recent_forged),
                                                wrong_cert]))
    rc, out = run(["-l", f"{keyfile}={log.url}", audit])
    lines = sct_lines(out)
    assert rc == 2, out
    assert ": included" in lines[0], out
    assert ": timestamp in the future (the log signed a time 3600 s ahead" in lines[1], out
    assert ": invalid signature" in lines[2], out
    assert ": invalid signature" in lines[3], out
    assert ": invalid signature" in lines[4], out
    assert "1 timestamp in the future" in out and "3 invalid signature" in out, out
    # the good one alone passes
    write(os.path.join(audit, "audit_1.out"), audit_record("k1", [c1, pki.inter], [s1]))
    assert run(["-l", f"{keyfile}={log.url}", audit])[0] == 0


@pytest.mark.parametrize("algs", [(2, 3), (4, 1), (4, 0)], ids=["sha1", "rsa", "anon"])
def test_tree_head_algorithm_bytes_checked(setup, algs):
    """A tree head whose DigitallySigned struct names another hash or signature algorithm
    than sha256 with the log's key type is refused, even if the signature bytes verify."""
    import base64
    pki, log, audit, d = setup
    c1 = pki.leaf("one.test")[0]
    s1 = log.submit(c1)
    write(os.path.join(audit, "audit_1.out"), audit_record("k1", [c1, pki.inter], [s1]))
    keyfile = log.write_key(os.path.join(d, "log.pem"))
    orig = log.sth

    def relabelled():
        r = orig()
        sig = base64.b64decode(r["tree_head_signature"])
        r["tree_head_signature"] = base64.b64encode(bytes(algs) + sig[2:]).decode()
        return r
    log.sth = relabelled
    rc, out = run(["-l", f"{keyfile}={log.url}", audit])
    assert rc == 2, out
    assert "hash algorithm %d and signature algorithm %d" % algs in out, out
    log.sth = orig
    assert run(["-l", f"{keyfile}={log.url}", audit])[0] == 0


def test_record_keys_printed_escaped(setup):
    pki, log, audit, d = setup
    c1 = pki.leaf("one.test")[0]
    s1 = log.submit(c1)
    keyfile = log.write_key(os.path.join(d, "log.pem"))
    write(os.path.join(audit, "audit_1.out"),
          audit_record("k\x1b[2J\nSCT 1: forged: included", [c1, pki.inter], [s1]))
    p = subprocess.run([CTAUDITSCTS, "-l", f"{keyfile}={log.url}", audit], capture_output=True,
                       timeout=60)
    out = p.stdout.decode()
    assert p.returncode == 0, out
    assert b"\x1b" not in p.stdout
    assert "certificate k\\x1b[2J\\x0aSCT 1: forged: included (CN=one.test)" in out, out
    assert len(sct_lines(out)) == 1, out


def test_usage_errors():
    rc, out = run([])
    assert rc == 1 and "usage" in out
    rc, out = run(["-x", "/tmp"])
    assert rc == 1
