"""The build folder is an npm package: package.json and README from the recipe and the build,
`.d.ts` declarations for the public API; `npm pack`, installed into a fresh project, type-checked with
`tsc --noEmit` and run from node_modules/NAME/ in a bundler-free page in headless Chromium."""
from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import threading
import urllib.request
from pathlib import Path
from typing import Any

import docs_blocks
import numpy as np
import pytest
import test_page
from test_page import WAIT, metadata, sample_pixels, serving, tf_labels

from kit import PROJECT, needs_npm, node, url

from patcher import npm, page
from patcher import recipe as recipes
from patcher.cli import main
from patcher.page import PAGE

playwright, browser = test_page.playwright, test_page.browser
pytestmark = [*test_page.pytestmark, needs_npm]
TSC = PROJECT / "node_modules" / ".bin" / "tsc"
NAME = "@test-scope/face-parts"
HEIGHT, WIDTH = 72, 88

CONSUMER_TS = """
import { createSegmenter, chooseRuntime, SegmenterError } from '%(name)s';
import type { Segmenter, SegmentResult, ErrorCode, RuntimeInfo } from '%(name)s';

async function main(image: HTMLCanvasElement): Promise<number> {
  const seg: Segmenter = await createSegmenter({ runtime: 'auto', precision: 'float32', backend: 'wasm',
                                                 worker: true, threads: 0, size: [448, 448] });
  const result: SegmentResult = await seg.segment(image, { size: [288, 288], faces: { maxFaces: 2, fill: 'frame' } });
  const crops: number[][] = (result.faces ?? []).map((face) => face.crop);
  const overlay: ImageData = seg.colorize(result.labels, result.width, result.height, { alpha: 0.5, transparent: [0] });
  const info: RuntimeInfo = seg.info;
  const first: string = seg.classes[result.labels[0]] + crops.length;
  const choice = chooseRuntime(seg.meta, { runtime: 'litert' }, [448, 448]);
  seg.dispose();
  try {
    await seg.segment(image);
  } catch (err) {
    if (err instanceof SegmenterError) { const code: ErrorCode = err.code; const hint: string = err.hint; void code; void hint; }
  }
  return overlay.width + info.cores + first.length + (choice.file ?? '').length;
}
void main;
"""
# each line must fail to type-check: the declarations are not `any`
# a line the declarations must refuse, and the start of tsc's one error for it (at line 2 of its file)
WRONG_TS = [
    ("createSegmenter({ runtime: 'onnx' });", "(2,19): error TS2322: Type '\"onnx\"' is not assignable to type"),
    ("createSegmenter({ size: 448 });", "(2,19): error TS2322: Type 'number' is not assignable to type"),
    ("createSegmenter().then((seg) => seg.segment('picture.png'));",
     "(2,45): error TS2345: Argument of type 'string' is not assignable to parameter of type"),
    ("createSegmenter().then((seg) => { const n: number = seg.info.reason; return n; });",
     "(2,41): error TS2322: Type 'string' is not assignable to type 'number'"),
]
TSCONFIG = {"compilerOptions": {"strict": True, "noEmit": True, "target": "es2022", "module": "esnext",
                                "moduleResolution": "bundler", "lib": ["es2022", "dom"], "skipLibCheck": False,
                                "types": []}}

PAGE_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>consumer</title><link rel="icon" href="data:,"></head><body>
<script type="module">
import { createSegmenter } from './node_modules/%(name)s/segmenter.js';
try {
  const pixels = new Uint8ClampedArray(await (await fetch('pixels.rgba')).arrayBuffer());
  const image = new ImageData(pixels, %(width)d, %(height)d);
  const out = {};
  for (const worker of [true, false]) {
    const seg = await createSegmenter({ worker, size: [%(height)d, %(width)d] });
    const { faces } = await seg.segment(image);            // face mode, the package's detector
    const faceInfo = seg.info.faces;
    const { labels } = await seg.segment(image, { faces: false });
    out[worker ? 'worker' : 'main'] = { labels: Array.from(labels), info: seg.info, model: seg.model, faces, faceInfo };
    seg.dispose();
  }
  window.result = out;
} catch (err) {
  window.result = { error: `${err.code}: ${err.message}` };
}
</script>
</body></html>
"""


def run(args: list[str], cwd: Path, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)
    if ok:
        assert proc.returncode == 0, f"{' '.join(args)}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    return proc


@pytest.fixture(scope="module")
def named(checkouts, tmp_path_factory):
    """A build with `--package-name` (and no quick check: test_build checks the model itself)."""
    out = tmp_path_factory.mktemp("named") / "web"
    assert main(["build", "--dest", str(checkouts / "celebamask"), "--random-weights", "--no-check", "--out", str(out),
                 "--package-name", NAME]) == 0
    return out


@pytest.fixture(scope="module")
def project(named, tmp_path_factory):
    """A fresh npm project with the packed build installed from its tarball."""
    root = tmp_path_factory.mktemp("consumer")
    packed = json.loads(run(["npm", "pack", "--json", "--pack-destination", str(root)], named).stdout)[0]
    app = root / "app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": "consumer", "private": True, "type": "module"}))
    run(["npm", "install", "--offline", "--no-audit", "--no-fund", str(root / packed["filename"])], app)
    return app, packed


def test_the_build_is_a_package_named_by_the_recipe(built):
    package = json.loads((built / "package.json").read_text())
    model = recipes.load().model("celebamask")
    assert package["name"] == model.package == "@patcher/bisenetv2-celebamask"
    assert package["license"] == model.license == "MIT"
    assert re.fullmatch(r"\d+\.\d+\.\d+\+random\.seed0\.float32", package["version"]), package["version"]
    assert package["type"] == "module" and package["types"] == "./segmenter.d.ts"
    assert package["exports"]["."] == {"types": "./segmenter.d.ts", "default": "./segmenter.js"}
    listed = set(package["files"])
    assert {"segmenter.js", "segmenter.d.ts", "lib/", "model.json", "tf.min.js", "tf-backend-wasm.min.js", "tf-backend-webgpu.min.js",
            "tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-threaded-simd.wasm", "sample.png", "faces/"} <= listed
    assert {p.name for p in built.glob("*.bin")} <= listed
    assert not any(name.startswith(".") for name in listed)
    for name in listed:
        assert (built / name.rstrip("/")).exists(), name
    readme = (built / "README.md").read_text()
    meta = metadata(built)
    assert readme.startswith("# @patcher/bisenetv2-celebamask\n")
    assert f"npm install ./patcher-bisenetv2-celebamask-{package['version']}.tgz\n" in readme, "a tarball, not the registry"
    assert "docs/page.md lists" not in readme
    assert meta["title"] in readme and f"| 1 | {meta['classes'][1]} | #800000 |" in readme and "random weights" in readme
    assert "Face mode (the default)" in readme and "@vladmandic/human@3.3.6 (MIT; the model itself Apache-2.0)" in readme


def test_package_name_overrides_the_recipe_and_bad_names_are_refused(named, checkouts, tmp_path, capsys):
    assert json.loads((named / "package.json").read_text())["name"] == NAME
    with pytest.raises(SystemExit) as stopped:
        main(["build", "--dest", str(checkouts / "celebamask"), "--random-weights", "--out", str(tmp_path / "o"),
              "--package-name", "Face Parts"])
    assert stopped.value.code == 2
    assert "'Face Parts' is not an npm package name" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_declarations_cover_the_modules_exports_and_error_codes():
    declared = set(re.findall(r"^export (?:function|class|const) (\w+)", (PAGE / "segmenter.d.ts").read_text(),
                              re.MULTILINE))
    found = node(f"const m = await import({url(PAGE / 'segmenter.js')});"
                 f"const e = await import({url(PAGE / 'lib' / 'errors.js')});"
                 "console.log(JSON.stringify({names: Object.keys(m), codes: Object.keys(e.CODES)}));", cwd=PROJECT)
    assert declared == set(found["names"])
    union = re.search(r"export type ErrorCode = ([^;]+);", (PAGE / "segmenter.d.ts").read_text())[1]
    assert set(re.findall(r"'([a-z-]+)'", union)) == set(found["codes"])


def test_the_packed_tarball_holds_the_module_model_and_runtimes(project, named):
    _, packed = project
    inside = {f["path"] for f in packed["files"]}
    for path in ("package.json", "README.md", "segmenter.js", "segmenter.d.ts", "lib/worker.js", "lib/engine.js",
                 "model.json", "tf.min.js", "tfjs-backend-wasm-simd.wasm"):
        assert path in inside, path
    assert {p.name for p in named.glob("*.bin")} <= inside
    assert not any(p.startswith(".") or "/." in p for p in inside)


@pytest.mark.skipif(not TSC.exists(), reason="typescript is not installed (npm ci)")
def test_a_typescript_file_type_checks_against_the_installed_package(project):
    app, _ = project
    (app / "tsconfig.json").write_text(json.dumps({**TSCONFIG, "files": ["consumer.ts"]}))
    (app / "consumer.ts").write_text(CONSUMER_TS % {"name": NAME})
    proc = run([str(TSC), "-p", "tsconfig.json"], app, ok=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for i, (line, error) in enumerate(WRONG_TS):
        (app / f"wrong{i}.ts").write_text(f"import {{ createSegmenter }} from '{NAME}';\n{line}\n")
        (app / "tsconfig.json").write_text(json.dumps({**TSCONFIG, "files": [f"wrong{i}.ts"]}))
        proc = run([str(TSC), "-p", "tsconfig.json"], app, ok=False)
        errors = [out for out in proc.stdout.splitlines() if ": error TS" in out]
        assert proc.returncode != 0 and len(errors) == 1 and errors[0].startswith(f"wrong{i}.ts{error}"), \
            (line, proc.stdout)


def test_the_installed_package_runs_from_node_modules_in_a_page_without_a_bundler(project, named, browser):
    app, _ = project
    pixels = sample_pixels(HEIGHT, WIDTH)
    rgba = np.concatenate([pixels, np.full((HEIGHT, WIDTH, 1), 255, np.uint8)], axis=-1)
    (app / "pixels.rgba").write_bytes(rgba.tobytes())
    (app / "index.html").write_text(PAGE_HTML % {"name": NAME, "width": WIDTH, "height": HEIGHT})
    expected = tf_labels(named, pixels)
    url, result = opened(app, browser, "index.html", "result")
    assert "error" not in result, result["error"]
    for mode, worker in (("worker", True), ("main", False)):
        got = result[mode]
        assert got["model"] == f"{url}node_modules/{NAME}/model.json"
        assert got["info"]["worker"] is worker and "fallback" not in got["info"]
        assert isinstance(got["faces"], list) and got["faceInfo"]["model"] == f"{url}node_modules/{NAME}/faces/blazeface.json"
        agreement = np.mean(np.array(got["labels"]).reshape(HEIGHT, WIDTH) == expected)
        assert agreement >= 0.999, f"{mode}: {agreement:.4%} of pixels agree with TensorFlow"


def opened(app: Path, browser: Any, name: str, variable: str) -> tuple[str, Any]:
    """`app` served by patcher's server, its page `name` opened in Chromium until `window.VARIABLE` is set: the
    server's URL and that value."""
    with serving(app) as url:
        tab = browser.new_page()
        try:
            tab.goto(url + name)
            tab.wait_for_function(f"window.{variable}", timeout=WAIT)
            return url, tab.evaluate(f"window.{variable}")
        finally:
            tab.close()


def hint_of(code: str) -> str:
    """The hint of an error code, as lib/errors.js gives it."""
    text = (PAGE / "lib" / "errors.js").read_text()
    return re.search(rf"'{re.escape(code)}': '([^']*)'", text)[1]


def readme_blocks(folder: Path, kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", (folder / "README.md").read_text(), re.DOTALL)


def test_the_readme_install_line_installs_the_tarball_npm_pack_makes(project, named, tmp_path):
    _, packed = project
    package = json.loads((named / "package.json").read_text())
    assert packed["filename"] == npm.tarball(package)
    [install] = readme_blocks(named, "sh")
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": "consumer", "private": True, "type": "module"}))
    shutil.copy2(Path(project[0]).parent / packed["filename"], app)
    # as printed, with npm's flags for a machine without the registry
    run([*shlex.split(install.strip()), "--offline", "--no-audit", "--no-fund"], app)
    assert json.loads((app / "node_modules" / NAME / "package.json").read_text())["version"] == package["version"]


SNIPPET_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>snippet</title><link rel="icon" href="data:,"></head><body>
<script type="module">
window.logged = [];
const error = console.error;
console.error = (...args) => { window.logged.push(args.join(' ')); error(...args); };
%(setup)s
%(snippet)s
window.done = true;
</script>
</body></html>
"""


def test_a_folder_install_is_served_through_its_link_and_the_readme_snippet_shows_the_hint(named, browser, tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": "consumer", "private": True, "type": "module"}))
    run(["npm", "install", "--offline", "--no-audit", "--no-fund", str(named)], app)
    assert (app / "node_modules" / NAME).is_symlink(), "npm links a folder it installs"
    [snippet] = [b for b in readme_blocks(named, "js") if "createSegmenter" in b]
    assert "catch (err)" in snippet and "err.hint" in snippet
    pixels = sample_pixels(HEIGHT, WIDTH)
    rgba = np.concatenate([pixels, np.full((HEIGHT, WIDTH, 1), 255, np.uint8)], axis=-1)
    (app / "pixels.rgba").write_bytes(rgba.tobytes())
    good = (f"const data = new Uint8ClampedArray(await (await fetch('pixels.rgba')).arrayBuffer());\n"
            f"const image = new ImageData(data, {WIDTH}, {HEIGHT});")
    (app / "good.html").write_text(SNIPPET_PAGE % {"setup": good, "snippet": snippet})
    (app / "bad.html").write_text(SNIPPET_PAGE % {"setup": "const image = new Image();", "snippet": snippet})
    httpd = page.server(app, quiet=True)   # patcher serve's server: a folder without index.html
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    try:
        with urllib.request.urlopen(f"{url}node_modules/{NAME}/model.json") as reply:
            assert reply.status == 200
        logged = {}
        for name in ("good", "bad"):
            tab = browser.new_page()
            tab.goto(f"{url}{name}.html")
            tab.wait_for_function("window.done", timeout=WAIT)
            logged[name] = tab.evaluate("window.logged")
            tab.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert logged["good"] == [], logged
    assert len(logged["bad"]) == 1 and logged["bad"][0].endswith(f"({hint_of('source')})"), logged


def test_the_docs_pack_install_and_import_lines_run_as_printed(built: Path, browser: Any, tmp_path: Path) -> None:
    """docs/page.md's `npm pack DIR` / `npm install ./TARBALL` block (the tarball its comment names is the one
    npm makes of the recipe's default build) and its node_modules snippet, which passes no model."""
    package = json.loads((built / "package.json").read_text())
    [commands] = [text for lang, _, text in docs_blocks.blocks("page.md") if lang == "sh" and "npm pack DIR" in text]
    pack, install = [line for line in commands.splitlines() if line.strip()]
    assert pack.split("#")[1].strip() == npm.tarball(package), "the tarball name the docs print"
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": "consumer", "private": True, "type": "module"}))
    run(shlex.split(pack.split("#")[0].replace("DIR", str(built))), app)
    assert (app / npm.tarball(package)).is_file()
    run([*shlex.split(install), "--offline", "--no-audit", "--no-fund"], app)
    installed = app / "node_modules" / package["name"]
    assert not installed.is_symlink() and json.loads((installed / "package.json").read_text())["version"] == package["version"]
    [snippet] = [text for lang, _, text in docs_blocks.blocks("page.md") if lang == "html" and "node_modules" in text]
    script = snippet.replace("</script>", "window.done = {model: seg.model, runtime: seg.info.runtime};\n"
                                          "seg.dispose();\n</script>")
    (app / "index.html").write_text(f"<!doctype html><html><head><link rel='icon' href='data:,'></head><body>\n"
                                    f"<script>addEventListener('error', (e) => {{ window.done = {{error: e.message}}; }});"
                                    f"</script>\n{script}</body></html>")
    url, done = opened(app, browser, "index.html", "done")
    assert done == {"model": f"{url}node_modules/{package['name']}/model.json", "runtime": "tfjs"}, done
