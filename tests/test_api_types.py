"""One source for the web module's API: the JSDoc in segmenter.js and lib/*.js names the types declared in
segmenter.d.ts, and TypeScript checks the two against each other, so neither can drift from the other.

Two programs, both with the pinned TypeScript (package.json's devDependencies):
- the modules themselves (`tsc --allowJs --noEmit`; the files marked `// @ts-check` are checked): each
  function's body against its JSDoc, and the Segmenter class against the Segmenter interface (`@implements`);
- the exports: a copy of segmenter.js as `impl.js` (no .d.ts beside it, so its types are the JSDoc's) is
  compared with segmenter.d.ts, export by export, under `strict`: the same names, and each export's type
  assignable both ways; the same for stylizer.js (picture models) and stylizer.d.ts."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from patcher.page import PAGE

PROJECT = Path(__file__).resolve().parent.parent
TSC = PROJECT / "node_modules" / ".bin" / "tsc"
pytestmark = [pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed"),
              pytest.mark.skipif(not TSC.exists(), reason="typescript is not installed (npm ci)")]

# the modules whose bodies are checked against their JSDoc: all but engine.js, measure.js, tfjs.js and litert.js
# (whose classes set their fields in bulk or hold another library's objects) and worker.js (no functions)
CHECKED = {"segmenter.js", "stylizer.js", "lib/create.js", "lib/picture.js",
           "lib/errors.js", "lib/options.js", "lib/choose.js", "lib/effects.js", "lib/smoothing.js",
           "lib/pixels.js", "lib/masks.js", "lib/model.js", "lib/store.js", "lib/env.js", "lib/protocol.js",
           "lib/runners.js"}
OPTIONS = {"allowJs": True, "noEmit": True, "target": "es2022", "module": "esnext", "moduleResolution": "bundler",
           "lib": ["es2022", "dom", "dom.iterable"], "skipLibCheck": True}


def exports(declarations: str) -> list[str]:
    """The values segmenter.d.ts exports (functions, classes, constants), in order."""
    return re.findall(r"^export (?:function|class|const) (\w+)", declarations, re.MULTILINE)


def tsc(folder: Path, options: dict[str, object], files: list[str]) -> str:
    """tsc's errors (empty when the program type-checks) for `files` in `folder`."""
    (folder / "tsconfig.json").write_text(json.dumps({"compilerOptions": options, "files": files}))
    proc = subprocess.run([str(TSC), "-p", "tsconfig.json"], cwd=folder, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 or "error TS" in proc.stdout, proc.stdout + proc.stderr
    return proc.stdout if proc.returncode else ""


def copy(tmp: Path) -> Path:
    """A copy of the module's folder to check (and, in the tests below, to break)."""
    web = tmp / "web"
    shutil.copytree(PAGE, web, ignore=shutil.ignore_patterns("*.css", "*.html", "*.png"))
    return web


def check_bodies(web: Path) -> str:
    files = ["segmenter.js", "stylizer.js", *sorted(f"lib/{p.name}" for p in (web / "lib").glob("*.js"))]
    return tsc(web, {**OPTIONS, "strict": False}, files)


def check_exports(web: Path, module: str = "segmenter") -> tuple[str, dict[str, int]]:
    """tsc's errors comparing MODULE.js's exports with MODULE.d.ts, and the line of check.ts that
    compares each name ('*' for the list of names)."""
    names = exports((web / f"{module}.d.ts").read_text())
    for path in [web / "segmenter.js", web / "stylizer.js", *(web / "lib").glob("*.js")]:
        path.write_text(path.read_text().replace("// @ts-check\n", ""))   # the bodies: checked above
    shutil.copy(web / f"{module}.js", web / "impl.js")
    lines = ["import type * as Impl from './impl.js';", f"import type * as Decl from './{module}.js';",
             "type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;",
             "export const names: Same<keyof typeof Impl, keyof typeof Decl> = true;"]
    at = {"*": len(lines)}
    for name in names:
        lines.append(f"export const {name}_: Same<typeof Impl.{name}, typeof Decl.{name}> = true;")
        at[name] = len(lines)
    (web / "check.ts").write_text("\n".join(lines) + "\n")
    return tsc(web, {**OPTIONS, "strict": True}, ["check.ts"]), at


def test_the_modules_carry_jsdoc_checked_by_typescript(tmp_path: Path) -> None:
    web = copy(tmp_path)
    for name in CHECKED:
        assert (web / name).read_text().startswith("// @ts-check\n"), name
    assert check_bodies(web) == ""


def test_segmenter_js_exports_what_segmenter_d_ts_declares(tmp_path: Path) -> None:
    web = copy(tmp_path)
    assert {"createSegmenter", "SegmenterError", "chooseRuntime", "SMOOTHING"} <= set(exports(
        (web / "segmenter.d.ts").read_text()))
    errors, _ = check_exports(web)
    assert errors == ""


def test_stylizer_js_exports_what_stylizer_d_ts_declares(tmp_path: Path) -> None:
    web = copy(tmp_path)
    assert {"createStylizer", "MAX_PIXELS"} <= set(exports((web / "stylizer.d.ts").read_text()))
    assert "export {SegmenterError} from './segmenter.js';" in (web / "stylizer.d.ts").read_text()
    errors, _ = check_exports(web, "stylizer")
    assert errors == ""


def parameters(text: str, start: int) -> tuple[list[str], int]:
    """The parameters of the function whose "(" is at `start` (top-level pieces, defaults cut off) and where
    its ")" is."""
    depth, piece, found, at = 0, "", [], start
    for at in range(start + 1, len(text)):
        char = text[at]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                break
            depth -= 1
        if char == "," and depth == 0:
            found.append(piece)
            piece = ""
        else:
            piece += char
    found.append(piece)
    return [p.split("=")[0].strip() for p in found if p.strip()], at


def test_every_public_function_has_jsdoc() -> None:
    """Each exported function and each method of the modules' classes has a /** */ block with an @param for
    each parameter (by name, where it has one) and @returns (constructors: @param only)."""
    missing = []
    for path in [PAGE / "segmenter.js", PAGE / "stylizer.js", *sorted((PAGE / "lib").glob("*.js"))]:
        text = path.read_text()
        for match in re.finditer(r"^(?:export (?:async )?function (\w+)|  (?:static )?(?:async )?(\w+))\(", text,
                                 re.MULTILINE):
            name = match[1] or match[2]
            if name in {"if", "for", "while", "switch", "catch"}:
                continue
            before = text[:match.start()].rstrip()
            doc = before[before.rfind("/**"):] if before.endswith("*/") else ""
            params, end = parameters(text, match.end() - 1)
            if match[2] and not text.startswith(" {", end + 1):
                continue   # a call, not a method
            if name == "constructor" and not params:
                continue
            named = [p for p in params if p[0] not in "{["]
            if not doc or (name != "constructor" and "@returns" not in doc) or doc.count("@param") < len(params) \
                    or any(not re.search(rf"@param {{[^\n]*}} \[?{p}\b", doc) for p in named):
                missing.append(f"{path.relative_to(PAGE)}: {name}")
    assert not missing, missing


# Each change makes the JSDoc and segmenter.d.ts disagree: (file, old, new, where tsc must report it).
BREAKS = {
    "a JSDoc parameter type": (
        "segmenter.js", "@param {SegmenterOptions} [given]", "@param {number} [given]", "createSegmenter"),
    "a declared parameter type": (
        "segmenter.d.ts", "export function createSegmenter(options?: SegmenterOptions)",
        "export function createSegmenter(options?: string)", "createSegmenter"),
    "a declared return type": (
        "segmenter.d.ts", "export function overlay(source: Picture, layer: ImageData): ImageData;",
        "export function overlay(source: Picture, layer: ImageData): Uint8ClampedArray;", "overlay"),
    "a JSDoc return type": (
        "lib/choose.js", " * @returns {RuntimeChoice}\n * @throws {SegmenterError} 'options' for a choice",
        " * @returns {RuntimeChoice | null}\n * @throws {SegmenterError} 'options' for a choice", "chooseRuntime"),
    "an export not declared": (
        "segmenter.d.ts", "/** `layer` (such as colorize()'s) composited over the picture: opaque. */\n"
        "export function overlay(source: Picture, layer: ImageData): ImageData;\n", "", "*"),
    "a setting SMOOTHING lacks": (
        "segmenter.d.ts", "  probHigh: number;\n}", "  probHigh: number;\n  probMid: number;\n}", "lib/smoothing.js"),
    "a method declared that the class lacks": (
        "segmenter.d.ts", "  dispose(): void;\n  info: RuntimeInfo;", "  dispose(): void;\n  pause(): void;\n"
        "  info: RuntimeInfo;", "segmenter.js"),
    "a result field the module does not give": (
        "segmenter.js", "modelMs: done.modelMs, ", "", "segmenter.js"),
    "a stylize result field the module does not give": (
        "stylizer.js", "modelMs: done.modelMs, ", "", "stylizer.js"),
    "a stylizer option declared with another type": (
        "stylizer.d.ts", "export function createStylizer(options?: StylizerOptions)",
        "export function createStylizer(options?: string)", "stylizer:createStylizer"),
    "an error code the module's table lacks": (
        "segmenter.d.ts", "'disposed' | 'run';", "'disposed' | 'run' | 'timeout';", "lib/errors.js"),
}


@pytest.mark.parametrize("case", list(BREAKS))
def test_typescript_fails_where_the_jsdoc_and_the_declarations_disagree(tmp_path: Path, case: str) -> None:
    name, old, new, where = BREAKS[case]
    web = copy(tmp_path)
    path = web / name
    assert path.read_text().count(old) == 1, f"{name} no longer holds {old!r}: update this case"
    path.write_text(path.read_text().replace(old, new))
    if where.endswith(".js"):
        errors = check_bodies(web)
        assert re.search(rf"^{re.escape(where)}\(\d+,\d+\): error TS\d+", errors, re.MULTILINE), errors
    else:
        module, _, where = where.rpartition(":")
        errors, at = check_exports(web, module or "segmenter")
        assert re.search(rf"^check\.ts\({at[where]},\d+\): error TS2322", errors, re.MULTILINE), errors
