"""`python -m patcher`: apply, diff, list, verify."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from patcher import apply as applying
from patcher import recipe as recipes
from patcher.errors import NotApplied, PatcherError


def _sizes(text: str) -> list[tuple[int, int]]:
    try:
        sizes = [tuple(int(v) for v in part.lower().split("x")) for part in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or any(len(s) != 2 or min(s) < 32 for s in sizes):
        raise argparse.ArgumentTypeError(f"HEIGHTxWIDTH pairs of at least 32, such as 448x448,450x301; not {text!r}")
    return sizes


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="celebamask", help="model variant in the recipe (default: celebamask)")
    parser.add_argument("--dest", type=Path, help="the checkout (default: vendor/bisenetv2-MODEL)")
    parser.add_argument("--recipe", type=Path, default=recipes.DEFAULT, help=argparse.SUPPRESS)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="patcher", description=__doc__.split(":")[0] + ": patch a TF1 research "
                                  "repository with reviewed codemods and prove the result.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("apply", help="clone the pinned upstream and apply the recipe's codemods")
    _common(p)
    p.add_argument("--upstream", help="URL or path of the upstream (default: the recipe's GitHub URL)")
    p.add_argument("--commit", help="commit SHA to pin (default: the recipe's)")
    p.add_argument("--force", action="store_true", help="back up local edits (stash/branch) and reset")

    p = sub.add_parser("diff", help="print the whole change as a unified diff against the pinned commit")
    _common(p)

    p = sub.add_parser("list", help="print each codemod, its description and the sites it changes")
    _common(p)

    p = sub.add_parser("verify", help="build and run the patched graph with unknown height and width")
    _common(p)
    p.add_argument("--sizes", type=_sizes, default="288x288,448x448,512x384,450x301",
                   help="comma-separated HEIGHTxWIDTH sizes (default: %(default)s)")

    p = sub.add_parser("build", help="freeze the checkpoint with the patched freeze script and convert it for tfjs")
    _common(p)
    p.add_argument("--out", type=Path, required=True, help="output folder (replaced only when all succeeded)")
    weights = p.add_mutually_exclusive_group()
    weights.add_argument("--checkpoint", type=Path, help="checkpoint prefix, e.g. weights/celebamask_hq.ckpt")
    weights.add_argument("--random-weights", action="store_true", help="random weights, for trying the pipeline")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights (default: %(default)s)")
    p.add_argument("--no-check", dest="quick_check", action="store_false",
                   help="skip the quick wasm parity check made before the output is replaced")
    p.add_argument("--no-optimize", dest="optimize", action="store_false",
                   help="convert the freeze script's graph without patcher's simplifications (for comparison)")
    p.add_argument("--quantize", choices=["float16", "uint8"], help="store the weights in 2 or 1 bytes")
    p.add_argument("--no-fusion-fix", dest="fix_fusions", action="store_false", help=argparse.SUPPRESS)

    p = sub.add_parser("check", help="compare the web model on tfjs backends in Node with TensorFlow")
    p.add_argument("--model-dir", type=Path, required=True, help="a folder made by build")
    p.add_argument("--backends", default="cpu,wasm", help="comma-separated tfjs backends (default: %(default)s)")
    p.add_argument("--sizes", type=_sizes, default="288x288,448x448,512x384,450x301",
                   help="comma-separated HEIGHTxWIDTH sizes (default: %(default)s)")
    p.add_argument("--reference", type=Path,
                   help="compare with this build on the same backends instead of TensorFlow (say, a "
                        "--no-optimize or float32 build); same weights must give identical class maps")

    p = sub.add_parser("serve", help="serve a built folder and its demo page on 127.0.0.1")
    p.add_argument("folder", type=Path)
    p.add_argument("--port", type=int, default=8000, help="port (default: %(default)s; 0 picks a free one)")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    dest = getattr(args, "dest", None) or applying.default_dest(getattr(args, "model", "celebamask"))
    try:
        recipe = recipes.load(getattr(args, "recipe", recipes.DEFAULT))
        if args.command == "apply":
            done = applying.apply(recipe, args.model, dest, args.upstream, args.commit, args.force,
                                  recipe_name=args.recipe.name)
            _print_outcomes(done.outcomes)
            if done.changed:
                print(f"applied {len(done.outcomes)} codemods to {dest} on branch patcher/{args.model} "
                      f"({done.pin[:12]}..{done.tip[:12]}); review with 'git -C {dest} log -p'")
            else:
                print(f"already applied: {dest} is at {done.tip[:12]}; nothing changed")
        elif args.command == "diff":
            sys.stdout.write(applying.diff(dest, args.model))
        elif args.command == "list":
            _print_outcomes(applying.outcomes(recipe, dest, args.model))
        elif args.command == "verify":
            from patcher import verify

            verify.verify(recipe, dest, args.model, args.sizes)
        elif args.command == "build":
            from patcher import build

            meta = build.build(recipe, dest, args.model, args.out, args.checkpoint, args.random_weights,
                               args.fix_fusions, args.quick_check, args.optimize, args.quantize, args.seed)
            files = sorted(p.name for p in args.out.iterdir())
            print(f"built {args.out} ({meta['patcher']['weights']}): {', '.join(files)}")
        elif args.command == "serve":
            from patcher import page

            if not (args.folder / "index.html").is_file():
                raise NotApplied(f"{args.folder} has no index.html; make it with 'python -m patcher build --out DIR'")
            with page.server(args.folder, args.port) as httpd:
                print(f"serving {args.folder} at http://127.0.0.1:{httpd.server_address[1]}/ (Ctrl-C stops)",
                      flush=True)
                try:
                    httpd.serve_forever()
                except KeyboardInterrupt:
                    pass
        elif args.command == "check":
            from patcher import check

            check.check(args.model_dir, tuple(args.backends.split(",")), args.sizes, args.reference)
    except PatcherError as exc:
        print(f"patcher: error: {exc}", file=sys.stderr)
        return exc.code
    return 0


def _print_outcomes(outcomes) -> None:
    for outcome in outcomes:
        print(f"{outcome.step.codemod}: {outcome.step.description}")
        for site in outcome.sites:
            print(f"  {site}")
