#!/usr/bin/env bash
# Installs what the project needs on Debian 12, idempotently, and then checks that it is all
# there. Every package the build, `make demo` and `make test` use is named below, installed with
# --no-install-recommends, so the list is complete by construction: a package that only came
# along as another's recommendation on a developer's machine would be missing on a fresh one.
# Swift packages come through SwiftPM. Runs as root, or through sudo when it is available.
#
#   scripts/setup.sh           install what is missing, then check
#   scripts/setup.sh --check   check only (installs nothing): every listed package is installed
#                              (dpkg), every tool the tests run is on its path, and for each
#                              cross target a one-line C program compiles, links and runs under
#                              qemu-user. Fails with one line naming the missing package.
set -euo pipefail
cd "$(dirname "$0")/.."

# package               what uses it
packages=(
  pkg-config            # SwiftPM finds the C libraries through it
  libmodbus-dev         # Modbus RTU/TCP: agent, simulator, tests (CModbus)
  libgpiod-dev          # GPIO lines on a real board (CGPIOD)
  libmosquitto-dev      # the MQTT uplink and the collector (CMosquitto)
  libsqlite3-dev        # the collector's store (CSQLite)
  libpq-dev             # the collector's PostgreSQL store (CPostgres)
  postgresql            # the PostgreSQL server the collector tests start on loopback
  libcrypt-dev          # console password hashes (CCrypt)
  mosquitto             # the broker the uplink tests start on loopback; mosquitto_passwd
  libxml2-utils         # xmllint: the N42.42 export validated against its schema
  libxml2-dev           # libxml2: the agent reads gate OCR messages in XML (CLibXML2)
  openssl               # the TLS tests make a CA and certificates
  gcc                   # the golden-vector harness on this host; SwiftPM links C shims
  libc6-dev             # C headers for this host
  gcc-aarch64-linux-gnu # the golden-vector harness for aarch64
  libc6-dev-arm64-cross # its C library and headers (a recommendation only: named here)
  gcc-arm-linux-gnueabi # the golden-vector harness for armv7
  libc6-dev-armel-cross # its C library and headers (a recommendation only: named here)
  qemu-user             # runs the aarch64 and armv7 harnesses (qemu-aarch64, qemu-arm)
  python3-venv          # a virtual environment (.venv) for the field's readers from PyPI, below
  systemd               # systemd-analyze: the tests verify deploy/lane-agent.service
  qemu-system-x86       # the kernel GPIO test boots Debian's kernel in a VM (scripts/gpio-vm.sh)
  busybox-static        # the VM's whole user space
  cpio                  # packs the VM's initramfs
  xz-utils              # unpacks gpio-sim's source from linux-source-6.1 (downloaded, not installed)
  linux-headers-amd64   # gpio-sim is built against the headers of the kernel the VM boots
)

# Python packages from PyPI, into .venv (Debian's Python refuses system-wide pip installs):
# the readers the field runs, used by the tests as outside readers of what we write.
python_packages=(
  sandiaspecutils==0.0.11  # Sandia's SpecUtils (InterSpec, Cambio): reads the N42.42 export
)

# Each tool a test or the demo runs, and the package it comes from.
tools=(
  /usr/bin/pkg-config:pkg-config
  /usr/sbin/mosquitto:mosquitto
  /usr/bin/mosquitto_passwd:mosquitto
  /usr/bin/xmllint:libxml2-utils
  /usr/bin/openssl:openssl
  /usr/bin/gcc:gcc
  /usr/bin/aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu
  /usr/bin/arm-linux-gnueabi-gcc:gcc-arm-linux-gnueabi
  /usr/bin/qemu-aarch64:qemu-user
  /usr/bin/qemu-arm:qemu-user
  /usr/bin/python3:python3-venv
  /usr/lib/postgresql/15/bin/postgres:postgresql
  /usr/lib/postgresql/15/bin/initdb:postgresql
  /usr/bin/qemu-system-x86_64:qemu-system-x86
  /bin/busybox:busybox-static
  /usr/bin/cpio:cpio
  /usr/bin/xz:xz-utils
)
# Each pkg-config module Package.swift names, and its package.
modules=(libmodbus:libmodbus-dev libgpiod:libgpiod-dev libmosquitto:libmosquitto-dev sqlite3:libsqlite3-dev libcrypt:libcrypt-dev libpq:libpq-dev libxml-2.0:libxml2-dev)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing_packages() {
  local p
  for p in "${packages[@]}"; do installed "$p" || echo "$p"; done
}

# Compiles, links and runs a one-line C program for a target: proves the compiler, its C library
# headers (stdint.h pulls in bits/libc-header-start.h from the libc6-dev package) and, under
# qemu-user, its run-time C library.
cross_check() {
  local name=$1 cc=$2 libc=$3 runner=$4 sysroot=$5 flags=$6 dir out
  dir=$(mktemp -d)
  printf '#include <stdint.h>\n#include <stdio.h>\nint main(void) { printf("%%d\\n", (int)INT8_MAX); return 0; }\n' > "$dir/t.c"
  # shellcheck disable=SC2086
  if ! out=$("$cc" $flags "$dir/t.c" -o "$dir/t" 2>&1); then
    echo "setup: the $name C compiler cannot build a program with <stdint.h> and <stdio.h>: install $libc ($(echo "$out" | grep -m1 -i error || echo "$out" | head -n1))"
    rm -rf "$dir"; return 1
  fi
  if ! out=$(${runner:+$runner -L $sysroot} "$dir/t" 2>&1) || [ "$out" != 127 ]; then
    echo "setup: a $name program does not run${runner:+ under $runner}: install ${runner:+qemu-user and }$libc ($out)"
    rm -rf "$dir"; return 1
  fi
  rm -rf "$dir"
}

check() {
  local bad=0 p entry
  for p in $(missing_packages); do
    echo "setup: missing package $p (apt-get install --no-install-recommends $p)"
    bad=1
  done
  for entry in "${tools[@]}"; do
    [ -x "${entry%%:*}" ] || { echo "setup: missing ${entry%%:*}: install ${entry##*:}"; bad=1; }
  done
  for entry in "${modules[@]}"; do
    pkg-config --exists "${entry%%:*}" 2>/dev/null || { echo "setup: pkg-config finds no ${entry%%:*}: install ${entry##*:}"; bad=1; }
  done
  [ $bad -eq 0 ] || return 1
  cross_check "host" gcc libc6-dev "" "" "" || bad=1
  cross_check "aarch64" aarch64-linux-gnu-gcc libc6-dev-arm64-cross qemu-aarch64 /usr/aarch64-linux-gnu "-fPIE -pie" || bad=1
  cross_check "armv7" arm-linux-gnueabi-gcc libc6-dev-armel-cross qemu-arm /usr/arm-linux-gnueabi "-march=armv7-a -fPIE -pie" || bad=1
  local py
  for py in "${python_packages[@]}"; do
    .venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('${py%%==*}') != '${py##*==}')" 2>/dev/null \
      || { echo "setup: missing Python package $py in .venv (scripts/setup.sh installs it from PyPI)"; bad=1; }
  done
  if ! command -v swift >/dev/null; then
    echo "setup: no Swift toolchain on PATH (expected Swift 6.3 on the PATH or at /opt/swift/usr/bin)"
    bad=1
  fi
  return $bad
}

if [ "${1:-}" = "--check" ]; then
  check
  exit $?
fi

mapfile -t missing < <(missing_packages)
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
# The kernel the GPIO VM boots must be one the archive still offers (scripts/gpio-vm.sh downloads
# linux-image-ABI for the installed headers' ABI): when Debian has moved to a new ABI, the
# headers follow it.
abi=$(scripts/gpio-vm.sh abi)
if [ -n "$abi" ] && ! apt-cache show "linux-image-$abi" >/dev/null 2>&1; then
  echo "setup: the archive no longer has linux-image-$abi: moving the headers to its current kernel"
  as_root=(); [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends linux-headers-amd64 >/dev/null
fi
# The Python readers: a venv of Debian's Python in the clone (git-ignored), from PyPI.
venv_ok() {
  local py
  for py in "${python_packages[@]}"; do
    .venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('${py%%==*}') != '${py##*==}')" 2>/dev/null || return 1
  done
}
if ! venv_ok; then
  echo "setup: installing ${python_packages[*]} into .venv from PyPI"
  [ -x .venv/bin/python ] || /usr/bin/python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check "${python_packages[@]}"
fi
check >&2
