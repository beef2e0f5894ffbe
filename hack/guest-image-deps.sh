#!/usr/bin/env bash
# Debian packages the guest-image build (guest-image/build.sh) and its QEMU boot test need, when missing.
# Called by hack/system-deps.sh; safe to run alone.
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for p in qemu-system-x86 qemu-utils ovmf swtpm swtpm-tools linux-image-amd64 systemd-boot-efi erofs-utils \
         cryptsetup-bin mtools dosfstools fdisk busybox-static binutils cpio zstd; do
  have "$p" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "guest-image-deps: please install: ${need[*]}" >&2; exit 1
  fi
fi
