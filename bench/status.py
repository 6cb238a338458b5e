#!/usr/bin/env python3
"""Status pages with many managed domains: ours vs Debian's mod_md, same config, one run.

With N MDs (default 10,000), prints the time to serve /md-status, /server-status?auto and
/server-status (median of --rounds requests), apache2's warm start time and its parent's
memory, for our module and Debian's, side by side with ratios; plain mod_ssl gives the
start-up baseline. Debian's module would spend ~0.2 s per MD creating RSA fallback keys at
its first start; it is started on the store our module created (it reuses those fallback
files), so that only warm starts are compared.

    bench/status.py [--mds 10000] [--rounds 5] [--builddir _build]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import time

from benchlib import H, server, timed_start, use_builddir, write_conf, HERE

PAGES = ["/md-status", "/server-status?auto", "/server-status"]
EXTRA = """<Location /md-status>
  SetHandler md-status
</Location>
<Location /server-status>
  SetHandler server-status
</Location>
"""


def page_times(h, rounds):
    out = {}
    for page in PAGES:
        times = []
        for _ in range(rounds):
            t0 = time.monotonic()
            p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                f"http://127.0.0.1:{h.http_port}{page}"],
                               capture_output=True, text=True, timeout=600)
            times.append(time.monotonic() - t0)
            assert p.stdout == "200", (page, p.stdout)
        out[page] = statistics.median(times)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mds", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--builddir", default=os.environ.get("top_builddir", os.path.join(HERE, "..", "_build")))
    args = ap.parse_args()
    ours_mod = use_builddir(args.builddir)
    n = args.mds

    plain = server("plain", None)
    write_conf(plain, n, None)
    plain_start, plain_rss = timed_start(plain)
    plain.cleanup()

    h = server("status", ours_mod)
    try:
        write_conf(h, n, ours_mod, EXTRA)
        first, _ = timed_start(h)
        warm, rss = timed_start(h, keep=True)
        ours = {"first": first, "warm": warm, "rss": rss, "pages": page_times(h, args.rounds)}
        h.stop()
        # Debian's module on the same server root and store (fallbacks reused)
        h.md_module = H.DEBIAN_MOD_MD
        write_conf(h, n, H.DEBIAN_MOD_MD, EXTRA)
        timed_start(h)
        warm, rss = timed_start(h, keep=True)
        ref = {"warm": warm, "rss": rss, "pages": page_times(h, args.rounds)}
        h.stop()
    finally:
        h.cleanup()

    print(f"{n} managed domains; page times are the median of {args.rounds} requests")
    print(f"{'':34}{'ours':>10}{'Debian':>10}{'ours/Debian':>13}")
    for page in PAGES:
        o, r = ours["pages"][page], ref["pages"][page]
        print(f"{'GET ' + page + ' (s)':34}{o:10.3f}{r:10.3f}{o / r:13.3f}")
    print(f"{'warm start (s)':34}{ours['warm']:10.2f}{ref['warm']:10.2f}{ours['warm'] / ref['warm']:13.3f}")
    print(f"{'warm start over plain mod_ssl (s)':34}{ours['warm'] - plain_start:10.2f}"
          f"{ref['warm'] - plain_start:10.2f}")
    print(f"{'first start, ours (s)':34}{ours['first']:10.2f}")
    print(f"{'parent RSS (MB)':34}{ours['rss'] / 1024:10.1f}{ref['rss'] / 1024:10.1f}"
          f"{ours['rss'] / ref['rss']:13.3f}")
    print(f"{'RSS per MD over plain (KB)':34}{(ours['rss'] - plain_rss) / n:10.1f}"
          f"{(ref['rss'] - plain_rss) / n:10.1f}")


if __name__ == "__main__":
    main()
