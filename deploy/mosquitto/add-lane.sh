#!/bin/sh
# Adds a lane's broker user and ACL (docs/SECURITY.md):
#   deploy/mosquitto/add-lane.sh DIR SITE LANE       -> prints the lane's uplink username and password
# DIR holds passwd and acl (created). The user lane-SITE-LANE may write rpm/SITE/LANE/records/#
# and rpm/SITE/LANE/status, and read rpm/SITE/LANE/ack: nothing of any other lane.
set -eu
dir=$1 site=$2 lane=$3
case "$site$lane" in *[!A-Za-z0-9._-]*) echo "add-lane: SITE and LANE: letters, digits, '.', '_', '-' only" >&2; exit 2 ;; esac
user="lane-$site-$lane"
password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
mkdir -p "$dir"
touch "$dir/passwd" "$dir/acl"
chmod 600 "$dir/passwd"
mosquitto_passwd -b "$dir/passwd" "$user" "$password"
if ! grep -q "^user $user\$" "$dir/acl"; then
    printf 'user %s\ntopic write rpm/%s/%s/records/#\ntopic write rpm/%s/%s/status\ntopic read rpm/%s/%s/ack\n\n' \
        "$user" "$site" "$lane" "$site" "$lane" "$site" "$lane" >> "$dir/acl"
fi
echo "username: $user"
echo "password: $password"
