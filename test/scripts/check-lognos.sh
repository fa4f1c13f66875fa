#!/bin/sh
# Log message tags: every SACME_LOGNO(nnnnn) is used once, has five digits,
# and is below docs/log-message-tags/next-number. Run by 'make check'.
top=${1:-.}
next=$(cat "$top/docs/log-message-tags/next-number")
tags=$(grep -rhoE 'SACME_LOGNO\([0-9]*\)' "$top/mod_sacme" --include='*.c' | sed 's/SACME_LOGNO(\(.*\))/\1/')
status=0
dups=$(printf '%s\n' $tags | sort | uniq -d)
if [ -n "$dups" ]; then
    echo "check-lognos: tags used more than once: $dups" >&2
    status=1
fi
for t in $tags; do
    case $t in
        [0-9][0-9][0-9][0-9][0-9]) ;;
        *) echo "check-lognos: tag '$t' is not five digits" >&2; status=1; continue ;;
    esac
    if [ "$(expr "$t" + 0)" -ge "$next" ]; then
        echo "check-lognos: tag $t is not below next-number $next (bump docs/log-message-tags/next-number)" >&2
        status=1
    fi
done
[ $status -eq 0 ] && echo "check-lognos: $(printf '%s\n' $tags | grep -c .) tags, all unique"
exit $status
