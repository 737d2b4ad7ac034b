"""The cocotb regression for one configuration: ``python -m sense_verif.sim`` (``make sim``).

Builds the core and a lone PE for the configuration on Verilator and runs their cocotb tests
(bit-exact against the golden model, cycle-exact against the cycle model; a feeder build
runs the feeder's tests, counters included). ``--waves`` writes
``dump.fst`` into each build directory.
"""

from __future__ import annotations

import argparse
import sys

from sense_hw.generate import add_config_arguments, non_negative_int, parse_config

from .runner import build, run_tests

SUITES = (("core", "sense_verif.test_core"), ("pe", "sense_verif.test_pe"))
FEEDER_SUITES = (("core", "sense_verif.test_feeder"), ("pe", "sense_verif.test_pe"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(parser)
    parser.add_argument("--waves", action="store_true", help="write an FST waveform")
    parser.add_argument("--seed", type=non_negative_int,
                        help="reproduce a run (printed by every test)")
    parser.add_argument("--testcase", help="run only this cocotb test")
    parser.add_argument("--top", choices=[top for top, _ in SUITES], action="append",
                        help="which testbenches (default: all)")
    args, config = parse_config(parser, argv)
    failed = 0
    for top, module in (FEEDER_SUITES if config.feeder else SUITES):
        if args.top and top not in args.top:
            continue
        directory = build(config, top, waves=args.waves)
        tests, failures = run_tests(config, top, module, directory=directory, seed=args.seed,
                                    testcase=args.testcase, waves=args.waves)
        print(f"{config.name} {top}: {tests - failures} passed, {failures} failed"
              + (f" (waveform {directory / 'dump.fst'})" if args.waves else ""))
        failed += failures
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
