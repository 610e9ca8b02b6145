#!/usr/bin/env bash
# System packages the tests need: Chromium (browser tests), Mosquitto and its clients, npm (portal assets).
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v mosquitto_pub >/dev/null || need+=(mosquitto-clients)
command -v mosquitto >/dev/null || need+=(mosquitto)
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
/usr/bin/chromium --version
