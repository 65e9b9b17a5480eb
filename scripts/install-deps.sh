#!/usr/bin/env bash
# Installs the Debian packages Hydra builds and tests with (run as root on
# Debian 12). Skips apt entirely when everything is already present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config tzdata
  libcurl4-openssl-dev libjansson-dev libyaml-dev libsqlite3-dev
  libcmocka-dev libmicrohttpd-dev libseccomp-dev
  zlib1g-dev  # rotated log files are gzip-compressed
  clang-14 libclang-rt-14-dev llvm-14
  # test_sweep_slurm: a single-node Slurm cluster runs a sweep's array job.
  slurm-wlm munge sqlite3
  prometheus  # promtool: test_metrics checks /metrics with `promtool check metrics`
  time        # /usr/bin/time: scripts/bench.sh daily measures whole processes
  chromium    # test_dashboard_browser drives the dashboard in headless Chromium
  rustc       # examples/rust: the Rust bot, built by /usr/bin/rustc alone (no cargo, no crates)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node and npm run the official Alpaca SDK against hydra-exchange (test_alpaca_sdk;
# skipped without them). A node already on PATH, from any source, is used as is.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install packages (run with sudo)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
