"""`weights`: a published TensorFlow.js graph model of the recipe's network, fetched and read.

Published weights come from an npm package pinned by the recipe (`published`: package, exact version,
folder, the registry's sha512 integrity, licence, terms of the training data). `fetch` downloads the
tarball once with `npm pack` into the cache (PATCHER_CACHE), checks the integrity before unpacking, and
unpacks only the model's folder; the tarball is kept, and every use checks it and the unpacked files
against the integrity again (patcher/cache.py). `read_model` reads its weights. Turning them into a checkpoint:
patcher/recovery.py. A recipe's face detector (`faces`: the same fields plus `files`) is fetched the
same way, only its files unpacked, and `detector` copies it into a web folder.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
import shutil
import sys
import tarfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from patcher import cache, nodejs, outdir
from patcher.child import run_registry
from patcher.errors import WeightsError
from patcher.hashing import file_digest

if TYPE_CHECKING:
    from patcher.recipe import Model

PUBLISHED = "published"
# tfjs manifest dtypes and how their bytes read
DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_, "float16": np.float16}
QUANTIZED = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}


def read_model(folder: Path) -> dict[str, np.ndarray]:
    """The weights of the TensorFlow.js graph model in `folder` (its model.json and shards), by name:
    float weights as float32 (quantized ones dequantized: uint8/uint16 as min + q * scale, float16
    widened), others in their own dtype. WeightsError for a missing or short shard, or an unknown dtype."""
    folder = Path(folder)
    path = folder / "model.json"
    try:
        model = json.loads(path.read_text(encoding="utf-8"))
        manifest = model["weightsManifest"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WeightsError(f"{path} is not a TensorFlow.js graph model ({type(exc).__name__}: {exc})") from None
    found: dict[str, np.ndarray] = {}
    if not isinstance(manifest, list):
        raise WeightsError(f"{path}: weightsManifest must be a list of groups, not {type(manifest).__name__}")
    for number, group in enumerate(manifest):
        shards, entries = _group(path, number, group)
        data = bytearray()
        for shard in shards:
            reason = outdir.unsafe(shard)
            if reason:
                raise WeightsError(f"{path} names the shard {shard!r}, which {reason}")
            try:
                data += (folder / shard).read_bytes()
            except OSError:
                raise WeightsError(f"{path}: the weight shard {shard} is missing from {folder}") from None
        offset = 0
        for weight in entries:
            name, shape, dtype, quant = _entry(path, number, weight)
            stored = QUANTIZED.get(quant["dtype"]) if quant else DTYPES.get(dtype)
            if stored is None:
                what = f"quantized as {quant['dtype']}" if quant else f"of dtype {dtype}"
                raise WeightsError(f"{path}: weight {name} is {what}, which patcher cannot read")
            size = math.prod(shape) * np.dtype(stored).itemsize
            if offset + size > len(data):
                raise WeightsError(f"{path}: the shards end inside weight {name} (a shard is short or missing)")
            value = np.frombuffer(bytes(data[offset:offset + size]), dtype=stored).reshape(shape)
            offset += size
            if quant and quant["dtype"] in ("uint8", "uint16"):
                value = value.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant["min"])
            found[name] = value.astype(np.float32) if dtype == "float32" else value
        if offset != len(data):
            raise WeightsError(f"{path}: the shards of a group hold {len(data) - offset} bytes more than its weights")
    return found


def _group(path: Path, number: int, group: object) -> tuple[list[str], list[Any]]:
    """A manifest group's shard paths and weight entries; WeightsError when it is not {paths, weights} lists."""
    where = f"{path}: weightsManifest[{number}]"
    if not isinstance(group, dict):
        raise WeightsError(f"{where} must be an object with 'paths' and 'weights', not {type(group).__name__}")
    shards, entries = group.get("paths"), group.get("weights")
    if not isinstance(shards, list) or not all(isinstance(p, str) for p in shards):
        raise WeightsError(f"{where}.paths must be a list of shard file names, not {shards!r:.40}")
    if not isinstance(entries, list):
        raise WeightsError(f"{where}.weights must be a list, not {entries!r:.40}")
    return shards, entries


def _entry(path: Path, number: int, weight: object) -> tuple[str, list[int], str, dict[str, Any] | None]:
    """A weight entry's name, shape, dtype and quantization; WeightsError naming what is malformed."""
    where = f"{path}: a weight of weightsManifest[{number}]"
    if not isinstance(weight, dict) or not isinstance(weight.get("name"), str):
        raise WeightsError(f"{where} has no name ({weight!r:.60})")
    name, shape, dtype, quant = weight["name"], weight.get("shape"), weight.get("dtype"), weight.get("quantization")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2 ** 31
                                              for d in shape):
        shown = repr(shape) if len(repr(shape)) <= 40 else repr(shape)[:37] + "..."
        raise WeightsError(f"{path}: weight {name} has the shape {shown}, not a list of sizes from 0 to 2^31 - 1")
    if not isinstance(dtype, str):
        raise WeightsError(f"{path}: weight {name} has no dtype")
    if quant is not None and not (isinstance(quant, dict) and isinstance(quant.get("dtype"), str) and (
            quant["dtype"] not in ("uint8", "uint16") or all(isinstance(quant.get(k), (int, float))
                                                             for k in ("scale", "min")))):
        raise WeightsError(f"{path}: weight {name} has a malformed quantization {quant!r:.60}")
    return name, shape, dtype, quant


def integrity(path: Path) -> str:
    """The npm registry's integrity string of a file: sha512, base64."""
    return "sha512-" + base64.b64encode(file_digest(path, algorithm="sha512")).decode()


def describe(published: dict[str, Any]) -> str:
    """PACKAGE@VERSION of a recipe's `published` entry."""
    return f"{published['package']}@{published['version']}"


def cached(published: dict[str, Any]) -> Path:
    """Where the model folder of `published` is unpacked in the cache (beside it, `package.tgz`: the tarball
    as the registry served it; patcher/cache.py)."""
    key = hashlib.sha256(published["integrity"].encode()).hexdigest()[:16]
    name = published["package"].replace("/", "+").lstrip("@")
    return nodejs.cache() / "published" / f"{name}-{published['version']}-{key}" / "model"


def fetch(published: dict[str, Any], tarball: Path | None = None) -> Path:
    """The folder of the published graph model, from the cache or (first use) from the npm registry with
    `npm pack` (or from `tarball`, a local .tgz of the package); the tarball's sha512 must equal the
    recipe's integrity before anything is unpacked. Each use checks the kept tarball against the integrity
    and the unpacked files against it (a mismatch is fetched again). WeightsError otherwise; nothing is
    cached then. With `files` in `published`, only those files of the folder are unpacked and
    checked (else the whole folder, which must hold model.json)."""
    what = describe(published)
    prefix = f"{PurePosixPath('package', published['folder'].strip('/'))}/"
    files = list(published.get("files") or [])
    wanted = files or ["model.json"]

    def check(folder: Path) -> None:
        got = cache.digest(folder / "package.tgz", "sha512")
        if got != published["integrity"]:
            raise cache.Mismatch(f"the tarball's integrity is {got[:27]}..., the recipe pins "
                                 f"{published['integrity'][:27]}...")
        cache.check_unpacked(folder / "package.tgz", prefix, folder / "model", files)

    def fill(staging: Path) -> None:
        kept = staging / "package.tgz"
        if tarball is None:
            if shutil.which("npm") is None:
                raise WeightsError("npm is not on PATH; install Node.js 18 or later (with npm) to fetch published weights")
            print(f"fetching {what} from the npm registry ...", file=sys.stderr)
            packs = staging / "npm"
            packs.mkdir()
            proc = run_registry(["npm", "pack", what, "--pack-destination", str(packs), "--json", "--loglevel=error"],
                                packs, f"cannot fetch {what} with npm", WeightsError)
            failed = cache.registry_error("npm pack", proc)
            packed = sorted(packs.glob("*.tgz"))
            if failed or not packed:
                raise WeightsError(f"cannot fetch {what} with npm: {failed or 'npm pack wrote no tarball'}")
            packed[0].rename(kept)
        else:
            shutil.copyfile(tarball, kept)
        got = integrity(kept)
        if got != published["integrity"]:
            raise WeightsError(f"{what}: the tarball's integrity is {got[:27]}..., the recipe pins "
                               f"{published['integrity'][:27]}...; not using it")
        unpacked = staging / "unpacked"
        with tarfile.open(kept, "r:gz") as archive:
            members = [m for m in archive.getmembers() if m.name.startswith(prefix) and m.isfile()
                       and (not files or m.name[len(prefix):] in files)]
            if not members:
                raise WeightsError(f"{what} has no folder {published['folder']}")
            archive.extractall(unpacked, members=members, filter="data")
        missing = [name for name in wanted if not (unpacked / prefix / name).is_file()]
        if missing:
            raise WeightsError(f"{what}: {published['folder']} holds no {', '.join(missing)}")
        (unpacked / prefix).rename(staging / "model")
        shutil.rmtree(unpacked)

    target = cached(published)
    filled = not all((target / name).is_file() for name in wanted)
    try:
        folder = cache.entry(target.parent, check, fill, what) / "model"
    except cache.Mismatch as exc:
        raise WeightsError(f"{what}: the cached package does not match the recipe's integrity ({exc}); "
                           f"remove {target.parent} and try again") from None
    except (OSError, tarfile.TarError) as exc:
        raise WeightsError(f"cannot fetch or unpack {what}: {exc}") from None
    if filled:
        print(f"cached {what} ({published['folder']}) in {folder}", file=sys.stderr)
    return folder


def source(spec: Model, given: str | Path) -> tuple[Path, dict[str, Any] | None]:
    """The folder of a published-style graph model: `given` is 'published' (the recipe's package), a
    folder with model.json, or a package's .tgz (checked against the recipe's integrity); and the recipe's
    `published` entry when it came from there."""
    if str(given) == PUBLISHED or str(given).endswith(".tgz"):
        if not spec.published:
            raise WeightsError(f"model {spec.name} has no published weights in the recipe; pass --checkpoint PREFIX "
                               "(a TensorFlow checkpoint) or --random-weights")
        return fetch(spec.published, None if str(given) == PUBLISHED else Path(given)), spec.published
    folder = Path(given)
    if (folder / "model.json").is_file():
        return folder, None
    raise WeightsError(f"{given} is not a folder with a model.json, a package .tgz or 'published'")


FACES = "faces"  # the face detector's folder inside a web folder


def detector(faces: dict[str, Any], folder: Path, litert: bool = False) -> dict[str, Any]:
    """Copy the recipe's face detector (its `faces` entry, fetched as `fetch` does) into FOLDER/faces/;
    model.json's `faces` metadata: package, version, integrity, licences, `anchors` ({strides, perCell}),
    `files` (paths in the web folder) and `detector` (its graph's JSON). When it cannot be fetched (no
    registry, a wrong integrity), one note on stderr and the same entry with `detector` null, `files`
    empty and `reason`: the build goes on without face mode. With `litert` (the build has LiteRT.js) and a
    `litert` detector in the recipe, that one too, as the entry's `litert` (the same fields, `detector`
    its .tflite, or null with `reason`)."""
    entry = _copy(faces, folder, ".json", "this build has no face mode")
    if litert and faces.get("litert"):
        entry["litert"] = _copy(faces["litert"], folder, ".tflite", "face mode runs its tfjs detector on LiteRT.js builds")
    return entry


def _copy(faces: dict[str, Any], folder: Path, suffix: str, without: str) -> dict[str, Any]:
    """One detector of `detector`, its model the file ending in `suffix`; `without`: what its absence means."""
    entry: dict[str, Any] = {k: faces[k] for k in ("package", "version", "integrity", "license", "model_license")}
    entry["anchors"] = {"strides": list(faces["anchors"]["strides"]), "perCell": list(faces["anchors"]["per_cell"])}
    try:
        source = fetch(faces)
    except WeightsError as exc:
        print(f"note: {without} (the face detector {describe(faces)} could not be fetched: {exc})", file=sys.stderr)
        return {**entry, "detector": None, "files": [], "reason": str(exc)}
    (folder / FACES).mkdir(exist_ok=True)
    for name in faces["files"]:
        shutil.copy2(source / name, folder / FACES / name)
    graph = next(name for name in faces["files"] if name.endswith(suffix))
    return {**entry, "detector": f"{FACES}/{graph}", "files": [f"{FACES}/{name}" for name in faces["files"]]}
