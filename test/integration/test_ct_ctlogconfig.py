"""ctlogconfig: the commands, schema and dump format of docs/ctlogconfig.1."""
import hashlib
import os
import sqlite3
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from httpd import TOP_BUILDDIR  # noqa: E402
from ct_fixtures import new_key, pub_der, pub_pem, write  # noqa: E402

CTLOGCONFIG = os.path.join(TOP_BUILDDIR, "support", "ctlogconfig")
SCHEMA = ("CREATE TABLE loginfo(id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, log_id TEXT, "
          "public_key TEXT, distrusted INTEGER, min_valid_timestamp INTEGER, "
          "max_valid_timestamp INTEGER, url TEXT)")


def ctl(*args):
    p = subprocess.run([CTLOGCONFIG] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=30)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "logs.db")


def test_dump_format_and_updates(db, tmp_path):
    key = new_key()
    keyfile = write(str(tmp_path / "log.pem"), pub_pem(key))
    lid = hashlib.sha256(pub_der(key)).hexdigest().upper()
    assert ctl(db, "configure-public-key", keyfile)[0] == 0
    assert ctl(db, "configure-url", "https://log.example/ct/")[0] == 0
    # naming the log id (lower case accepted) updates its row, no duplicate
    assert ctl(db, "configure-url", lid.lower(), "http://127.0.0.1:8080/")[0] == 0
    assert ctl(db, "valid-time-range", lid, "1000", "-")[0] == 0
    assert ctl(db, "distrust", "#2")[0] == 0
    assert ctl(db, "configure-public-key", keyfile)[0] == 0       # again: same row
    rc, out, err = ctl(db, "dump")
    assert rc == 0, err
    assert out == (
        "Log entry:\n"
        "  Record 1\n"
        f"  Log id         : {lid}\n"
        f"  Public key file: {keyfile}\n"
        "  URL            : http://127.0.0.1:8080/\n"
        "  Time range     : 1000 to +INF\n"
        "\n"
        "Log entry:\n"
        "  Record 2 (DISTRUSTED)\n"
        "  Log id         : (not configured)\n"
        "  Public key file: (not configured)\n"
        "  URL            : https://log.example/ct/\n"
        "  Time range     : -INF to +INF\n"
        "\n")
    con = sqlite3.connect(db)
    rows = con.execute("SELECT id, log_id, public_key, distrusted, min_valid_timestamp, "
                       "max_valid_timestamp, url FROM loginfo ORDER BY id").fetchall()
    assert rows[0] == (1, lid, keyfile, 0, 1000, None, "http://127.0.0.1:8080/")
    assert con.execute("SELECT sql FROM sqlite_master WHERE name='loginfo'").fetchone()[0] \
        == SCHEMA
    con.close()
    assert ctl(db, "trust", "#2")[0] == 0
    assert ctl(db, "valid-time-range", "#1", "-", "-")[0] == 0
    assert ctl(db, "forget", lid)[0] == 0
    rc, out, err = ctl(db, "dump")
    assert "Record 1" not in out and "Record 2\n" in out and "-INF to +INF" in out


def test_log_id_must_match_key(db, tmp_path):
    keyfile = write(str(tmp_path / "log.pem"), pub_pem(new_key()))
    rc, out, err = ctl(db, "configure-public-key", "A" * 64, keyfile)
    assert rc != 0 and "does not match" in err


@pytest.mark.parametrize("args", [
    [], ["only-db"], ["bogus-command"], ["dump", "extra"],
    ["trust"], ["trust", "abc"], ["trust", "A" * 63], ["trust", "G" * 64], ["trust", "#x"],
    ["distrust", "#0"], ["forget"], ["valid-time-range", "A" * 64, "1"],
    ["valid-time-range", "A" * 64, "x", "-"], ["valid-time-range", "A" * 64, "5", "4"],
    ["configure-url"], ["configure-url", "A" * 64, "ftp://x/"],
    ["configure-url", "A" * 64],
    ["configure-public-key"], ["configure-public-key", "#1", "k.pem", "extra"],
])
def test_usage_errors_exit_1_on_stderr(db, args):
    rc, out, err = ctl(*([db] + args if args else []))
    assert rc == 1, (args, out, err)
    assert out == "" and "usage" in err
    assert not os.path.exists(db) or args == []


def test_runtime_errors(db, tmp_path):
    rc, out, err = ctl(db, "configure-public-key", str(tmp_path / "missing.pem"))
    assert rc == 2 and "missing.pem" in err
    junk = write(str(tmp_path / "junk.pem"), "junk\n")
    rc, out, err = ctl(db, "configure-public-key", junk)
    assert rc == 2 and "public key" in err
    rc, out, err = ctl(db, "trust", "#7")
    assert rc == 2 and "#7" in err
    wrong = str(tmp_path / "wrong.db")
    con = sqlite3.connect(wrong)
    con.execute("CREATE TABLE loginfo(x INTEGER)")
    con.commit()
    con.close()
    rc, out, err = ctl(wrong, "trust", "A" * 64)
    assert rc == 2 and "not a CT log config DB" in err
    rc, out, err = ctl(wrong, "dump")
    assert rc == 2
    # hostile text is data, never SQL
    rc, out, err = ctl(db, "configure-url", "http://x/'); DROP TABLE loginfo; --")
    assert rc == 0
    assert "DROP TABLE" in ctl(db, "dump")[1]
