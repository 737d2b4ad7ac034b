"""``manifest.json``: what a reviewer or an integrator needs to know about a generated build.

Everything is read from the components themselves: ports (direction, width, and the bit
offsets of every payload field) from their signatures, the module hierarchy from the
generator's modules (:mod:`sense_hw.hierarchy`), latency and throughput from the
configuration, with the definitions they are measured by. See ``docs/rtl.md``.
"""

from __future__ import annotations

from amaranth.hdl import Shape
from amaranth.lib import data, wiring

from sense_models.packets import HEADER_BYTES, packet_types
from sense_models.regmap import register_map

__all__ = ["describe_ports", "applicable_config", "performance", "CLOCK", "RESET",
           "build_manifest"]

#: One clock domain; the reset is synchronous and active high.
CLOCK = {"port": "clk", "edge": "rising",
         "note": "one clock domain: every register of the build is clocked by clk"}
RESET = {"port": "rst", "synchronous": True, "active": "high",
         "note": "a register with a reset value takes it at the rising edge of clk while rst "
                 "is high; datapath registers (operands, partial sums, skew and result "
                 "delays, memories) have no reset and are never read before being written"}


def _shape(shape):
    """The layout of ``shape`` below its own bits: struct fields, array elements, sign."""
    if isinstance(shape, data.StructLayout):
        return {"fields": [{"name": name, "lsb": field.offset, "width": field.width,
                            **_shape(field.shape)} for name, field in shape]}
    if isinstance(shape, data.ArrayLayout):
        element = Shape.cast(shape.elem_shape)
        return {"count": shape.length, "element_width": element.width,
                **({"element": _shape(shape.elem_shape)} if _shape(shape.elem_shape) else {})}
    if isinstance(shape, data.Layout):
        raise TypeError(f"no description for layout {shape!r}")
    return {"signed": True} if Shape.cast(shape).signed else {}


def describe_ports(component, *, fields=True):
    """Ports of ``component`` as the generator writes them: ``clk``, ``rst``, then the
    signature's members in order, each with direction and width; with ``fields``, the bit
    layout of structured ports (``lsb`` of each field; array element ``i`` of a field at
    ``lsb + i * element_width``) and the interface a stream port belongs to."""
    ports = [{"name": "clk", "direction": "input", "width": 1},
             {"name": "rst", "direction": "input", "width": 1}]
    for path, member, _ in component.signature.flatten(component):
        port = {"name": "__".join(str(p) for p in path),
                "direction": "input" if member.flow == wiring.In else "output",
                "width": Shape.cast(member.shape).width}
        if fields:
            if len(path) > 1:
                port["interface"] = "__".join(str(p) for p in path[:-1])
            port.update(_shape(member.shape))
        ports.append(port)
    return ports


def applicable_config(config, tops):
    """The configuration fields the build depends on (``config.json`` holds them all)."""
    values = config.to_dict()
    if not config.feeder:
        del values["feeder_tiles"]
    if "axi" not in tops:
        del values["bus_width"]
    return values


def performance(config, top):
    """Latency and throughput of ``top``, with what they count."""
    if top == "pe":
        return {"latency_cycles": 1, "throughput_vectors_per_cycle": 1,
                "latency": "cycles from x_in/psum_in to x_out/psum_out",
                "throughput": "one pixel vector per cycle"}
    check = (f"; with the pixel-side check each pass also takes {config.check_digits} "
             f"cycles for its checksum digit vectors") if config.pixel_check else ""
    core = {
        "throughput_vectors_per_cycle": 1,
        "throughput": "one pixel vector (one beat) accepted per cycle while results are "
                      "taken, after the pass's weight tile (rows beats, loaded while the "
                      "previous pass computes)" + check,
        "stall": "back-pressure on results holds the whole pipeline (a common enable)",
    }
    if config.corrects:
        core["latency"] = ("results of a pixel tile are held until its final pass has been "
                           "checked, then leave in tag order, one per cycle; the cycle model "
                           "(sense_models.cycle_model) gives every beat's cycle")
    elif config.feeder:
        core["latency"] = (f"{config.latency} cycles from the feeder issuing a pixel's last "
                           f"vector to its result beat being valid; the cycle model "
                           f"(sense_models.cycle_model) gives every beat's cycle")
        core["latency_cycles"] = config.latency
    else:
        core["latency"] = ("cycles from the acceptance of a pixel's last vector (last=1) on "
                           "pixels to its result beat being valid on results, without "
                           "back-pressure")
        core["latency_cycles"] = config.latency
    if top == "axi":
        core["latency"] = ("sense_top adds its packet receiver, output stage and sender "
                           "to the core's: the top cycle model (sense_models.top_model) "
                           "gives a layer's cycles; the core inside: " + core["latency"])
        core.pop("latency_cycles", None)
        core["throughput"] = (f"one {config.bus_width}-bit word per cycle on s_axis and "
                              f"m_axis; the core inside: " + core["throughput"])
    return core


def _modules(tree, blocks, ports, top):
    """The hierarchy as ``{module: {block, ports, instances}}``, the top first."""
    modules = {}
    for module in [top, *sorted(m for m in blocks if m != top)]:
        modules[module] = {"block": blocks[module], "ports": ports[module],
                           "instances": [{"instance": inst, "module": child}
                                         for inst, child in tree.get(module, [])]}
    return modules


def build_manifest(config, tops, entries, hierarchy):
    """The manifest dict. ``entries``: per top ``{file, top, component, sha256}``;
    ``hierarchy``: per top ``(tree, blocks, ports)`` of a hierarchical build, or None."""
    files = []
    for entry, tree in zip(entries, hierarchy):
        component = entry["component"]
        item = {"file": entry["file"], "top": entry["top"], "sha256": entry["sha256"],
                "language": "SystemVerilog (IEEE 1800-2012: always_comb, always_ff)"
                if tree is not None else "Verilog-2005",
                "ports": describe_ports(component),
                "performance": performance(config, entry["kind"])}
        if tree is not None:
            item["hierarchy"] = _modules(*tree, entry["top"])
        else:
            item["hierarchy"] = ("flat: a fault-injection build, as Amaranth writes it (one "
                                 "module per instance), so that its fault-site numbering "
                                 "spans the whole core")
        files.append(item)
    manifest = {
        "generator": "sense_hw.generate",
        "config_name": config.name,
        "config": applicable_config(config, tops),
        "derived": {"multipliers": config.multipliers, "tile_reduction": config.tile_reduction,
                    "latency": config.latency, "tag_width": config.tag_width},
        "top": files[0]["top"],
        "clock": CLOCK,
        "reset": RESET,
        "files": files,
    }
    if "axi" in tops:
        manifest["registers"] = _register_manifest(register_map(config))
        manifest["packets"] = _packet_manifest(config)
    return manifest


def _register_manifest(regmap):
    return [{"name": r.name, "offset": r.offset, "access": r.access, "width": r.width,
             "fields": [{"name": f.name, "lsb": f.lsb, "width": f.width} for f in r.fields]}
            for r in regmap]


def _packet_manifest(config):
    packets = {}
    for kind, wire in packet_types(config).items():
        packets[kind.name] = {
            "type": int(kind), "beat_bytes": wire.beat_bytes,
            "words_per_beat": wire.words(config.bus_width),
            "fields": {name: {"byte": offset, "bytes_per_element": size}
                       for name, (offset, size) in wire.placement.items()},
            "flags": {name: {"byte": offset, "bit": bit}
                      for name, (offset, bit) in wire.flags.items()},
        }
    return {"bus_width": config.bus_width, "header_bytes": HEADER_BYTES, "types": packets}
