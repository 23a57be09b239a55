"""Regenerate the bundle's generated files: `python -m bundle` (or `--check` to only compare).

`--cluster-label NAME` builds the dashboards for clusters told apart by another target label
than `cluster` (then do not commit them: `--check` compares with the default).
"""

import argparse
import sys

from bundle.grafana import DEFAULT_CLUSTER_LABEL, set_cluster_label
from bundle.render import ROOT, render


def main(argv: list[str]) -> int:
    """Write every generated file, or with --check list the stale ones and fail."""
    parser = argparse.ArgumentParser(prog="python -m bundle", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only list stale files; exit 1 if any")
    parser.add_argument(
        "--cluster-label",
        default=DEFAULT_CLUSTER_LABEL,
        metavar="LABEL",
        help="target label of the dashboards' cluster variable (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    set_cluster_label(args.cluster_label)
    files = render()
    stale = [path for path, text in files.items() if not path.is_file() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)} (run `python -m bundle`)", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path])
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
