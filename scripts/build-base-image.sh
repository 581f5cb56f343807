#!/usr/bin/env bash
# Builds the default environment image kohakuriver/kohakuriver-base:base locally from Debian's
# busybox-static, without contacting any registry. Use it where the configured INITIAL_BASE_IMAGE cannot
# be pulled (offline machines, CI). With --force the image is rebuilt even when the tag exists.
#
# Usage: scripts/build-base-image.sh [--force] [--tag TAG]
set -euo pipefail

tag="kohakuriver/kohakuriver-base:base"
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --tag) tag="$2"; shift ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "build-base-image: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$force" = 0 ] && docker image inspect "$tag" >/dev/null 2>&1; then
  echo "image $tag already exists (use --force to rebuild)"
  exit 0
fi

busybox=""
for candidate in /bin/busybox /usr/bin/busybox; do
  if [ -x "$candidate" ] && ! ldd "$candidate" >/dev/null 2>&1; then busybox="$candidate"; break; fi
done
if [ -z "$busybox" ]; then
  echo "build-base-image: no statically linked busybox found; install it with: apt-get install busybox-static" >&2
  exit 1
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,shared,local_temp,proc,sys,dev}
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf 'NAME="KohakuRiver base (busybox)"\nID=busybox\n' >"$root/etc/os-release"

echo "building $tag from $busybox"
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/sh"]' \
  --change 'LABEL kohakuriver.image=base' \
  - "$tag" >/dev/null
echo "built $tag"
