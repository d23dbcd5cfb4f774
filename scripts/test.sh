#!/usr/bin/env bash
# test.sh - the project's test command: installs what the tests need when it
# is missing (Debian packages: tshark, tcpdump, libpcap, tcpreplay, iproute2
# for the live-capture tests on their own network namespaces), starts a real
# Elasticsearch on 127.0.0.1:9200 (scripts/es-server.sh; downloads cached in
# ~/.cache/espcap-fast), runs every Go test, and stops the server. CI runs it
# through .ci/run; developers run it as it is. ESPCAP_ES_URL=URL uses a
# server that is already running instead; ESPCAP_NO_ES=1 starts none (the
# integration tests then skip, outside CI).
#
#   scripts/test.sh [go test flags...]     (default: ./...)
#
# Tests that need tshark, tcpdump or libpcap fail instead of skipping when CI
# is set.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v tshark >/dev/null || need+=(tshark)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v editcap >/dev/null || need+=(wireshark-common)
command -v tcpreplay >/dev/null || need+=(tcpreplay)
command -v ip >/dev/null || need+=(iproute2)
command -v setpriv >/dev/null || need+=(util-linux)
ldconfig -p 2>/dev/null | grep -q 'libpcap\.so' || need+=(libpcap0.8)
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" -eq 0 ]; then
		echo "test.sh: installing ${need[*]}" >&2
		export DEBIAN_FRONTEND=noninteractive
		echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
		apt-get update -qq >/dev/null
		apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	else
		echo "test.sh: missing ${need[*]} (install as root: apt-get install ${need[*]}); the tests that need them will skip" >&2
	fi
fi

if [ -n "${CI:-}" ]; then
	export ESPCAP_REQUIRE_TOOLS=1
fi

# The other servers (flavor:port): OpenSearch 2 and Elasticsearch 9, and
# Elasticsearch 8 with security on.
others="os2:9202 es9:9203 os3:9205"
secure=(--flavor es8sec --port 9204)

# A real Elasticsearch for the integration tests (bulk/, and the end-to-end
# tests): started here unless ESPCAP_ES_URL points at a running one.
if [ -z "${ESPCAP_ES_URL:-}" ] && [ -z "${ESPCAP_NO_ES:-}" ]; then
	scripts/es-server.sh start
	trap 'scripts/es-server.sh stop; for fp in $others; do scripts/es-server.sh stop --flavor "${fp%%:*}" --port "${fp##*:}" >/dev/null 2>&1; done; scripts/es-server.sh stop "${secure[@]}" >/dev/null 2>&1' EXIT
	ESPCAP_ES_URL=$(scripts/es-server.sh url)
	export ESPCAP_ES_URL
fi
if [ $# -eq 0 ]; then
	set -- ./...
fi
go vet ./...
go test -count=1 -timeout 40m "$@"

# The same sink against the other servers users run: OpenSearch 2 and
# Elasticsearch 9 (its own JDK), with the quick integration tests, and
# against Elasticsearch 8 with security on. Skipped with ESPCAP_NO_ES, or
# ESPCAP_ONE_SERVER=1 (a developer's quick run).
if [ -z "${ESPCAP_NO_ES:-}" ] && [ -z "${ESPCAP_ONE_SERVER:-}" ] && [ $# -eq 1 ] && [ "$1" = ./... ]; then
	for fp in $others; do
		flavor=${fp%%:*} port=${fp##*:}
		scripts/es-server.sh start --flavor "$flavor" --port "$port"
		echo "test.sh: integration tests against $flavor" >&2
		ESPCAP_ES_URL=$(scripts/es-server.sh url --flavor "$flavor" --port "$port") \
			go test -short -count=1 -timeout 10m -run 'Integration|Node|Template|Export' ./bulk/ ./cmd/espcap-fast/
		scripts/es-server.sh stop --flavor "$flavor" --port "$port"
	done
	# Elasticsearch with security on: HTTPS with its own test CA, and
	# users with all, some and none of the privileges an import needs.
	scripts/es-server.sh start "${secure[@]}"
	echo "test.sh: tests against ${secure[1]} (security on)" >&2
	ESPCAP_ES_SECURE_URL=$(scripts/es-server.sh url "${secure[@]}") \
		ESPCAP_ES_SECURE_CA=$(scripts/es-server.sh ca "${secure[@]}") \
		go test -count=1 -timeout 10m -run 'Secure' ./cmd/espcap-fast/
	scripts/es-server.sh stop "${secure[@]}"
fi
