#!/usr/bin/env python3
"""Start-up cost of many managed domains: ours vs Debian's mod_md vs plain mod_ssl.

For N MDs (one https vhost each) it measures, in one run and on the same machine:
  - first start (empty store: fallback keys/certs are created),
  - warm start (store exists),
  - the parent's resident memory after start, and per MD over plain mod_ssl,
and prints the figures side by side with the ratios ours/Debian.

    bench/startup.py [--mds 1000] [--ref-mds N] [--builddir _build]

Debian's module creates an RSA-2048 fallback key per MD (~0.2 s each), so its first start
with 1000 MDs takes minutes; --ref-mds runs it with fewer MDs and scales linearly (marked).
"""
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))


def make_conf(h, n, module):
    lines = ["MDCertificateAuthority https://127.0.0.1:1/dir", "MDCertificateAgreement accepted",
             "MDRenewMode manual"]
    cert = os.path.join(h.dir, "plain.pem")
    if module is None and not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", cert, "-out", cert,
                        "-days", "2", "-subj", "/CN=bench"], check=True, capture_output=True)
    for i in range(n):
        name = f"md{i}.bench.example.org"
        if module is not None:
            lines.append(f"MDomain {name}")
        extra = f"  SSLCertificateFile {cert}\n" if module is None else ""
        lines.append(h.ssl_vhost(name, aliases=[f"www.{name}"], extra=extra))
    h.write_conf("\n".join(lines))


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def timed_start(h):
    t0 = time.monotonic()
    h.start(timeout=3600)
    while "resuming normal operations" not in h.log():
        time.sleep(0.02)
    dt = time.monotonic() - t0
    time.sleep(0.5)
    mem = rss_kb(h.pid())
    h.stop()
    return dt, mem


def run(label, module, n):
    from httpd import Httpd
    h = Httpd(name=f"bench-{label}", md_module=module)
    h.BASE_MODULES = ["mpm_event", "authz_core", "ssl", "socache_shmcb", "mime"]
    try:
        make_conf(h, n, module)
        first = timed_start(h)
        warm = timed_start(h)
        return {"first": first[0], "warm": warm[0], "rss": warm[1], "n": n}
    finally:
        h.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mds", type=int, default=1000)
    ap.add_argument("--ref-mds", type=int, default=200,
                    help="MDs for Debian's mod_md (its first start is slow); scaled to --mds")
    ap.add_argument("--builddir", default=os.environ.get("top_builddir", os.path.join(HERE, "..", "_build")))
    args = ap.parse_args()
    os.environ["top_builddir"] = os.path.abspath(args.builddir)
    import httpd as H
    H.MOD_MD = os.path.join(os.path.abspath(args.builddir), "mod_md", ".libs", "mod_md.so")

    n = args.mds
    plain = run("plain", None, n)
    ours = run("ours", H.MOD_MD, n)
    ref = run("debian", H.DEBIAN_MOD_MD, min(n, args.ref_mds))
    scale = n / ref["n"]
    ref_first = ref["first"] * scale
    print(f"start-up with {n} managed domains (Debian's measured with {ref['n']}, "
          f"times scaled x{scale:g} where marked *)")
    print(f"{'':28}{'ours':>12}{'Debian':>12}{'plain ssl':>12}{'ours/Debian':>13}")
    print(f"{'first start (s)':28}{ours['first']:12.2f}{ref_first:11.2f}{'*' if scale != 1 else ' '}"
          f"{plain['first']:12.2f}{ours['first'] / ref_first:13.3f}")
    ref_warm = ref["warm"] * scale
    print(f"{'warm start (s)':28}{ours['warm']:12.2f}{ref_warm:11.2f}{'*' if scale != 1 else ' '}"
          f"{plain['warm']:12.2f}{ours['warm'] / ref_warm:13.3f}")
    print(f"{'warm start over plain (s)':28}{ours['warm'] - plain['warm']:12.2f}"
          f"{ref_warm - plain['warm'] * (ref['n'] / n if scale != 1 else 1):12.2f}")
    ours_per = (ours["rss"] - plain["rss"]) / n
    ref_plain_rss = plain["rss"]  # same binary and base config
    ref_per = (ref["rss"] - ref_plain_rss * (1 if scale == 1 else 1)) / ref["n"] if scale == 1 else None
    print(f"{'parent RSS (MB)':28}{ours['rss'] / 1024:12.1f}{ref['rss'] / 1024:12.1f}"
          f"{plain['rss'] / 1024:12.1f}")
    print(f"{'RSS per MD over plain (KB)':28}{ours_per:12.1f}"
          f"{(ref_per if ref_per is not None else float('nan')):12.1f}")


if __name__ == "__main__":
    main()
