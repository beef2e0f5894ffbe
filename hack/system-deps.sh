#!/usr/bin/env bash
# Installs the Debian packages the tests use, when missing (CI runs as root on Debian).
# The Authenticode tests (operator/src/attestation/pe) read these signed EFI binaries and FAIL without them.
set -euo pipefail
need=()
# Signed EFI binaries (shim, MokManager/fallback, GRUB) for the Authenticode cross-check, plus unsigned shim.
[ -e /usr/lib/shim/shimx64.efi.signed ] || need+=(shim-signed)
[ -e /usr/lib/shim/shimx64.efi ] || need+=(shim-unsigned)
[ -e /usr/lib/shim/mmx64.efi.signed ] && [ -e /usr/lib/shim/fbx64.efi.signed ] || need+=(shim-helpers-amd64-signed)
[ -e /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed ] || need+=(grub-efi-amd64-signed)
# jq for guest-image/publish-reference-values.sh (reads profile.json), exercised by the refvalues CLI test.
command -v jq >/dev/null || need+=(jq)
# bubblewrap: the PEP's sandbox backend (operator/src/pep/sandbox.test.ts runs real sandboxes).
command -v bwrap >/dev/null || need+=(bubblewrap)
# pip: hack/tng/install.sh downloads the pinned tng-sdk wheel (the real TNG binary) with `python3 -m pip download`.
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "system-deps: please install: ${need[*]}" >&2; exit 1
  fi
fi
# QEMU, OVMF, swtpm, the Debian kernel and the image tools for guest-image/ and its boot test.
"$(dirname "$0")/guest-image-deps.sh"
