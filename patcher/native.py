"""TensorFlow in patcher's own process, imported without its C++ start-up lines on the user's terminal.

At import, TensorFlow 2.19's native libraries log through absl (CUDA, cuFFT, cuDNN and cuBLAS factory
registration, "computation placer already registered") before TF_CPP_MIN_LOG_LEVEL applies to them; on a
machine without a GPU they say nothing useful. They are kept while the import runs and shown only if it fails.
"""
from __future__ import annotations

import os
import sys
import tempfile
from types import ModuleType


def tensorflow() -> ModuleType:
    """The tensorflow module, imported quietly (see the module docstring)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            import tensorflow  # noqa: PLC0415 - imported with its start-up lines held back (above)
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return tensorflow
