#!/usr/bin/env python3
"""Times one warm epoch (training + validation) of a config with this toolkit and with the reference
(JulianGoeltz/fastAndDeep, run from a checkout of its `src/` with its yin_yang_data_set submodule), side by side.

Runs alternate (reference short, ours short, reference long, ours long, per round) so that both see the same
machine load. Per-epoch time = (time of the long run - time of the short run) / (extra epochs): start-up, data,
test set and file writing cancel out. Prints every run and the median ratio.

    scripts/compare-reference.py --reference /path/to/fastAndDeep/src --python /path/to/venv/bin/python \
        [--bss2 target/release/bss2] [--config configs/yin_yang_H30_WS.yaml] [--short 2] [--long 32] [--rounds 3]

The reference needs `torch numpy scipy numba pyyaml matplotlib` in that Python; nothing of it is in this
repository.
"""

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def with_epochs(text: str, epochs: int) -> str:
    text = re.sub(r"(?m)^(\s*epoch_number:).*$", rf"\g<1> {epochs}", text)
    return re.sub(r"(?m)^(\s*epoch_snapshots:).*$", r"\g<1> []", text)


def timed(command, cwd) -> float:
    start = time.monotonic()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", required=True, type=Path, help="the reference's src/ folder")
    parser.add_argument("--python", required=True, help="a Python with the reference's packages")
    parser.add_argument("--bss2", default="target/release/bss2")
    parser.add_argument("--config", default="configs/yin_yang_H30_WS.yaml", type=Path)
    parser.add_argument("--short", type=int, default=2)
    parser.add_argument("--long", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bss2 = str(Path(args.bss2).resolve())
    text = args.config.read_text()
    extra = args.long - args.short
    per_epoch = {"reference": [], "bss2": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        configs = {}
        for epochs in (args.short, args.long):
            configs[epochs] = tmp / f"{args.config.stem}_{epochs}.yaml"
            configs[epochs].write_text(with_epochs(text, epochs))
        for r in range(args.rounds):
            seconds = {}
            for epochs in (args.short, args.long):
                out = tmp / f"ref_{r}_{epochs}"
                seconds["reference", epochs] = timed(
                    [args.python, "experiment.py", "train", str(configs[epochs]), str(out)], args.reference
                )
                out = tmp / f"ours_{r}_{epochs}"
                seconds["bss2", epochs] = timed([bss2, "-q", "train", str(configs[epochs]), "--output", str(out)], tmp)
            for who in per_epoch:
                t = (seconds[who, args.long] - seconds[who, args.short]) / extra
                per_epoch[who].append(t)
                print(
                    f"round {r + 1}: {who:9} {args.short} epochs {seconds[who, args.short]:7.2f} s, "
                    f"{args.long} epochs {seconds[who, args.long]:7.2f} s: {1000 * t:8.1f} ms per epoch",
                    flush=True,
                )
    ref, ours = statistics.median(per_epoch["reference"]), statistics.median(per_epoch["bss2"])
    print(f"median per epoch: reference {1000 * ref:.1f} ms, bss2 {1000 * ours:.2f} ms: {ref / ours:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
