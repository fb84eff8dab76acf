import sys

from patcher.cli import main

sys.exit(main())
