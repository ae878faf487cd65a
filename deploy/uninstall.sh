#!/bin/sh
# Removes what install.sh installed; keeps the journal and the kept background in
# /var/lib/lane-agent unless --purge (records not yet at the alarm station live there).
set -eu
[ "$(id -u)" = 0 ] || { echo "uninstall.sh: run as root" >&2; exit 2; }
systemctl disable --now lane-agent.service 2>/dev/null || true
/usr/local/bin/lane-agent safe-outputs --board /etc/lane-agent/board.yaml 2>/dev/null || true
rm -f /etc/systemd/system/lane-agent.service /usr/local/bin/lane-agent /etc/udev/rules.d/60-lane-agent-gpio.rules
systemctl daemon-reload
rm -rf /etc/lane-agent /usr/local/share/doc/lane-agent
if [ "${1:-}" = --purge ]; then rm -rf /var/lib/lane-agent; userdel lane-agent 2>/dev/null || true; fi
echo "lane-agent removed$([ "${1:-}" = --purge ] && echo ", its journal too" || echo "; its journal is kept in /var/lib/lane-agent (--purge removes it)")"
