"""Test harness: runs Debian's real apache2 with the modules built in this tree.

Each test gets its own server root (a fresh directory under /tmp, readable by the child
user), its own loopback ports picked at run time, and its own generated httpd.conf.
Only the processes started here are stopped here. Logs stay on disk and are printed by
conftest.py when a test fails.
"""
import errno
import os
import shutil
import signal
import random
import socket
import subprocess
import tempfile
import time

APACHE2 = os.environ.get("APACHE2", "/usr/sbin/apache2")
MODULES = "/usr/lib/apache2/modules"
TOP_SRCDIR = os.path.abspath(os.environ.get(
    "top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")))
# the build the README makes (scripts/build.sh: _build/) unless top_builddir names another
TOP_BUILDDIR = os.path.abspath(os.environ.get("top_builddir", os.path.join(TOP_SRCDIR, "_build")))
MOD_MD = os.path.join(TOP_BUILDDIR, "mod_md", ".libs", "mod_md.so")
MOD_SSL_CT = os.path.join(TOP_BUILDDIR, "mod_ssl_ct", ".libs", "mod_ssl_ct.so")
DEBIAN_MOD_MD = os.path.join(MODULES, "mod_md.so")
IS_ROOT = os.geteuid() == 0


_given_ports = set()


def _bindable(family, addr, port):
    """False only when the port is taken (a machine without IPv6 does not count)."""
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((addr, port))
        return True
    except OSError as e:
        return e.errno != errno.EADDRINUSE


def free_port():
    """A TCP port free on 127.0.0.1 (and ::1) right now, not handed out before in this run.
    Taken below the kernel's ephemeral range (32768 and up on Linux), where the outgoing
    connections of curl, pebble and httpd would otherwise grab a port between its choice
    here and the server's bind."""
    rnd = random.Random()
    for _ in range(1000):
        port = rnd.randrange(10000, 32000)
        if port in _given_ports:
            continue
        if not _bindable(socket.AF_INET, "127.0.0.1", port) \
                or not _bindable(socket.AF_INET6, "::1", port):
            continue
        _given_ports.add(port)
        return port
    raise AssertionError("no free TCP port found between 10000 and 32000")


def wait_port(port, timeout=10.0, up=True):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                if up:
                    return True
        except OSError:
            if not up:
                return True
        time.sleep(0.05)
    return False


def process_alive(pid):
    """Is pid running? A stopped daemon that nobody reaps (pid 1 in some sandboxes does not)
    stays a zombie: that counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def children_of(pid):
    """Pids of the processes whose parent is pid (from /proc; processes that exit while it
    is read are left out)."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            if int(st[st.rindex(")") + 2:].split()[1]) == pid:
                kids.append(int(d))
        except (OSError, ValueError, IndexError):
            continue
    return kids


def strace_children(pids, out, action):
    """Run action() while strace follows the file system calls and reads of the processes
    pids and all their threads; returns the trace lines ("TID call(...) = result"). Returns
    None when strace cannot attach here (the caller skips)."""
    args = ["strace", "-f", "-qq", "-e", "trace=%file,read,pread64", "-o", str(out)]
    for pid in pids:
        args += ["-p", str(pid)]
    tracer = subprocess.Popen(args, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        if tracer.poll() is not None:
            return None
        action()
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(10)
    return open(out).read().splitlines()


def sanitizer_env():
    """apache2 loads ASan-built modules only with libasan preloaded."""
    env = {}
    if os.environ.get("SANITIZERS") == "yes":
        lib = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                             text=True).stdout.strip()
        env["LD_PRELOAD"] = lib
        env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1"
    return env


class Httpd:
    """One apache2 instance with a generated configuration."""

    BASE_MODULES = ["mpm_event", "authz_core", "authz_host", "ssl", "socache_shmcb",
                    "status", "mime", "alias", "headers", "dir"]

    def __init__(self, name="httpd", md_module=MOD_MD, extra_modules=()):
        self.dir = tempfile.mkdtemp(prefix=f"mdtest-{name}-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        for sub in ("logs", "run", "htdocs"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        with open(os.path.join(self.dir, "htdocs", "index.html"), "w") as f:
            f.write("hello from the test server\n")
        self.http_port = free_port()
        self.https_port = free_port()
        self.md_module = md_module
        self.extra_modules = list(extra_modules)
        self.conf_path = os.path.join(self.dir, "httpd.conf")
        self.error_log = os.path.join(self.dir, "logs", "error.log")
        self.pid_file = os.path.join(self.dir, "run", "httpd.pid")
        self.started = False
        self.last_output = ""

    @property
    def store_dir(self):
        return os.path.join(self.dir, "md")

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def base_conf(self, modules=True):
        lines = [
            f"ServerRoot {self.dir}",
            f"PidFile {self.pid_file}",
            f"ErrorLog {self.error_log}",
            "LogLevel warn ssl:info" + (" md:debug" if self.md_module else ""),
            f"DefaultRuntimeDir {self.dir}/run",
            f"Mutex file:{self.dir}/run default",
            "ServerName localhost",
            "ServerAdmin admin@example.org",
            f"DocumentRoot {self.dir}/htdocs",
            "TypesConfig /etc/mime.types",
            "Timeout 10",
            "GracefulShutdownTimeout 5",
            "StartServers 1",
            "ServerLimit 2",
            "ThreadsPerChild 10",
            "MaxRequestWorkers 20",
        ]
        if IS_ROOT:
            lines += ["User www-data", "Group www-data"]
        for m in self.BASE_MODULES + self.extra_modules:
            lines.append(f"LoadModule {m}_module {MODULES}/mod_{m}.so")
        if self.md_module:
            lines.append(f"LoadModule md_module {self.md_module}")
        lines += [
            f"Listen 127.0.0.1:{self.http_port}",
            f"Listen 127.0.0.1:{self.https_port} https",
            f"SSLSessionCache shmcb:{self.dir}/run/ssl_scache(512000)",
            "<Directory />\n  Require all granted\n</Directory>",
        ]
        return "\n".join(lines) + "\n"

    def write_conf(self, body, base=True):
        """Write httpd.conf: the common base followed by the test's own lines."""
        with open(self.conf_path, "w") as f:
            f.write((self.base_conf() if base else "") + body + "\n")
        return self.conf_path

    def ssl_vhost(self, server_name, aliases=(), extra=""):
        alias = f"  ServerAlias {' '.join(aliases)}\n" if aliases else ""
        return (f"<VirtualHost 127.0.0.1:{self.https_port}>\n  ServerName {server_name}\n{alias}"
                f"  SSLEngine on\n{extra}</VirtualHost>\n")

    def http_vhost(self, server_name, aliases=(), extra=""):
        alias = f"  ServerAlias {' '.join(aliases)}\n" if aliases else ""
        return (f"<VirtualHost 127.0.0.1:{self.http_port}>\n  ServerName {server_name}\n{alias}"
                f"{extra}</VirtualHost>\n")

    def _run(self, args, timeout=60):
        env = dict(os.environ)
        env.update(sanitizer_env())
        p = subprocess.run([APACHE2, "-f", self.conf_path] + args, capture_output=True,
                           text=True, timeout=timeout, env=env)
        self.last_output = p.stdout + p.stderr
        return p.returncode, self.last_output

    def configtest(self):
        """`apache2 -t`: (exit code, everything it printed)."""
        return self._run(["-t"])

    def pid(self):
        try:
            with open(self.pid_file) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def start(self, check=True, timeout=30):
        rc, out = self._run(["-k", "start"], timeout=timeout + 30)
        if rc != 0:
            if check:
                raise AssertionError(f"apache2 failed to start (exit {rc}):\n{out}\n{self.log()}")
            return rc
        self.started = True
        end = time.time() + timeout
        while time.time() < end and not (self.pid() and wait_port(self.https_port, 0.2)):
            time.sleep(0.05)
        if check and not wait_port(self.https_port, 1):
            raise AssertionError(f"apache2 did not come up:\n{self.log()}")
        return rc

    def graceful(self, timeout=30):
        old = self.generation()
        rc, out = self._run(["-k", "graceful"])
        assert rc == 0, out
        end = time.time() + timeout
        while time.time() < end and self.generation() == old:
            time.sleep(0.1)
        wait_port(self.https_port, 5)
        time.sleep(0.3)

    def generation(self):
        """Count of 'resuming normal operations' lines: grows with each (re)start."""
        return self.log().count("resuming normal operations")

    def stop(self):
        pid = self.pid()
        if not self.started or not pid:
            return
        self._run(["-k", "stop"])
        end = time.time() + 15
        while time.time() < end and process_alive(pid):
            time.sleep(0.05)
        if process_alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        self.started = False

    def log(self):
        try:
            with open(self.error_log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self, keep=False):
        self.stop()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- clients ---------------------------------------------------------------------

    def curl(self, url_path, host="localhost", https=False, extra=()):
        """(status, headers text, body) of a request made with curl to this server."""
        port = self.https_port if https else self.http_port
        scheme = "https" if https else "http"
        args = ["curl", "-s", "-k", "-D", "-", "--max-time", "10",
                "--resolve", f"{host}:{port}:127.0.0.1", f"{scheme}://{host}:{port}{url_path}"]
        args += list(extra)
        p = subprocess.run(args, capture_output=True, text=True, timeout=20)
        out = p.stdout
        head, _, body = out.partition("\n\n")
        status = int(head.split()[1]) if head.startswith("HTTP/") else 0
        return status, head, body

    def server_cert_pem(self, servername, extra=()):
        """The certificate chain presented on the https port for an SNI name (PEM)."""
        p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.https_port}",
                            "-servername", servername, "-showcerts"] + list(extra),
                           input="", capture_output=True, text=True, timeout=20)
        return p.stdout
