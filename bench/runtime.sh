#!/usr/bin/env bash
# singlet-oci against crun and runc on the same busybox bundle, interleaved in one run:
#   `run` of /bin/true as root and as an unprivileged user, create+start+delete as root,
#   and the peak RSS of each runtime during `run`. Prints medians and ratios.
#   Unprivileged, singlet-oci runs twice: as installed (a root-owned binary, which container
#   root cannot write, so it runs as it is) and from a copy the user owns (re-executed from a
#   sealed memfd copy first, see src/sys/exe.rs); as root it moves onto a read-only view of
#   itself in place (no second execve; it re-executes only where the kernel refuses that).
# Usage (as root): bench/runtime.sh [RUNS]   (default 30)
#   SINGLET_BASELINE=/path/to/older/singlet adds that build to every comparison ("baseline").
source "$(dirname "$0")/common.sh"
RUNS=${1:-30}
BASE=()
if [ -n "${SINGLET_BASELINE:-}" ]; then
  mkdir -p "$W/base"
  cp "$SINGLET_BASELINE" "$W/base/singlet"
  ln -sf singlet "$W/base/singlet-oci"
fi
base() { # the baseline's command, if any: base TEMPLATE (with {rt} for its singlet-oci)
  [ -n "${SINGLET_BASELINE:-}" ] && printf '%s\n' "baseline=${1//\{rt\}/$W/base/singlet-oci}"
  return 0
}

echo "# singlet-oci vs crun vs runc: run /bin/true ($RUNS runs each, interleaved)"
echo "host: $(uname -r), $(nproc) cpus; crun $(crun --version | head -1 | awk '{print $3}'), runc $(runc --version | head -1 | awk '{print $3}')"
# how much of its order file the binary under test still has (build.rs; a stale order file
# costs start-up pages, not correctness: regenerate it with bench/startup-order.sh)
if command -v nm >/dev/null && command -v readelf >/dev/null; then
  order=$(order_file "$W/singlet")
  have=$(nm --defined-only "$W/singlet" 2>/dev/null | awk '{print $3}' | sort -u | comm -12 - <(sort -u "$order") | wc -l)
  echo "${order#"$REPO/"}: $have of $(wc -l < "$order") start-up functions found in the binary"
fi
true_bundle "$W/root-bundle"
cd "$W/root-bundle"
mapfile -t B < <(base "{rt} --root $W/st-b run b{i}")
$INTERLEAVE --runs "$RUNS" --title "root: run" \
  "singlet-oci=$W/singlet-oci --root $W/st-s run s{i}" "${B[@]}" \
  "crun=crun --root $W/st-c run c{i}" \
  "runc=runc --root $W/st-r run r{i}"
mapfile -t B < <(base "{rt} --root $W/st-b create x{i} >/dev/null && {rt} --root $W/st-b start x{i} && {rt} --root $W/st-b delete -f x{i}")
$INTERLEAVE --runs "$RUNS" --title "root: create + start + delete" \
  "singlet-oci=$W/singlet-oci --root $W/st-s create x{i} >/dev/null && $W/singlet-oci --root $W/st-s start x{i} && $W/singlet-oci --root $W/st-s delete -f x{i}" "${B[@]}" \
  "crun=crun --root $W/st-c create x{i} && crun --root $W/st-c start x{i} && crun --root $W/st-c delete -f x{i}" \
  "runc=runc --root $W/st-r create x{i} && runc --root $W/st-r start x{i} && runc --root $W/st-r delete -f x{i}"

echo
echo "## peak RSS during run (KiB, max of 5)"
for rt in "$W/singlet-oci" ${SINGLET_BASELINE:+"$W/base/singlet-oci"} crun runc; do
  m=0
  for i in 1 2 3 4 5; do
    r=$(/usr/bin/time -f %M "$rt" --root "$W/st-m" run "m$i" 2>&1 >/dev/null | tail -1)
    [ "$r" -gt "$m" ] && m=$r
  done
  echo "$rt: $m" | sed "s#$W/base/singlet-oci#baseline#; s#$W/##"
done

mkdir -p "$W/user"
chown "$BUSER:" "$W/user"
as_user "mkdir -p \$W/user/b" >/dev/null
# the rootless config maps container root to the bench user
true_bundle "$W/user/b" "$(id -u "$BUSER")" "$(id -g "$BUSER")"
mkdir -p "$W/user/own"
cp "$W/singlet" "$W/user/own/singlet"
ln -sf singlet "$W/user/own/singlet-oci"
chown -R "$BUSER:" "$W/user"
BU=""
[ -n "${SINGLET_BASELINE:-}" ] && BU="\"baseline=$W/base/singlet-oci --root $W/user/st-b run b{i}\""
cat > "$W/user/bench.sh" <<EOS
cd $W/user/b
python3 $BENCH/interleave.py --runs $RUNS --title "unprivileged ($BUSER): run" \
  "singlet-oci=$W/singlet-oci --root $W/user/st-s run s{i}" $BU \
  "singlet-oci (own copy, sealed memfd)=$W/user/own/singlet-oci --root $W/user/st-o run o{i}" \
  "crun=crun --root $W/user/st-c run c{i}" \
  "runc=runc --root $W/user/st-r run r{i}"
EOS
chmod 755 "$W/user/bench.sh"
as_user "sh $W/user/bench.sh"
