#!/usr/bin/env python3
"""Time to obtain certificates for N MDs from a local pebble: ours vs Debian's mod_md.

One pebble (real http-01 validation, PEBBLE_VA_NOSLEEP=1) serves both modules in the same
run, with the same configuration (RSA 2048, http-01) and the same httpd ports, one module
after the other. Measured: wall time from `apache2 -k start` until every MD is staged
(staging/<md>/job.json "finished", or the staged pubcert.pem for Debian's module).

    bench/acme_bench.py [--mds 20] [--series 1,5,20]

--series additionally runs ours for several N to show how the time grows with N.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))

from httpd import Httpd, MOD_MD, DEBIAN_MOD_MD  # noqa: E402
from pebble import Pebble  # noqa: E402


def staged(h, name):
    d = os.path.join(h.store_dir, "staging", name)
    try:
        with open(os.path.join(d, "job.json")) as f:
            if json.load(f).get("finished"):
                return True
    except (OSError, ValueError):
        pass
    return os.path.exists(os.path.join(d, "pubcert.pem")) and os.path.exists(os.path.join(d, "md.json"))


def run(module, n, ports, pb, timeout=300):
    h = Httpd(name="acme-bench", md_module=module)
    h.http_port, h.https_port = ports
    names = [f"b{i}.bench.mdtest.org" for i in range(n)]
    conf = (f"MDCertificateAuthority {pb.directory}\nMDCertificateAgreement accepted\n"
            f"MDCACertificateFile {pb.ca_file}\nMDPortMap http:{h.http_port} https:{h.https_port}\n"
            "MDCAChallenges http-01\nMDPrivateKeys RSA 2048\n"
            + "".join(f"MDomain {x}\n" for x in names)
            + "".join(h.ssl_vhost(x) for x in names)
            + h.http_vhost(names[0]))
    h.write_conf(conf)
    t0 = time.time()
    h.start()
    pending = set(names)
    while pending and time.time() - t0 < timeout:
        pending = {x for x in pending if not staged(h, x)}
        time.sleep(0.05)
    wall = time.time() - t0
    h.stop()
    ok = not pending
    if not ok:
        sys.stderr.write(f"{os.path.basename(module)}: {len(pending)} MDs not staged; log:\n"
                         f"{h.log()[-3000:]}\n")
    h.cleanup(keep=not ok)
    return wall if ok else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mds", type=int, default=20)
    ap.add_argument("--series", default="")
    args = ap.parse_args()
    probe = Httpd(name="acme-bench-ports")
    ports = (probe.http_port, probe.https_port)
    probe.cleanup()
    pb = Pebble(*ports).start()
    try:
        ours = run(MOD_MD, args.mds, ports, pb)
        ref = run(DEBIAN_MOD_MD, args.mds, ports, pb)
        print(f"{'module':<10} {'MDs':>4} {'wall s':>8} {'s/cert':>8}")
        for label, t in (("ours", ours), ("debian", ref)):
            if t is None:
                print(f"{label:<10} {args.mds:>4} {'failed':>8}")
            else:
                print(f"{label:<10} {args.mds:>4} {t:>8.2f} {t / args.mds:>8.3f}")
        if ours and ref:
            print(f"ratio ours/debian: {ours / ref:.2f}")
        if args.series:
            print("ours, growth with N:")
            for n in [int(x) for x in args.series.split(",")]:
                t = run(MOD_MD, n, ports, pb)
                print(f"  N={n:<4} wall {t:.2f} s" if t else f"  N={n:<4} failed")
    finally:
        pb.cleanup()


if __name__ == "__main__":
    main()
