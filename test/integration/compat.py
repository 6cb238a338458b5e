"""Differential harness: one scenario, run once with Debian's mod_md (the reference) and once
with ours, on fresh ServerRoots, and what an operator sees compared.

Configuration scenarios: `configtest_both(conf)` runs `apache2 -t` with each module;
`assert_same_verdict` checks that both accept, or both refuse with our message containing the
reference's words (the phrase operators search for).

Runtime scenarios: `RunBoth` starts the reference and then ours on the same ports against the
same pebble (one at a time: pebble validates challenges on fixed ports), each with its own
ServerRoot and store, and hands each run to the scenario, which returns what it observed
(status JSON, store listing, job.json). The comparison helpers say what differs as a readable
list: key paths with their JSON types (`key_paths`), store file names (`store_files`).

Deliberate differences are listed in DELIBERATE (and in docs/mod_md.md): a comparison takes
them out before asserting, so every other difference fails the test.
"""
import json
import os
import re
import time

import pytest

from httpd import DEBIAN_MOD_MD, MOD_MD, Httpd

REF, OURS = "ref", "ours"
MODULES = {REF: DEBIAN_MOD_MD, OURS: MOD_MD}

# The deliberate differences (ours is safer), by what the harness would otherwise report.
# Each names the docs/mod_md.md line that explains it.
DELIBERATE = {
    # fallback certificates use P-256 keys (the reference: RSA 2048)
    "fallback-key": "Fallback certificates use P-256 keys",
    # accounts/ is readable by root only (the reference: 0755 directory, 0644 files)
    "accounts-mode": "accounts/ stays readable by root only",
    # values that can never work are refused at `apache2 -t` (the reference fails later)
    "refused-early": "refused at configuration time",
}


def need_reference():
    if not os.path.exists(DEBIAN_MOD_MD):
        pytest.skip("Debian's mod_md (the reference) is not installed")


# --- configuration -----------------------------------------------------------------------

def _normalise(out, h):
    return out.replace(h.dir, "<root>")


def configtest_both(conf, base=True):
    """{REF: (exit code, output), OURS: (...)} of `apache2 -t` for the same configuration.
    conf: the httpd.conf body after the common base, or a callable conf(h) -> body for
    configurations that name the server's ports or paths."""
    need_reference()
    result = {}
    for which, module in MODULES.items():
        h = Httpd(name=f"cfg-{which}", md_module=module)
        try:
            h.write_conf(conf(h) if callable(conf) else conf, base=base)
            rc, out = h.configtest()
            result[which] = (rc, _normalise(out, h))
        finally:
            h.cleanup()
    return result


def error_message(out):
    """The message of an `apache2 -t` failure: the line after 'Syntax error on line N of F:'
    (or the whole output when httpd says it another way)."""
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if "Syntax error on line" in line and i + 1 < len(lines):
            return lines[i + 1]
    return out.strip()


def assert_same_verdict(conf, phrase=None, refused_early=None):
    """Both modules accept conf, or both refuse it and our message contains the reference's
    phrase (by default its whole message line). refused_early: a value the reference accepts
    at `apache2 -t` and can never work with (a deliberate difference): ours must refuse it
    with a message containing each of the given words (the directive, the value, and the
    reference's later words where it has them)."""
    r = configtest_both(conf)
    (rrc, rout), (orc, oout) = r[REF], r[OURS]
    if refused_early is not None:
        assert rrc == 0, f"the reference refuses it too; not a deliberate difference:\n{rout}"
        assert orc != 0, f"ours accepts a value that can never work:\n{oout}"
        msg = error_message(oout)
        for word in ([refused_early] if isinstance(refused_early, str) else refused_early):
            assert word in msg, f"our message lacks {word!r}: {msg}"
        return r
    assert (rrc == 0) == (orc == 0), (
        f"the reference {'accepts' if rrc == 0 else 'refuses'} it, ours "
        f"{'accepts' if orc == 0 else 'refuses'} it\n-- reference:\n{rout}\n-- ours:\n{oout}")
    if rrc != 0:
        want = phrase or error_message(rout)
        got = error_message(oout)
        assert want in got, f"our message lacks the reference's {want!r}:\n  ours: {got}"
    return r


# --- comparing what an operator sees -----------------------------------------------------

def _type(v):
    return {dict: "object", list: "array", str: "string", bool: "bool",
            int: "number", float: "number", type(None): "null"}[type(v)]


def key_paths(obj, prefix="", rename=None):
    """{path: json type} of every value in obj; array elements share the path `name[]`, and
    object keys that are data, not names (MD names, key types given in `rename`), can be
    replaced by a placeholder through rename(path, key) -> key."""
    out = {}

    def walk(v, path):
        out[path or "."] = _type(v)
        if isinstance(v, dict):
            for k, sub in v.items():
                k = rename(path, k) if rename else k
                walk(sub, f"{path}.{k}" if path else k)
        elif isinstance(v, list):
            for sub in v:
                walk(sub, f"{path}[]")

    walk(obj, prefix)
    return out


def diff_paths(ref, ours, ignore=()):
    """A readable list of what differs between two key_paths() results: paths that only
    one side has, and paths whose types differ. ignore: regexes of paths to leave out."""
    pats = [re.compile(p) for p in ignore]

    def keep(p):
        return not any(x.search(p) for x in pats)

    lines = []
    for p in sorted(set(ref) | set(ours)):
        if not keep(p):
            continue
        if p not in ours:
            lines.append(f"only the reference has {p} ({ref[p]})")
        elif p not in ref:
            lines.append(f"only ours has {p} ({ours[p]})")
        elif ref[p] != ours[p] and "null" not in (ref[p], ours[p]):
            lines.append(f"{p}: the reference has {ref[p]}, ours {ours[p]}")
    return lines


def assert_same_paths(ref_obj, ours_obj, ignore=(), rename=None, what="JSON"):
    d = diff_paths(key_paths(ref_obj, rename=rename), key_paths(ours_obj, rename=rename), ignore)
    assert not d, (f"{what} differs from the reference's:\n  " + "\n  ".join(d) +
                   f"\n-- reference: {json.dumps(ref_obj, indent=1)[:3000]}"
                   f"\n-- ours: {json.dumps(ours_obj, indent=1)[:3000]}")


def store_files(store, groups=("md_store.json", "domains", "staging", "challenges", "archive"),
                normalise=None):
    """The sorted relative paths (directories end in '/') under the store's groups that an
    operator or a script finds. normalise(path) -> path|None rewrites or drops data-bearing
    names (None drops the path)."""
    found = set()
    for g in groups:
        top = os.path.join(store, g)
        if os.path.isfile(top):
            found.add(g)
            continue
        for d, dirs, files in os.walk(top):
            rel = os.path.relpath(d, store)
            for name in dirs:
                found.add(f"{rel}/{name}/")
            for name in files:
                found.add(f"{rel}/{name}")
    if normalise:
        found = {n for n in (normalise(p) for p in found) if n}
    return sorted(found)


def assert_same_files(ref_store, ours_store, **kw):
    ref, ours = store_files(ref_store, **kw), store_files(ours_store, **kw)
    only_ref = sorted(set(ref) - set(ours))
    only_ours = sorted(set(ours) - set(ref))
    assert not only_ref and not only_ours, (
        f"store files differ\n  only the reference: {only_ref}\n  only ours: {only_ours}")


# --- runtime scenarios -------------------------------------------------------------------

class RunBoth:
    """Runs a scenario with the reference and then ours, on the same loopback ports and the
    same pebble. Use through the `run_both` fixture:

        def test_x(run_both):
            obs = run_both(scenario)          # {REF: what scenario returned, OURS: ...}

    scenario(h, pb) writes h's configuration (pebble.md_conf(pb, h) gives the CA lines), starts
    h, waits for what it needs and returns its observations; h is stopped afterwards.
    """

    def __init__(self, httpd, pebble_for):
        self.httpd = httpd
        self.pebble_for = pebble_for
        self.pebble = None
        self.pebble_env = None        # set before the first run: pebble's environment
        self.pebble_config = None     # and extra configuration (e.g. domainBlocklist)
        self.servers = {}

    def server(self, which, **kw):
        h = self.httpd(md_module=MODULES[which], **kw)
        if self.pebble is None:
            self.pebble = self.pebble_for(h, env=self.pebble_env, config=self.pebble_config)
            self.ports = (h.http_port, h.https_port)
        h.http_port, h.https_port = self.ports
        self.servers[which] = h
        return h

    def __call__(self, scenario, order=(REF, OURS), **kw):
        need_reference()
        obs = {}
        for which in order:
            h = self.server(which, **kw)
            try:
                obs[which] = scenario(h, self.pebble)
            finally:
                h.stop()
                time.sleep(0.2)
        return obs


@pytest.fixture
def run_both(httpd, pebble_for):
    return RunBoth(httpd, pebble_for)


def wait_for(cond, timeout=60, what="the condition", interval=0.2):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def read_json(path):
    with open(path) as f:
        return json.load(f)
