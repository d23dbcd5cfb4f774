#!/usr/bin/env bash
# es-server.sh - download, start, stop a local Elasticsearch / OpenSearch for
# espcap-fast's integration tests and for developers.
#
#   scripts/es-server.sh start|stop|status|url|ca|wipe [--flavor es8|es8sec|es9|os2|os3] [--port N]
#
# Flavors (versions overridable with ESPCAP_ES8_VERSION / ESPCAP_ES9_VERSION /
# ESPCAP_OS2_VERSION / ESPCAP_OS3_VERSION):
#   es8     Elasticsearch 8.19.x integ-test-zip, Java 17 (default JDK)
#   es8sec  the same with security on: HTTPS with a certificate from a test
#           CA made here with openssl (`ca` prints the CA file), users in the
#           file realm: espcap (superuser), espcap-reader (viewer),
#           espcap-writer (only what an import needs) and espcap-auditor
#           (monitor, may see and read indices, not delete them), all with the password
#           in ESPCAP_ES_PASSWORD (default espcap-test-password). For tests
#           only. (API keys need the security index, which this distribution
#           cannot create: it lacks the analysis modules.)
#   es9     Elasticsearch 9.x integ-test-zip, Java 21+ (ESPCAP_JAVA21_HOME,
#           default /usr/lib/jvm/temurin-25-jdk-amd64)
#   os2     OpenSearch 2.19.x integ-test-zip, Java 17
#   os3     OpenSearch 3.x integ-test-zip, Java 21+ (ESPCAP_JAVA21_HOME, as es9)
#
# The distribution is fetched once from Maven Central with `mvn
# dependency:copy` into ${ESPCAP_CACHE:-$HOME/.cache/espcap-fast}/dist and
# unpacked once; later starts reuse it. When run as root the server runs as the
# system user espcap-es (created if missing), because Elasticsearch refuses to
# run as root; since root's home is usually not readable by that user, the
# unpacked tree then lives under /var/tmp/espcap-fast instead of the cache.
# Data and logs live in ${ESPCAP_ES_RUNDIR:-/tmp/espcap-fast-es}/<flavor>-<port>
# and survive stop/start (use `wipe` to delete them).
#
# The server listens on 127.0.0.1 only, single-node discovery, security off
# (but for es8sec), small heap (ESPCAP_ES_HEAP, default 1g), disk watermarks disabled.
# `start` is idempotent and waits for yellow/green (ESPCAP_ES_TIMEOUT seconds,
# default 180), printing the log tail on failure. `url` prints the base URL.
set -euo pipefail

usage() {
	sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}

cmd=${1:-}
[ -n "$cmd" ] || usage
shift
flavor=es8
port=9200
while [ $# -gt 0 ]; do
	case "$1" in
	--flavor) flavor=${2:?--flavor needs a value}; shift 2 ;;
	--flavor=*) flavor=${1#*=}; shift ;;
	--port) port=${2:?--port needs a value}; shift 2 ;;
	--port=*) port=${1#*=}; shift ;;
	-h | --help) usage ;;
	*) echo "es-server: unknown argument: $1" >&2; usage ;;
	esac
done
case "$port" in '' | *[!0-9]*) echo "es-server: bad port: $port" >&2; exit 2 ;; esac

java17_home() {
	local j
	for j in "${ESPCAP_JAVA17_HOME:-}" /usr/lib/jvm/java-17-openjdk-amd64; do
		[ -n "$j" ] && [ -x "$j/bin/java" ] && { echo "$j"; return; }
	done
	j=$(command -v java) && dirname "$(dirname "$(readlink -f "$j")")"
}

secure=
case "$flavor" in
es8 | es8sec)
	[ "$flavor" = es8sec ] && secure=1
	version=${ESPCAP_ES8_VERSION:-8.19.9}
	artifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:$version:zip
	product=elasticsearch
	java_home=$(java17_home)
	;;
es9)
	version=${ESPCAP_ES9_VERSION:-9.3.2}
	artifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:$version:zip
	product=elasticsearch
	java_home=${ESPCAP_JAVA21_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
	;;
os2)
	version=${ESPCAP_OS2_VERSION:-2.19.6}
	artifact=org.opensearch.distribution.integ-test-zip:opensearch:$version:zip
	product=opensearch
	java_home=$(java17_home)
	;;
os3)
	version=${ESPCAP_OS3_VERSION:-3.3.2}
	artifact=org.opensearch.distribution.integ-test-zip:opensearch:$version:zip
	product=opensearch
	java_home=${ESPCAP_JAVA21_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
	;;
*) echo "es-server: unknown flavor $flavor (es8|es8sec|es9|os2|os3)" >&2; exit 2 ;;
esac

cache=${ESPCAP_CACHE:-$HOME/.cache/espcap-fast}
rundir=${ESPCAP_ES_RUNDIR:-/tmp/espcap-fast-es}/$flavor-$port
heap=${ESPCAP_ES_HEAP:-1g}
timeout=${ESPCAP_ES_TIMEOUT:-180}
url="http://127.0.0.1:$port"
[ -n "$secure" ] && url="https://127.0.0.1:$port"
password=${ESPCAP_ES_PASSWORD:-espcap-test-password}
svc_user=espcap-es
pidfile=$rundir/server.pid
logfile=$rundir/logs/console.log

log() { echo "es-server[$flavor:$port]: $*" >&2; }
die() { log "$*"; exit 1; }

as_root() { [ "$(id -u)" = 0 ]; }

ensure_user() {
	as_root || return 0
	id -u "$svc_user" >/dev/null 2>&1 && return 0
	useradd --system --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "$svc_user" ||
		die "cannot create system user $svc_user"
}

# svc_prefix: how to run a command as the service user (nothing when not root).
svc_prefix() {
	if as_root; then
		echo runuser -u "$svc_user" --
	fi
}

install_base() {
	if as_root; then
		echo "${ESPCAP_ES_INSTALL:-/var/tmp/espcap-fast}"
	else
		echo "$cache"
	fi
}

home_dir() { echo "$(install_base)/$product-$version"; }

# ensure_dist downloads (once) and unpacks (once) the distribution.
ensure_dist() {
	local home zip tmp
	home=$(home_dir)
	[ -x "$home/bin/$product" ] && return 0
	zip=$cache/dist/$product-$version.zip
	if [ ! -s "$zip" ]; then
		command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
		mkdir -p "$cache/dist"
		log "downloading $artifact with Maven"
		# A scratch directory: dependency:copy needs no pom but must not
		# pick up a project's pom.xml from the current directory.
		tmp=$(mktemp -d)
		(cd "$tmp" && mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="$artifact" \
			-DoutputDirectory="$cache/dist" -Dmdep.overWriteReleases=true 2>&1 |
			sed 's/\x1b\[[0-9;]*m//g' >&2) ||
			{ rm -rf "$tmp"; die "Maven could not fetch $artifact"; }
		rm -rf "$tmp"
		[ -s "$zip" ] || die "download finished but $zip is missing"
	fi
	log "unpacking $zip into $(install_base)"
	mkdir -p "$(install_base)"
	tmp=$(mktemp -d "$(install_base)/.unpack.XXXXXX")
	unzip -q "$zip" -d "$tmp" || { rm -rf "$tmp"; die "cannot unzip $zip"; }
	rm -rf "$home"
	mv "$tmp/$product-$version" "$home"
	rm -rf "$tmp"
	if as_root; then
		chmod 755 "$(install_base)"
		# The server writes to config/ (keystore, temp files) at start.
		chown -R "$svc_user:" "$home"
	fi
}

launcherfile=$rundir/launcher.pid

# (the server removes its pid file when it exits: read it once, quietly)
alive_in() {
	local p
	p=$(cat "$1" 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null
}

# pid_alive: the server (or its launcher, before the server wrote its pid
# file) is running.
pid_alive() { alive_in "$pidfile" || alive_in "$launcherfile"; }

# es_curl: curl with the test CA and user when the flavor is secure.
es_curl() {
	if [ -n "$secure" ]; then
		curl --cacert "$(certs_dir)/ca.pem" -u "espcap:$password" "$@"
	else
		curl "$@"
	fi
}

# http_up: something answers HTTP(S) on the port (any status).
http_up() { curl -sk -m 2 -o /dev/null "$url/" 2>/dev/null; }

health_ok() {
	es_curl -fsS -m 5 "$url/_cluster/health?wait_for_status=yellow&timeout=2s" 2>/dev/null |
		grep -Eq '"status":"(yellow|green)"'
}

# server_version asks the node itself: the integ-test-zip of Elasticsearch
# lacks the rest-root module, so `GET /` answers 405 there.
server_version() {
	es_curl -fsS -m 2 "$url/_nodes/_local?filter_path=nodes.*.version" 2>/dev/null |
		grep -o '"version":"[^"]*"' | head -1 | cut -d'"' -f4
}

# certs_dir: the test CA and the node's certificate, in the server's config
# directory (the server reads files from there only).
certs_dir() { echo "$(home_dir)/config/espcap-certs"; }

# ensure_security makes (once) the test CA, a certificate for 127.0.0.1 and
# localhost signed by it, and the file-realm users.
ensure_security() {
	local d home
	d=$(certs_dir)
	home=$(home_dir)
	if [ ! -s "$d/node.pem" ]; then
		command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
		mkdir -p "$d"
		log "making a test CA and a node certificate in $d"
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=espcap-fast test CA" \
			-keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null || die "openssl: CA"
		openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
			-keyout "$d/node.key" -out "$d/node.csr" 2>/dev/null || die "openssl: node key"
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$d/san.ext"
		openssl x509 -req -in "$d/node.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
			-days 3650 -extfile "$d/san.ext" -out "$d/node.pem" 2>/dev/null || die "openssl: node certificate"
		as_root && chown -R "$svc_user:" "$d"
	fi
	# the least a writer needs, as espcap-fast's 403 message says
	if ! grep -q '^espcap_writer:' "$home/config/roles.yml" 2>/dev/null; then
		cat >>"$home/config/roles.yml" <<-'EOF'
			espcap_writer:
			  cluster: [monitor, manage_index_templates]
			  indices:
			    - names: ['*']
			      privileges: [create_index, create_doc]
		EOF
	fi
	# one who may see and read the indices but not delete them (prune's 403)
	if ! grep -q '^espcap_auditor:' "$home/config/roles.yml" 2>/dev/null; then
		cat >>"$home/config/roles.yml" <<-'EOF'
			espcap_auditor:
			  cluster: [monitor]
			  indices:
			    - names: ['*']
			      privileges: [view_index_metadata, monitor, read]
		EOF
	fi
	local u role
	for u in espcap:superuser espcap-reader:viewer espcap-writer:espcap_writer espcap-auditor:espcap_auditor; do
		role=${u#*:}
		u=${u%%:*}
		grep -q "^$u:" "$home/config/users" 2>/dev/null && continue
		log "adding user $u ($role)"
		# shellcheck disable=SC2046
		$(svc_prefix) env ES_JAVA_HOME="$java_home" \
			"$home/bin/elasticsearch-users" useradd "$u" -p "$password" -r "$role" >&2 ||
			die "elasticsearch-users useradd $u failed"
	done
}

lock() {
	mkdir -p "$(dirname "$rundir")"
	exec 9>"$rundir.lock"
	flock -w 600 9 || die "cannot lock $rundir.lock"
}

do_start() {
	lock
	if pid_alive && health_ok; then
		log "already running"
		echo "$url"
		return 0
	fi
	if ! pid_alive && http_up; then
		die "something else already answers on $url; stop it or use --port"
	fi
	[ -x "$java_home/bin/java" ] || die "no Java at $java_home for $flavor"
	ensure_user
	ensure_dist
	[ -n "$secure" ] && ensure_security
	local home
	home=$(home_dir)
	if ! pid_alive; then
		mkdir -p "$rundir/data" "$rundir/logs" "$rundir/tmp"
		as_root && chown -R "$svc_user:" "$rundir"
		rm -f "$pidfile" "$launcherfile"
		local -a settings=(
			"-Ecluster.name=espcap-fast-$flavor-$port"
			"-Enode.name=espcap-$flavor"
			"-Ediscovery.type=single-node"
			"-Enetwork.host=127.0.0.1"
			"-Ehttp.port=$port"
			"-Etransport.port=$((port + 100))"
			"-Epath.data=$rundir/data"
			"-Epath.logs=$rundir/logs"
			"-Ecluster.routing.allocation.disk.threshold_enabled=false"
			"-Eaction.destructive_requires_name=false"
		)
		if [ -n "$secure" ]; then
			settings+=(
				"-Expack.security.enabled=true"
				"-Expack.security.http.ssl.enabled=true"
				"-Expack.security.http.ssl.certificate=espcap-certs/node.pem"
				"-Expack.security.http.ssl.key=espcap-certs/node.key"
				"-Expack.security.transport.ssl.enabled=false"
				"-Expack.security.authc.api_key.enabled=true"
			)
		elif [ -d "$home/modules/x-pack-security" ]; then
			settings+=("-Expack.security.enabled=false")
		fi
		[ -d "$home/modules/x-pack-ml" ] && settings+=("-Expack.ml.enabled=false")
		[ -d "$home/modules/ingest-geoip" ] && settings+=("-Eingest.geoip.downloader.enabled=false")
		[ -d "$home/plugins/opensearch-security" ] && settings+=("-Eplugins.security.disabled=true")
		local javaopts="-Xms$heap -Xmx$heap"
		log "starting $product $version (Java: $java_home, heap $heap, logs $rundir/logs)"
		# cd: the stock jvm.options writes gc.log relative to the cwd.
		# setsid: own session and process group, so that a signal to the
		# caller's group (Ctrl-C, timeout) does not take the server down.
		# cd: the stock jvm.options writes gc.log relative to the cwd.
		# 9>&-: fd 9 holds our lock; the server must not inherit it.
		# shellcheck disable=SC2046
		(cd "$rundir/logs" && exec setsid $(svc_prefix) env ES_JAVA_HOME="$java_home" \
			OPENSEARCH_JAVA_HOME="$java_home" JAVA_HOME="$java_home" \
			ES_JAVA_OPTS="$javaopts" OPENSEARCH_JAVA_OPTS="$javaopts" \
			ES_TMPDIR="$rundir/tmp" OPENSEARCH_TMPDIR="$rundir/tmp" \
			"$home/bin/$product" -p "$pidfile" "${settings[@]}") \
			</dev/null >"$logfile" 2>&1 9>&- &
		echo $! >"$launcherfile"
	fi
	local deadline=$((SECONDS + timeout))
	while [ $SECONDS -lt $deadline ]; do
		if health_ok; then
			log "up: $product $(server_version) at $url"
			echo "$url"
			return 0
		fi
		pid_alive || { log "server exited during start"; break; }
		sleep 1
	done
	log "did not become healthy within ${timeout}s; console log tail:"
	tail -n 40 "$logfile" >&2 || true
	local slog="$rundir/logs/espcap-fast-$flavor-$port.log"
	[ -f "$slog" ] && { log "server log tail:"; tail -n 40 "$slog" >&2; }
	do_stop_locked || true
	exit 1
}

do_stop_locked() {
	if ! pid_alive; then
		rm -f "$pidfile" "$launcherfile"
		log "not running"
		return 0
	fi
	local pid f
	for f in "$pidfile" "$launcherfile"; do
		alive_in "$f" && kill -TERM "$(cat "$f" 2>/dev/null)" 2>/dev/null
	done
	for _ in $(seq 1 60); do
		pid_alive || break
		sleep 1
	done
	for f in "$pidfile" "$launcherfile"; do
		if alive_in "$f"; then
			pid=$(cat "$f" 2>/dev/null) || continue
			log "pid $pid still alive after 60s, killing"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	rm -f "$pidfile" "$launcherfile"
	log "stopped"
}

do_stop() {
	lock
	do_stop_locked
}

do_status() {
	if pid_alive; then
		local st
		st=$(es_curl -fsS -m 2 "$url/_cluster/health" 2>/dev/null | grep -o '"status":"[a-z]*"' || echo 'no answer')
		echo "running pid=$(cat "$pidfile" 2>/dev/null || cat "$launcherfile") url=$url $flavor $(server_version) $st"
		return 0
	fi
	echo "stopped ($flavor $version, $url)"
	return 3
}

do_wipe() {
	lock
	pid_alive && die "running; stop it first"
	rm -rf "$rundir"
	log "wiped $rundir"
}

case "$cmd" in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
url) echo "$url" ;;
ca)
	[ -n "$secure" ] || die "flavor $flavor has no CA (use es8sec)"
	echo "$(certs_dir)/ca.pem"
	;;
wipe) do_wipe ;;
*) usage ;;
esac
