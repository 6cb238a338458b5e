"""Shared helpers of the mod_md benchmarks: servers with N managed domains."""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
import httpd as H  # noqa: E402

BASE_MODULES = ["mpm_event", "authz_core", "ssl", "socache_shmcb", "mime", "status"]


def use_builddir(builddir):
    builddir = os.path.abspath(builddir)
    os.environ["top_builddir"] = builddir
    H.MOD_MD = os.path.join(builddir, "mod_md", ".libs", "mod_md.so")
    if not os.path.exists(H.MOD_MD):
        sys.exit(f"{H.MOD_MD} is not built (run scripts/build.sh)")
    return H.MOD_MD


def server(label, module):
    h = H.Httpd(name=f"bench-{label}", md_module=module)
    h.BASE_MODULES = BASE_MODULES
    return h


def write_conf(h, n, module, extra=""):
    """N https hosts; with a module each is an MD without certificate, else plain mod_ssl
    hosts sharing one certificate."""
    lines = []
    cert = os.path.join(h.dir, "plain.pem")
    if module is not None:
        lines += ["MDCertificateAuthority https://127.0.0.1:1/dir", "MDCertificateAgreement accepted",
                  "MDRenewMode manual"]
    elif not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", cert, "-out", cert,
                        "-days", "2", "-subj", "/CN=bench"], check=True, capture_output=True)
    for i in range(n):
        name = f"md{i}.bench.example.org"
        if module is not None:
            lines.append(f"MDomain {name}")
        lines.append(h.ssl_vhost(name, aliases=[f"www.{name}"],
                                 extra="" if module is not None else f"  SSLCertificateFile {cert}\n"))
    lines.append(extra)
    h.write_conf("\n".join(lines))


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def timed_start(h, keep=False):
    """Seconds from `apache2 -k start` until it serves, and the parent's RSS in KB."""
    t0 = time.monotonic()
    h.start(timeout=7200)
    while "resuming normal operations" not in h.log():
        time.sleep(0.02)
    dt = time.monotonic() - t0
    time.sleep(0.5)
    mem = rss_kb(h.pid())
    if not keep:
        h.stop()
    return dt, mem
