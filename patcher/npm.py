"""The build folder as an npm package: package.json and a README made from the model's metadata.

`segmenter.js` finds model.json, the TensorFlow.js bundles and litert/ next to itself, so the package works
wherever its folder is served (a sub-path such as node_modules/NAME/ included) without a bundler.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
from pathlib import Path

from patcher.kinds import of_metadata

# npm's rule for package names: lower case, URL-safe, optionally scoped, at most 214 characters
NAME = re.compile(r"^(?:@[a-z0-9-~][a-z0-9-._~]*/)?[a-z0-9-~][a-z0-9-._~]*$")
# the files npm always packs, and those it always leaves out; the rest of the folder is listed in `files`
ALWAYS = {"package.json", "README.md"}
TYPES = "segmenter.d.ts"


def check_name(name: str) -> str:
    """`name` if it is a valid npm package name, else ValueError saying why."""
    if len(name) > 214 or not NAME.match(name):
        raise ValueError(f"{name!r} is not an npm package name (lower case letters, digits, - . _ ~, "
                         "optionally @scope/name, at most 214 characters)")
    return name


def default_name(meta: dict) -> str:
    """The package name when the recipe gives none: RECIPE-MODEL, made npm-safe."""
    made = meta["patcher"]["recipe"] + "-" + meta["patcher"]["model"]
    return re.sub(r"[^a-z0-9-._~]+", "-", made.lower()).strip("-._") or "patcher-model"


def version(meta: dict) -> str:
    """patcher's version, with what the build holds as semver build metadata: `0.1.0+random.seed0.float32`
    for random weights, `0.1.0+w.<12 hex of the checkpoint's sha256>.float32` for a checkpoint."""
    try:
        base = importlib.metadata.version("patcher")
    except importlib.metadata.PackageNotFoundError:
        base = "0.0.0"
    info = meta["patcher"]
    weights = info.get("weights", "")
    if info.get("published", {}).get("integrity"):
        made = "published." + hashlib.sha256(info["published"]["integrity"].encode()).hexdigest()[:12]
    elif weights.startswith("sha256:"):
        made = f"w.{weights.split(':', 1)[1][:12]}"
    else:
        made = f"random.seed{info.get('seed', 0)}"
    return f"{base}+{made}.{info.get('quantization', 'float32')}"


def tarball(package: dict) -> str:
    """The file `npm pack` makes of `package`: NAME-VERSION.tgz, a scope's `@` dropped and its `/` a `-`
    (`@patcher/face` 0.1.0+x -> patcher-face-0.1.0+x.tgz)."""
    return f"{package['name'].lstrip('@').replace('/', '-')}-{package['version']}.tgz"


def manifest(folder: Path, meta: dict, name: str, license: str) -> dict:  # noqa: A002 - npm's word
    """package.json's content for the build in `folder`."""
    files = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir()
                   if not p.name.startswith(".") and p.name not in ALWAYS)
    title = meta.get("title") or name
    module = of_metadata(meta).module
    types = f"{module}.d.ts"
    return {
        "name": name,
        "version": version(meta),
        "description": f"{title}: {meta['about']}" if meta.get("about") else title,
        "license": license or "UNLICENSED",
        "type": "module",
        "main": f"./{module}.js",
        "types": f"./{types}",
        "exports": {
            ".": {"types": f"./{types}", "default": f"./{module}.js"},
            "./model.json": "./model.json",
            "./package.json": "./package.json",
            "./*": "./*",
        },
        "files": files,
        "sideEffects": False,
        "keywords": ["segmentation", "tensorflowjs", "litert", "webassembly", "browser"],
        "patcher": {k: meta["patcher"][k] for k in ("upstream", "commit", "recipe", "model", "weights", "quantization")
                    if k in meta["patcher"]},
    }


def lite_detector(faces: dict) -> str:
    """The README's sentence on the LiteRT.js face detector of model.json's `faces` entry, or ''."""
    lite = faces.get("litert") or {}
    if not lite.get("detector"):
        return ""
    return (f" Where the squares are parsed on LiteRT.js, the faces are found on LiteRT.js too, with the detector "
            f"from {lite['package']}@{lite['version']} ({lite['license']}; the model itself {lite['model_license']}).")


def readme(package: dict, meta: dict) -> str:
    """README.md for the package, from its manifest and the model's metadata."""
    published = meta.get("patcher", {}).get("published", {})
    terms = (f"\n\nThe weights come from {published['package']}@{published['version']} ({published['license']}); "
             f"they were {published['terms']}." if published.get("terms") else "")
    name, info = package["name"], meta["patcher"]
    classes = meta.get("classes", [])
    palette = meta.get("palette", [])
    transparent = set(meta.get("transparent", []))
    colours = ["#" + "".join(f"{v:02x}" for v in rgb[:3]) for rgb in palette]
    rows = "\n".join(f"| {i} | {c} | {colours[i] if i < len(colours) else ''} |"
                     f"{' drawn clear' if i in transparent else ''} |" for i, c in enumerate(classes))
    lite = meta.get("litert") or {}
    sizes = sorted({f"{m['size'][0]}x{m['size'][1]} {m['precision']}" for m in lite.get("models", [])
                    if isinstance(m, dict) and "size" in m})
    weights = info.get("weights", "")
    weights_text = ("random weights: this build shows the pipeline working, not a trained segmentation"
                    if weights == "random weights" else f"the checkpoint {weights}")
    faces = meta.get("faces") or {}
    detector = ("" if not faces else
                f"\n\nFace mode (the default): `segmenter.js` first finds faces with the detector in `faces/`, from "
                f"{faces['package']}@{faces['version']} ({faces['license']}; the model itself {faces['model_license']}), "
                "parses a square around each and pastes the parses back; `segment(image, { faces: false })` parses "
                "the whole frame." + lite_detector(faces) if faces.get("detector") else
                f"\n\nThis build has no face mode: the face detector {faces['package']}@{faces['version']} could not "
                f"be fetched when it was built ({faces.get('reason', '')}).")
    size = meta.get("input", {}).get("default_size")
    preferred = f"{size[0]} x {size[1]}" if size else "the picture's own (at most 2048 x 2048 pixels)"
    if of_metadata(meta).module == "stylizer":
        return picture_readme(package, meta, weights_text.replace("segmentation", "model"), preferred, terms)
    return f"""# {name}

{meta.get('title') or name}. {meta.get('about') or ''}

Semantic segmentation in the browser: {len(classes)} classes per pixel, built by patcher from
{info.get('upstream', 'the upstream')} at commit {info.get('commit', '?')} (recipe `{info.get('recipe', '?')}`,
model `{info.get('model', '?')}`). Weights: {weights_text}.

## Install and use

The package is not on the npm registry: install the tarball `npm pack` makes of the build folder
(`npm pack BUILD_DIR`), from the folder you keep it in:

```sh
npm install ./{tarball(package)}
```

(`npm install BUILD_DIR` works too: npm links the folder into `node_modules`, and `patcher serve`
follows that link.)

```js
import {{ createSegmenter }} from './node_modules/{name}/segmenter.js';   // with a bundler: from '{name}'

try {{
  const seg = await createSegmenter();                         // model.json next to segmenter.js
  const {{ labels, width, height }} = await seg.segment(image);  // image: a loaded <img>, a canvas, a video...
  const overlay = seg.colorize(labels, width, height, {{ alpha: 0.5 }});   // ImageData
  seg.dispose();
}} catch (err) {{
  console.error(`${{err.message}} (${{err.hint}})`);           // err.code: one of segmenter.d.ts's ErrorCode
}}
```

Without `size` the model runs at its preferred size, {preferred} (`createSegmenter({{ size: [h, w] }})`
or `seg.segment(image, {{ size }})` choose another); the class map comes back at the picture's size.

The package is plain ES modules (`segmenter.js`, `lib/`) with TypeScript declarations (`{TYPES}`); it
needs no bundler. It finds `model.json`, its weight shards{', the TensorFlow.js bundles and `litert/`' if sizes
else ' and the TensorFlow.js bundles'} next to `segmenter.js`, wherever its folder is served (for example
`node_modules/{name}/`). Serve the page with `Cross-Origin-Opener-Policy: same-origin` and
`Cross-Origin-Embedder-Policy: require-corp` to give the wasm runtimes one thread per core.
Options, results and error codes: `segmenter.d.ts` (in this package), and patcher's docs/page.md.
`index.html` is a demo page.

Runtimes included: TensorFlow.js 4.22.0 (`tf.min.js`, `tf-backend-wasm.min.js` and its `.wasm` files,
`tf-backend-webgpu.min.js`, Apache-2.0){'; LiteRT.js (`litert/`, Apache-2.0), models: ' + ', '.join(sizes) if sizes else ''}.

## Classes

| id | class | colour |  |
|----|-------|--------|--|
{rows}

## Licence

{package['license']} (the package's code and model as the recipe states it; the runtimes keep their own
licences).{terms}{detector}
"""


def picture_readme(package: dict, meta: dict, weights: str, preferred: str, terms: str) -> str:
    """README.md for the package of a picture model (stylizer.js)."""
    name, info = package["name"], meta["patcher"]
    credit = f" Its sample picture: {meta['sample_credit']}." if meta.get("sample_credit") else ""
    return f"""# {name}

{meta.get('title') or name}. {meta.get('about') or ''}

Picture to picture in the browser, built by patcher from {info.get('upstream', 'the upstream')} at commit
{info.get('commit', '?')} (recipe `{info.get('recipe', '?')}`, model `{info.get('model', '?')}`). Weights: {weights}.

## Install and use

Install the tarball `npm pack BUILD_DIR` makes (`npm install ./{tarball(package)}`), or the build folder itself.

```js
import {{ createStylizer }} from './node_modules/{name}/stylizer.js';   // with a bundler: from '{name}'

try {{
  const sty = await createStylizer();                          // model.json next to stylizer.js
  const {{ image, width, height }} = await sty.stylize(picture);  // image: ImageData at the picture's size
  canvas.getContext('2d').putImageData(image, 0, 0);
  sty.dispose();
}} catch (err) {{
  console.error(`${{err.message}} (${{err.hint}})`);           // err.code: one of stylizer.d.ts's ErrorCode
}}
```

Without `size` the model runs at its preferred size, {preferred} (`createStylizer({{ size: [h, w] }})` or
`sty.stylize(picture, {{ size }})` choose another); the picture comes back at the source's size, in RGB
order whatever colour order the model works in.

The package is plain ES modules (`stylizer.js`, `lib/`, shared with patcher's `segmenter.js`) with TypeScript
declarations (`stylizer.d.ts`); it needs no bundler. Serve the page with `Cross-Origin-Opener-Policy:
same-origin` and `Cross-Origin-Embedder-Policy: require-corp` to give the wasm runtimes one thread per core.
`index.html` is a demo page.{credit}

## Licence

{package['license']} (the package's code and model as the recipe states it; the runtimes keep their own
licences).{terms}
"""


def write(folder: Path, meta: dict, name: str | None, license: str) -> dict:  # noqa: A002 - npm's word
    """Write package.json and README.md into the build `folder`; the manifest. `name` None: RECIPE-MODEL."""
    package = manifest(folder, meta, check_name(name or default_name(meta)), license)
    (folder / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    (folder / "README.md").write_text(readme(package, meta))
    return package
