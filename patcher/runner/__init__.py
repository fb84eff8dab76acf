"""Run recipe steps in memory: count each codemod's sites, re-parse its output, check it is idempotent.

The package's modules, one job each: codec (a file's bytes to text and back), layout (no change outside
the reported sites), state (the parse cache), step (one step on one file), pool (several processes),
engine (a recipe's steps over its files), fingerprint (the digest a branch records). The names other
modules use are these.
"""
from patcher.runner.codec import Form, decode, encode
from patcher.runner.engine import run_steps
from patcher.runner.fingerprint import SOURCES, digest
from patcher.runner.layout import unsited
from patcher.runner.pool import default_jobs
from patcher.runner.state import FileState, Wrapper, parse
from patcher.runner.step import Outcome, run, step_file, transform

__all__ = ["SOURCES", "FileState", "Form", "Outcome", "Wrapper", "decode", "default_jobs", "digest", "encode",
           "parse", "run", "run_steps", "step_file", "transform", "unsited"]
