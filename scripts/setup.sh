#!/usr/bin/env bash
# Installs what the project needs on Debian 12, idempotently: the C libraries (libmodbus,
# libgpiod), pkg-config, and the tools the tests use. Swift packages come through SwiftPM.
# Runs as root, or through sudo when it is available.
set -euo pipefail

packages=(pkg-config libmodbus-dev libgpiod-dev libmosquitto-dev libcrypt-dev mosquitto libsqlite3-dev libxml2-utils openssl
          gcc gcc-aarch64-linux-gnu gcc-arm-linux-gnueabi libc6-dev-armel-cross qemu-user)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
    as_root=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null; then
  echo "setup: no Swift toolchain on PATH (expected Swift 6.3 at /opt/swift/usr/bin)" >&2
  exit 1
fi
