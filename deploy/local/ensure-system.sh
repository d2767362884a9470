#!/usr/bin/env bash
# Check (and, as root, install from Debian's packages) the programs the local stack runs.
#   ensure-system.sh core   Java 17 and Maven: Kafka and the registry (make demo)
#   ensure-system.sh full   plus PostgreSQL, MariaDB, Prometheus/promtool, kcat, headless
#                           Chromium with its driver (the monitor's board test), and ip and
#                           socat (the cluster's network-partition test) (make test)
set -euo pipefail
level="${1:-core}"

missing=()
need() {  # need <command-or-path> <debian package>
  if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "$1" ]; then missing+=("$2"); fi
}
need java openjdk-17-jdk-headless
need mvn maven
if [ "$level" = full ]; then
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then missing+=(postgresql); fi
  need mariadb-install-db mariadb-server
  need /usr/sbin/mariadbd mariadb-server
  need promtool prometheus
  need kcat kcat
  need chromium chromium
  need chromedriver chromium-driver
  need ip iproute2
  need socat socat
fi
[ ${#missing[@]} -eq 0 ] && exit 0

# shellcheck disable=SC2207
missing=($(printf '%s\n' "${missing[@]}" | sort -u))
if [ "$(id -u)" -ne 0 ]; then
  echo "error: missing Debian packages: ${missing[*]}" >&2
  echo "       install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
# Never let package scripts start system-wide services: the stack starts its own servers.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
