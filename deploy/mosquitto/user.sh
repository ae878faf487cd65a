# Sourced by add-lane.sh and add-collector.sh: one broker user with a fresh password and its
# ACL stanza (kept once per user). Prints the password.
add_user() {  # DIR USER ACL-LINES
    dir=$1 user=$2 acl=$3
    password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
    mkdir -p "$dir"
    touch "$dir/passwd" "$dir/acl"
    chmod 600 "$dir/passwd"
    mosquitto_passwd -b "$dir/passwd" "$user" "$password"
    grep -q "^user $user\$" "$dir/acl" || printf 'user %s\n%s\n\n' "$user" "$acl" >> "$dir/acl"
    echo "password: $password"
}

check_name() {  # WHAT VALUE...
    what=$1; shift
    for v in "$@"; do
        case "$v" in ''|*[!A-Za-z0-9._-]*) echo "$what: letters, digits, '.', '_', '-' only" >&2; exit 2 ;; esac
    done
}
