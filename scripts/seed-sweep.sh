#!/usr/bin/env bash
# Trains each config with seeds 1..5 (or SEEDS="...") and prints the test accuracy per seed and
# mean / std / min / max per config, as reported in the README. EXTRA="..." adds options to every
# `bss2 train` (and names the runs after them), e.g. EXTRA="--substrate emulator:ideal".
#   scripts/seed-sweep.sh configs/yin_yang_H30_WS.yaml configs/yin_yang_H5_WS.yaml
#   SEEDS="1 2 3" EXTRA="--substrate sim" scripts/seed-sweep.sh configs/yin_yang_chip.yaml
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${SEEDS:-"1 2 3 4 5"}
out=${OUT:-results/seed-sweep}
extra=${EXTRA:-}
# Runs with extra options get them in their name: "--substrate emulator:ideal" -> "_substrate_emulator_ideal".
suffix=$(printf '%s' "$extra" | tr -cs 'A-Za-z0-9.' '_' | sed 's/^_*/_/; s/_*$//; s/^_$//')
cargo build --release --locked -q -p bss2-host
mkdir -p "$out"
for config in "$@"; do
  stem=$(basename "$config" .yaml)$suffix
  accs=()
  for seed in $seeds; do
    dir="$out/${stem}_seed$seed"
    rm -rf "$dir"
    # shellcheck disable=SC2086 # $extra holds several words on purpose
    ./target/release/bss2 -q train "$config" --seed "$seed" $extra --output "$dir" >/dev/null
    acc=$(sed -n 's/.*"test_accuracy": \([0-9.eE+-]*\).*/\1/p' "$dir/summary.json")
    secs=$(sed -n 's/.*"seconds": \([0-9.eE+-]*\).*/\1/p' "$dir/summary.json")
    awk -v n="$stem" -v s="$seed" -v a="$acc" -v t="$secs" 'BEGIN { printf "%s seed %s: test accuracy %.2f %% (%.1f s)\n", n, s, 100 * a, t }'
    accs+=("$acc")
  done
  printf '%s\n' "${accs[@]}" | awk -v name="$stem" '
    { a[NR] = $1 * 100; s += $1 * 100 }
    END {
      m = s / NR; for (i = 1; i <= NR; i++) { v += (a[i] - m)^2; if (i == 1 || a[i] < lo) lo = a[i]; if (i == 1 || a[i] > hi) hi = a[i] }
      printf "%s: mean %.2f %% +- %.2f (std over %d seeds), min %.2f, max %.2f\n", name, m, sqrt(v / NR), NR, lo, hi
    }'
done
