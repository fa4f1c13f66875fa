#!/bin/sh
# nsupdate.sh: a dns-01 provider for mod_sacme's SacmeDnsCmd.
#
# It publishes and removes the TXT records of ACME dns-01 challenges by an
# RFC 2136 dynamic update, signed with a TSIG key (RFC 8945), through the
# `nsupdate` program of BIND (Debian: bind9-dnsutils). Any authoritative
# server that takes TSIG-signed dynamic updates works (BIND, Knot,
# PowerDNS, ...).
#
# Usage (as mod_sacme runs it):
#
#   nsupdate.sh [OPTIONS] setup    NAME VALUE
#   nsupdate.sh [OPTIONS] teardown NAME VALUE
#
#   NAME   the record's name, e.g. _acme-challenge.www.example.com
#   VALUE  the TXT value (base64url, 43 characters for SHA-256)
#
#   setup     ADDS one TXT record NAME VALUE. It never replaces what is
#             there: a wildcard (*.example.com) and its base name
#             (example.com) in one order need two values at the same name.
#   teardown  deletes exactly that value; other values at NAME stay.
#             Deleting a value that is not there succeeds (teardown may
#             be run again for a record a killed driver left behind).
#
# Options (mod_sacme runs the command with an empty environment, so they
# are given as arguments in SacmeDnsCmd, before the verb):
#
#   -s SERVER[:PORT]  the primary server to send the update to
#                     (an IPv6 address with a port: [ADDR]:PORT);
#                     without it, nsupdate asks the zone's SOA for its primary
#   -k KEYFILE        the TSIG key, as `tsig-keygen` writes it (required
#                     unless -K none: an unsigned update, for tests only)
#   -z ZONE           the zone to update (recommended; without it nsupdate
#                     looks the zone up through the system's resolver)
#   -t TTL            the records' TTL in seconds (default 60)
#   -T                send the update over TCP
#   -n PATH           the nsupdate program (default /usr/bin/nsupdate)
#
# Example, in httpd's configuration:
#
#   SacmeChallenge dns-01
#   SacmeDnsCmd /usr/share/doc/mod-sacme/dns/nsupdate.sh -s 192.0.2.53 \
#       -k /etc/apache2/acme-update.key -z example.com
#
# The key file must be readable by the account the driver runs as
# (SacmeDriverUser, else httpd's User), and by no one else.
#
# Exit status: 0 on success; 1 when the update failed (the server refused
# it, could not be reached, ...); 2 for wrong usage. On failure one line
# goes to standard error; on success nothing is written anywhere (mod_sacme
# treats output on standard error as a failure).
#
# POSIX sh; no bashisms. docs/dns.md describes the contract and a BIND set-up.

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
LC_ALL=C
export LC_ALL

prog=nsupdate.sh

die() {
    # $1: exit status, the rest: the message (one line)
    status=$1
    shift
    # a newline inside an argument must not make a second line
    printf '%s: %s\n' "$prog" "$(printf '%s' "$*" | tr '\n\r' '  ')" >&2
    exit "$status"
}

server=
keyfile=
zone=
ttl=60
tcp=
nsupdate=/usr/bin/nsupdate

while getopts 's:k:K:z:t:Tn:' opt; do
    case $opt in
    s) server=$OPTARG ;;
    k) keyfile=$OPTARG ;;
    K) [ "$OPTARG" = none ] || die 2 "-K takes only 'none'"
       keyfile=none ;;
    z) zone=$OPTARG ;;
    t) ttl=$OPTARG ;;
    T) tcp=-v ;;
    n) nsupdate=$OPTARG ;;
    *) die 2 "usage: $prog [-s SERVER[:PORT]] -k KEYFILE [-z ZONE] [-t TTL] [-T] [-n NSUPDATE] setup|teardown NAME VALUE" ;;
    esac
done
shift $((OPTIND - 1))

[ $# -eq 3 ] || die 2 "usage: $prog [OPTIONS] setup|teardown NAME VALUE (got $# arguments after the options)"
verb=$1
name=$2
value=$3

case $verb in
setup|teardown) ;;
*) die 2 "unknown verb '$verb' (setup or teardown)" ;;
esac

# Everything below goes into nsupdate's command script, one command a line:
# a newline, a space or a quote in an argument could add commands of its
# own, so each is held to the characters it may have.
only() {
    # $1: what, $2: the value, $3: the allowed characters (a bracket class)
    case $2 in
    '') die 2 "$1 is empty" ;;
    *[!$3]*) die 2 "$1 '$2' has a character outside [$3]" ;;
    esac
}
only NAME "$name" 'A-Za-z0-9._-'
only VALUE "$value" 'A-Za-z0-9_-'
case $name in
_acme-challenge.*) ;;
*) die 2 "NAME '$name' does not begin with _acme-challenge." ;;
esac
only "-t TTL" "$ttl" '0-9'
[ -z "$zone" ] || only "-z ZONE" "$zone" 'A-Za-z0-9._-'

port=
host=
if [ -n "$server" ]; then
    case $server in
    \[*\]:*) host=${server#\[}; host=${host%%\]*}; port=${server##*\]:} ;;
    \[*\])   host=${server#\[}; host=${host%\]} ;;
    *:*:*)   host=$server ;;                    # IPv6 without a port
    *:*)     host=${server%:*}; port=${server##*:} ;;
    *)       host=$server ;;
    esac
    only "-s SERVER" "$host" 'A-Za-z0-9.:_-'
    [ -z "$port" ] || only "-s port" "$port" '0-9'
fi

[ -n "$keyfile" ] || die 2 "no TSIG key: give -k KEYFILE (tsig-keygen writes one)"
if [ "$keyfile" = none ]; then
    set --
else
    [ -r "$keyfile" ] || die 2 "cannot read the key file $keyfile (it must be readable by the account the driver runs as)"
    set -- -k "$keyfile"
fi
[ -x "$nsupdate" ] || die 2 "$nsupdate is not an executable (install bind9-dnsutils, or give -n PATH)"

# RFC 2136: "update add" adds one record to the RRset (the same record twice
# is one record); "update delete NAME TXT DATA" removes exactly that record.
if [ "$verb" = setup ]; then
    action="update add $name. $ttl TXT \"$value\""
else
    action="update delete $name. TXT \"$value\""
fi

script=$(
    [ -z "$host" ] || printf 'server %s %s\n' "$host" "$port"
    [ -z "$zone" ] || printf 'zone %s.\n' "${zone%.}"
    printf '%s\n' "$action"
    printf 'send\n'
)

# nsupdate reports failures on standard error and sometimes standard
# output: keep both, and pass on one line of them only when it failed.
out=$(printf '%s\n' "$script" | "$nsupdate" $tcp "$@" 2>&1)
status=$?
if [ $status -ne 0 ]; then
    first=$(printf '%s\n' "$out" | grep -v '^[[:space:]]*$' | head -n 3 | tr '\n' ' ' | sed 's/ *$//')
    die 1 "$verb of $name TXT failed (nsupdate exit $status): ${first:-no output}"
fi
exit 0
