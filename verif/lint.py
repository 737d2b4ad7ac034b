"""``verilator --lint-only -Wall`` with the explained waivers of ``hw/lint.vlt``."""

from __future__ import annotations

import subprocess
import sys

from .runner import REPO, verilator_env

WAIVERS = REPO / "hw" / "lint.vlt"


def lint(path):
    """Lint one Verilog file; returns Verilator's diagnostics (empty when clean)."""
    root = verilator_env()
    result = subprocess.run(
        [str(root / "bin" / "verilator"), "--lint-only", "-Wall", str(WAIVERS), str(path)],
        capture_output=True, text=True)
    diagnostics = [line for line in (result.stdout + result.stderr).splitlines()
                   if line.startswith("%")]
    if result.returncode and not diagnostics:
        diagnostics = [f"verilator exited with {result.returncode}: {result.stderr.strip()}"]
    return diagnostics


def main(argv=None):
    paths = (argv if argv is not None else sys.argv[1:])
    if not paths:
        print("usage: python -m sense_verif.lint FILE.v ...", file=sys.stderr)
        return 2
    bad = 0
    for path in paths:
        diagnostics = lint(path)
        print(f"{path}: {'clean' if not diagnostics else f'{len(diagnostics)} diagnostics'}")
        for line in diagnostics:
            print("  " + line)
        bad += bool(diagnostics)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
