import os
import sys

from patcher.cli import main

try:
    code = main()
    sys.stdout.flush()
except BrokenPipeError:  # the reader (say, `| head`) went away: not an error of ours
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    code = 0
sys.exit(code)
