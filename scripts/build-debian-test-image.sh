#!/usr/bin/env bash
# Builds kohakuriver-test/debian-nosshd:bookworm, a minimal Debian image WITHOUT an SSH server, for the VPS
# tests. debootstrap fetches Debian's minbase from the configured Debian mirror. The packages that
# openssh-server needs are downloaded into the image's apt cache (with the package lists) but not installed.
# A VPS created from this image therefore installs sshd with apt-get, the way it would from a registry
# image, but without any network access from inside the container.
#
# Usage: scripts/build-debian-test-image.sh [--force] [--tag TAG] [--mirror URL]
set -euo pipefail

tag="kohakuriver-test/debian-nosshd:bookworm"
mirror="http://deb.debian.org/debian"
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --tag) tag="$2"; shift ;;
    --mirror) mirror="$2"; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "build-debian-test-image: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$force" = 0 ] && docker image inspect "$tag" >/dev/null 2>&1; then
  echo "image $tag already exists (use --force to rebuild)"
  exit 0
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "build-debian-test-image: debootstrap not found; install it as root with: apt-get install debootstrap" >&2
  exit 1
fi

root=$(mktemp -d /var/tmp/kohakuriver-debian.XXXXXX)
cleanup() {
  umount "$root/proc" 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT

echo "build-debian-test-image: debootstrap bookworm (minbase) from $mirror into $root"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
  tail -20 "$root.log" >&2
  rm -f "$root.log"
  echo "build-debian-test-image: debootstrap failed (log above)" >&2
  exit 1
}
rm -f "$root.log"

echo "build-debian-test-image: downloading openssh-server into the image's apt cache (not installing it)"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
chroot "$root" apt-get -o APT::Sandbox::User=root update -q >/dev/null
chroot "$root" apt-get -o APT::Sandbox::User=root install -q -y --download-only --no-install-recommends openssh-server >/dev/null
umount "$root/proc"
: >"$root/etc/resolv.conf"
if chroot "$root" sh -c 'command -v sshd' >/dev/null 2>&1 || [ -x "$root/usr/sbin/sshd" ]; then
  echo "build-debian-test-image: sshd is installed in the image; expected it to be absent" >&2
  exit 1
fi

echo "build-debian-test-image: importing $tag"
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' \
  --change 'LABEL kohakuriver.image=debian-test' \
  - "$tag" >/dev/null
echo "built $tag"
