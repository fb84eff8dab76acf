"""The pinned LiteRT.js browser runtime and the harness page, copied into DIR/litert."""
from __future__ import annotations

import shutil
from pathlib import Path

from patcher import nodejs
from patcher.errors import BuildError
from patcher.litert.options import BARE_IMPORT, HARNESS, RUNTIME_FILES, RUNTIME_PACKAGE, RUNTIME_VERSION


def install_runtime(folder: Path) -> None:
    """Copy the pinned LiteRT.js browser files and the harness page into `folder` (DIR/litert)."""
    modules = nodejs.modules()
    for package, name, target in RUNTIME_FILES:
        source = modules / package / name
        if not source.is_file():
            raise BuildError(f"{source} is missing; run 'npm ci' again ({RUNTIME_PACKAGE} {RUNTIME_VERSION} is "
                             "pinned in package.json)")
        (folder / target).parent.mkdir(parents=True, exist_ok=True)
        if target == "litert.js":
            # its one bare import, made relative: no import map needed (Web Workers cannot have one)
            text = source.read_text(encoding="utf-8")
            if text.count(BARE_IMPORT) != 1:
                raise BuildError(f"{source} does not import {BARE_IMPORT!r} once; is it {RUNTIME_PACKAGE} "
                                 f"{RUNTIME_VERSION}? run 'npm ci' again")
            (folder / target).write_text(text.replace(BARE_IMPORT, 'from "./wasm-utils.js"'), encoding="utf-8")
            continue
        shutil.copy2(source, folder / target)
    for path in HARNESS.iterdir():
        if path.is_file():
            shutil.copy2(path, folder / path.name)
