#!/usr/bin/env bash
# Builds DIR/mpi (a sandbox) with the Open MPI programs of tests/mpi (ring, pingpong) compiled
# by the host's mpicc, and the libraries they and Open MPI's components load, copied from the
# host: an image whose MPI is the host's, the "hybrid model" of Apptainer's MPI guide (mpirun
# outside, the MPI library inside). Busybox provides the shell. Usage: image.sh DIR
set -euo pipefail
dir=$(realpath -m "${1:?usage: image.sh DIR}")
src=$(cd "$(dirname "$0")" && pwd)
sb=$dir/mpi
rm -rf "$sb"; mkdir -p "$sb"/{bin,usr/bin,tmp,etc,proc,sys,dev,root,opt}
chmod 1777 "$sb/tmp"
cp /bin/busybox "$sb/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$sb/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$sb/etc/passwd"
printf 'root:x:0:\n' > "$sb/etc/group"
for p in ring pingpong; do mpicc -O2 -o "$sb/opt/$p" "$src/$p.c"; done
# Open MPI's and PMIx's components are dlopen()ed: copy their directories, then every library
# that anything copied needs (ldd), keeping the host's paths.
libdir=/usr/lib/x86_64-linux-gnu
copy() { mkdir -p "$sb$(dirname "$1")"; cp -aL "$1" "$sb$1"; }
for d in "$libdir/openmpi" "$libdir/pmix2" /usr/share/openmpi /usr/share/pmix /etc/openmpi; do
  [ -e "$d" ] || continue
  mkdir -p "$sb$(dirname "$d")"; cp -a "$d" "$sb$(dirname "$d")/"
done
todo=$(find "$sb/opt" "$sb$libdir/openmpi" "$sb$libdir/pmix2" -type f \( -name '*.so*' -o -perm -u+x \) 2>/dev/null)
declare -A seen
while [ -n "$todo" ]; do
  next=""
  for f in $todo; do
    for l in $(ldd "$f" 2>/dev/null | awk '/=> \//{print $3} /^\t\/lib/{print $1}'); do
      [ -n "${seen[$l]:-}" ] && continue
      seen[$l]=1
      copy "$l"
      # Keep the soname link under the name ldd printed, and the real file it points to.
      next="$next $sb$l"
    done
  done
  todo=$next
done
# The loader path as the programs name it.
[ -e "$sb/lib64/ld-linux-x86-64.so.2" ] || copy /lib64/ld-linux-x86-64.so.2
mkdir -p "$sb/.singularity.d/env"
echo "$sb"
