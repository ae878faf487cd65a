#!/bin/sh
# Adds a collector's broker user and ACL (docs/SECURITY.md):
#   deploy/mosquitto/add-collector.sh DIR NAME        -> prints the password (give it to --password-file)
# The user collector-NAME may read every lane's records and status and write their
# acknowledgements: it cannot publish records.
set -eu
dir=$1 name=$2
case "$name" in *[!A-Za-z0-9._-]*) echo "add-collector: NAME: letters, digits, '.', '_', '-' only" >&2; exit 2 ;; esac
user="collector-$name"
password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
mkdir -p "$dir"
touch "$dir/passwd" "$dir/acl"
chmod 600 "$dir/passwd"
mosquitto_passwd -b "$dir/passwd" "$user" "$password"
if ! grep -q "^user $user\$" "$dir/acl"; then
    printf 'user %s\ntopic read rpm/+/+/records/#\ntopic read rpm/+/+/status\ntopic write rpm/+/+/ack\n\n' "$user" >> "$dir/acl"
fi
echo "password: $password"
