"""Signal bits that the generated Verilog ties to constants: they can never toggle.

Amaranth's back-end writes a constant driver as a literal assignment (``assign
regs_status[31:17] = 15'h0000;``, ``assign { a[7], b[3:1] } = 4'h0;``) or a literal on an
instance port (``.id(32'd1397050963)``). Those bits, and the ports of the blocks they drive
(in every instance of that block), hold one value for the whole simulation. What ties them
is the design, not the tests: padding between register fields, identity registers, the
status inputs of features a build does not have. :mod:`sense_verif.coverage` leaves their
toggle points out (reason ``tied_constant``).

Only literal drivers and whole-signal copies (``assign a = b;``, ``.port(b)``) are followed:
what this misses stays counted, so the analysis can only under-exclude.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

__all__ = ["tied_bits"]

_MODULE = re.compile(r"^module (\S+)\(", re.M)
_DECL = re.compile(r"^\s*(input|output|inout|wire|reg)\s+(?:signed\s+)?"
                   r"(?:\[(\d+):(\d+)\]\s+)?([\w$\\.]+)\s*(?:=.*)?;", re.M)
_LITERAL = re.compile(r"(\d+)'([hdb])([0-9a-fA-F_]+)$")
_ASSIGN = re.compile(r"^\s*assign (.+?) = (.+?);$", re.M)
_INSTANCE = re.compile(r"^\s*([\w$\\]+) ([\w$\\]+) \(\n(.*?)\n\s*\);", re.M | re.S)
_PORT = re.compile(r"^\s*\.([\w$\\]+)\((.*)\),?$")
_PART = re.compile(r"^([\w$\\.]+)(?:\[(\d+)(?::(\d+))?\])?$")


def _literal(text):
    match = _LITERAL.fullmatch(text.strip())
    if not match:
        return None
    width, base, digits = int(match[1]), match[2], match[3].replace("_", "")
    return width, int(digits, {"h": 16, "d": 10, "b": 2}[base])


class _Module:
    def __init__(self, name, text):
        self.name = name
        self.widths = {}
        self.inputs, self.outputs = set(), set()
        for kind, msb, lsb, signal in _DECL.findall(text):
            self.widths[signal] = (int(msb) - int(lsb) + 1) if msb else 1
            if kind == "input":
                self.inputs.add(signal)
            elif kind == "output":
                self.outputs.add(signal)
        self.constant = defaultdict(set)   # signal -> bits tied to a constant
        self.copies = []                   # (destination, source) whole-signal copies
        self.instances = []                # (module type, {port: connection text})
        for lhs, rhs in _ASSIGN.findall(text):
            literal = _literal(rhs)
            if literal is not None:
                self._tie(lhs, literal[0])
            elif lhs in self.widths and self.widths[lhs] == self.widths.get(rhs):
                self.copies.append((lhs, rhs))
        for kind, _, body in _INSTANCE.findall(text):
            ports = {}
            for line in body.splitlines():
                port = _PORT.match(line)
                if port:
                    ports[port[1]] = port[2].strip()
            self.instances.append((kind, ports))

    def _tie(self, lhs, width):
        lhs = lhs.strip()
        parts = [p.strip() for p in lhs[1:-1].split(",")] if lhs.startswith("{") else [lhs]
        bits = []  # the literal's bits, most significant first
        for part in parts:
            match = _PART.fullmatch(part)
            if not match or match[1] not in self.widths:
                return  # something this reader does not follow: tie nothing
            signal = match[1]
            if match[2] is None:
                msb, lsb = self.widths[signal] - 1, 0
            else:
                msb = int(match[2])
                lsb = int(match[3]) if match[3] is not None else msb
            bits.extend((signal, bit) for bit in range(msb, lsb - 1, -1))
        if len(bits) != width:
            return
        for signal, bit in bits:
            self.constant[signal].add(bit)

    def connection_bits(self, text, width):
        """The bits of a port connection ``text`` that are constant here, or ``None``."""
        if _literal(text) is not None:
            return set(range(width))
        if text in self.widths and self.widths[text] == width:
            return set(self.constant.get(text, ()))
        return None


def _modules(path):
    text = Path(path).read_text()
    starts = [m.start() for m in _MODULE.finditer(text)]
    modules = {}
    for start, end in zip(starts, starts[1:] + [len(text)]):
        chunk = text[start:end]
        name = _MODULE.match(chunk)[1]
        modules[name] = _Module(name, chunk)
    return modules


def tied_bits(path):
    """``{(module, signal): {bit, ...}}`` of the bits tied to constants in Verilog ``path``."""
    modules = _modules(path)
    changed = True
    while changed:
        changed = False
        for module in modules.values():
            for destination, source in module.copies:
                new = module.constant.get(source, set()) - module.constant[destination]
                if new:
                    module.constant[destination] |= new
                    changed = True
        # A block's input bit is tied when every instance of it ties that bit; a signal
        # that a tied output bit drives is tied where it is connected.
        tied_inputs = {}
        for module in modules.values():
            for kind, ports in module.instances:
                child = modules.get(kind)
                if child is None:
                    continue
                for port in child.outputs:
                    text = ports.get(port)
                    bits = child.constant.get(port, set())
                    if bits and text in module.widths and \
                            module.widths[text] == child.widths[port]:
                        new = bits - module.constant[text]
                        if new:
                            module.constant[text] |= new
                            changed = True
                for port in child.inputs:
                    width = child.widths[port]
                    text = ports.get(port)
                    bits = module.connection_bits(text, width) if text else None
                    bits = bits if bits is not None else set()
                    key = (kind, port)
                    tied_inputs[key] = bits if key not in tied_inputs else tied_inputs[key] & bits
        for (kind, port), bits in tied_inputs.items():
            new = bits - modules[kind].constant[port]
            if new:
                modules[kind].constant[port] |= new
                changed = True
    return {(name, signal): bits for name, module in modules.items()
            for signal, bits in module.constant.items() if bits}
