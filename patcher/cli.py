"""`python -m patcher`: recipes, example, apply, diff, list, verify, weights, build, check, serve.

One handler per command (COMMANDS); each gets the parsed arguments, the recipe, the model's name and the
checkout, and returns the exit code. A PatcherError becomes one line on stderr and its code.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import git

from patcher import apply as applying
from patcher import build, check, checkout, examples, litert, npm, outdir, page, recovery, verify, weights
from patcher import recipe as recipes
from patcher.errors import GitError, NotApplied, PatcherError, ServeError
from patcher.recipe import Recipe

if TYPE_CHECKING:
    from patcher.runner import Outcome


class Parser(argparse.ArgumentParser):
    """argparse with one line for a bad command line: `patcher: error: ...` and where to read the usage."""

    def error(self, message: str) -> NoReturn:
        print(f"patcher: error: {message} (usage: 'python -m {self.prog} --help')", file=sys.stderr)
        raise SystemExit(2)


def _sizes(text: str) -> list[tuple[int, int]]:
    """`448x448,450x301` as [(448, 448), (450, 301)]. The one rule for sizes, segmenter.js's own: whole
    pixels, at least 1 (`verify` and `check` run the model at 1x1 as well as at 448x448)."""
    try:
        sizes = [tuple(int(v) for v in part.lower().split("x")) for part in text.split(",")]
        pairs = [(s[0], s[1]) for s in sizes if len(s) == 2]
        if len(pairs) != len(sizes) or not pairs or any(min(s) < 1 for s in pairs):
            pairs = []
    except ValueError:
        pairs = []
    if not pairs:
        raise argparse.ArgumentTypeError(f"HEIGHTxWIDTH pairs of whole pixels (at least 1), such as "
                                         f"448x448,450x301; not {text!r}")
    return pairs


def _package_name(text: str) -> str:
    try:
        return npm.check_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"a share between 0 and 1, such as 0.99; not {text!r}")
    return value


def _precisions(text: str) -> tuple[str, ...]:
    """`float32,int8` as ("float32", "int8"), float32 first (always made: the tfjs bound's reference)."""
    found = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in found if p not in litert.KNOWN_PRECISIONS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown precision {bad[0]!r} (known: {', '.join(litert.KNOWN_PRECISIONS)})")
    return tuple(p for p in litert.KNOWN_PRECISIONS if p in found or p == "float32")


def _litert(args: argparse.Namespace) -> litert.Options | None:
    """build's LiteRT.js options from the command line, or None without --litert (the int8 floor None: the
    output kind's own)."""
    if not args.litert:
        return None
    given = args.litert_sizes is not None
    return litert.Options(sizes=tuple(args.litert_sizes) if given else litert.SIZES, calibration=args.calibration,
                          int8_floor=args.int8_floor, precisions=args.litert_precisions, default_sizes=not given)


def _recipe(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipe", default=recipes.default().stem,
                        help="a recipe file, or the name of one that ships with patcher (default: %(default)s; "
                             "'python -m patcher recipes' lists them)")


def _common(parser: argparse.ArgumentParser) -> None:
    _recipe(parser)
    parser.add_argument("--model", help="model in the recipe (default: its first)")
    parser.add_argument("--dest", type=Path, help="the checkout (default: vendor/RECIPE-MODEL)")


def parser() -> argparse.ArgumentParser:
    top = Parser(prog="patcher", description=(__doc__ or "").split(":")[0] + ": patch a TF1 research "
                                  "repository with reviewed codemods and prove the result.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("apply", help="clone the pinned upstream and apply the recipe's codemods")
    _common(p)
    p.add_argument("--upstream", help="URL or path of the upstream (default: $PATCHER_UPSTREAM_<RECIPE> if set, "
                                      "$PATCHER_UPSTREAM for the default recipe, else the recipe's URL)")
    p.add_argument("--commit", help="commit SHA to pin (default: the recipe's)")
    p.add_argument("--force", action="store_true", help="back up local edits (stash/branch) and reset")

    sub.add_parser("recipes", help="list the recipes that ship with patcher and their models")

    p = sub.add_parser("example", help="write the worked second example into a new folder: a tiny upstream "
                                       "(a git repository), its recipe and the codemod the recipe brings")
    p.add_argument("folder", type=Path, help="a new (or empty) folder")

    p = sub.add_parser("diff", help="print the whole change as a unified diff against the pinned commit")
    _common(p)

    p = sub.add_parser("list", help="print each codemod, its description and the sites it changes")
    _common(p)

    p = sub.add_parser("verify", help="build and run the patched graph with unknown height and width")
    _common(p)
    p.add_argument("--sizes", type=_sizes, default="288x288,448x448,512x384,450x301",
                   help="comma-separated HEIGHTxWIDTH sizes (default: %(default)s)")

    p = sub.add_parser("weights", help="recover a checkpoint from a published TensorFlow.js graph model of the same "
                                          "network (batch norms folded)")
    _common(p)
    p.add_argument("--from", dest="source", required=True,
                   help="'published' (the recipe's npm package), a folder with model.json, or the package's .tgz")
    p.add_argument("--out", type=Path, required=True, help="checkpoint prefix to write, e.g. weights/model.ckpt")

    p = sub.add_parser("build", help="freeze the checkpoint with the patched freeze script and convert it for tfjs")
    _common(p)
    p.add_argument("--out", type=Path, required=True, help="output folder (replaced only when all succeeded)")
    weights = p.add_mutually_exclusive_group()
    weights.add_argument("--checkpoint", type=Path, help="checkpoint prefix, e.g. weights/model.ckpt")
    weights.add_argument("--random-weights", action="store_true", help="random weights, for trying the pipeline")
    weights.add_argument("--weights", dest="published", metavar="published|upstream|DIR",
                         help="recover the weights from a published graph model: 'published' (the recipe's npm "
                              "package, fetched once into the cache) or a folder with model.json; 'upstream': the "
                              "trained checkpoint the recipe names inside the checkout (upstream_checkpoint)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights (default: %(default)s)")
    p.add_argument("--no-check", dest="quick_check", action="store_false",
                   help="skip the quick wasm parity check made before the output is replaced")
    p.add_argument("--no-optimize", dest="optimize", action="store_false",
                   help="convert the freeze script's graph without patcher's simplifications (for comparison)")
    p.add_argument("--quantize", choices=["float16", "uint8"], help="store the weights in 2 or 1 bytes")
    p.add_argument("--with-probabilities", action="store_true",
                   help="also output the class probabilities (the default model has one output: class ids)")
    p.add_argument("--no-fusion-fix", dest="fix_fusions", action="store_false", help=argparse.SUPPRESS)
    p.add_argument("--litert", action="store_true",
                   help="also write TFLite models for LiteRT.js (float32 and int8, one per size) into OUT/litert")
    p.add_argument("--litert-sizes", type=_sizes, default=None,
                   help="sizes of the LiteRT.js models (default: 288x288,448x448,1024x1024, and 320x320, face "
                        "mode's square, for a model whose recipe names a face detector)")
    p.add_argument("--litert-precisions", type=_precisions, default=",".join(litert.PRECISIONS),
                   help=f"precisions of the LiteRT.js models, of {', '.join(litert.KNOWN_PRECISIONS)} "
                        "(default: %(default)s; float32 is always made)")
    p.add_argument("--calibration", type=Path,
                   help="a folder of images to calibrate the int8 LiteRT.js models on (default: the recipe's "
                        "sample image, variants of it and generated pictures)")
    p.add_argument("--int8-floor", type=_share, default=None,
                   help="a class-map build's least agreement with TensorFlow away from class boundaries for an "
                        "int8 model to count as accurate (default: 0.99; a picture build's int8 is judged by "
                        "its PSNR floor, docs/quality.md)")
    p.add_argument("--force", action="store_true",
                   help="replace a build holding files that are not patcher's: they are moved into "
                        "OUT.backup-TIME beside it, never deleted")
    p.add_argument("--package-name", type=_package_name,
                   help="the npm package name the build folder gets (default: the recipe's model `package`)")

    p = sub.add_parser("check", help="compare the web model on tfjs backends in Node with TensorFlow")
    _recipe(p)
    p.add_argument("--model-dir", type=Path, required=True, help="a folder made by build")
    p.add_argument("--backends", default="cpu,wasm", help="comma-separated tfjs backends (default: %(default)s)")
    p.add_argument("--sizes", type=_sizes, default=None,
                   help="comma-separated HEIGHTxWIDTH sizes for every backend (default: 288x288,448x448,512x384,"
                        "450x301; the slow cpu backend: 288x288 only)")
    p.add_argument("--all-sizes", action="store_true",
                   help="run the slow cpu backend at every default size too")
    p.add_argument("--reference", type=Path,
                   help="compare with this build on the same backends instead of TensorFlow (say, a "
                        "--no-optimize or float32 build); same weights must give identical class maps. 'published' "
                        "(or the folder of another graph model of the network): the recipe's pictures at 288x288, "
                        "448x448, 448x320 and 1024x1024 (or --sizes) on wasm must agree on 99.9 %% (class maps: the "
                        "same class; pictures: uint8 values within one level)")
    p.add_argument("--litert", action="store_true",
                   help="only compare the build's LiteRT.js (TFLite) models with TensorFlow (Python interpreter and "
                        "LiteRT.js in Chromium); without it, check does so after the tfjs model when the build has them")
    p.add_argument("--int8-floor", type=_share, default=None,
                   help="the int8 floor of the LiteRT.js check (default: the one the build recorded)")

    p = sub.add_parser("serve", help="serve a built folder and its demo page on 127.0.0.1")
    _recipe(p)
    p.add_argument("folder", type=Path)
    p.add_argument("--port", type=int, default=8000, help="port (default: %(default)s; 0 picks a free one)")
    return top


Handler = Callable[[argparse.Namespace, Recipe, str, Path], int]


def upstream_variable(recipe: Recipe) -> str:
    """The environment variable that names a clone of `recipe`'s upstream: PATCHER_UPSTREAM_<NAME>, the
    recipe's name in upper case with '_' for anything but letters and digits (my-net.v2:
    PATCHER_UPSTREAM_MY_NET_V2)."""
    return "PATCHER_UPSTREAM_" + re.sub(r"[^A-Z0-9]", "_", recipe.name.upper())


def env_upstream(recipe: Recipe) -> str | None:
    """The upstream the environment gives `recipe`: its own variable (upstream_variable), else, for the
    default recipe only, PATCHER_UPSTREAM, so that a clone named for one recipe never patches another's
    (stderr says which variable was read, or that PATCHER_UPSTREAM was not)."""
    own = upstream_variable(recipe)
    default = recipes.default().resolve() == recipe.path.resolve() if recipe.path is not None else False
    for name in (own, *(["PATCHER_UPSTREAM"] if default else [])):
        if os.environ.get(name):
            print(f"upstream {os.environ[name]} (from {name})", file=sys.stderr)
            return os.environ[name]
    if os.environ.get("PATCHER_UPSTREAM"):
        print(f"note: PATCHER_UPSTREAM is for the default recipe ({recipes.default().stem}) only; recipe "
              f"{recipe.name} reads {own}, which is unset: using {recipe.url}", file=sys.stderr)
    return None


def _apply(args: argparse.Namespace, recipe: Recipe, model: str, dest: Path) -> int:
    upstream = args.upstream or env_upstream(recipe)
    done = applying.apply(recipe, model, dest, upstream, args.commit, args.force)
    _print_outcomes(done.outcomes)
    if done.changed:
        print(f"applied {len(done.outcomes)} codemods to {dest} on branch {done.branch} "
              f"({done.pin[:12]}..{done.tip[:12]}); review with 'git -C {dest} log -p {done.pin[:12]}..{done.branch}'")
    else:
        print(f"already applied: {dest} is at {done.tip[:12]}; nothing changed")
    return 0


def _diff(args: argparse.Namespace, recipe: Recipe, model: str, dest: Path) -> int:
    sys.stdout.write(applying.diff(dest, model, recipe))
    return 0


def _list(args: argparse.Namespace, recipe: Recipe, model: str, dest: Path) -> int:
    print(f"recipe {recipe.path} (model {model}); each line number is the one its codemod saw, "
          "before later codemods moved lines")
    _print_outcomes(applying.outcomes(recipe, dest, model))
    return 0


def _verify(args: argparse.Namespace, recipe: Recipe, model: str, dest: Path) -> int:
    verify.verify(recipe, model, dest, args.sizes)
    return 0


def _build(args: argparse.Namespace, recipe: Recipe, model: str, dest: Path) -> int:
    options = build.Options(checkpoint=args.checkpoint, random_weights=args.random_weights, seed=args.seed,
                            published=args.published, quantize=args.quantize, optimize=args.optimize,
                            with_probabilities=args.with_probabilities, fix_fusions=args.fix_fusions,
                            quick_check=args.quick_check, force=args.force, litert=_litert(args),
                            package_name=args.package_name)
    meta = build.build(recipe, model, dest, args.out, options)
    files = sorted(p.name for p in args.out.iterdir() if not p.name.startswith("."))
    print(f"built {args.out} ({meta['patcher']['weights']}): {', '.join(files)}; the frozen graph for "
          f"'check': {outdir.graph_path(args.out)}")
    return 0


def _weights(args: argparse.Namespace, recipe: Recipe, model: str, dest: Path) -> int:
    done = recovery.write(recipe, model, dest, args.source, args.out)
    origin = weights.describe(done["package"]) if done["package"] else done["from"]
    print(f"wrote checkpoint {args.out} from {origin}: {done['assigned']} variables assigned "
          f"({done['variables']} names restored), {done['used']} of {done['published']} published float "
          "weights used" + (f", {done['constants']} equal to the graph's own constants" if done.get("constants") else ""))
    return 0


def _serve(args: argparse.Namespace, recipe: Recipe, model: str, dest: Path) -> int:
    if not args.folder.is_dir():
        raise NotApplied(f"{args.folder} is not a folder: pass the folder holding your page")
    try:
        httpd = page.server(args.folder, args.port)
    except (OSError, OverflowError) as exc:
        raise ServeError(f"cannot serve on 127.0.0.1:{args.port}: {getattr(exc, 'strerror', None) or exc}; "
                         "pick another --port (0 picks a free one)") from None
    with httpd:
        print(f"serving {args.folder} at http://127.0.0.1:{httpd.server_address[1]}/ (Ctrl-C stops)", flush=True)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


def _check(args: argparse.Namespace, recipe: Recipe, model: str, dest: Path) -> int:
    if not args.litert:
        check.run(recipe, model, args.model_dir, tuple(args.backends.split(",")), args.sizes, args.all_sizes,
                  args.reference)
    if args.litert or (args.reference is None and "litert" in check.metadata(args.model_dir)):
        litert.check(args.model_dir, args.int8_floor, check.pictures_of(recipe, args.model_dir))
    return 0


COMMANDS: dict[str, Handler] = {"apply": _apply, "diff": _diff, "list": _list, "verify": _verify,
                                "weights": _weights, "build": _build, "check": _check, "serve": _serve}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    dest = getattr(args, "dest", None)
    try:
        if args.command == "recipes":
            _print_recipes()
            return 0
        if args.command == "example":
            upstream, recipe_file = examples.write(args.folder)
            print(f"wrote {upstream} (a git repository) and its recipe {recipe_file}; next: "
                  f"patcher apply --recipe {recipe_file}")
            return 0
        recipe = recipes.load(args.recipe)
        model = getattr(args, "model", None) or next(iter(recipe.models))
        recipe.model(model)
        dest = dest or applying.default_dest(recipe, model)
        return COMMANDS[args.command](args, recipe, model, dest)
    except git.GitCommandError as exc:  # a git command patcher did not expect to fail
        return _fail(checkout.git_error(exc, f"git {_verb(exc)} failed in {dest}", dest))
    except (BrokenPipeError, ValueError) as exc:
        # not stdout (patcher.__main__ tells that apart by what was written): a git process GitPython keeps
        # running (cat-file) ended, which git does when it refuses the folder or meets a damaged object
        if not _raised_by_git(exc):
            raise
        return _fail(_why_git_ended(dest))
    except PatcherError as exc:
        return _fail(exc)


def _fail(exc: PatcherError) -> int:
    print(f"patcher: error: {exc}", file=sys.stderr)
    return exc.code


def _verb(exc: git.GitCommandError) -> str:
    command = exc.command if isinstance(exc.command, (list, tuple)) else str(exc.command).split()
    return next((str(c) for c in command[1:] if not str(c).startswith("-")), "command")


def _raised_by_git(exc: BaseException) -> bool:
    """True when `exc` was raised inside GitPython or gitdb (its innermost frame is theirs)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = Path(tb.tb_frame.f_code.co_filename).parts if tb is not None else ()
    return "git" in where or "gitdb" in where


def _why_git_ended(dest: Path | None) -> GitError:
    """Git's reason, asked again with a fresh git command, for a git process that ended under GitPython."""
    try:
        git.Repo(dest).git.rev_parse("--git-dir")
        git.Repo(dest).git.fsck("--connectivity-only", "--no-progress")
    except (git.GitCommandError, git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        return checkout.git_error(exc, f"git stopped working in {dest}", dest)
    return GitError(f"a git process ended unexpectedly in {dest}; run 'git -C {dest} fsck' to look for damage")


def _print_recipes() -> None:
    for path in recipes.shipped():
        recipe = recipes.load(path)
        print(f"{path.stem}: {recipe.url} at {recipe.commit[:12]}; models: {', '.join(recipe.models)} ({path})")


def _print_outcomes(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        print(f"{outcome.step.codemod}: {outcome.step.description} (from {outcome.step.origin})")
        for site in outcome.sites:
            print(f"  {site}")
