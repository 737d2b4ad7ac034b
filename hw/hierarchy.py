"""Hierarchical Verilog: each distinct block becomes one Verilog module, instanced where used.

Amaranth 0.5 writes one Verilog module per *instance* (no two PEs alike: constants fold across
boundaries) with ports named after internal nets. While :func:`hierarchical` is active (the
generator, :mod:`sense_hw.generate`), :func:`place` instead converts each distinct block once,
as a module named ``<prefix>_<block>`` whose ports are ``clk``, ``rst``, ``en`` (when it has
them) and then the block's signature members in signature order, and puts an ``Instance`` of
it into the parent. Outside it (the Amaranth simulator tests), :func:`place` adds the block as
an ordinary submodule, so simulations see the native hierarchy.

An ``EnableInserter`` or ``ResetInserter`` does not reach inside an ``Instance``: a block
whose registers advance only on an enable gets it as its own port (``en``, or the signature
member it already has), and a block under an extra reset gets it ORed into its ``rst``.
"""

from __future__ import annotations

import re
import weakref
from contextlib import contextmanager

from amaranth._toolchain.yosys import find_yosys
from amaranth.back import rtlil
from amaranth.hdl import (ClockSignal, EnableInserter, Fragment, Instance, ResetInserter,
                          ResetSignal, Signal, Value)
from amaranth.hdl._ir import PortDirection  # convert_fragment's port directions (Amaranth 0.5)
from amaranth.lib import wiring

from .manifest import describe_ports

__all__ = ["place", "placed", "hierarchical", "Hierarchy", "block_name", "signature_ports", "order_ports",
           "drop_unread_wires", "private_temporaries", "to_verilog"]

_active = None  # the Hierarchy being generated, or None (native submodules)
_placed = weakref.WeakKeyDictionary()  # Module -> {name: block placed in it}


def block_name(block):
    """The module name of ``block`` without the prefix: its class's ``verilog_name``."""
    name = getattr(type(block), "verilog_name", None)
    if name is None:
        raise TypeError(f"{type(block).__name__} has no verilog_name: cannot place it as a "
                        f"module of its own")
    return name


def signature_ports(component):
    """``{port name: (value, direction)}`` of a component's signature, in signature order."""
    return {"__".join(str(p) for p in path):
            (Value.cast(value), PortDirection.Input if member.flow == wiring.In
             else PortDirection.Output)
            for path, member, value in component.signature.flatten(component)}


def place(m, name, block, *, enable=None, reset=None):
    """Add ``block`` to ``m`` as submodule ``name``; returns ``block``.

    ``enable``: the block's registers advance only while it is high (natively, an
    ``EnableInserter``); either a signal of the parent (the module gets an ``en`` port) or
    one of the block's own input members (no extra port). ``reset``: an extra synchronous
    reset, ORed with the domain's (natively, a ``ResetInserter``).
    """
    _placed.setdefault(m, {})[name] = block
    if _active is None:
        placed = block
        if enable is not None:
            placed = EnableInserter(enable)(placed)
        if reset is not None:
            placed = ResetInserter(reset)(placed)
        m.submodules[name] = placed
        return block
    m.submodules[name] = _active.instance(name, block, enable, reset)
    return block


def placed(m, name):
    """The block :func:`place` added to ``m`` as ``name`` (``m.submodules[name]`` is an
    ``Instance`` while generating hierarchically)."""
    return _placed[m][name]


class Hierarchy:
    """The modules of one hierarchical build, converted once each, in the order first placed."""

    def __init__(self, prefix):
        self.prefix = re.sub(r"\W", "_", prefix)  # a plain Verilog identifier
        self.modules = {}  # module name -> (fingerprint, RTLIL text, has clk, has rst)
        self.blocks = {}   # module name -> the block's class name
        self.ports = {}    # module name -> its ports (sense_hw.manifest.describe_ports)
        self.tree = {}     # module name (None: the top) -> [(instance name, module name)]
        self._parents = []  # (module, its enable inside it) of the modules being converted

    def module(self, block, own_enable, outside_enable):
        """The module name of ``block``, converting it the first time."""
        name = f"{self.prefix}_{block_name(block)}"
        fingerprint = _fingerprint(block, own_enable, outside_enable)
        if name in self.modules:
            known = self.modules[name]
            if known is None or known[0] != fingerprint:
                raise ValueError(f"two different blocks would both be module {name}: give "
                                 f"{type(block).__name__} distinct verilog_name values")
            block._MustUse__silence = True  # elaborated once, as the module's first instance
            return name
        self.modules[name] = None  # reserved: a block cannot contain itself
        ports = {}
        placed = block
        if outside_enable:
            en = Signal(name="en")
            ports["en"] = (en, PortDirection.Input)
            placed = EnableInserter(en)(block)
        elif own_enable is not None:
            placed = EnableInserter(own_enable)(block)
        ports.update(signature_ports(block))
        self._parents.append((name, en if outside_enable else own_enable))
        fragment = Fragment.get(placed, None)
        text, _ = rtlil.convert_fragment(fragment, ports, name, emit_src=False)
        self._parents.pop()
        text = order_ports(text, name, ["clk", "rst", *ports])
        has_clk, has_rst = _has_port(text, name, "clk"), _has_port(text, name, "rst")
        self.modules[name] = (fingerprint, text, has_clk, has_rst)
        self.blocks[name] = type(block).__name__
        clocks = [port for port, present in (("clk", has_clk), ("rst", has_rst)) if present]
        described = describe_ports(block)
        self.ports[name] = [p for p in described if p["name"] in clocks] \
            + ([{"name": "en", "direction": "input", "width": 1}] if outside_enable else []) \
            + described[2:]
        return name

    def instance(self, inst, block, enable, reset):
        """An ``Instance`` of ``block``'s module, connected to its members, named ``inst``."""
        members = signature_ports(block)
        parent, inherited = self._parents[-1] if self._parents else (None, None)
        own = enable is not None and any(value is Value.cast(enable)
                                         for value, _ in members.values())
        if own and inherited is not None:
            raise NotImplementedError("a block enabled by its own member inside an enabled "
                                      "block")
        if not own and inherited is not None:  # natively, the parent's enable reaches here
            enable = inherited if enable is None or enable is inherited \
                else inherited & enable
        name = self.module(block, Value.cast(enable) if own else None,
                           enable is not None and not own)
        self.tree.setdefault(parent, []).append((inst, name))
        _, _, has_clk, has_rst = self.modules[name]
        args = []
        if has_clk:
            args.append(("i", "clk", ClockSignal()))
        if has_rst:
            args.append(("i", "rst", ResetSignal() if reset is None else ResetSignal() | reset))
        if enable is not None and not own:
            args.append(("i", "en", enable))
        for port, (value, direction) in members.items():
            if isinstance(value, Signal):  # read as <instance>_<port> in the parent
                value.name = f"{inst}_{port}"
            args.append(("i" if direction == PortDirection.Input else "o", port, value))
        return Instance(name, *args)

    def rtlil(self):
        """The RTLIL of every module, each marked to keep its hierarchy."""
        return "\n".join(text.replace("attribute \\top 1\n", "")
                             .replace(f"module \\{name}\n",
                                      f"attribute \\keep_hierarchy 1\nmodule \\{name}\n", 1)
                         for name, (_, text, _, _) in self.modules.items())


def _fingerprint(block, own_enable, outside_enable):
    shape = tuple((path, member.flow, repr(member.shape))
                  for path, member, _ in block.signature.flatten(block))
    return (type(block), shape, own_enable is not None, outside_enable)


_PORT = re.compile(r"^(\s*wire width \d+ )(input|output) (\d+) (\s*(?:signed )?\\(\S+))$")


def order_ports(text, module, order):
    """``text`` with ``module``'s ports numbered in ``order`` (then any others, as they were)."""
    lines = text.split("\n")
    start = lines.index(f"module \\{module}")
    found = {}
    for n in range(start, len(lines)):
        if lines[n] == "end":
            break
        match = _PORT.match(lines[n])
        if match:
            found[match.group(5)] = (n, int(match.group(3)))
    ranked = sorted(found, key=lambda port: (order.index(port) if port in order else len(order),
                                             found[port][1]))
    for number, port in enumerate(ranked, start=1):  # Yosys sorts an id of 0 last
        n = found[port][0]
        match = _PORT.match(lines[n])
        lines[n] = f"{match.group(1)}{match.group(2)} {number} {match.group(4)}"
    return "\n".join(lines)


_CONNECT = re.compile(r"^ {0,2}connect \\\S+ ")  # a module's own, not a cell's (deeper)


def drop_unread_wires(text):
    """``text`` (RTLIL) without the wires that are only driven by a ``connect`` and never read.

    Amaranth names a wire for every field of every ``data.View`` and for every signal that
    aliases another; Yosys's ``opt_clean`` would remove the unread ones, but it skips modules
    with processes, which ``proc -nomux`` keeps so that the Verilog keeps the source's
    ``if``/``case`` structure.
    """
    out = []
    for module in re.split(r"(?m)^(?=(?:attribute \\\S+ .*\n)*module )", text):
        lines = module.split("\n")
        uses = {}
        for line in lines:
            for token in line.split():
                if token.startswith("\\"):
                    uses[token] = uses.get(token, 0) + 1
        ports = {line.split()[-1] for line in lines
                 if line.split()[:1] == ["wire"] and _PORT.match(line)}
        unread = set()
        for line in lines:
            tokens = line.split()
            if _CONNECT.match(line) and uses.get(tokens[1]) == 2 and tokens[1] not in ports:
                unread.add(tokens[1])
        kept, pending = [], []
        for line in lines:
            tokens = line.split()
            if tokens[:1] == ["attribute"] and line.startswith("  "):
                pending.append(line)  # belongs to the next wire or cell
                continue
            drop = (tokens[:1] == ["wire"] and tokens[-1] in unread) or (_CONNECT.match(line) is not None and tokens[1] in unread)
            if not drop:
                kept.extend(pending)
                kept.append(line)
            pending = []
        out.append("\n".join(kept + pending))
    return "".join(out)


def private_temporaries(text):
    """``text`` (RTLIL) with Amaranth's numbered temporaries (``\\$12``) made internal names.

    Amaranth names every unnamed net as a public wire ``\\$N``, which Yosys then must keep
    and writes as an escaped identifier; as internal names they may be merged or removed,
    and the ones left are written as ``_N_``.
    """
    return _TEMPORARY.sub(r"\1", text)


_TEMPORARY = re.compile(r"\\(\$\d+)(?=[\s\[]|$)", re.MULTILINE)


def _has_port(text, module, port):
    start = text.index(f"module \\{module}\n")
    end = text.index("\nend\n", start)
    return re.search(rf"^\s*wire width 1 input \d+ +\\{port}$", text[start:end],
                     re.MULTILINE) is not None


#: Amaranth's own steps (``proc -nomux -norom; memory_collect``), which keep the source's
#: ``if``/``case`` structure as ``always_comb`` blocks (``-sv``: an ``always @*`` would need
#: Yosys's time-zero trigger, an empty ``if`` per block); library blocks without a signature
#: (FIFOs) are flattened into their parent; Amaranth's internal attributes go.
#: ``write_verilog`` names the temporaries ``_N_``.
_ATTRIBUTES = ("-remove generator -remove top -remove src -remove amaranth.hierarchy "
               "-remove amaranth.decoding -remove keep_hierarchy")
_SCRIPT = f"""\
hierarchy -top {{top}}
proc -nomux -norom
memory_collect
flatten
attrmap {_ATTRIBUTES}
attrmap -modattr {_ATTRIBUTES}
write_verilog -sv
"""


def to_verilog(top_text, top, hierarchy):
    """Verilog of the top module (RTLIL ``top_text``) and every module it places."""
    yosys = find_yosys(lambda version: version >= (0, 40))
    design = private_temporaries(drop_unread_wires(f"{top_text}\n{hierarchy.rtlil()}"))
    script = f"read_rtlil <<rtlil\n{design}\nrtlil\n" \
        + _SCRIPT.format(top=top)
    return yosys.run(["-q", "-"], script, ignore_warnings=True)


@contextmanager
def hierarchical(prefix):
    """While active, :func:`place` builds modules named ``<prefix>_<block>``; yields them."""
    global _active
    previous, _active = _active, Hierarchy(prefix)
    try:
        yield _active
    finally:
        _active = previous
