#!/usr/bin/env bash
# Prints the python of a cached venv holding the pinned dcap-qvl wheel from PyPI (the reference the TDX
# benchmark compares against). Reused only if it reports the pinned version; rebuilt otherwise.
set -euo pipefail
DCAP_QVL_VERSION=${DCAP_QVL_VERSION:-0.7.0}
cache=${CAI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cai-operator}
venv="$cache/dcap-qvl-venv"
have() { "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("dcap-qvl"))' 2>/dev/null || true; }
if [ "$(have)" != "$DCAP_QVL_VERSION" ]; then
  command -v python3 >/dev/null || { echo "dcap-qvl-venv: need python3 (with venv) to install dcap-qvl" >&2; exit 1; }
  rm -rf "$venv.tmp"
  python3 -m venv "$venv.tmp" >&2
  "$venv.tmp/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: "dcap-qvl==$DCAP_QVL_VERSION" >&2
  rm -rf "$venv"; mv "$venv.tmp" "$venv"
  # venv scripts embed their path; the interpreter itself does not care, so python keeps working after the move.
  [ "$(have)" = "$DCAP_QVL_VERSION" ] || { echo "dcap-qvl-venv: installed version is not $DCAP_QVL_VERSION" >&2; exit 1; }
fi
echo "$venv/bin/python"
