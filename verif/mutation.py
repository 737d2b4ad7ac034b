"""Mutation score of the regression: ``python -m sense_verif.mutation`` (``make mutants``).

Builds every mutant of :data:`sense_verif.mutants.MUTANTS` on Verilator and runs the
regression suites that exercise its block, one cocotb test at a time, cheapest first (as
timed on the unmutated design, which must pass them all), stopping at the first failing
test. Writes ``reports/mutants.json``: each mutant's status (``killed``, ``survived``, or
``equivalent`` for a survivor whose registry entry says why no test can tell it apart),
the test that killed it and its seconds; ``kill_ratio`` is killed over non-equivalent.

Finished mutants are kept in ``build/mutants/<name>.json`` and not rerun (``--fresh``
reruns them; a survivor reruns when its suites' tests change); ``--jobs`` (at most 2) mutants build and run side by side. The builds' and
simulations' output goes to ``build/mutants/<name>.log``; the terminal shows one line per
mutant.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from sense_hw.generate import module_name

from .mutants import MUTANTS, SUITES, mutant
from .runner import BUILD, REPO, build, build_dir, output_to, run_tests

__all__ = ["suite_tests", "run_mutant", "summarize", "main"]

REPORT = REPO / "reports" / "mutants.json"
CACHE = BUILD / "mutants"
MAX_JOBS = 2


def _testcases(xml):
    """``[(name, seconds, failed)]`` of a cocotb results file."""
    return [(case.get("name"), float(case.get("time", 0)),
             case.find("failure") is not None or case.find("error") is not None)
            for case in ET.parse(xml).getroot().iter("testcase")]


def suite_tests(suite):
    """The suite's tests on the unmutated design, cheapest first; raises if any fails."""
    config, top, module = SUITES[suite]
    directory = build(config, top)
    xml = directory / "results-mutation-baseline.xml"
    run_tests(config, top, module, directory=directory, results_name=xml.name)
    cases = _testcases(xml)
    failed = [name for name, _, bad in cases if bad]
    if failed or not cases:
        raise RuntimeError(f"the unmutated design fails suite {suite} ({config.name}): "
                           f"{failed or 'no tests ran'}")
    return [name for name, _, _ in sorted(cases, key=lambda case: case[1])]


def _verilog(directory, top):
    return (directory / "rtl" / f"{module_name(top)}.v").read_text()


def _quiet(function, log, *args):
    with output_to(log):
        return function(*args)


def run_mutant(name, tests):
    """Build mutant ``name`` per suite and run ``tests[suite]`` in order until one fails."""
    entry = MUTANTS[name]
    started = time.perf_counter()
    record = {"name": name, "block": entry.block, "description": entry.description,
              "suites": list(entry.suites), "killed_by": None, "tests_run": 0}
    built = []
    for suite in entry.suites:
        config, top, module = SUITES[suite]
        directory = build(config, top, variant=f"mutant-{name}", patch=mutant(name))
        built.append(directory)
        if _verilog(directory, top) == _verilog(build_dir(config, top), top):
            raise RuntimeError(f"mutant {name} generates the unmutated Verilog of {suite}")
        for test in tests[suite]:
            xml = f"results-{re.sub(r'[^A-Za-z0-9]+', '_', test)}.xml"
            run_tests(config, top, module, directory=directory, results_name=xml,
                      extra_env={"COCOTB_TEST_FILTER": re.escape(test) + "$"})
            record["tests_run"] += 1
            cases = _testcases(directory / xml)
            if not cases or any(bad for _, _, bad in cases):
                record["killed_by"] = f"{suite}: {module}.{test} ({config.name})"
                break
        if record["killed_by"]:
            break
    if record["killed_by"]:  # 150 MB each; a survivor's builds stay for its next run
        for directory in built:
            shutil.rmtree(directory, ignore_errors=True)
    record["status"] = "killed" if record["killed_by"] else \
        "equivalent" if entry.equivalent else "survived"
    if entry.equivalent:
        record["equivalent_because"] = entry.equivalent
    record["seconds"] = round(time.perf_counter() - started, 1)
    return record


def _cache_key(name, tests):
    entry = MUTANTS[name]
    return {"block": entry.block, "description": entry.description,
            "suites": list(entry.suites), "tests": {s: tests[s] for s in entry.suites}}


def _still_valid(saved, key):
    """A finished mutant's record stands if the mutant is the same and, unless it was
    killed (more tests cannot revive it), its suites hold the same tests."""
    same = {k: v for k, v in saved["key"].items() if k != "tests"} == \
        {k: v for k, v in key.items() if k != "tests"}
    return same and (saved["record"]["status"] == "killed" or saved["key"] == key)


def summarize(records, wall=None):
    """The report: the mutants in registry order, counts and the kill ratio."""
    killed = sum(r["status"] == "killed" for r in records)
    equivalent = sum(r["status"] == "equivalent" for r in records)
    counted = len(records) - equivalent
    report = {"mutants": records, "total": len(records), "killed": killed,
              "survived": sum(r["status"] == "survived" for r in records),
              "equivalent": equivalent,
              "kill_ratio": killed / counted if counted else None,
              "suites": {s: {"config": SUITES[s][0].name, "top": SUITES[s][1],
                             "module": SUITES[s][2]}
                         for s in sorted({s for r in records for s in r["suites"]})}}
    if wall is not None:
        report["wall_s"] = round(wall, 1)
    return report


def _write(path, names, records, started):
    """The report so far (``pending``: the mutants still running), rewritten as each
    mutant finishes so that an interrupted run leaves what it measured."""
    report = summarize([records[n] for n in names if n in records],
                       time.perf_counter() - started)
    pending = [n for n in names if n not in records]
    if pending:
        report["pending"] = pending
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", "-j", type=int, default=MAX_JOBS,
                        help=f"mutants side by side, 1 to {MAX_JOBS} (default {MAX_JOBS})")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only these mutants (repeatable); the report holds them only")
    parser.add_argument("--fresh", action="store_true", help="rerun finished mutants")
    parser.add_argument("--out", type=Path, default=REPORT, help="report file")
    args = parser.parse_args(argv)
    if not 1 <= args.jobs <= MAX_JOBS:
        parser.error(f"--jobs must be 1 to {MAX_JOBS} (a shared 2-core machine), not "
                     f"{args.jobs}")
    unknown = sorted(set(args.only or ()) - set(MUTANTS))
    if unknown:
        parser.error(f"unknown mutant {', '.join(unknown)}; the mutants are "
                     f"{', '.join(MUTANTS)}")
    names = [n for n in MUTANTS if not args.only or n in args.only]
    started = time.perf_counter()
    suites = sorted({s for n in names for s in MUTANTS[n].suites})
    print(f"{len(names)} mutants over suites {', '.join(suites)}; timing the unmutated "
          f"design (logs in {CACHE}/)", flush=True)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        baseline = {suite: pool.submit(_quiet, suite_tests, CACHE / f"baseline-{suite}.log",
                                       suite) for suite in suites}
        tests = {suite: future.result() for suite, future in baseline.items()}
    records, todo = {}, []
    for name in names:
        cached = CACHE / f"{name}.json"
        if not args.fresh and cached.exists():
            saved = json.loads(cached.read_text())
            if _still_valid(saved, _cache_key(name, tests)):
                records[name] = saved["record"]
                continue
        todo.append(name)
    if records:
        print(f"{len(records)} mutants already done (build/mutants/; --fresh reruns them)")
    done = len(records)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(_quiet, run_mutant, CACHE / f"{name}.log", name, tests): name
                   for name in todo}
        for future in as_completed(futures):
            name = futures[future]
            record = future.result()
            (CACHE / f"{name}.json").write_text(json.dumps(
                {"key": _cache_key(name, tests), "record": record}, indent=1))
            records[name] = record
            done += 1
            print(f"[{done:2d}/{len(names)}] {record['status']:10s} {name:28s} "
                  f"{record['seconds']:6.1f} s  {record['killed_by'] or ''}", flush=True)
            _write(args.out, names, records, started)
    report = _write(args.out, names, records, started)
    ratio = report["kill_ratio"]
    print(f"{report['killed']} killed, {report['survived']} survived, {report['equivalent']} "
          f"equivalent of {report['total']}: kill ratio "
          f"{'n/a' if ratio is None else f'{ratio:.1%}'} -> {args.out}")
    for r in report["mutants"]:
        if r["status"] != "killed":
            print(f"  {r['status']}: {r['name']} ({r['block']}): {r['description']}")
    return 1 if report["survived"] else 0


if __name__ == "__main__":
    sys.exit(main())
