#!/bin/sh
# The main job, end to end on loopback: installs what is missing, builds, starts a local
# ACME CA (pebble) and Debian's apache2 with OUR mod_md, and shows what mod_md does.
# Everything lives in _demo/ of this checkout; the system's apache2 configuration and
# ports 80/443 are not touched. Run again to restart the demo; `demo.sh stop` stops it.
# `demo.sh --installed` uses the module the Debian package installed instead of the build.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
demo="$top/_demo"

stop_demo() {
    if [ -f "$demo/httpd.conf" ] && [ -f "$demo/run/httpd.pid" ]; then
        /usr/sbin/apache2 -f "$demo/httpd.conf" -k stop 2>/dev/null || true
    fi
    for pf in "$demo"/pebble.pid "$demo"/challtestsrv.pid; do
        [ -f "$pf" ] && kill "$(cat "$pf")" 2>/dev/null || true
        rm -f "$pf"
    done
    sleep 1
}

[ "$1" = "stop" ] && { stop_demo; echo "demo stopped"; exit 0; }

"$top/scripts/install-deps.sh"
if [ "$1" = "--installed" ]; then
    # the module as the Debian package installed it (README, "Install on Debian")
    module=/usr/lib/apache2/modules/mod_md_ng.so
    [ -f "$module" ] || { echo "$module is not installed: build and install the package first" >&2; exit 1; }
else
    module="$("$top/scripts/build.sh")/mod_md/.libs/mod_md.so"
fi
stop_demo
rm -rf "$demo"
mkdir -p "$demo/logs" "$demo/run" "$demo/htdocs" "$demo/pebble"
chmod 755 "$demo"
echo "managed by mod_md" > "$demo/htdocs/index.html"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP=$(port); HTTPS=$(port); ACME=$(port); MGMT=$(port); DNS=$(port); CTS=$(port)

# pebble's own TLS certificate, from a throw-away local CA
cd "$demo/pebble"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=demo pebble CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout pebble.key -out pebble.csr -subj "/CN=localhost" 2>/dev/null
printf "subjectAltName=DNS:localhost,IP:127.0.0.1\n" > ext.cnf
openssl x509 -req -in pebble.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out pebble.pem -days 2 -extfile ext.cnf 2>/dev/null
cat > pebble.json <<JSON
{"pebble": {"listenAddress": "127.0.0.1:$ACME", "managementListenAddress": "127.0.0.1:$MGMT",
 "certificate": "$demo/pebble/pebble.pem", "privateKey": "$demo/pebble/pebble.key",
 "httpPort": $HTTP, "tlsPort": $HTTPS, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
JSON
pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 "127.0.0.1:$DNS" \
    -http01 "" -https01 "" -tlsalpn01 "" -management "127.0.0.1:$CTS" \
    > "$demo/logs/challtestsrv.log" 2>&1 &
echo $! > "$demo/challtestsrv.pid"
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 pebble -config pebble.json -dnsserver "127.0.0.1:$DNS" \
    > "$demo/logs/pebble.log" 2>&1 &
echo $! > "$demo/pebble.pid"
cd "$top"

M=/usr/lib/apache2/modules
cat > "$demo/httpd.conf" <<CONF
ServerRoot $demo
PidFile $demo/run/httpd.pid
ErrorLog $demo/logs/error.log
LogLevel warn md:info
DefaultRuntimeDir $demo/run
Mutex file:$demo/run default
TypesConfig /etc/mime.types
User www-data
Group www-data
ServerName localhost
ServerAdmin admin@example.org
DocumentRoot $demo/htdocs
LoadModule mpm_event_module $M/mod_mpm_event.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule mime_module $M/mod_mime.so
LoadModule dir_module $M/mod_dir.so
LoadModule ssl_module $M/mod_ssl.so
LoadModule socache_shmcb_module $M/mod_socache_shmcb.so
LoadModule status_module $M/mod_status.so
LoadModule md_module $module
Listen 127.0.0.1:$HTTP
Listen 127.0.0.1:$HTTPS https
SSLSessionCache shmcb:$demo/run/ssl_scache(512000)
<Directory />
  Require all granted
</Directory>

MDCertificateAuthority https://127.0.0.1:$ACME/dir
MDCACertificateFile $demo/pebble/ca.pem
MDCertificateAgreement accepted
MDPortMap http:$HTTP https:$HTTPS
MDRetryDelay 2s
MDomain demo.example.org www.demo.example.org

<VirtualHost 127.0.0.1:$HTTPS>
  ServerName demo.example.org
  ServerAlias www.demo.example.org
  SSLEngine on
</VirtualHost>
<VirtualHost 127.0.0.1:$HTTP>
  ServerName localhost
  <Location /md-status>
    SetHandler md-status
  </Location>
</VirtualHost>
CONF
echo "== apache2 -t"
/usr/sbin/apache2 -f "$demo/httpd.conf" -t
/usr/sbin/apache2 -f "$demo/httpd.conf" -k start
for i in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$HTTP/" && break; sleep 0.2; done

echo
echo "== the store mod_md keeps in $demo/md"
(cd "$demo" && find md -maxdepth 3 | sort)
echo
echo "== md-status: http://127.0.0.1:$HTTP/md-status"
curl -s "http://127.0.0.1:$HTTP/md-status"
echo
echo "== certificate served for demo.example.org (openssl s_client)"
echo | openssl s_client -connect "127.0.0.1:$HTTPS" -servername demo.example.org 2>/dev/null \
    | openssl x509 -noout -subject -issuer -dates -ext subjectAltName
echo
echo "== https://demo.example.org/ while no real certificate exists (mod_ssl answers 503)"
curl -sk -o /dev/null -w "HTTP %{http_code}\n" --resolve "demo.example.org:$HTTPS:127.0.0.1" \
    "https://demo.example.org:$HTTPS/"
echo
echo "== waiting for mod_md to obtain a certificate from pebble (ACME, http-01)"
staged=""
for i in $(seq 1 120); do
    if curl -s "http://127.0.0.1:$HTTP/md-status/demo.example.org" | python3 -c '
import json, sys
md = json.load(sys.stdin)
sys.exit(0 if md.get("renewal", {}).get("finished") else 1)' 2>/dev/null; then staged=1; break; fi
    sleep 1
done
if [ -z "$staged" ]; then
    echo "no certificate after 120 s; md-status says:"
    curl -s "http://127.0.0.1:$HTTP/md-status/demo.example.org"
    exit 1
fi
echo "certificate staged; activating it with a graceful restart"
/usr/sbin/apache2 -f "$demo/httpd.conf" -k graceful
sleep 2
curl -sk "https://127.0.0.1:$MGMT/roots/0" > "$demo/pebble/root.pem"
echo
echo "== certificate served for demo.example.org now"
echo | openssl s_client -connect "127.0.0.1:$HTTPS" -servername demo.example.org \
    -CAfile "$demo/pebble/root.pem" -verify_return_error 2>/dev/null \
    | grep -E "^(subject|issuer)=|Verify return code"
echo
echo "== https://demo.example.org/ verified against pebble's root"
curl -s --cacert "$demo/pebble/root.pem" --resolve "demo.example.org:$HTTPS:127.0.0.1" \
    "https://demo.example.org:$HTTPS/"

echo
echo "pebble (ACME CA): https://127.0.0.1:$ACME/dir   apache2: http://127.0.0.1:$HTTP https://127.0.0.1:$HTTPS"
echo "logs: $demo/logs   stop with: $0 stop"
