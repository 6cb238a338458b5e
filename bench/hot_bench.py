#!/usr/bin/env python3
"""MDActivation hot: what it costs per handshake, and how fast a renewal goes live.

In one run, on the same machine and the same certificate (obtained from a real pebble):
  1. handshakes per second of a server with `MDActivation hot` whose certificate went live
     hot (every handshake takes its certificate from the certificate callback) and of a
     server with `MDActivation graceful` serving the same certificate from domains/ through
     mod_ssl, measured in alternating rounds; prints both and the ratio hot/graceful
     (target >= 0.97);
  2. the time from a renewal being complete in staging/ to the first handshake that gets
     the new certificate, over several renewals (target <= 10 s); prints the distribution.

    bench/hot_bench.py [--seconds 5] [--rounds 3] [--threads 2] [--renewals 8] [--builddir _build]
"""
import argparse
import json
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import tempfile
import time

from benchlib import H, HERE, use_builddir

import pebble as P  # noqa: E402  (test/integration, on the path through benchlib)

NAME = "hot.bench.example.org"


def build_client():
    exe = os.path.join(tempfile.gettempdir(), f"hot_hsbench-{os.getpid()}")
    subprocess.run(["cc", "-O2", "-o", exe, os.path.join(HERE, "ct_hsbench.c"), "-lssl",
                    "-lcrypto", "-lpthread"], check=True)
    return exe


def hs_rate(client, port, seconds, threads):
    p = subprocess.run([client, "127.0.0.1", str(port), NAME, str(seconds), str(threads)],
                       capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"rate=([\d.]+)", p.stdout)
    if not m:
        raise RuntimeError(p.stdout + p.stderr)
    return float(m.group(1))


def conf(h, pb, store, activation, extra=""):
    return (P.md_conf(pb, h, f"MDStoreDir {store}\nMDCAChallenges http-01\nMDPrivateKeys secp256r1\n"
                      f"MDActivation {activation}\n" + extra)
            + f"MDomain {NAME}\n"
            + h.ssl_vhost(NAME, extra="  SSLSessionTickets off\n") + h.http_vhost(NAME))


def serial(port, root):
    ctx = ssl.create_default_context(cafile=root)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            with ctx.wrap_socket(s, server_hostname=NAME) as t:
                der = t.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial"], input=der,
                         capture_output=True).stdout.decode()
    return out.strip().split("=")[-1].upper()


def staged_serial(store):
    try:
        with open(os.path.join(store, "staging", NAME, "job.json")) as f:
            if not json.load(f).get("finished"):
                return None
        out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in",
                              os.path.join(store, "staging", NAME, "pubcert.secp256r1.pem")],
                             capture_output=True, text=True).stdout
        return out.strip().split("=")[-1].upper() or None
    except (OSError, ValueError):
        return None


def wait(pred, timeout, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--renewals", type=int, default=8)
    ap.add_argument("--builddir", default=os.environ.get("top_builddir", os.path.join(HERE, "..", "_build")))
    args = ap.parse_args()
    module = use_builddir(args.builddir)
    client = build_client()
    top = tempfile.mkdtemp(prefix="hot-bench-", dir="/tmp")
    os.chmod(top, 0o755)
    store = os.path.join(top, "md")
    hot = H.Httpd(name="bench-hot", md_module=module)
    cold = H.Httpd(name="bench-graceful", md_module=module)
    pb = P.Pebble(hot.http_port, hot.https_port).start()
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    try:
        # the hot server obtains the certificate and serves it through the callback
        hot.write_conf(conf(hot, pb, store, "hot"))
        hot.start()
        if not wait(lambda: serial(hot.https_port, root), 120, 0.25):
            raise SystemExit("no certificate obtained:\n" + hot.log()[-3000:])
        # the graceful one serves the same certificate from domains/ (orders nothing)
        cold.write_conf(conf(cold, pb, store, "graceful", "MDRenewMode manual\n"))
        cold.start()
        s_hot, s_cold = serial(hot.https_port, root), serial(cold.https_port, root)
        assert s_hot == s_cold, (s_hot, s_cold)
        rates = {"hot": [], "graceful": []}
        for _ in range(args.rounds):
            rates["hot"].append(hs_rate(client, hot.https_port, args.seconds, args.threads))
            rates["graceful"].append(hs_rate(client, cold.https_port, args.seconds, args.threads))
        cold.stop()
        h_mean, g_mean = statistics.mean(rates["hot"]), statistics.mean(rates["graceful"])
        print(f"handshakes/s  hot: {h_mean:.0f} {[round(r) for r in rates['hot']]}")
        print(f"handshakes/s  graceful: {g_mean:.0f} {[round(r) for r in rates['graceful']]}")
        paired = statistics.median(a / b for a, b in zip(rates["hot"], rates["graceful"]))
        print(f"ratio hot/graceful: {h_mean / g_mean:.3f} of the means, {paired:.3f} median of "
              f"the paired rounds (target >= 0.97)")

        # renewals one after the other: time from staged to the first handshake with it
        hot.write_conf(conf(hot, pb, store, "hot", "MDRenewWindow 3650d\n"))
        hot.graceful()
        lat = []
        for _ in range(args.renewals):
            staged = wait(lambda: staged_serial(store), 120, 0.02)
            if not staged:
                raise SystemExit("no renewal staged:\n" + hot.log()[-3000:])
            t0 = time.time()
            if not wait(lambda: serial(hot.https_port, root) == staged, 30, 0.05):
                raise SystemExit(f"renewal {staged} not served within 30 s")
            lat.append(time.time() - t0)
            wait(lambda: staged_serial(store) != staged, 30, 0.02)
        lat.sort()
        q = statistics.quantiles(lat, n=10, method="inclusive") if len(lat) > 1 else lat
        print(f"staged -> first handshake (s), {len(lat)} renewals: min {lat[0]:.2f} "
              f"median {statistics.median(lat):.2f} p90 {q[-1]:.2f} max {lat[-1]:.2f} "
              f"(target <= 10)")
        print("samples:", " ".join(f"{x:.2f}" for x in lat))
    finally:
        hot.cleanup()
        cold.cleanup()
        pb.cleanup()
        shutil.rmtree(top, ignore_errors=True)
        os.unlink(client)


if __name__ == "__main__":
    main()
