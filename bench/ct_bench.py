#!/usr/bin/python3
"""Benchmark of mod_ssl_ct's cost.

1. TLS handshakes per second (full TLS 1.3 handshakes, client asking for SCTs) against the
   same httpd configuration with mod_ssl_ct attaching 3 SCTs vs without mod_ssl_ct.
   Target ratio >= 0.97.
2. Proxied requests per second (a new TLS connection to the backend per request, so the
   proxy looks at SCTs every time) with CTProxyAwareness require vs oblivious.
   Target ratio >= 0.95.

Rounds of both variants are interleaved (the order alternating) and the ratio is the median
of the per-round ratios, to damp the noise of a shared machine. Usage (as root; the modules
are taken from _build/, where scripts/build.sh builds them, or from $top_builddir):

    python3 bench/ct_bench.py [--seconds 3] [--rounds 5]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
from httpd import Httpd, MOD_SSL_CT  # noqa: E402
from ct_fixtures import (Pki, ct_write_conf, make_sct, new_key, now_ms, pub_pem,  # noqa: E402
                         write)


def build_client():
    exe = os.path.join(tempfile.gettempdir(), f"ct_hsbench-{os.getpid()}")
    subprocess.run(["cc", "-O2", "-o", exe, os.path.join(HERE, "ct_hsbench.c"), "-lssl",
                    "-lcrypto", "-lpthread"], check=True)
    return exe


def tls_server(pki, files, with_ct, sdir):
    h = Httpd("bench-ct" if with_ct else "bench-noct", md_module=None)
    body = ""
    if with_ct:
        os.makedirs(h.path("ctstore"))
        body += (f"LoadModule ssl_ct_module {MOD_SSL_CT}\nCTSCTStorage {h.path('ctstore')}\n"
                 f"CTStaticSCTs {files['cert']} {sdir}\n")
    body += h.ssl_vhost("localhost", extra=(f"  SSLCertificateFile {files['chain']}\n"
                                            f"  SSLCertificateKeyFile {files['key']}\n"
                                            "  SSLSessionTickets off\n"))
    ct_write_conf(h, body, loglevel="error")
    h.start()
    return h


def proxy_server(pki, backend_port, awareness, log_key_file):
    h = Httpd(f"bench-{awareness}", md_module=None, extra_modules=["proxy", "proxy_http"])
    ct_write_conf(h, f"LoadModule ssl_ct_module {MOD_SSL_CT}\n"
                  f"CTStaticLogConfig - {log_key_file} - - - -\n"
                  + h.http_vhost("proxy.test", extra=(
                      f"  SSLProxyEngine on\n  SSLProxyCACertificateFile {pki.root_file}\n"
                      f"  SSLProxyCheckPeerName off\n  CTProxyAwareness {awareness}\n"
                      f"  ProxyPass / https://127.0.0.1:{backend_port}/ disablereuse=On\n")),
                  loglevel="error")
    h.start()
    return h


def hs_rate(client, port, seconds, threads=4):
    p = subprocess.run([client, "127.0.0.1", str(port), "localhost", str(seconds),
                        str(threads)], capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"rate=([\d.]+) sct_responses=(\d+)", p.stdout)
    if not m:
        raise RuntimeError(p.stdout + p.stderr)
    return float(m.group(1)), int(m.group(2))


def ab_rate(port, seconds, concurrency=8):
    p = subprocess.run(["ab", "-q", "-k", "-t", str(seconds), "-n", "10000000",
                        "-c", str(concurrency), "-H", "Host: proxy.test",
                        f"http://127.0.0.1:{port}/index.html"], capture_output=True,
                       text=True, timeout=seconds + 60)
    m = re.search(r"Requests per second:\s+([\d.]+)", p.stdout)
    failed = re.search(r"Non-2xx responses:\s+(\d+)", p.stdout)
    if not m:
        raise RuntimeError(p.stdout + p.stderr)
    return float(m.group(1)), int(failed.group(1)) if failed else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ct-bench-", dir="/tmp")
    os.chmod(work, 0o755)
    pki = Pki(os.path.join(work, "pki"))
    cert, key, files = pki.leaf("localhost")
    logs = [new_key() for _ in range(3)]
    sdir = os.path.join(work, "scts")
    os.makedirs(sdir)
    for i, k in enumerate(logs):
        write(os.path.join(sdir, f"{i}.sct"), make_sct(k, cert, ts=now_ms() - 60000))
    client = build_client()
    servers = []
    backend = None
    try:
        # 1. handshakes
        with_ct = tls_server(pki, files, True, sdir)
        without = tls_server(pki, files, False, sdir)
        servers += [with_ct, without]
        rates = {True: [], False: []}
        hs_rate(client, with_ct.https_port, 1)        # warm up
        hs_rate(client, without.https_port, 1)
        for rnd in range(args.rounds):
            order = ((True, with_ct), (False, without))
            for flag, h in (order if rnd % 2 == 0 else order[::-1]):
                rate, scts = hs_rate(client, h.https_port, args.seconds)
                if flag and scts == 0:
                    raise RuntimeError("mod_ssl_ct sent no SCTs: the benchmark is void")
                if not flag and scts:
                    raise RuntimeError("SCTs without mod_ssl_ct?")
                rates[flag].append(rate)
        hs_ratio = statistics.median(a / b for a, b in zip(rates[True], rates[False]))
        print(f"handshakes/s with mod_ssl_ct (3 SCTs): median {statistics.median(rates[True]):.0f}"
              f" {['%.0f' % r for r in rates[True]]}")
        print(f"handshakes/s without mod_ssl_ct:      median {statistics.median(rates[False]):.0f}"
              f" {['%.0f' % r for r in rates[False]]}")
        print(f"handshake ratio: {hs_ratio:.3f} (target >= 0.97)")
        for h in (with_ct, without):
            h.cleanup()
        servers = []

        # 2. proxied requests
        # the backend: an httpd sending one SCT of a log the proxy trusts
        trusted = new_key()
        bsdir = os.path.join(work, "backend-scts")
        os.makedirs(bsdir)
        write(os.path.join(bsdir, "t.sct"), make_sct(trusted, cert, ts=now_ms() - 60000))
        backend = tls_server(pki, files, True, bsdir)
        keyfile = write(os.path.join(work, "trusted.pem"), pub_pem(trusted))
        req = proxy_server(pki, backend.https_port, "require", keyfile)
        obl = proxy_server(pki, backend.https_port, "oblivious", keyfile)
        servers += [req, obl]
        prates = {"require": [], "oblivious": []}
        for rnd in range(args.rounds):
            order = (("require", req), ("oblivious", obl))
            for name, h in (order if rnd % 2 == 0 else order[::-1]):
                rate, failed = ab_rate(h.http_port, args.seconds)
                if failed:
                    raise RuntimeError(f"{failed} proxied requests failed with {name}")
                prates[name].append(rate)
        p_ratio = statistics.median(a / b for a, b in zip(prates["require"],
                                                          prates["oblivious"]))
        print(f"proxied requests/s, CTProxyAwareness require:   median "
              f"{statistics.median(prates['require']):.0f}")
        print(f"proxied requests/s, CTProxyAwareness oblivious: median "
              f"{statistics.median(prates['oblivious']):.0f}")
        print(f"proxy ratio: {p_ratio:.3f} (target >= 0.95)")
    finally:
        for h in servers:
            h.cleanup()
        if backend:
            backend.cleanup()
        os.unlink(client)


if __name__ == "__main__":
    main()
