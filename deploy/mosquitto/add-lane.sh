#!/bin/sh
# Adds a lane's broker user and ACL (docs/SECURITY.md):
#   deploy/mosquitto/add-lane.sh DIR SITE LANE       -> prints the lane's uplink username and password
# DIR holds passwd and acl (created). The user lane-SITE-LANE may write rpm/SITE/LANE/records/#
# and rpm/SITE/LANE/status, and read rpm/SITE/LANE/ack: nothing of any other lane.
set -eu
. "$(dirname "$0")/user.sh"
dir=$1 site=$2 lane=$3
check_name "add-lane: SITE and LANE" "$site" "$lane"
echo "username: lane-$site-$lane"
add_user "$dir" "lane-$site-$lane" "topic write rpm/$site/$lane/records/#
topic write rpm/$site/$lane/status
topic read rpm/$site/$lane/ack"
