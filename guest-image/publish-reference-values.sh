#!/usr/bin/env bash
# Publishes a built guest image's reference value (the UKI's Authenticode SHA-384) to a Rekor v1 log with
# `cai refvalues publish`, replacing the original build's slsa-generator + cosign + rekor-cli steps, and
# writes <image>.rekor-meta.json (same five fields as the original build) and <image>.sigstore.json.
#
# Usage: guest-image/publish-reference-values.sh PROFILE_JSON OUTPUT_DIR BUILD_TIMESTAMP
#   PROFILE_JSON     profile.json with {"rekor": {"enabled": true, "artifact_id": "...", "artifact_type": "uki"}}
#   OUTPUT_DIR       image/output, holding <prefix>-final-{prod,debug}-<ts>.json (cryptpilot-fde
#                    show-reference-value output) or .efi (the extracted /boot/efi/EFI/BOOT/BOOTX64.EFI)
#   BUILD_TIMESTAMP  YYYYMMDDHHmm, used as the artifact version
# Environment: COSIGN_KEY (default secrets/cosign.key), COSIGN_PASSWORD (default empty),
#              REKOR_URL (default https://rekor.sigstore.dev), TRUSTED_ROOT (optional trusted_root.json).
set -euo pipefail
profile=${1:?profile.json}; out=${2:?output dir}; ts=${3:?build timestamp}
key=${COSIGN_KEY:-secrets/cosign.key}
rekor=${REKOR_URL:-https://rekor.sigstore.dev}
cai=(node "$(dirname "$0")/../operator/src/cli/main.ts")

[ "$(jq -r '.rekor.enabled // false' "$profile")" = true ] || { echo "rekor upload disabled in $profile"; exit 0; }
artifact_id=$(jq -r '.rekor.artifact_id' "$profile")
artifact_type=$(jq -r '.rekor.artifact_type // "uki"' "$profile")
[ -r "$key" ] || { echo "signing key $key not readable" >&2; exit 1; }

for type in prod debug; do
  base=$(ls -1 "$out"/*-final-"$type"-"$ts".qcow2 2>/dev/null | head -n1) || true
  [ -n "$base" ] || { echo "no final $type image for $ts in $out" >&2; exit 1; }
  prefix=${base%.qcow2}
  if [ -f "$prefix.efi" ]; then input=(--uki "$prefix.efi"); else input=(--reference-values "$prefix.json"); fi
  args=(refvalues publish "${input[@]}" --artifact-id "$artifact_id-$type" --artifact-version "$ts"
        --artifact-type "$artifact_type" --key "$key" --rekor-url "$rekor" --output-prefix "$prefix")
  [ -n "${TRUSTED_ROOT:-}" ] && args+=(--trusted-root "$TRUSTED_ROOT")
  # As in the original build.sh: an upload failure fails the build (no .rekor-meta.json is written).
  COSIGN_PASSWORD=${COSIGN_PASSWORD:-} "${cai[@]}" "${args[@]}"
done
