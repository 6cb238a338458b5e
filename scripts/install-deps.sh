#!/bin/sh
# Installs the Debian packages needed to build and test (only those that are missing).
# build-essential, dpkg-dev, debhelper, fakeroot, lintian: the Debian package test (test_packaging.py);
# prometheus: its promtool checks md-metrics and the example alert rules.
set -e
PKGS="apache2 apache2-dev libapr1-dev libaprutil1-dev libssl-dev libcurl4-openssl-dev
libjansson-dev libsqlite3-dev pebble check python3-pytest python3-pytest-timeout python3-cryptography
autoconf automake libtool pkg-config make gcc curl openssl sqlite3 ca-certificates strace
sshfs openssh-server
build-essential dpkg-dev debhelper dh-autoreconf fakeroot lintian prometheus
clang libclang-rt-14-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # keep the system's own apache2 from starting on port 80 during the install
    $SUDO sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
    $SUDO apt-get install -y -qq --no-install-recommends $missing
    $SUDO rm -f /usr/sbin/policy-rc.d
fi
