#!/bin/sh
# The engine (mod_sacme/lib) must build without httpd: fail if any file
# there includes an httpd header. Run by 'make check'.
top=${1:-.}
pattern='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](httpd|http_[a-z_]+|ap_[a-z_]+|mod_[a-z_]+|util_[a-z_]+|scoreboard|apreq[a-z_]*|unixd|mpm_common|ap_config|ap_mmn)\.h[>"]'
hits=$(grep -nE "$pattern" "$top"/mod_sacme/lib/*.c "$top"/mod_sacme/lib/*.h 2>/dev/null)
if [ -n "$hits" ]; then
    echo "check-layering: httpd headers included in mod_sacme/lib (the engine must stay httpd-free):" >&2
    echo "$hits" >&2
    exit 1
fi
echo "check-layering: mod_sacme/lib includes no httpd header"
