#!/bin/sh
# Adds a collector's broker user and ACL (docs/SECURITY.md):
#   deploy/mosquitto/add-collector.sh DIR NAME        -> prints the password (give it to --password-file)
# The user collector-NAME may read every lane's records and status and write their
# acknowledgements: it cannot publish records.
set -eu
. "$(dirname "$0")/user.sh"
dir=$1 name=$2
check_name "add-collector: NAME" "$name"
add_user "$dir" "collector-$name" "topic read rpm/+/+/records/#
topic read rpm/+/+/status
topic write rpm/+/+/ack"
