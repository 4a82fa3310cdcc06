"""Command line:

    python -m vocalsearch_tf.datasets make-synthetic --profile quick --dest DIR
    python -m vocalsearch_tf.datasets download urbansound8k --dest DIR
    python -m vocalsearch_tf.datasets download sonyc-ust --version 2 --parts 0 1 --dest DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vocalsearch_tf.datasets")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("make-synthetic", help="generate the embedded default data sets offline")
    make.add_argument("--profile", default="quick", choices=["ci", "quick", "paper"])
    make.add_argument("--dest", default=None, help="output folder (default data/synthetic/<profile>/seed<seed>)")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--workers", type=int, default=2)
    make.add_argument("--sets", nargs="+", default=None, help="vocalsketch voxforge urbansound8k sonyc_ust esc50")
    get = commands.add_parser("download", help="download and unpack a real dataset")
    get.add_argument("name", choices=["vocalsketch", "urbansound8k", "voxforge", "esc50", "sonyc-ust",
                                         "vggish", "vimsketch", "vocal-imitation-set"])
    get.add_argument("--dest", default="data", help="download folder (default data/)")
    get.add_argument("--sessions", type=int, default=300, help="VoxForge sessions per language")
    get.add_argument("--version", type=int, default=1, choices=[1, 2], help="SONYC-UST release (1: DCASE 2019)")
    get.add_argument("--parts", type=int, nargs="*", default=None,
                     help="SONYC-UST audio archives to fetch (v2: 0..18; none given: all; --parts alone: none)")
    args = parser.parse_args(argv)

    if args.command == "make-synthetic":
        from vocalsearch_tf.datasets.synthetic import SETS, make_synthetic

        manifest = make_synthetic(args.profile, args.dest or f"data/synthetic/{args.profile}/seed{args.seed}",
                                  args.seed, args.workers, args.sets or SETS)
        print(json.dumps(manifest, indent=2))
    elif args.command == "download" and args.name == "vggish":  # weights for notebook 08, not a dataset
        from vocalsearch_tf.datasets.vggish_weights import download_vggish

        root = download_vggish(Path(args.dest) / "vggish")[0].parent
    elif args.command == "download":
        from vocalsearch_tf.datasets.download import download

        root = download(args.name, args.dest, args.sessions, args.version, args.parts)
        print(f"{args.name} is in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
