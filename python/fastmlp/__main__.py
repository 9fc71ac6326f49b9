"""The ``fastmlp`` console script: the same C++ command line as the native program."""

from __future__ import annotations

import sys
from importlib import resources

from fastmlp import _core


def main(argv: list[str] | None = None) -> int:
    """Run ``fastmlp ARGS`` and return its exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    sys.stdout.flush()
    data_dir = resources.files("fastmlp").joinpath("data")
    return _core.cli_main(args, str(data_dir))


if __name__ == "__main__":
    sys.exit(main())
