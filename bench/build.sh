#!/usr/bin/env bash
# Definition-file builds: `singlet build out.sif app.def` (base: the Debian 12 SIF fixture;
# %post writes a file, %environment/%runscript/%labels stored) as root and rootless (fakeroot
# with the subuid range), against the same work done by hand as root with squashfs-tools and
# siftool: unsquashfs the partition, run the %post line with chroot, write the same metadata
# files, mksquashfs (gzip, as ours), siftool new + add. No Apptainer on this host; the by-hand
# pipeline is the floor Apptainer's own localimage build (unsquash, %post, mksquashfs) stands on.
# Usage: bench/build.sh [RUNS] [RECIPE_RUNS]
source "$(dirname "$0")/common.sh"
RUNS=${1:-5}
"$REPO/tests/interop/build.sh" "$W/ref" >/dev/null
SIFTOOL="$W/ref/siftool"
D="$TESTDATA/reference/debian.sif"
OFF=$("$W/singlet" sif list "$D" | awk -F'|' '/\*System/ {split($4, a, "-"); print a[1]+0}')

mkdir -p "$W/u"
cat > "$W/u/app.def" <<EOF
Bootstrap: localimage
From: $D

%post
    echo built > /opt/built.txt

%environment
    export GREETING=hello

%runscript
    echo "\$GREETING"

%labels
    Bench yes
EOF
cat > "$W/byhand.sh" <<EOF
set -e
rm -rf "$W/h" && mkdir "$W/h"
unsquashfs -q -n -o $OFF -d "$W/h/root" "$D" >/dev/null
chroot "$W/h/root" /bin/sh -e -c 'echo built > /opt/built.txt'
printf '#!/bin/sh\nexport GREETING=hello\n' > "$W/h/root/.singularity.d/env/90-environment.sh"
printf '#!/bin/sh\necho "\$GREETING"\n' > "$W/h/root/.singularity.d/runscript"
cp "$W/u/app.def" "$W/h/root/.singularity.d/Singularity"
mksquashfs "$W/h/root" "$W/h/p.sqfs" -noappend -quiet -comp gzip >/dev/null
"$SIFTOOL" new "$W/h/out.sif"
"$SIFTOOL" add --datatype 4 --parttype 2 --partfs 1 --partarch 2 --groupid 1 "$W/h/out.sif" "$W/h/p.sqfs"
EOF
chown -R "$BUSER:" "$W/u"

echo "# definition-file build on debian.sif, $(stat -c %s "$D") bytes ($RUNS runs each, interleaved)"
$INTERLEAVE --runs "$RUNS" --warmup 1 --title "build out.sif app.def" \
  "singlet root=cd $W/u && rm -f r.sif && $W/singlet -q build r.sif app.def" \
  "singlet rootless=cd $W/u && rm -f u.sif && setpriv --reuid=$(id -u "$BUSER") --regid=$(id -g "$BUSER") --init-groups env -i HOME=/home/$BUSER PATH=/usr/bin:/bin $W/singlet -q build u.sif app.def" \
  "by hand (unsquashfs+chroot+mksquashfs+siftool)=sh $W/byhand.sh"
ls -l "$W/u/r.sif" "$W/u/u.sif" "$W/h/out.sif" | awk '{print "#", $5, $NF}'

# The recipe corpus' two largest recipes (tests/recipes/): debootstrap-legacy.def (Debian from
# debootstrap, `apt-get install hello`) and python-app.def (the Debian SIF, `apt-get install
# python3-minimal`, a script in %files), root and rootless, against the same work by hand as
# root: debootstrap or unsquashfs → chroot apt-get → mksquashfs → siftool. Both sides download
# the packages from the mirror apt uses, each run.
CRUNS=${2:-3}
R="$REPO/tests/recipes"
mkdir -p "$W/c"
cp -r "$R/data" "$W/c/data"
sed -e "s|@DEBIAN_SIF@|$D|g" -e "s|@RECIPES@|$W/c|g" "$R/python-app.def" > "$W/c/python.def"
cp "$R/debootstrap-legacy.def" "$W/c/deb.def"
chown -R "$BUSER:" "$W/c"
cat > "$W/byhand-deb.sh" <<EOF
set -e
rm -rf "$W/hd" && mkdir "$W/hd"
debootstrap --variant=minbase bookworm "$W/hd/root" http://deb.debian.org/debian/ >/dev/null
mount -t proc proc "$W/hd/root/proc"
chroot "$W/hd/root" /bin/sh -e -c 'apt-get update -q >/dev/null && apt-get -y -q install hello >/dev/null' || { umount "$W/hd/root/proc"; exit 1; }
umount "$W/hd/root/proc"
mksquashfs "$W/hd/root" "$W/hd/p.sqfs" -noappend -quiet -comp gzip >/dev/null
"$SIFTOOL" new "$W/hd/out.sif"
"$SIFTOOL" add --datatype 4 --parttype 2 --partfs 1 --partarch 2 --groupid 1 "$W/hd/out.sif" "$W/hd/p.sqfs"
EOF
cat > "$W/byhand-py.sh" <<EOF
set -e
rm -rf "$W/hp" && mkdir "$W/hp"
unsquashfs -q -n -o $OFF -d "$W/hp/root" "$D" >/dev/null
cp "$W/c/data/analyse.py" "$W/hp/root/opt/analyse.py"
cp /etc/resolv.conf "$W/hp/root/etc/resolv.conf"
chroot "$W/hp/root" /bin/sh -e -c 'apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends python3-minimal >/dev/null && rm -rf /var/lib/apt/lists/*'
mksquashfs "$W/hp/root" "$W/hp/p.sqfs" -noappend -quiet -comp gzip >/dev/null
"$SIFTOOL" new "$W/hp/out.sif"
"$SIFTOOL" add --datatype 4 --parttype 2 --partfs 1 --partarch 2 --groupid 1 "$W/hp/out.sif" "$W/hp/p.sqfs"
EOF
UB="setpriv --reuid=$(id -u "$BUSER") --regid=$(id -g "$BUSER") --init-groups env -i HOME=/home/$BUSER PATH=/usr/bin:/bin:/usr/sbin:/sbin"
$INTERLEAVE --runs "$CRUNS" --title "recipe debootstrap-legacy.def (debootstrap bookworm + apt-get install hello)" \
  "singlet root=cd $W/c && rm -f r.sif && $W/singlet -q build r.sif deb.def >/dev/null" \
  "singlet rootless=cd $W/c && rm -f u.sif && $UB $W/singlet -q build u.sif deb.def >/dev/null" \
  "by hand (debootstrap+chroot+mksquashfs+siftool)=sh $W/byhand-deb.sh"
$INTERLEAVE --runs "$CRUNS" --title "recipe python-app.def (debian.sif + apt-get install python3-minimal)" \
  "singlet root=cd $W/c && rm -f rp.sif && $W/singlet -q build rp.sif python.def >/dev/null" \
  "singlet rootless=cd $W/c && rm -f up.sif && $UB $W/singlet -q build up.sif python.def >/dev/null" \
  "by hand (unsquashfs+chroot+mksquashfs+siftool)=sh $W/byhand-py.sh"
ls -l "$W/c/"*.sif "$W/hd/out.sif" "$W/hp/out.sif" | awk '{print "#", $5, $NF}'
