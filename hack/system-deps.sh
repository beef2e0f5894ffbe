#!/usr/bin/env bash
# Installs the Debian packages the tests use, when missing (CI runs as root on Debian).
set -euo pipefail
need=()
# Signed EFI binaries (shim, grub) for the Authenticode cross-check in the reference-value tests.
[ -e /usr/lib/shim/shimx64.efi.signed ] || need+=(shim-signed)
[ -e /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed ] || need+=(grub-efi-amd64-signed)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "system-deps: please install: ${need[*]}" >&2; exit 1
  fi
fi
