"""The fault campaign's runs: chunks, workers, a journal, a progress line.

A campaign (one ``abft`` option) is a fault-free reference run, ``clean_runs`` fault-free
runs on new data and ``fault_runs`` runs with one fault each (:mod:`sense_verif.fault_runs`).
They are cut into chunks; a chunk is one process of the C++ harness
(:class:`sense_verif.cpp_harness.CppHarness`, ``engine="cpp"``) or one cocotb run of
:mod:`sense_verif.test_campaign` (``"cocotb"``), which loads the layer once and resets the
core between runs. Chunks run on a local
process pool (``workers``) or on a dask.distributed scheduler (``scheduler``, an address;
its workers must see this build directory, e.g. on the same machine or a shared file
system).

Every finished chunk is appended to a journal (``<journal dir>/<key>.jsonl``, ``key`` a
digest of everything that decides the records: configuration, Verilog, job, sites, seed,
run counts, chunk size, engine), so an interrupted campaign resumes where it stopped and a
rerun with the same parameters costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path

__all__ = ["Journal", "campaign_key", "plan_chunks", "run_chunk", "run_chunks"]

#: Journal format; bump it when the records change shape.
JOURNAL_VERSION = 1


def campaign_key(params):
    """The journal key of a campaign: a digest of its parameters (a JSON-able dict)."""
    text = json.dumps({"version": JOURNAL_VERSION, **params}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Journal:
    """Finished chunks of one campaign, one JSON line each, appended as they finish.

    The first line holds the parameters. A line cut short by an interruption is dropped
    (that chunk runs again); a file whose parameters differ from ``params`` is an error
    naming it (two campaigns never share a file, as the name is their key).
    """

    def __init__(self, directory, params):
        self.path = Path(directory) / f"{campaign_key(params)}.jsonl"
        self.done = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            lines = self.path.read_text().splitlines()
            header = json.loads(lines[0]) if lines else None
            if header is not None and header.get("params") != params:
                raise RuntimeError(f"journal {self.path} belongs to another campaign; "
                                   f"remove it or give another --journal directory")
            kept = lines[:1]
            for line in lines[1:]:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # the line being written when the campaign stopped
                self.done[entry["chunk"]] = entry["records"]
                kept.append(line)
            if header is not None:
                if len(kept) < len(lines) or not self.path.read_text().endswith("\n"):
                    # Drop the cut line, so that the next one starts on a line of its own.
                    self.path.write_text("\n".join(kept) + "\n")
                return
        self.path.write_text(json.dumps({"params": params}) + "\n")

    def add(self, chunk, records):
        with self.path.open("a") as out:
            out.write(json.dumps({"chunk": chunk, "records": records}) + "\n")
        self.done[chunk] = records


def plan_chunks(clean_runs, faults, chunk):
    """Chunks of run specs, ``chunk`` runs at most each (not counting references): the
    fault-free runs first (each loads its own data), then the faults.

    State that no reset clears (memories) carries from one run to the next, and a fault can
    make a run see it, so a fault run's outcome may depend on the runs before. Each chunk's faults therefore start after a fault-free run of the campaign's
    layer (a ``reference``), as in the cocotb campaign: a chunk's records depend on the
    chunk alone, not on the process or the order the chunks ran in, and one chunk that
    holds every run is the cocotb campaign's sequence.
    """
    specs = [("clean", n) for n in range(clean_runs)]
    specs += [("fault", site, fault) for site, fault in faults]
    chunks = []
    for n in range(0, len(specs), chunk):
        part = specs[n:n + chunk]
        first_fault = next((k for k, spec in enumerate(part) if spec[0] == "fault"), None)
        if first_fault is not None:
            part.insert(first_fault, ("reference",))
        chunks.append(part)
    return chunks


def run_chunk(config_dict, engine, directory, binary, job, tag, specs):
    """Run ``specs`` on the harness built in ``directory``: one process of the C++ harness at
    ``binary`` (``engine="cpp"``) or one cocotb run (``"cocotb"``). Returns their records (:mod:`sense_verif.fault_runs`; fault-free ones with
    their ``cycles``) and the process's wall seconds. Module-level, with plain arguments,
    so that a process pool or a dask worker can run it."""
    from sense_models.config import ArrayConfig
    config = ArrayConfig(**config_dict)
    directory = Path(directory)
    if engine == "cocotb":
        return _run_chunk_cocotb(config, directory, job, tag, specs)

    from .cpp_harness import CppBuild, CppHarness
    from .fault_runs import clean_job, clean_record, fault_record
    from .feeder_harness import feeder_job_layer
    from .harness import job_layer

    class Prebuilt(CppHarness):  # the build is the caller's: no generation, no digest
        def __init__(self, config, build):
            self.config, self.build = config, build

    harness = Prebuilt(config, CppBuild(Path(binary), directory, 0.0, cached=True))
    layer = (feeder_job_layer if config.feeder else job_layer)(job, config)
    runs = []
    for spec in specs:
        if spec[0] == "clean":
            runs.append({"job": clean_job(job, spec[1])})
        elif spec[0] == "reference":
            runs.append({"job": job, "layer": layer})
        else:
            runs.append({"job": job, "layer": layer, "fault": spec[2], "reload": False})
    results, wall = harness.run(runs, tag=tag)
    shutil.rmtree(directory / "runs" / tag, ignore_errors=True)
    records = []
    for spec, run in zip(specs, results):
        if spec[0] == "fault":
            records.append(fault_record(spec[1], spec[2], run))
            continue
        record = {**clean_record(run), "cycles": run["cycles"]}
        if spec[0] == "clean":
            records.append(record)
        elif not record["outputs_ok"] or record["alarm"]:
            raise RuntimeError(f"a fault-free reference run is wrong: {record}")
    return records, wall


def _run_chunk_cocotb(config, directory, job, tag, specs):
    from .runner import run_tests
    work = directory / "runs" / tag
    work.mkdir(parents=True, exist_ok=True)
    spec_file, report = work / "chunk.json", work / "records.json"
    spec_file.write_text(json.dumps({"job": job, "specs": specs}))
    report.unlink(missing_ok=True)
    started = time.perf_counter()
    _, failures = run_tests(config, "core", "sense_verif.test_campaign", directory=directory,
                            toplevel="sense_feeder_bench" if config.feeder else "sense_bench",
                            results_name=f"runs/{tag}/results.xml",
                            extra_env={"SENSE_CAMPAIGN": str(spec_file),
                                       "SENSE_REPORT": str(report), "SENSE_WORKDIR": str(work)})
    wall = time.perf_counter() - started
    if failures or not report.exists():
        raise RuntimeError(f"the cocotb campaign chunk {tag} failed (see the log above)")
    records = json.loads(report.read_text())
    shutil.rmtree(work, ignore_errors=True)
    return records, wall


@contextmanager
def _pool(workers, scheduler):
    """``(submit, as_completed)`` of a local process pool or of a dask.distributed client."""
    if scheduler:
        from distributed import Client
        from distributed import as_completed as dask_completed
        with Client(scheduler) as client:
            yield (lambda fn, *args: client.submit(fn, *args, pure=False)), dask_completed
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            yield pool.submit, as_completed


class Progress:
    """One line on stderr: runs done, rate, time left (redrawn in place on a terminal)."""

    def __init__(self, label, total, done=0):
        self.label, self.total, self.done = label, total, done
        self.resumed, self.started, self.shown = done, time.perf_counter(), 0.0
        self.tty = sys.stderr.isatty()

    def update(self, runs):
        self.done += runs
        now = time.perf_counter()
        if not self.tty and now - self.shown < 10 and self.done < self.total:
            return
        self.shown = now
        rate = (self.done - self.resumed) / max(now - self.started, 1e-9)
        left = (self.total - self.done) / rate if rate else 0
        width = 30
        bar = "#" * int(width * self.done / self.total) if self.total else ""
        start, end = ("\r", "") if self.tty else ("", "\n")
        sys.stderr.write(f"{start}{self.label} [{bar:<{width}}] {self.done}/{self.total} "
                         f"runs, {rate:.1f} runs/s, {left:.0f} s left{end}")
        if self.tty and self.done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def run_chunks(config, job, sites, *, engine, directory, binary, fault_runs, clean_runs, seed,
               chunk, workers, scheduler=None, journal_dir, rtl_sha256, label="faults"):
    """Every run of one campaign on the harness built in ``directory`` (``binary``: the C++
    harness, for ``engine="cpp"``); returns ``(records, info)``.

    ``records`` are in the order of :func:`plan_chunks` (fault-free runs, then faults);
    ``info`` has the reference run's cycles, the chunks run now and resumed from the
    journal, and the wall seconds spent in harness processes.
    """
    from .fault_runs import draw_faults
    args = (config.to_dict(), engine, str(directory), binary and str(binary), job)
    params = {"config": config.to_dict(), "rtl_sha256": rtl_sha256, "job": job, "sites": sites,
              "seed": seed, "fault_runs": fault_runs, "clean_runs": clean_runs,
              "chunk": chunk, "engine": engine}
    journal = Journal(journal_dir, params)
    key = campaign_key(params)
    if "reference" not in journal.done:
        # Its cycles bound the faults' start cycles.
        (reference,), _ = run_chunk(*args, f"{key}-reference", [("clean", -1)])
        if not reference["outputs_ok"] or reference["alarm"]:
            raise RuntimeError(f"the fault-free reference run is wrong: {reference}")
        journal.add("reference", [reference])
    cycles = journal.done["reference"][0]["cycles"]
    chunks = plan_chunks(clean_runs, draw_faults(seed, sites, cycles, fault_runs), chunk)
    todo = [n for n in range(len(chunks)) if n not in journal.done]
    progress = Progress(label, clean_runs + fault_runs,
                        sum(len(journal.done[n]) for n in range(len(chunks)) if n in journal.done))
    progress.update(0)
    harness_wall = 0.0
    if todo:
        with _pool(workers, scheduler) as (submit, completed):
            futures = {submit(run_chunk, *args, f"{key}-{n}", chunks[n]): n for n in todo}
            for future in completed(futures):
                records, wall = future.result()
                harness_wall += wall
                journal.add(futures[future], records)
                progress.update(len(records))
    records = [{k: v for k, v in r.items() if k != "cycles"}
               for n in range(len(chunks)) for r in journal.done[n]]
    return records, {"reference_cycles": cycles, "chunks": len(chunks),
                     "chunks_resumed": len(chunks) - len(todo), "harness_wall_s": harness_wall,
                     "journal": str(journal.path)}
