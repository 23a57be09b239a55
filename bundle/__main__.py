"""Regenerate the bundle's generated files: `python -m bundle` (or `--check` to only compare)."""

import sys

from bundle.render import ROOT, render


def main(argv: list[str]) -> int:
    """Write every generated file, or with --check list the stale ones and fail."""
    files = render()
    stale = [path for path, text in files.items() if not path.is_file() or path.read_text() != text]
    if "--check" in argv:
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
