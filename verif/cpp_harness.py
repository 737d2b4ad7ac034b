"""The ``sense_bench`` harness on a plain Verilator C++ driver: no cocotb, no per-cycle Python.

Feeder builds get the feeder's harness (``hdl/sense_feeder_bench.v``) on the same driver,
compiled with ``SENSE_FEEDER`` (:mod:`sense_verif.feeder_harness` prepares and checks their
runs).

``cpp/bench_main.cpp`` instantiates the same ``hdl/sense_bench.v`` wrapper as the cocotb
driver (:class:`sense_verif.harness.BenchHarness`), built without ``--public-flat-rw`` and
with optimization, and runs a whole list of jobs in one process. Both drivers share the job
preparation (:func:`~sense_verif.harness.prepare_run`: schedule, hex files, port values,
cycle budget) and the bulk check (:func:`~sense_verif.harness.finish_run`), and follow the
same reset/load/start/settle/dump sequence, so their records agree on cycles, status, extra
beats and the dumped results (``results_sha256``); ``make bench`` checks that they do.

Builds are cached per configuration and harness parameters under
``build/<config>/core-cpp-bench-*/``: a build is reused while its command and the contents
of its sources are unchanged (``stamp.json``).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

from .harness import (HARNESS, finish_run, harness_defines, harness_parameters, job_failures,
                      job_record, prepare_run)
from .runner import build_dir, build_lock, rtl_sources, verilator_env

__all__ = ["CPP_MAIN", "VERILATOR_OPT", "MAKE_OPT", "CppBuild", "build_cpp_harness",
           "CppHarness", "run_jobs_cpp"]

CPP_MAIN = Path(__file__).resolve().parent / "cpp" / "bench_main.cpp"

#: Verilator's own optimization and X handling (no ``--public-flat-rw``: nothing reads the
#: design's internals). ``--x-initial fast`` is safe: the harness resets every job.
VERILATOR_OPT = ["-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert"]
#: The C++ compiler's level for the per-cycle code only (``OPT_FAST``); ``-CFLAGS -O2``
#: would also hit the large ``__Slow`` files (see docs/flow.md).
MAKE_OPT = "OPT_FAST=-O2"


class CppBuild:
    """A built C++ harness: its ``binary``, ``directory`` and build ``seconds`` (those of the
    build that made it when ``cached``)."""

    def __init__(self, binary, directory, seconds, cached):
        self.binary, self.directory, self.seconds, self.cached = binary, directory, seconds, cached


def _digest(command, sources):
    h = hashlib.sha256(json.dumps([command, MAKE_OPT]).encode())
    for source in sources:
        h.update(Path(source).read_bytes())
    return h.hexdigest()


def build_cpp_harness(config, jobs, *, jobs_at_once=2):
    """Build (or reuse) the C++ harness around ``config``'s core, sized for ``jobs``: the
    ``sense_bench`` harness, or ``sense_feeder_bench`` for a feeder build."""
    verilator_env()
    defines = harness_defines(config)
    if config.feeder:
        from .feeder_harness import FEEDER_HARNESS, feeder_harness_parameters
        parameters = feeder_harness_parameters(config, jobs)
        variant = "cpp-feeder-bench-i{IFM_DEPTH}-w{WEIGHT_DEPTH}-r{RESULT_DEPTH}".format(
            **parameters)
        wrapper, defines = FEEDER_HARNESS, {**defines, "SENSE_FEEDER": 1}
    else:
        parameters = harness_parameters(config, jobs)
        variant = "cpp-bench-p{PIXEL_DEPTH}-w{WEIGHT_DEPTH}-r{RESULT_DEPTH}".format(**parameters)
        wrapper = HARNESS
    directory = build_dir(config, "core", variant)
    with build_lock(directory):
        sources = rtl_sources(config, "core", directory) + [wrapper, CPP_MAIN]
        obj = directory / "obj"
        command = (["verilator", "--cc", "--exe", "--build", "-j", str(jobs_at_once),
                    "--top-module", wrapper.stem, "-Mdir", str(obj), "-o", "sense_bench_cpp",
                    "-Wno-fatal", "-Wno-WIDTHEXPAND", *VERILATOR_OPT]
                   + [f"-G{k}={v}" for k, v in parameters.items()]
                   + [f"-D{k}={v}" for k, v in defines.items()]
                   + [arg for k in defines for arg in ("-CFLAGS", f"-D{k}")]
                   + [str(s) for s in sources])
        binary, stamp = obj / "sense_bench_cpp", directory / "stamp.json"
        digest = _digest(command, sources)
        if binary.exists() and stamp.exists():
            old = json.loads(stamp.read_text())
            if old.get("digest") == digest:
                return CppBuild(binary, directory, old["seconds"], cached=True)
        env = dict(os.environ, MAKEFLAGS=f"{os.environ.get('MAKEFLAGS', '')} {MAKE_OPT}".strip())
        started = time.perf_counter()
        log = directory / "build.log"
        with log.open("w") as out:
            done = subprocess.run(command, cwd=directory, env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
        if done.returncode:
            tail = "\n".join(log.read_text().splitlines()[-30:])
            raise RuntimeError(f"the C++ harness build failed (full log: {log}):\n{tail}")
        seconds = time.perf_counter() - started
        stamp.write_text(json.dumps({"digest": digest, "seconds": seconds, "command": command}))
        return CppBuild(binary, directory, seconds, cached=False)


def _job_line(run, directory, results):
    words = {"dir": directory, "results": results, "load": int(run.load),
             **({"stats": results.with_suffix(".stats")} if "n_stats" in run.ports else {}),
             "limit": run.limit, "settle": run.settle,
             **{k: v for k, v in run.ports.items() if k != "fault"}}
    if "fault" in run.ports:
        words["fault"] = f"{run.ports['fault']:x}"
    return " ".join(f"{k}={v}" for k, v in words.items())


def _parse(line):
    words = dict(word.split("=", 1) for word in line.split())
    return {"job": int(words["job"]), "hung": words["hung"] == "1",
            "cycles": int(words["cycles"]), "origin": int(words["origin"]),
            "extra": words["extra"] == "1", "wall": int(words["wall_ns"]) * 1e-9,
            "status": int(words["status"], 16) if "status" in words else None}


class CppHarness:
    """Runs lists of jobs on one C++ harness build, one process per list."""

    def __init__(self, config, jobs):
        self.config = config
        self.build = build_cpp_harness(config, jobs)

    def run(self, runs, *, tag="jobs"):
        """Run ``runs``, dicts ``{"job": ..., "layer": None, "fault": None, "reload": True}``
        as :meth:`sense_verif.harness.BenchHarness.run` takes them; returns their records
        (:func:`~sense_verif.harness.finish_run`, or
        :func:`~sense_verif.feeder_harness.finish_feeder_run` on a feeder build) in order,
        and the process's wall seconds."""
        workdir = self.build.directory / "runs" / tag
        workdir.mkdir(parents=True, exist_ok=True)
        lines, prepared, schedule, job_dir = [], [], None, None
        for n, spec in enumerate(runs):
            job = spec["job"]
            if spec.get("reload", True) or schedule is None:
                job_dir = workdir / f"job{n}"
                job_dir.mkdir(exist_ok=True)
                schedule = None
            run = self._prepare(self.config, job, job_dir, layer=spec.get("layer"),
                                fault=spec.get("fault"), schedule=schedule)
            schedule = run.schedule
            results = workdir / f"results{n}.hex"
            results.unlink(missing_ok=True)
            prepared.append((job, run, results, spec.get("fault")))
            lines.append(_job_line(run, job_dir, results))
        jobs_file = workdir / "jobs.txt"
        jobs_file.write_text("\n".join(lines) + "\n")
        started = time.perf_counter()
        done = subprocess.run([str(self.build.binary), str(jobs_file)], cwd=workdir,
                              capture_output=True, text=True)
        wall = time.perf_counter() - started
        outcomes = [_parse(line) for line in done.stdout.splitlines() if line.startswith("job=")]
        if done.returncode or len(outcomes) != len(runs):
            raise RuntimeError(f"the C++ harness stopped after {len(outcomes)} of {len(runs)} "
                               f"jobs (exit status {done.returncode}): {done.stderr.strip()}")
        records = []
        for (job, run, results, fault), out in zip(prepared, outcomes):
            seen = {"cycles": out["cycles"], "origin": out["origin"], "status": out["status"],
                    "extra": out["extra"], "wall": out["wall"], "hung": out["hung"],
                    "results_hex": results.read_text()}
            if self.config.feeder:
                from .feeder_harness import finish_feeder_run
                records.append(finish_feeder_run(
                    self.config, job, run, fault=fault, **seen,
                    stats_hex=results.with_suffix(".stats").read_text()))
            else:
                records.append(finish_run(self.config, job, run, **seen))
        return records, wall

    @property
    def _prepare(self):
        if self.config.feeder:
            from .feeder_harness import prepare_feeder_run
            return prepare_feeder_run
        return prepare_run


def run_jobs_cpp(config, jobs, *, tag="jobs"):
    """:func:`sense_verif.runner.run_jobs` on the C++ harness: ``(records, failures, info)``.

    ``failures`` counts the jobs that failed a check of
    :func:`~sense_verif.harness.job_failures` (each printed); ``info`` has the build's and
    the run's wall seconds.
    """
    harness = CppHarness(config, jobs)
    runs, wall = harness.run([{"job": job} for job in jobs], tag=tag)
    records, failures = [], 0
    for job, run in zip(jobs, runs):
        records.append(job_record(job, run))
        problems = job_failures(job, run)
        for problem in problems:
            print(f"C++ harness: {problem}")
        failures += bool(problems)
    return records, failures, {"build_s": harness.build.seconds,
                               "build_cached": harness.build.cached, "run_wall_s": wall}
