"""``python -m quarry.server --data DIR ...``: the same as ``quarry serve``."""

import sys

from quarry.server.cli import serve_main

if __name__ == "__main__":
    sys.exit(serve_main(sys.argv[1:]))
