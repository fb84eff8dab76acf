"""The pinned upstream checkout: safe sources, cloning, the pin, and the branch of one commit per codemod.

The package's modules, one job each: validate (what the user names, before git runs), lock (one run at a
time), repo (opening a checkout; git's failures as one line), clone (clone and pin), sources (the files
a recipe edits, read from git's objects), history (the commits patcher writes and reads back), protect
(the user's edits and commits kept), crash (what a killed run left). The names other modules use are
these.
"""
from patcher.checkout.clone import checkout_pin, open_or_clone, resolve_pin, switch
from patcher.checkout.crash import fault, recover, writing
from patcher.checkout.history import TRAILER, TREE, branch_name, build_commits, legacy_branch, recorded
from patcher.checkout.lock import locked
from patcher.checkout.protect import back_up, foreign_commits, local_edits
from patcher.checkout.repo import git_error, open_repo, reason
from patcher.checkout.sources import MAX_SOURCE, read_at
from patcher.checkout.validate import check_commit, check_source

__all__ = ["MAX_SOURCE", "TRAILER", "TREE", "back_up", "branch_name", "build_commits", "check_commit",
           "check_source", "checkout_pin", "fault", "foreign_commits", "git_error", "legacy_branch", "local_edits",
           "locked", "open_or_clone", "open_repo", "read_at", "reason", "recorded", "recover", "resolve_pin",
           "switch", "writing"]
