"""A directory seen through sshfs (SFTP over ssh to this host), as a second node of a cluster
sees a store shared by another node.

The sshd is our own: its own configuration, host key, user key and port (picked at run time)
on 127.0.0.1, started here and stopped by its pid. Its SFTP server refuses hard links, as
the SFTP and SMB servers do that make link() fail with EPERM; sshfs's flock() is local to
the mounting node, as on most FUSE and some NFS mounts. Both are what the cluster code must
cope with.
"""
import os
import shutil
import signal
import subprocess
import time

from httpd import IS_ROOT, free_port, process_alive, wait_port

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def unavailable():
    """Why an sshfs mount cannot be made here (a reason for pytest.skip), or None."""
    if not os.path.exists("/dev/fuse"):
        return "FUSE is not available here (/dev/fuse is missing): no sshfs store"
    if not shutil.which("sshfs"):
        return "sshfs is not installed (scripts/install-deps.sh installs it)"
    if not os.path.exists(SSHD):
        return "sshd is not installed (openssh-server; scripts/install-deps.sh installs it)"
    if not shutil.which("fusermount") and not shutil.which("fusermount3"):
        return "fusermount is not installed (fuse3)"
    return None


class SshfsMount:
    """remote_dir mounted at mountpoint through our own sshd."""

    def __init__(self, workdir, remote_dir, mountpoint):
        self.dir = workdir
        self.remote_dir = remote_dir
        self.mountpoint = mountpoint
        self.port = free_port()
        self.sshd_pid = None
        self.mounted = False

    def _path(self, name):
        return os.path.join(self.dir, name)

    def _keygen(self, name):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mdtest",
                        "-f", self._path(name)], check=True, capture_output=True)
        with open(self._path(name) + ".pub") as f:
            return f.read().strip()

    def start(self):
        """Start sshd and mount; returns None, or the reason the mount is not possible here
        (then nothing is left running)."""
        os.makedirs(self.dir, exist_ok=True)
        host_pub = self._keygen("host_key")
        user_pub = self._keygen("user_key")
        with open(self._path("authorized_keys"), "w") as f:
            f.write(user_pub + "\n")
        os.chmod(self._path("authorized_keys"), 0o600)
        with open(self._path("known_hosts"), "w") as f:
            f.write(f"[127.0.0.1]:{self.port} {host_pub}\n")
        with open(self._path("sshd_config"), "w") as f:
            f.write(f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {self._path("host_key")}
AuthorizedKeysFile {self._path("authorized_keys")}
PidFile {self._path("sshd.pid")}
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
LogLevel VERBOSE
# an SFTP server that refuses hard links (link() fails with EPERM on the mount)
Subsystem sftp internal-sftp -P hardlink
""")
        if IS_ROOT and not os.path.isdir("/run/sshd"):
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)   # sshd's privilege separation dir
        p = subprocess.run([SSHD, "-f", self._path("sshd_config"), "-E", self._path("sshd.log")],
                           capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError(f"sshd did not start: {p.stderr}{self.sshd_log()}")
        end = time.time() + 10
        while time.time() < end and not self.sshd_pid:
            try:
                with open(self._path("sshd.pid")) as f:
                    self.sshd_pid = int(f.read().strip())
            except (OSError, ValueError):
                time.sleep(0.05)
        if not self.sshd_pid or not wait_port(self.port, 10):
            self.stop()
            raise AssertionError(f"sshd is not listening on port {self.port}: {self.sshd_log()}")
        opts = [f"port={self.port}", f"IdentityFile={self._path('user_key')}",
                f"UserKnownHostsFile={self._path('known_hosts')}", "StrictHostKeyChecking=yes",
                "BatchMode=yes", "IdentitiesOnly=yes", "dir_cache=no"]
        if IS_ROOT:
            opts.append("allow_other")          # the children run as another user
        user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        p = subprocess.run(["sshfs", "-o", ",".join(opts),
                            f"{user}@127.0.0.1:{self.remote_dir}", self.mountpoint],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            self.stop()
            msg = p.stderr.strip()
            if "fuse" in msg.lower() or "permission" in msg.lower() or "not permitted" in msg:
                return f"this host does not permit a FUSE mount ({msg})"
            raise AssertionError(f"sshfs failed: {msg}\n{self.sshd_log()}")
        self.mounted = True
        return None

    def sshd_log(self):
        try:
            with open(self._path("sshd.log")) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        """Unmount (after the servers using it stopped) and stop our sshd."""
        if self.mounted:
            tool = shutil.which("fusermount") or shutil.which("fusermount3")
            for _ in range(50):
                if subprocess.run([tool, "-u", self.mountpoint], capture_output=True).returncode == 0:
                    break
                time.sleep(0.1)
            else:
                subprocess.run([tool, "-u", "-z", self.mountpoint], capture_output=True)
            self.mounted = False
        if self.sshd_pid:
            try:
                os.kill(self.sshd_pid, signal.SIGTERM)
            except OSError:
                pass
            end = time.time() + 5
            while time.time() < end and process_alive(self.sshd_pid):
                time.sleep(0.05)
            self.sshd_pid = None
