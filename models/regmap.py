"""The accelerator's control/status register map, written once: RTL, C header and docs.

:func:`register_map` describes every software-visible register of ``sense_top``;
:class:`sense_hw.axil.AxiLiteRegisters` builds the AXI4-Lite slave from it, :func:`c_header`
writes the driver's ``sense_regs.h`` and :func:`markdown` the table in ``docs/registers.md``,
so the hardware, the driver and the documentation cannot disagree about a bit.

Access types:

``ro``
    Hardware drives the value; software reads it. Writes are ignored (answered OKAY).
``rw``
    Software writes, hardware reads; reads return the stored value. Only the fields' bits are
    stored (other bits read 0); resets to ``reset``.
``w1p``
    Write-one pulse: hardware sees the written one bits for exactly one cycle; reads 0.

A register of ``width=64`` (only ``ro``: the counters) occupies two words, the low half at
``offset`` and the high half at ``offset + 4``. Reading the low word snapshots the high word,
so a 64-bit value read low word first, then high word, is consistent even while it counts.

Run ``python -m sense_models.regmap --markdown`` for the documentation page and
``--header`` for the C header.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

__all__ = ["ACCESS", "Field", "Register", "RegisterMap", "register_map", "constant_values",
           "c_header", "markdown", "document", "ID_VALUE", "VERSION", "WORD_BYTES", "COUNTERS"]

ACCESS = ("ro", "rw", "w1p")
WORD_BYTES = 4
#: ``ID.value``: "SENS" in ASCII, most significant byte first.
ID_VALUE = 0x53454E53
#: ``VERSION`` (major, minor, patch) of this register map.
VERSION = (1, 0, 0)


def _identifier(kind, name):
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"{kind} name must be an identifier, not {name!r}")


def _count(what, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be an integer of at least {minimum}, not {value!r}")


@dataclasses.dataclass(frozen=True)
class Field:
    """Bits ``[lsb + width - 1 : lsb]`` of a register; ``doc`` is one line."""
    name: str
    lsb: int
    width: int
    doc: str = ""

    @property
    def msb(self):
        return self.lsb + self.width - 1

    @property
    def mask(self):
        """The field's bits in place in the register."""
        return ((1 << self.width) - 1) << self.lsb

    @property
    def bits(self):
        return f"[{self.msb}]" if self.width == 1 else f"[{self.msb}:{self.lsb}]"


@dataclasses.dataclass(frozen=True)
class Register:
    """One register: ``access`` in :data:`ACCESS`, ``fields`` from bit 0 up (gaps allowed).

    ``reset`` is the value of an ``rw`` register after reset (in place, fields' bits only).
    Checked when a :class:`RegisterMap` is built from it.
    """
    name: str
    offset: int
    access: str
    fields: tuple
    doc: str = ""
    width: int = 32
    reset: int = 0

    @property
    def words(self):
        return self.width // 32

    @property
    def end(self):
        """The first byte offset after the register."""
        return self.offset + self.width // 8

    @property
    def mask(self):
        """The bits that belong to a field."""
        return sum(field.mask for field in self.fields)

    def field(self, name):
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(f"register {self.name} has no field {name!r}")

    def pack(self, values):
        """The register value of a ``{field: value}`` dict (missing fields are 0)."""
        unknown = sorted(set(values) - {f.name for f in self.fields})
        if unknown:
            raise KeyError(f"register {self.name} has no fields {unknown}")
        word = 0
        for name, value in values.items():
            field = self.field(name)
            if not 0 <= value < 1 << field.width:
                raise ValueError(f"{self.name}.{name} = {value} does not fit {field.width} "
                                 f"bits")
            word |= value << field.lsb
        return word

    def unpack(self, word):
        """``{field: value}`` of a register value."""
        return {f.name: (word >> f.lsb) & ((1 << f.width) - 1) for f in self.fields}

    def check(self):
        """Raise ``ValueError`` naming the register and the bad value if it is malformed."""
        _identifier("register", self.name)
        where = f"register {self.name}"
        if self.access not in ACCESS:
            raise ValueError(f"{where}: access must be one of {ACCESS}, not {self.access!r}")
        if self.width not in (32, 64):
            raise ValueError(f"{where}: width must be 32 or 64, not {self.width!r}")
        if self.width == 64 and self.access != "ro":
            raise ValueError(f"{where}: only ro registers may be 64 bits wide (counters), "
                             f"not {self.access}")
        _count(f"{where}: offset", self.offset, 0)
        if self.offset % (self.width // 8):
            raise ValueError(f"{where}: offset {self.offset:#x} is not aligned to "
                             f"{self.width // 8} bytes")
        if not isinstance(self.fields, tuple) or not self.fields:
            raise ValueError(f"{where}: fields must be a non-empty tuple, not {self.fields!r}")
        names = set()
        for field in self.fields:
            if not isinstance(field, Field):
                raise ValueError(f"{where}: {field!r} is not a Field")
            _identifier(f"{where}: field", field.name)
            if field.name in names:
                raise ValueError(f"{where}: field name {field.name!r} is used twice")
            names.add(field.name)
            _count(f"{where}: field {field.name} lsb", field.lsb, 0)
            _count(f"{where}: field {field.name} width", field.width, 1)
            if field.msb >= self.width:
                raise ValueError(f"{where}: field {field.name} {field.bits} lies outside the "
                                 f"{self.width}-bit register")
            if "\n" in field.doc:
                raise ValueError(f"{where}: field {field.name}'s doc must be one line")
        by_lsb = sorted(self.fields, key=lambda f: f.lsb)
        for low, high in zip(by_lsb, by_lsb[1:]):
            if high.lsb <= low.msb:
                raise ValueError(f"{where}: field {high.name} {high.bits} overlaps field "
                                 f"{low.name} {low.bits}")
        if isinstance(self.reset, bool) or not isinstance(self.reset, int):
            raise ValueError(f"{where}: reset must be an integer, not {self.reset!r}")
        if self.reset & ~self.mask:
            raise ValueError(f"{where}: reset {self.reset:#x} sets bits outside its fields "
                             f"(mask {self.mask:#x})")
        if self.reset and self.access != "rw":
            raise ValueError(f"{where}: only rw registers have a reset value, not "
                             f"{self.reset:#x} on a {self.access} register")


class RegisterMap:
    """Registers at word-aligned, non-overlapping offsets, each :meth:`Register.check` ed."""

    def __init__(self, registers):
        registers = tuple(registers)
        if not registers:
            raise ValueError("a register map needs at least one register")
        for register in registers:
            if not isinstance(register, Register):
                raise TypeError(f"{register!r} is not a Register")
            register.check()
        names = set()
        for register in registers:
            if register.name.lower() in names:
                raise ValueError(f"register {register.name}: the name is used twice (names "
                                 f"are compared in lower case)")
            names.add(register.name.lower())
        by_offset = sorted(registers, key=lambda r: r.offset)
        for low, high in zip(by_offset, by_offset[1:]):
            if high.offset < low.end:
                raise ValueError(f"register {high.name}: offset {high.offset:#x} overlaps "
                                 f"register {low.name} ({low.offset:#x}..{low.end - 1:#x})")
        self._registers = tuple(by_offset)

    def __iter__(self):
        return iter(self._registers)

    def __len__(self):
        return len(self._registers)

    def __getitem__(self, name):
        for register in self._registers:
            if register.name == name:
                return register
        raise KeyError(f"no register {name!r}")

    @property
    def size(self):
        """Bytes from offset 0 to the end of the last register."""
        return self._registers[-1].end

    @property
    def addr_width(self):
        """The fewest byte-address bits that reach every register."""
        return max(2, (self.size - 1).bit_length())

    def words(self):
        """``(byte offset, register, half)`` of every mapped word; ``half`` 0 low, 1 high."""
        return [(register.offset + WORD_BYTES * half, register, half)
                for register in self._registers for half in range(register.words)]


def _counter(name, offset, doc):
    return Register(name, offset, "ro", (Field("count", 0, 64, doc),), doc, width=64)


#: The 64-bit counters from 0x40 on, in offset order.
COUNTERS = (
    ("BUSY_CYCLES", "Cycles in which the accelerator was busy."),
    ("IN_STALL_CYCLES", "Busy cycles in which the input stream had no word to give."),
    ("OUT_STALL_CYCLES", "Cycles in which a result word waited for the output stream."),
    ("VECTORS_ISSUED", "Pixel vectors issued to the array."),
    ("VECTORS_SKIPPED", "All-zero pixel vectors the feeder skipped."),
    ("GATED_MULTS", "Multiplications gated for a zero operand."),
    ("LAYERS_DONE", "Layers whose last result has left."),
    ("PACKETS_IN", "Input packets received whole (TLAST on the declared last word); "
                   "packets dropped for an error are not counted."),
    ("BEATS_OUT", "Result beats (one pixel's outputs, one or more words each) sent on the "
                  "output stream, counted as each beat's last word is taken."),
)
COUNTER_BASE = 0x40


def register_map(config):
    """The register map of ``sense_top`` for ``config`` (the same layout for every config).

    Raises ``ValueError`` if a configuration value does not fit its ``CONFIG`` field.
    """
    constant_values(config)
    F = Field
    registers = [
        Register("ID", 0x00, "ro", (F("value", 0, 32, 'Constant 0x53454E53 ("SENS").'),),
                 "Identifies the accelerator."),
        Register("VERSION", 0x04, "ro", (
            F("patch", 0, 8, "Patch version: fixes only."),
            F("minor", 8, 8, "Minor version: backward-compatible additions."),
            F("major", 16, 8, "Major version: incompatible changes."),
        ), "Version of this register map."),
        Register("CONFIG0", 0x08, "ro", (
            F("rows", 0, 8, "PE rows of the array."),
            F("cols", 8, 8, "PE columns of the array."),
            F("group", 16, 8, "Sparsity group size G."),
            F("sparse", 24, 1, "1: sparse array (G/2 of G weights kept); 0: dense baseline."),
            F("feeder", 25, 1, "1: the IFM feeder is built."),
            F("pixel_check", 26, 1, "1: the pixel-side ABFT check is built."),
            F("kernel_check", 27, 1, "1: the kernel-side ABFT check is built."),
            F("faults", 28, 1, "1: fault-injection build."),
        ), "Generator parameters: array shape and options."),
        Register("CONFIG1", 0x0C, "ro", (
            F("ifm_width", 0, 8, "Bits of a signed IFM operand."),
            F("weight_width", 8, 8, "Bits of a signed weight."),
            F("acc_width", 16, 8, "Bits of a partial sum and accumulator."),
            F("bus_bytes", 24, 8, "Bytes of an AXI4-Stream data word."),
        ), "Generator parameters: widths."),
        Register("CONFIG2", 0x10, "ro", (
            F("acc_depth", 0, 16, "Pixels per pixel tile (accumulator depth)."),
            F("feeder_tiles", 16, 16, "Reduction tiles per pixel the feeder holds."),
        ), "Generator parameters: depths."),
        Register("CONTROL", 0x14, "rw", (
            F("run", 0, 1, "The input stream is accepted only while set."),
        ), "Run control."),
        Register("COMMAND", 0x18, "w1p", (
            F("soft_reset", 0, 1, "Write 1: reset the datapath and its state."),
            F("clear_status", 1, 1, "Write 1: clear the sticky STATUS bits and ABFT records."),
        ), "One-cycle commands (write 1 to act; reads 0)."),
        Register("STATUS", 0x1C, "ro", (
            F("busy", 0, 1, "Work is in flight."),
            F("error", 1, 1, "Sticky: a packet or protocol error happened."),
            F("abft_error", 2, 1, "Sticky: an ABFT check raised an alarm."),
            F("error_code", 8, 8, "Code of the first packet error since the last clear."),
            F("table_loaded", 16, 1, "The feeder's permutation table is loaded."),
        ), "Accelerator state."),
        Register("ABFT_COUNTS", 0x20, "ro", (
            F("pixel_errors", 0, 16, "Pixel-side check mismatches since the last clear."),
            F("kernel_errors", 16, 16, "Kernel-side check mismatches since the last clear."),
        ), "ABFT alarm counts."),
        Register("ABFT_PIXEL", 0x24, "ro", (
            F("pixel_pass", 0, 16, "Pass of the first pixel-side mismatch."),
            F("column", 16, 8, "Column of the first pixel-side mismatch."),
        ), "Where the first pixel-side mismatch was."),
        Register("ABFT_PIXEL_SYNDROME", 0x28, "ro", (
            F("syndrome", 0, 32, "Checksum minus sum of the first pixel-side mismatch."),
        ), "Syndrome of the first pixel-side mismatch."),
        Register("ABFT_KERNEL_BEAT", 0x2C, "ro", (
            F("beat", 0, 32, "Result beat of the first kernel-side mismatch."),
        ), "Where the first kernel-side mismatch was."),
        Register("ABFT_KERNEL_SYNDROME", 0x30, "ro", (
            F("syndrome", 0, 32, "Checksum minus sum of the first kernel-side mismatch."),
        ), "Syndrome of the first kernel-side mismatch."),
        Register("ABFT_FIRST_CYCLE", 0x34, "ro", (
            F("cycle", 0, 32, "Busy cycle of the first ABFT alarm."),
        ), "When the first ABFT alarm was."),
        Register("ABFT_CORRECTED", 0x38, "ro", (
            F("corrected", 0, 16, "Results corrected in the core since the last clear."),
            F("control_errors", 16, 16, "Cycles a control-state check failed since the last "
                                        "clear (abft='both'; 0 otherwise)."),
        ), "ABFT corrections and control-state checks."),
        Register("PROTOCOL", 0x3C, "ro", (
            F("error", 0, 1, "Sticky until a reset: the core's pixel stream broke a pass rule."),
            F("code", 4, 3, "The first broken rule (docs/formats.md, `protocol`)."),
            F("wait_weights", 8, 1, "The core waits for weights."),
            F("wait_pixels", 9, 1, "The core waits for pixel vectors."),
            F("wait_results", 10, 1, "The core waits for its results to be taken."),
            F("open", 16, 16, "Accumulators started and not yet emitted."),
        ), "The core's check of its pixel stream (streamed builds; reads 0 on feeder builds)."),
    ]
    registers += [_counter(name, COUNTER_BASE + 8 * i, doc)
                  for i, (name, doc) in enumerate(COUNTERS)]
    return RegisterMap(registers)


def constant_values(config, *, bus_width=None):
    """``{register: {field: value}}`` of the constant registers for ``config``.

    ``bus_width`` (bits of the AXI4-Stream data word) sets ``CONFIG1.bus_bytes``; without it
    that field is left out. Raises ``ValueError`` naming a value that does not fit.
    """
    config1 = {"ifm_width": config.ifm_width, "weight_width": config.weight_width,
               "acc_width": config.acc_width}
    if bus_width is not None:
        config1["bus_bytes"] = bus_width // 8
    values = {
        "ID": {"value": ID_VALUE},
        "VERSION": dict(zip(("major", "minor", "patch"), VERSION)),
        "CONFIG0": {"rows": config.rows, "cols": config.cols, "group": config.group,
                    "sparse": int(config.sparse), "feeder": int(config.feeder),
                    "pixel_check": int(config.pixel_check),
                    "kernel_check": int(config.kernel_check), "faults": int(config.faults)},
        "CONFIG1": config1,
        "CONFIG2": {"acc_depth": config.acc_depth, "feeder_tiles": config.feeder_tiles},
    }
    widths = {"value": 32, "acc_depth": 16, "feeder_tiles": 16}
    for register, fields in values.items():
        for name, value in fields.items():
            width = widths.get(name, 8)
            if not 0 <= value < 1 << width:
                raise ValueError(f"{register}.{name} = {value} does not fit its {width}-bit "
                                 f"field")
    return values


def _hex(value, width):
    digits = (width + 3) // 4
    suffix = "ull" if width > 32 else "u"
    return f"0x{value:0{digits}X}{suffix}"


def c_header(regmap, config, *, bus_width=None):
    """``sense_regs.h``: offsets, field shifts and masks, the configuration's constants.

    Deterministic text: the same map and configuration give the same bytes.
    """
    guard = "SENSE_REGS_H"
    lines = [
        "/* sense_regs.h: register map of the sense accelerator's AXI4-Lite slave.",
        " * Generated by `python -m sense_models.regmap --header` from models/regmap.py;",
        " * do not edit. _MASK values are in place: field = (reg & MASK) >> SHIFT.",
        " * 64-bit counters: read _OFFSET (low word) first, then _HI_OFFSET; the low read",
        " * snapshots the high word. SENSE_<REG>_VALUE: what a constant register reads.",
        " * SENSE_PARAM_*: the generator parameters of this build. */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        f"#define SENSE_VERSION_MAJOR {VERSION[0]}u",
        f"#define SENSE_VERSION_MINOR {VERSION[1]}u",
        f"#define SENSE_VERSION_PATCH {VERSION[2]}u",
        f"#define SENSE_MAP_BYTES {_hex(regmap.size, 32)}",
        "",
        f"/* Configuration {config.name} */",
        f'#define SENSE_PARAM_NAME "{config.name}"',
    ]
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if isinstance(value, str):
            lines.append(f'#define SENSE_PARAM_{item.name.upper()} "{value}"')
        else:
            lines.append(f"#define SENSE_PARAM_{item.name.upper()} {int(value)}u")
    for name in ("pixel_check", "kernel_check"):
        lines.append(f"#define SENSE_PARAM_{name.upper()} {int(getattr(config, name))}u")
    if bus_width is not None:
        lines.append(f"#define SENSE_PARAM_BUS_BYTES {bus_width // 8}u")
    constants = constant_values(config, bus_width=bus_width)
    for register in regmap:
        prefix = f"SENSE_{register.name}"
        lines += ["", f"/* {register.name} ({register.access}): {register.doc} */",
                  f"#define {prefix}_OFFSET {_hex(register.offset, 16)}"]
        if register.width == 64:
            lines.append(f"#define {prefix}_HI_OFFSET {_hex(register.offset + 4, 16)}")
        if register.name in constants:
            value = register.pack(constants[register.name])
            lines.append(f"#define {prefix}_VALUE {_hex(value, register.width)}")
        for field in register.fields:
            lines += [f"#define {prefix}_{field.name.upper()}_SHIFT {field.lsb}u",
                      f"#define {prefix}_{field.name.upper()}_MASK "
                      f"{_hex(field.mask, register.width)}  /* {field.doc} */"]
    lines += ["", f"#endif /* {guard} */", ""]
    names = [line.split()[1] for line in lines if line.startswith("#define")]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"register and field names give the same C macros {twice}")
    return "\n".join(lines)


def _offset(register):
    if register.width == 64:
        return f"`0x{register.offset:02X}` / `0x{register.offset + 4:02X}`"
    return f"`0x{register.offset:02X}`"


def markdown(regmap):
    """The register table: one row per register, then one per field."""
    lines = ["| offset | register | access | field | bits | description |",
             "|---|---|---|---|---|---|"]
    for register in regmap:
        lines.append(f"| {_offset(register)} | `{register.name}` | {register.access} | | "
                     f"[{register.width - 1}:0] | {register.doc} |")
        for field in register.fields:
            lines.append(f"| | | | `{field.name}` | {field.bits} | {field.doc} |")
    return "\n".join(lines) + "\n"


def document(regmap):
    """The whole ``docs/registers.md`` page."""
    return f"""\
# Control and status registers

Generated by `python -m sense_models.regmap --markdown` from `models/regmap.py`, which also
builds the AXI4-Lite slave (`sense_hw.axil.AxiLiteRegisters`) and the driver's C header
(`--header`); `tests/test_regmap.py` checks this page is up to date.

The slave has a 32-bit data bus and answers with one response per request. Access types:

- **ro**: hardware drives the value; writes are ignored and answered OKAY.
- **rw**: software writes (byte strobes honoured), hardware reads; bits outside the fields
  read 0. All rw registers reset to 0.
- **w1p**: write-one pulse: the written one bits reach the hardware for exactly one cycle;
  reads return 0.

A 64-bit counter takes two words, the low half first. Reading the low word snapshots the high
word, so reading low then high gives a consistent value even while the counter carries.
An address outside the map is answered SLVERR (reads return 0). `CONFIG1.bus_bytes` is the
top's AXI4-Stream data width.

{markdown(regmap)}"""


def main(argv=None):
    from .config import ArrayConfig

    parser = argparse.ArgumentParser(prog="python -m sense_models.regmap",
                                     description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--markdown", action="store_true", help="docs/registers.md")
    what.add_argument("--header", action="store_true", help="sense_regs.h")
    parser.add_argument("--config", help="configuration JSON (default: the default config)")
    parser.add_argument("--bus-width", type=int, help="AXI4-Stream data bits (header only)")
    args = parser.parse_args(argv)
    config = ArrayConfig.from_json(args.config) if args.config else ArrayConfig()
    regmap = register_map(config)
    if args.markdown:
        sys.stdout.write(document(regmap))
    else:
        sys.stdout.write(c_header(regmap, config, bus_width=args.bus_width))


if __name__ == "__main__":
    main()
