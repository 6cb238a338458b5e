"""Pebble fixture: a real ACME CA (and pebble-challtestsrv as its DNS) on loopback.

Each Pebble gets free ports, its own TLS certificate (from a throw-away CA made here with
python3-cryptography; MDCACertificateFile points at that CA), and validates challenges on
the http/https ports of the httpd under test. Logs stay in the fixture's directory.
Only the processes started here are stopped here.
"""
import datetime
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.request

try:
    import pytest
except ImportError:          # the benchmark uses this module without pytest
    pytest = None

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from httpd import free_port, wait_port

PEBBLE = "/usr/bin/pebble"
CHALLTESTSRV = "/usr/bin/pebble-challtestsrv"


def _write_tls_files(d):
    """A local CA and a certificate for 127.0.0.1/localhost signed by it."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mdtest pebble TLS CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {k: os.path.join(d, k + ".pem") for k in ("ca", "cert", "key")}
    with open(paths["ca"], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths["cert"], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths["key"], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    for p in paths.values():
        os.chmod(p, 0o644)
    return paths


class Pebble:
    def __init__(self, http_port, https_port, env=None, config=None):
        self.dir = tempfile.mkdtemp(prefix="mdtest-pebble-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.tls = _write_tls_files(self.dir)
        self.port = free_port()
        self.mgmt_port = free_port()
        self.dns_port = free_port()
        self.chall_mgmt_port = free_port()
        self.http_port = http_port
        self.https_port = https_port
        self.env = {"PEBBLE_VA_NOSLEEP": "1"}
        self.env.update(env or {})
        self.extra_config = config or {}
        self.procs = []

    @property
    def directory(self):
        return f"https://127.0.0.1:{self.port}/dir"

    @property
    def ca_file(self):
        """Trust anchor for talking to pebble's ACME port (MDCACertificateFile)."""
        return self.tls["ca"]

    @property
    def log_path(self):
        return os.path.join(self.dir, "pebble.log")

    def start(self):
        conf = {"pebble": {
            "listenAddress": f"127.0.0.1:{self.port}",
            "managementListenAddress": f"127.0.0.1:{self.mgmt_port}",
            "certificate": self.tls["cert"], "privateKey": self.tls["key"],
            "httpPort": self.http_port, "tlsPort": self.https_port,
            "ocspResponderURL": "", "externalAccountBindingRequired": False}}
        conf["pebble"].update(self.extra_config)
        conf_path = os.path.join(self.dir, "pebble-config.json")
        with open(conf_path, "w") as f:
            json.dump(conf, f)
        env = dict(os.environ)
        env.update(self.env)
        dns_log = open(os.path.join(self.dir, "challtestsrv.log"), "w")
        self.procs.append(subprocess.Popen(
            [CHALLTESTSRV, "-dns01", f"127.0.0.1:{self.dns_port}", "-http01", "", "-https01", "",
             "-tlsalpn01", "", "-management", f"127.0.0.1:{self.chall_mgmt_port}",
             "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
            stdout=dns_log, stderr=subprocess.STDOUT))
        log = open(self.log_path, "w")
        self.procs.append(subprocess.Popen(
            [PEBBLE, "-config", conf_path, "-dnsserver", f"127.0.0.1:{self.dns_port}"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.dir))
        if not (wait_port(self.port, 15) and wait_port(self.mgmt_port, 5)
                and wait_port(self.chall_mgmt_port, 5)):
            raise AssertionError(f"pebble did not come up:\n{self.log()}")
        return self

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _mgmt_get(self, path):
        ctx = ssl.create_default_context(cafile=self.tls["ca"])
        with urllib.request.urlopen(f"https://127.0.0.1:{self.mgmt_port}{path}", context=ctx,
                                    timeout=10) as r:
            return r.read().decode()

    def root_pem(self):
        return self._mgmt_get("/roots/0")

    def write_root(self, path):
        with open(path, "w") as f:
            f.write(self.root_pem())
        return path

    def set_txt(self, host, value):
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.chall_mgmt_port}/set-txt",
            data=json.dumps({"host": host, "value": value}).encode(), method="POST")
        urllib.request.urlopen(req, timeout=5).read()

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs = []

    def cleanup(self, keep=False):
        self.stop()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def md_conf(pebble, h, extra=""):
    """The global mod_md lines for talking to this pebble from httpd h."""
    return (f"MDCertificateAuthority {pebble.directory}\n"
            f"MDCertificateAgreement accepted\n"
            f"MDCACertificateFile {pebble.ca_file}\n"
            f"MDPortMap http:{h.http_port} https:{h.https_port}\n"
            f"MDRetryDelay 1s\n" + extra)


def wait_staged(h, name, timeout=60, store=None):
    """Wait until staging/<name>/job.json says finished; returns the job."""
    path = os.path.join(store or h.store_dir, "staging", name, "job.json")
    end = time.time() + timeout
    job = None
    while time.time() < end:
        try:
            with open(path) as f:
                job = json.load(f)
            if job.get("finished"):
                return job
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"MD {name} not staged within {timeout}s; job: {job}\n{h.log()[-5000:]}")


def read_job(h, name, group="staging"):
    try:
        with open(os.path.join(h.store_dir, group, name, "job.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def verify_served(h, name, root_path, extra=()):
    """openssl s_client's verdict on the chain served for SNI name, against pebble's root."""
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{h.https_port}",
                        "-servername", name, "-CAfile", root_path, "-verify_return_error",
                        "-verify_hostname", name, "-showcerts"] + list(extra),
                       input="", capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout + p.stderr


def served_ok(h, pb, name):
    """Does h serve name a certificate that verifies against pebble's root?"""
    rc, out = verify_served(h, name, pb.write_root(os.path.join(pb.dir, "root.pem")))
    return rc == 0 and "Verify return code: 0 (ok)" in out


def served_leaf_pem(h, name, root):
    """The leaf certificate served for name (base64 body), asserting that it verifies."""
    rc, out = verify_served(h, name, root)
    assert rc == 0 and "Verify return code: 0 (ok)" in out, out
    return out.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]


def _pebble_for(request):
    """pebble_for(h, env=None, config=None): a started Pebble validating against httpd h.
    At the end, stops the httpds it was made for and then pebble; logs on failure."""
    made = []

    def make(h, env=None, config=None):
        pb = Pebble(h.http_port, h.https_port, env=env, config=config).start()
        made.append((h, pb))
        return pb

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for h, pb in made:
        h.stop()
        if failed:
            print(f"\n==== pebble log {pb.log_path}\n{pb.log()[-8000:]}")
        pb.cleanup(keep=failed)


pebble_for = pytest.fixture(_pebble_for) if pytest else None


def md_status(h, name=None, https=False):
    """The md-status JSON (needs md_status_location(h) in the config)."""
    status, _, body = h.curl("/md-status" + (f"/{name}" if name else ""), https=https)
    assert status == 200, (status, body)
    return json.loads(body)


def md_status_location():
    return "<Location /md-status>\n  SetHandler md-status\n</Location>\n"
