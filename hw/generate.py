"""Verilog generation: ``python -m sense_hw.generate`` (what ``make verilog`` runs).

Writes ``<out>/<config.name>/`` with the Verilog, ``config.json`` (the configuration it was
built from) and ``manifest.json`` (:mod:`sense_hw.manifest`; docs/rtl.md). The output is
byte-identical when regenerated: no timestamps, and no source-location attributes (they
would hold this machine's absolute paths).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from pathlib import Path

from amaranth.back import rtlil, verilog
from amaranth.hdl import Fragment

from sense_models.config import ArrayConfig
from sense_models.regmap import c_header, register_map

from .core import SenseCore
from .cost import needs_force, stage
from .hierarchy import hierarchical, order_ports, signature_ports
from .hierarchy import to_verilog as hierarchy_verilog
from .manifest import build_manifest, describe_ports
from .pe import ProcessingElement
from .top import SenseTop

__all__ = ["TOPS", "build_top", "to_verilog", "write_rtl", "main"]

#: Generated tops: name -> component class. ``core`` is the accelerator core with its
#: native streams; ``axi`` is ``sense_top``, the whole accelerator behind AXI4-Stream and
#: AXI4-Lite (:mod:`sense_hw.top`); ``pe`` is built alone for its unit testbench.
TOPS = {"core": SenseCore, "axi": SenseTop, "pe": ProcessingElement}
MODULES = {"core": "sense_core", "axi": "sense_top", "pe": "sense_pe"}


def build_top(config, top="core"):
    try:
        return TOPS[top](config=config)
    except KeyError:
        raise ValueError(f"unknown top {top!r}; choose one of {sorted(TOPS)}") from None


def module_name(top):
    return MODULES[top]


def hierarchical_build(config):
    """Whether ``config`` is generated hierarchically (one module per distinct block).

    Fault-injection builds stay as Amaranth writes them: their fault-site registry is shared
    by every block and numbers the sites across the whole core as it is elaborated, and its
    control signals reach into every block without ports.
    """
    return not config.faults


def to_verilog(config, top="core"):
    """The Verilog text, fault sites (fault builds), module hierarchy and component of a top.

    A configuration big enough to need ``--force`` reports each stage and its time. The
    hierarchy is ``(tree, blocks, ports)``: ``{module: [(instance, module), ...]}``, each
    module's block class and ports; ``None`` for a flat build.
    """
    component = build_top(config, top)
    name, slow = module_name(top), needs_force(config) is not None
    ports = signature_ports(component)
    if not hierarchical_build(config):
        with stage(f"{name}: elaborate", enabled=slow):
            fragment = Fragment.get(component, None)
        with stage(f"{name}: convert to Verilog", enabled=slow):
            text, _ = verilog.convert_fragment(fragment, ports, name, emit_src=False)
        return text, getattr(component, "fault_sites", []), None, component
    with hierarchical(config.name) as modules:
        with stage(f"{name}: elaborate", enabled=slow):  # each distinct block converted once
            fragment = Fragment.get(component, None)
        with stage(f"{name}: convert to Verilog", enabled=slow):
            top_text, _ = rtlil.convert_fragment(fragment, ports, name, emit_src=False)
            text = hierarchy_verilog(order_ports(top_text, name, ["clk", "rst", *ports]),
                                     name, modules)
    tree = {(name if parent is None else parent): children
            for parent, children in modules.tree.items()}
    blocks = {name: type(component).__name__, **modules.blocks}
    module_ports = {name: describe_ports(component), **modules.ports}
    return text, [], (tree, blocks, module_ports), component


def _write_if_changed(path, text):
    # Unchanged files keep their timestamps, so incremental simulator builds stay incremental.
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def write_rtl(config, out_dir, tops=("core",)):
    """Generate ``tops`` for ``config`` into ``out_dir``; returns the manifest dict."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries, hierarchies = [], []
    fault_sites = []
    for top in tops:
        text, sites, hierarchy, component = to_verilog(config, top)
        fault_sites = fault_sites or sites
        name = f"{module_name(top)}.v"
        lines = text.count("\n")
        with stage(f"write {out_dir / name} ({lines:,} lines)",
                   enabled=needs_force(config) is not None):
            _write_if_changed(out_dir / name, text)
        entries.append({"file": name, "top": module_name(top), "kind": top,
                        "component": component,
                        "sha256": hashlib.sha256(text.encode()).hexdigest()})
        hierarchies.append(hierarchy)
    manifest = build_manifest(config, tops, entries, hierarchies)
    if "axi" in tops:
        header = c_header(register_map(config), config)
        _write_if_changed(out_dir / "sense_regs.h", header)
        manifest["files"].append({"file": "sense_regs.h",
                                  "sha256": hashlib.sha256(header.encode()).hexdigest()})
    config_text = json.dumps(config.to_dict(), indent=2, sort_keys=True) + "\n"
    _write_if_changed(out_dir / "config.json", config_text)
    if config.faults:
        manifest["fault_sites"] = fault_sites
    _write_if_changed(out_dir / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def parse_config(parser, argv=None):
    """Parse ``argv``; returns ``(args, config)``, exiting with the reason on a bad config."""
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except (TypeError, ValueError, OSError) as error:
        parser.error(str(error))
    reason = needs_force(config)
    if reason and not args.force:
        parser.error(reason)
    return args, config


def config_from_args(args):
    """An :class:`ArrayConfig` from a ``--config`` file overridden by explicit options."""
    values = {field.name: getattr(args, field.name) for field in dataclasses.fields(ArrayConfig)
              if getattr(args, field.name, None) is not None}
    return ArrayConfig.from_json(args.config, **values) if args.config \
        else ArrayConfig.from_dict(values)


def _boolean(text):
    values = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
    try:
        return values[text.lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(f"expected 1/0, true/false or yes/no, not {text!r}")


def non_negative_int(text):
    """An ``argparse`` type: an integer of at least 0 (seeds, counts)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, not {text!r}")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, not {value}")
    return value


def add_config_arguments(parser):
    parser.add_argument("--config", help="JSON file with configuration keys")
    parser.add_argument("--force", action="store_true",
                        help="build a configuration whose generation would take minutes or "
                             "gigabytes (reports its stages)")
    for field in dataclasses.fields(ArrayConfig):
        if field.type in (str, "str"):
            parser.add_argument(f"--{field.name}", help=f"(default {field.default})")
        elif field.type in (bool, "bool"):
            parser.add_argument(f"--{field.name}", type=_boolean, help=f"(default {field.default})")
        else:
            parser.add_argument(f"--{field.name}", type=int, help=f"(default {field.default})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(parser)
    parser.add_argument("--out", default="rtl_out", help="parent folder (default rtl_out)")
    parser.add_argument("--top", action="append", choices=sorted(TOPS),
                        help="tops to generate (default: core)")
    args, config = parse_config(parser, argv)
    out_dir = Path(args.out) / config.name
    manifest = write_rtl(config, out_dir, tuple(args.top or ["core"]))
    for entry in manifest["files"]:
        print(f"wrote {out_dir / entry['file']}"
              + (f" (top {entry['top']})" if "top" in entry else ""))
    print(f"wrote {out_dir / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
