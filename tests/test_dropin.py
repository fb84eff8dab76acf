"""The default build drops into the seed's client: one output, `predict` gives H rows of W class ids."""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from kit import BUILDS
from patcher import outdir, page
from patcher.check import metadata, preprocess, run_frozen, picture_pixels

pytestmark = BUILDS
CLIENT = Path(__file__).resolve().parent / "js" / "seed_client.mjs"


def tf_labels(folder: Path, pixels: np.ndarray) -> np.ndarray:
    work = Path(tempfile.mkdtemp(prefix="patcher-dropin-"))
    try:
        x = preprocess(pixels, metadata(folder))
        x.tofile(work / "x.bin")
        run_frozen(outdir.graph_path(folder), [{"file": str(work / "x.bin"), "shape": list(x.shape)}], work, metadata(folder))
        return np.load(work / "tf.0.0.npy")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_the_seed_client_reads_h_rows_of_w_ids_matching_tensorflow(built, tmp_path):
    height, width = 72, 56
    pixels = picture_pixels(height, width)
    (tmp_path / "pixels.bin").write_bytes(pixels.tobytes())
    httpd = page.server(built)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/model.json"
        proc = subprocess.run(["node", str(CLIENT), url, str(tmp_path / "pixels.bin"), str(height), str(width)],
                              capture_output=True, text=True, timeout=300)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["isTensor"] is True and result["dtype"] == "int32"
    rows = result["rows"]
    assert len(rows) == height and all(len(row) == width and all(isinstance(v, int) for v in row) for row in rows)
    labels = np.array(rows)
    assert labels.min() >= 0 and labels.max() < len(metadata(built)["classes"])
    expected = tf_labels(built, pixels)
    assert expected.shape == (height, width)
    assert np.mean(labels == expected) >= 0.999
