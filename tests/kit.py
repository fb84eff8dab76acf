"""What the tests share: running patcher (in this process or as a user runs it), the one-line error check,
folder snapshots, one way to run Node, OKLab colours, and skip markers that each say what is missing."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from patcher import examples
from patcher.cli import main
from patcher.page import CHROMIUM as CHROMIUM_PATH

PROJECT = Path(__file__).resolve().parent.parent
TFJS = PROJECT / "node_modules" / "@tensorflow" / "tfjs"
CHROMIUM = Path(CHROMIUM_PATH)


# --- what a test needs, and why it skips without it ---------------------------------------------------

def _absent(*modules: str) -> bool:
    return any(importlib.util.find_spec(m) is None for m in modules)


def _skip_unless(missing: str | None) -> pytest.MarkDecorator:
    return pytest.mark.skipif(missing is not None, reason=missing or "")


needs_tf = _skip_unless("TensorFlow is not installed: pip install -e '.[tf]'" if _absent("tensorflow") else None)
needs_tfjs = _skip_unless("tensorflowjs is not installed: pip install -e '.[web]'" if _absent("tensorflowjs") else None)
needs_node = _skip_unless("Node.js is not installed" if shutil.which("node") is None else None)
needs_npm = _skip_unless("npm is not installed (the test packs, installs or fetches npm packages)"
                        if shutil.which("npm") is None else None)
needs_tfjs_node = _skip_unless(
    "Node.js is not installed" if shutil.which("node") is None
    else None if TFJS.is_dir() else "TensorFlow.js is not in node_modules: run 'npm ci' in the project")
needs_chromium = _skip_unless(
    f"Debian's chromium is not installed ({CHROMIUM})" if not CHROMIUM.exists()
    else "playwright is not installed: pip install -e '.[test]'" if _absent("playwright") else None)

# A test that builds a web model: TensorFlow (marker tf), the converter, and TensorFlow.js in Node.
BUILDS = [pytest.mark.tf, needs_tfjs, needs_tfjs_node]


def real_upstream() -> str:
    """The real upstream's URL or path, from PATCHER_UPSTREAM; the test is skipped, saying so, when unset."""
    location = os.environ.get("PATCHER_UPSTREAM")
    if not location:
        pytest.skip("PATCHER_UPSTREAM is not set: set it to a URL or path of MaybeShewill-CV/bisenetv2-tensorflow")
    return location


# --- running patcher -----------------------------------------------------------------------------------

def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`patcher ARGV` in this process (main(argv)): its exit code, stdout and stderr, and only this run's."""
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def apply(upstream: Path | str, dest: Path | str, *extra: str) -> int:
    """`patcher apply --upstream UPSTREAM --dest DEST EXTRA...` in this process: its exit code."""
    return main(["apply", "--upstream", str(upstream), "--dest", str(dest), *extra])


def refuses_an_edit(upstream: Path | str, dest: Path, commit: str, capsys: pytest.CaptureFixture[str]) -> Path:
    """Add a line of the user's to an upstream file of the checkout `dest`; `apply` must refuse (exit 6),
    name the file and keep the line. The file edited."""
    edited = dest / "bisenet_model/cnn_basenet.py"
    edited.write_text(edited.read_text() + "# my note\n")
    capsys.readouterr()
    assert apply(upstream, dest, "--commit", commit) == 6
    assert "bisenet_model/cnn_basenet.py" in capsys.readouterr().err
    assert edited.read_text().endswith("# my note\n")
    return edited


def patcher(*argv: str, env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """`python -m patcher ARGV` as a user runs it (this project's code, stdout and stderr captured as text);
    `env` adds to this process's environment."""
    return subprocess.run([sys.executable, "-m", "patcher", *argv], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(PROJECT), **(env or {})}, **kwargs)


def one_error(err: str | pytest.CaptureFixture[str], code: int, expected: int, *phrases: str) -> str:
    """The run ended with `expected`, its stderr holds one `patcher: error:` line holding every phrase, and no
    traceback: that line. `err` is the stderr, or capsys to read it from after `code` was computed (so that
    `one_error(capsys, main(argv), 13)` reads what main wrote)."""
    if not isinstance(err, str):
        err = err.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("patcher: error:")]
    assert code == expected, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


# --- codemods from outside patcher (a recipe's module files, installed entry points) -------------------

# A second codemod for the tiny upstream: the freeze script's placeholder name gets a suffix.
RENAME = '''\
"""Rename a string literal."""
from __future__ import annotations

import libcst as cst
from libcst.codemod import CodemodContext

from patcher.codemods.base import SiteCodemod


class RenameString(SiteCodemod):
    DESCRIPTION = "Rename a string literal."

    def __init__(self, context: CodemodContext, *, old: str, new: str) -> None:
        super().__init__(context)
        self.old, self.new = old, new

    def leave_SimpleString(self, original, updated):
        if updated.evaluated_value != self.old:
            return updated
        self.record(original, f"{self.old!r} -> {self.new!r}")
        return updated.with_changes(value=repr(self.new))
'''

STEP = '''
[[step]]
codemod = "{name}"
files = ["README.md", "netlib/tinynet.py"]
sites = {sites}
params = {{ old = "up", new = "upsampled" }}
'''


def recipe_with(folder: Path, modules: list[str], name: str = "rename_string", sites: int = 1,
                files: str = '["netlib/tinynet.py"]') -> Path:
    """The example recipe in `folder`, naming `modules` and ending with a step of codemod `name`."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(examples.CODEMOD, folder / examples.CODEMOD.name)
    text = examples.RECIPE.read_text()
    listed = ", ".join(f'"{m}"' for m in ["contrib_initializer.py", *modules])
    text = text.replace('modules = ["contrib_initializer.py"]', f"modules = [{listed}]")
    text += STEP.format(name=name, sites=sites).replace('["README.md", "netlib/tinynet.py"]', files)
    path = folder / "tiny.toml"
    path.write_text(text)
    return path


def dist_info(site: Path, dist: str, entries: dict[str, str], module_code: dict[str, str]) -> None:
    """An installed distribution on `site`: modules, and a .dist-info declaring `entries` in patcher.codemods."""
    for dotted, code in module_code.items():
        path = site.joinpath(*dotted.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(site).parents:
            if str(parent) != ".":
                (site / parent / "__init__.py").touch()
        path.write_text(code)
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "".join(f"{name} = {value}\n" for name, value in entries.items())
    (info / "entry_points.txt").write_text(f"[patcher.codemods]\n{lines}")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative path -> bytes): what a refused or failed run must leave alone."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def wait_for(done: Callable[[], object], what: str, seconds: float = 600, every: float = 0.1) -> None:
    """Poll `done()` every `every` s until it is true. After `seconds` the test fails, naming `what` it waited
    for: a bound against a hang, generous on a slow or busy machine, never a speed requirement."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {seconds:g} s waiting for {what}")
        time.sleep(every)


def fetched(url: str, seconds: float = 600) -> bytes:
    """The body of GET `url` (status 200), once a server that is starting answers: a refused connection is
    tried again every 0.2 s for up to `seconds`; an HTTP error fails at once."""
    body: list[bytes] = []

    def answered() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                assert response.status == 200, (url, response.status)
                body.append(response.read())
                return True
        except urllib.error.HTTPError:
            raise
        except OSError:
            return False

    wait_for(answered, f"the server to answer {url}", seconds, every=0.2)
    return body[0]


# --- Node ----------------------------------------------------------------------------------------------

def node(script: str, *args: str, data: object = None, cwd: Path | None = None) -> Any:
    """Run `script` as an ES module in Node (`node --input-type=module -e`), `args` as process.argv[1:] and
    `data` as JSON on stdin; the JSON value of its last stdout line. Node's failure fails the test with its
    stderr. One Node process a call: batch cases into one script where there are many."""
    proc = subprocess.run(["node", "--input-type=module", "-e", script, *args], capture_output=True, text=True,
                          input=json.dumps(data), cwd=cwd, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def url(path: Path) -> str:
    """`path` as a quoted file: URL, for an `import` in a Node script."""
    return json.dumps(path.as_uri())


# --- pictures -----------------------------------------------------------------------------------------

def bilinear(p: np.ndarray, sh: int, sw: int) -> np.ndarray:
    """[h, w, C] resized to [sh, sw, C]: half-pixel centres, edges clamped (tf.image.resize's bilinear and
    lib/masks.js's)."""
    h, w, _ = p.shape

    def taps(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        at = np.clip((np.arange(m) + 0.5) * n / m - 0.5, 0, n - 1)
        lo = np.floor(at).astype(int)
        return lo, np.minimum(lo + 1, n - 1), (at - lo)

    y0, y1, ty = taps(h, sh)
    x0, x1, tx = taps(w, sw)
    top = p[y0][:, x0] + (p[y0][:, x1] - p[y0][:, x0]) * tx[None, :, None]
    bottom = p[y1][:, x0] + (p[y1][:, x1] - p[y1][:, x0]) * tx[None, :, None]
    return top + (bottom - top) * ty[:, None, None]


# --- colour --------------------------------------------------------------------------------------------

def oklab(rgb: np.ndarray) -> np.ndarray:
    """sRGB [..., 3] in 0..255 to OKLab [..., 3] (L, a, b), Björn Ottosson's matrices
    (https://bottosson.github.io/posts/oklab/): what lib/effects.js computes."""
    lin = np.where(rgb / 255 <= 0.04045, rgb / 255 / 12.92, ((rgb / 255 + 0.055) / 1.055) ** 2.4)
    m1 = np.array([[0.4122214708, 0.5363325363, 0.0514459929], [0.2119034982, 0.6806995451, 0.1073969566],
                   [0.0883024619, 0.2817188376, 0.6299787005]])
    m2 = np.array([[0.2104542553, 0.7936177850, -0.0040720468], [1.9779984951, -2.4285922050, 0.4505937099],
                   [0.0259040371, 0.7827717662, -0.8086757660]])
    return np.cbrt(lin @ m1.T) @ m2.T
