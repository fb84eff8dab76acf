"""Output folders: which folders patcher may replace, the marker that says patcher made one, staging,
the swap into place, recovery after a kill, and backups of anything that is not patcher's.

`build --out DIR` writes two folders side by side, both patcher-made and marked:

- DIR: what a web server may serve (model.json, the weight shards, the demo page);
- DIR.tf: the frozen TensorFlow graph, which only `check` reads (see `graph_path`).

Rules (docs/reliability.md):

- a folder is replaced only when it is absent, empty, or carries the marker `.patcher-build` (written last
  into each folder, it lists every file patcher wrote with its SHA-256); anything else is refused before
  any work starts, with `OutputError` (exit 17), and nothing is touched;
- the filesystem root, the home folder, the current folder, the checkout, patcher itself, and any folder
  holding one of them are never replaced; nor is a file; a symbolic link is judged as the folder it points
  to (and refused when it points nowhere);
- a marked folder holding files that are not patcher's (added, or changed since the build) is refused
  naming them; with `force` those files are moved into DIR.backup-TIME beside it, never deleted;
- replacing a folder deletes only the files its marker lists that still have their recorded content;
  whatever else is left goes to a backup folder, and stderr says where;
- both folders are made in hidden staging folders and swapped in under a journal file, so a kill at any
  point leaves either the previous pair or (after `recover`, run by the next build) the new pair.

The package's modules, one job each: paths (where things are), faults (test hooks), marker (what
patcher made), policy (what may be replaced), swap (staging, swap, recovery, backups). The names other
modules use are these.
"""
from patcher.outdir.faults import fault
from patcher.outdir.marker import MADE_BY, MARKER, file_digest, foreign, read_marker, write_marker
from patcher.outdir.paths import GRAPH, GRAPH_SUFFIX, graph_dir, graph_path, safe_relative, unsafe, within
from patcher.outdir.policy import PROJECT, guard, guard_checkout
from patcher.outdir.swap import IDENT, commit, discard, drop, output_errors, recover, stage

__all__ = ["GRAPH", "GRAPH_SUFFIX", "IDENT", "MADE_BY", "MARKER", "PROJECT", "commit", "discard", "drop", "fault",
           "file_digest", "foreign", "graph_dir", "graph_path", "guard", "guard_checkout", "output_errors",
           "read_marker", "recover", "safe_relative", "stage", "unsafe", "within", "write_marker"]
