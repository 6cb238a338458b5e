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

from benchlib import H, server, timed_start, use_builddir, write_conf, HERE


def run(label, module, n):
    h = server(label, module)
    try:
        write_conf(h, n, module)
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
    use_builddir(args.builddir)

    n, nr = args.mds, min(args.mds, args.ref_mds)
    rows = []
    for count in sorted({nr, n}):
        plain = run("plain", None, count)
        ours = run("ours", H.MOD_MD, count)
        ref = run("debian", H.DEBIAN_MOD_MD, count) if count == nr else None
        rows.append((count, plain, ours, ref))
    print(f"{'MDs':>6} {'':26}{'ours':>10}{'Debian':>10}{'plain ssl':>11}{'ours/Debian':>13}")
    for count, plain, ours, ref in rows:
        def line(label, key, fmt="{:10.2f}", conv=lambda v: v):
            o, p = conv(ours[key]), conv(plain[key])
            r = conv(ref[key]) if ref else None
            rs = fmt.format(r) if ref else f"{'-':>10}"
            ratio = f"{o / r:13.3f}" if ref and r else f"{'-':>13}"
            print(f"{count:6d} {label:26}{fmt.format(o)}{rs}{fmt.format(p)}{ratio}")
        line("first start (s)", "first")
        line("warm start (s)", "warm")
        over_o = ours["warm"] - plain["warm"]
        over_r = f"{ref['warm'] - plain['warm']:10.2f}" if ref else f"{'-':>10}"
        print(f"{count:6d} {'warm start over plain (s)':26}{over_o:10.2f}{over_r}")
        line("parent RSS (MB)", "rss", conv=lambda v: v / 1024)
        per_o = (ours["rss"] - plain["rss"]) / count
        per_r = f"{(ref['rss'] - plain['rss']) / count:10.1f}" if ref else f"{'-':>10}"
        print(f"{count:6d} {'RSS per MD over plain (KB)':26}{per_o:10.1f}{per_r}")


if __name__ == "__main__":
    main()
