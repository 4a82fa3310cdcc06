"""Command line: `python -m vocalsearch_tf.datasets make-synthetic --profile quick --dest DIR`."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vocalsearch_tf.datasets")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("make-synthetic", help="generate the embedded default data sets offline")
    make.add_argument("--profile", default="quick", choices=["ci", "quick", "paper"])
    make.add_argument("--dest", default=None, help="output folder (default data/synthetic/<profile>)")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--workers", type=int, default=2)
    make.add_argument("--sets", nargs="+", default=None, help="vocalsketch voxforge urbansound8k")
    args = parser.parse_args(argv)

    if args.command == "make-synthetic":
        from vocalsearch_tf.datasets.synthetic import SETS, make_synthetic

        manifest = make_synthetic(args.profile, args.dest or f"data/synthetic/{args.profile}",
                                  args.seed, args.workers, args.sets or SETS)
        print(json.dumps(manifest, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
