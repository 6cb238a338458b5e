#!/usr/bin/python3
"""Cost of OCSP stapling on the handshake path: ours vs Debian's mod_md vs plain mod_ssl.

Three apache2 servers with the same certificate (a leaf of a private CA whose AIA points at
the responder fixture of test/integration/ocsp_responder.py) run side by side:
  ours    our mod_md, MDStapling on (certificate of an <MDomain> with MDCertificateFile)
  debian  Debian's mod_md.so, same configuration
  plain   mod_ssl alone, no stapling
A small C client (bench/stapling_client.c) does full handshakes (no resumption) that request
OCSP status on every one and counts the staples received; wrk/ab/`openssl s_time` never
request status and would not exercise stapling. The configurations are measured in many
short alternating rounds (shuffled order per round) so that drifts of a shared machine hit
all three alike. Prints handshakes/s per configuration, staple share, and the ratios.

    bench/stapling.py [--rounds 12] [--seconds 3] [--threads 2] [--key ec|rsa] [--builddir _build]
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))


def build_client(tmp):
    exe = os.path.join(tmp, "stapling_client")
    subprocess.run(["cc", "-O2", "-o", exe, os.path.join(HERE, "stapling_client.c"), "-lssl",
                    "-lcrypto", "-lpthread"], check=True)
    return exe


def make_server(label, module, leaf):
    from httpd import Httpd
    h = Httpd(name=f"bench-{label}", md_module=module)
    base = h.base_conf().replace("LogLevel warn ssl:info md:debug", "LogLevel warn") \
                        .replace("LogLevel warn ssl:info", "LogLevel warn")
    if module:
        body = ("MDCertificateAgreement accepted\nMDStapling on\n"
                f"<MDomain bench.example.org>\n  MDCertificateFile {leaf.cert_file}\n"
                f"  MDCertificateKeyFile {leaf.key_file}\n</MDomain>\n"
                + h.ssl_vhost("bench.example.org"))
    else:
        body = h.ssl_vhost("bench.example.org", extra=f"  SSLCertificateFile {leaf.cert_file}\n"
                           f"  SSLCertificateKeyFile {leaf.key_file}\n")
    with open(h.conf_path, "w") as f:
        f.write(base + body + "\n")
    h.start()
    return h


def run_client(exe, h, seconds, threads):
    p = subprocess.run([exe, "127.0.0.1", str(h.https_port), "bench.example.org", str(seconds),
                        str(threads)], capture_output=True, text=True, check=True)
    vals = dict(kv.split("=") for kv in p.stdout.split())
    return int(vals["handshakes"]), int(vals["staples"]), int(vals["errors"]), float(vals["seconds"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--key", choices=("ec", "rsa"), default="ec")
    ap.add_argument("--builddir", default=os.environ.get("top_builddir", os.path.join(HERE, "..", "_build")))
    args = ap.parse_args()
    os.environ["top_builddir"] = os.path.abspath(args.builddir)
    import httpd as harness
    from ocsp_responder import OcspResponder, TestCA

    tmp = tempfile.mkdtemp(prefix="bench-stapling-")
    exe = build_client(tmp)
    resp = OcspResponder()
    ca = TestCA(os.path.join(tmp, "ca"), resp.url)
    resp.ca = ca
    resp.start()
    leaf = ca.issue("bench.example.org", rsa_key=(args.key == "rsa"))
    os.chmod(tmp, 0o755)
    servers = {}
    try:
        servers["ours"] = make_server("ours", harness.MOD_MD, leaf)
        servers["debian"] = make_server("debian", harness.DEBIAN_MOD_MD, leaf)
        servers["plain"] = make_server("plain", None, leaf)
        # wait until both stapling servers staple, then warm every server up
        for label in ("ours", "debian"):
            end = time.time() + 30
            while time.time() < end and run_client(exe, servers[label], 0.2, 1)[1] == 0:
                time.sleep(0.3)
        for h in servers.values():
            run_client(exe, h, 1.0, args.threads)
        totals = {k: [0, 0, 0, 0.0] for k in servers}
        rates = {k: [] for k in servers}
        for r in range(args.rounds):
            order = list(servers)
            random.shuffle(order)
            for label in order:
                hs, st, err, dt = run_client(exe, servers[label], args.seconds, args.threads)
                t = totals[label]
                t[0] += hs; t[1] += st; t[2] += err; t[3] += dt
                rates[label].append(hs / dt)
            print(f"round {r + 1}/{args.rounds}: " + "  ".join(
                f"{k} {rates[k][-1]:8.1f}/s" for k in servers), flush=True)
        print()
        rate = {}
        for label, (hs, st, err, dt) in totals.items():
            rate[label] = hs / dt
            rs = sorted(rates[label])
            print(f"{label:7s} {rate[label]:9.1f} handshakes/s  (median round {rs[len(rs) // 2]:8.1f}, "
                  f"min {rs[0]:8.1f}, max {rs[-1]:8.1f})  staples {100.0 * st / max(hs, 1):5.1f}%  "
                  f"errors {err}")
        print()
        print(f"ours/debian  {rate['ours'] / rate['debian']:.3f}")
        print(f"ours/plain   {rate['ours'] / rate['plain']:.3f}")
        print(f"debian/plain {rate['debian'] / rate['plain']:.3f}")
    finally:
        for h in servers.values():
            h.cleanup()
        resp.stop()


if __name__ == "__main__":
    main()
