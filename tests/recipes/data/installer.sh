#!/bin/sh
# A stand-in for a vendor installer: installs a tool under --prefix with the version from
# --config.
set -e
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=$2; shift 2 ;;
        --config) config=$2; shift 2 ;;
        *) echo "installer.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
. "$config"
mkdir -p "$prefix/bin"
printf '#!/bin/sh\necho "tool %s installed by installer.sh"\n' "$VERSION" > "$prefix/bin/tool"
chmod 0755 "$prefix/bin/tool"
