#!/usr/bin/env bash
# `make sanity`: ansible-test sanity of the podplay.cluster collection, without Docker.
#
# Runs from the collection's own directory (ansible-test needs a path ending in
# ansible_collections/podplay/cluster) with `--local`: the controller-side tests run on this
# venv's Python, the version-specific ones (compile, import) on every Python ansible-test
# supports that is found on PATH; pyenv's installed versions are added to PATH when present.
# ansible-test names each version it skips for lack of an interpreter.
# Each test's requirements go into ansible-test's cached venvs (~/.ansible/test/venv) from the
# package index; its pip bootstrap script comes from a host these machines cannot reach, so
# a stand-in (dsl/tools/ansible-test-get-pip.py) is put into its cache when that is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV_BIN="$ROOT/.venv/bin"
COLLECTION="$ROOT/ansible_collection/ansible_collections/podplay/cluster"

export PATH="$VENV_BIN:$PATH"
own="$("$VENV_BIN/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
for minor in 8 9 10 11 12 13; do
    version="3.$minor"
    [ "$version" = "$own" ] && continue
    if "python$version" -c '' 2>/dev/null; then continue; fi
    for dir in "$pyenv_root"/versions/"$version".*/bin; do
        if [ -x "$dir/python$version" ]; then PATH="$PATH:$dir"; break; fi
    done
done

pip_version="$("$VENV_BIN/python" -c '
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
print(get_venv_packages(NativePythonConfig(version="3", path=""))["pip"])')"
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [ ! -f "$cache" ]; then
    mkdir -p "$(dirname "$cache")"
    cp "$ROOT/dsl/tools/ansible-test-get-pip.py" "$cache"
fi

cd "$COLLECTION"
rm -rf tests/output
exec ansible-test sanity --local --color no "$@"
