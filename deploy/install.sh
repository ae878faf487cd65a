#!/bin/sh
# Installs the lane agent on a pillar board (run as root): the binary, the unit, a system user
# with access to the GPIO chips and serial ports, the board profile. Idempotent.
#   deploy/install.sh BINARY BOARD_PROFILE [REGISTER_MAP_DIR]
set -eu
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root" >&2; exit 2; }
[ $# -ge 2 ] || { echo "usage: install.sh BINARY BOARD_PROFILE [REGISTER_MAP_DIR]" >&2; exit 2; }
binary=$1 profile=$2 maps=${3:-$(dirname "$2")/panels}
here=$(cd "$(dirname "$0")" && pwd)
"$binary" check-board "$profile"                      # refuse a broken profile before touching anything
getent group gpio >/dev/null || groupadd --system gpio
getent passwd lane-agent >/dev/null || useradd --system --home-dir /var/lib/lane-agent --shell /usr/sbin/nologin --user-group lane-agent
usermod -a -G dialout,gpio lane-agent
# The GPIO character devices to the gpio group (a udev rule; the Pi OS ships its own).
[ -e /etc/udev/rules.d/60-lane-agent-gpio.rules ] || \
    echo 'SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"' > /etc/udev/rules.d/60-lane-agent-gpio.rules
udevadm control --reload-rules 2>/dev/null && udevadm trigger --subsystem-match=gpio 2>/dev/null || true
install -m 0755 "$binary" /usr/local/bin/lane-agent
install -d -m 0750 -o root -g lane-agent /etc/lane-agent
install -m 0640 -o root -g lane-agent "$profile" /etc/lane-agent/board.yaml
if [ -d "$maps" ]; then install -d -m 0750 -o root -g lane-agent /etc/lane-agent/panels && install -m 0640 -o root -g lane-agent "$maps"/*.yaml /etc/lane-agent/panels/; fi
install -d -m 0755 /usr/local/share/doc/lane-agent
install -m 0644 "$here/../docs/BOARDS.md" "$here/../docs/OPERATIONS.md" /usr/local/share/doc/lane-agent/ 2>/dev/null || true
install -m 0644 "$here/lane-agent.service" /etc/systemd/system/lane-agent.service
systemctl daemon-reload
systemctl enable --now lane-agent.service
systemctl --no-pager status lane-agent.service || true
