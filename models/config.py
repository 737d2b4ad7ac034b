"""The one configuration object that drives the RTL, the golden model, the tests and the builds.

Everything that depends on a generator parameter (port widths, tile shapes, the cycle model,
the build directory name) derives it from an :class:`ArrayConfig`, so the hardware, the models
and the testbenches can never disagree about it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .abft import digit_count, kernel_checksum_width
from .golden import max_reduction

__all__ = ["ArrayConfig"]

_GROUPS = (2, 4, 8, 16)
ABFT_OPTIONS = ("none", "pixel", "kernel", "both")
#: ``TDATA`` widths of ``sense_top``'s AXI4-Stream ports.
BUS_WIDTHS = (64, 128, 256, 512)
#: Widest value (accumulator, checksum weight) the int64 golden models and packers hold.
MODEL_BITS = 62
#: The longest reduction (``T``) the golden model must sum exactly in int64 (the longest
#: layer of ResNet-50 and VGG-16, 25,088 for VGG's first dense layer, fits with room).
MODEL_REDUCTION = 1 << 16


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")


@dataclasses.dataclass(frozen=True)
class ArrayConfig:
    """Generator parameters of one accelerator core.

    Parameters
    ----------
    rows : int
        PE rows. Row ``i`` covers reduction group ``i`` of a tile.
    cols : int
        PE columns. Column ``j`` covers kernel ``j`` of a tile.
    group : int
        ``G``, the sparsity group size (2, 4, 8 or 16). Every group of ``G`` consecutive
        weights of a kernel keeps exactly ``G/2``; a PE has ``G/2`` multipliers.
    sparse : bool
        ``True`` builds the sparse array. ``False`` builds the dense baseline with the same
        multiplier count: each PE multiplies ``G/2`` consecutive weights, no index selection.
    ifm_width, weight_width : int
        Signed operand widths (two's complement).
    acc_width : int
        Partial-sum and accumulator width; all sums wrap modulo ``2**acc_width``.
    acc_depth : int
        Accumulator entries per column: the largest pixel tile of a pass (a power of two).
    abft : str
        Checkers built in: ``"none"``, ``"pixel"`` (checksum pixel per pass, per column),
        ``"kernel"`` (checksum column, per pixel) or ``"both"``; see :mod:`sense_models.abft`.
    faults : bool
        Instrument fault sites that a testbench can trigger at run time (fault-injection
        build). ``False`` generates RTL identical to a build without the option.
    feeder : bool
        Build the IFM feeder (:mod:`sense_models.feeder`): an on-chip IFM buffer loaded in
        the original channel order, a host-loadable channel-permutation table, zero-vector
        skipping, zero-operand gating and per-pass counters; with any ``abft`` (with
        ``"both"`` a pixel tile's results leave in tag order after its final pass has been
        checked). ``False`` generates RTL identical to a build without the option (the host
        streams pixel vectors).
    feeder_tiles : int
        Reduction tiles per pixel the feeder's buffer and table hold (a power of two): the
        largest layer reduction the feeder takes is ``feeder_tiles * tile_reduction``.
    bus_width : int
        ``TDATA`` bits of ``sense_top``'s AXI4-Stream ports (64, 128, 256 or 512); the core
        does not depend on it.
    """

    rows: int = 8
    cols: int = 8
    group: int = 4
    sparse: bool = True
    ifm_width: int = 8
    weight_width: int = 8
    acc_width: int = 32
    acc_depth: int = 256
    abft: str = "none"
    faults: bool = False
    feeder: bool = False
    feeder_tiles: int = 16
    bus_width: int = 128

    def __post_init__(self):
        _check_int("rows", self.rows, 1)
        _check_int("cols", self.cols, 1)
        _check_int("ifm_width", self.ifm_width, 2)
        _check_int("weight_width", self.weight_width, 2)
        _check_int("acc_width", self.acc_width, 1)
        _check_int("acc_depth", self.acc_depth, 1)
        _check_int("group", self.group, 2)
        _check_int("feeder_tiles", self.feeder_tiles, 1)
        if self.bus_width not in BUS_WIDTHS:
            raise ValueError(f"bus_width must be one of {BUS_WIDTHS} (bits of the AXI4-Stream "
                             f"data), not {self.bus_width!r}")
        for name in ("sparse", "faults", "feeder"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, not {getattr(self, name)!r}")
        if self.abft not in ABFT_OPTIONS:
            raise ValueError(f"abft must be one of {ABFT_OPTIONS}, not {self.abft!r}")
        if self.group not in _GROUPS:
            raise ValueError(f"group must be one of {_GROUPS} (a power of two), not {self.group}")
        if self.acc_width < self.ifm_width + self.weight_width:
            raise ValueError(
                f"acc_width {self.acc_width} is too narrow: it must hold one product of "
                f"{self.ifm_width}-bit by {self.weight_width}-bit operands, so at least "
                f"{self.ifm_width + self.weight_width} bits")
        if self.acc_depth & (self.acc_depth - 1):
            raise ValueError(f"acc_depth must be a power of two, not {self.acc_depth}")
        if self.feeder_tiles & (self.feeder_tiles - 1):
            raise ValueError(f"feeder_tiles must be a power of two, not {self.feeder_tiles}")
        if self.pixel_check and self.ifm_width < 8:
            raise ValueError(f"the pixel-side check streams 7-bit digits: ifm_width must be at "
                             f"least 8, not {self.ifm_width}")
        self._check_model_widths()

    def _check_model_widths(self):
        # The golden models and the packers compute in int64: reject what they cannot check.
        if self.acc_width > MODEL_BITS:
            raise ValueError(f"acc_width must be at most {MODEL_BITS} (the golden models "
                             f"compute in int64), not {self.acc_width}")
        reduction = max(MODEL_REDUCTION, self.feeder_tiles * self.tile_reduction
                        if self.feeder else 0)
        if max_reduction(self.ifm_width, self.weight_width) < reduction:
            raise ValueError(
                f"ifm_width {self.ifm_width} + weight_width {self.weight_width} = "
                f"{self.ifm_width + self.weight_width} bits per product is too wide for the "
                f"int64 golden model: it sums {max_reduction(self.ifm_width, self.weight_width)}"
                f" products at most, and must sum {reduction} (the longest reduction it "
                f"checks), so the two widths may add up to at most "
                f"{63 - reduction.bit_length()} bits")
        if self.kernel_check and self.checksum_weight_width > MODEL_BITS:
            raise ValueError(
                f"the kernel checksum weights (weight_width {self.weight_width} + "
                f"log2(cols {self.cols}) = {self.checksum_weight_width} bits) do not fit the "
                f"models' int64 fields: at most {MODEL_BITS} bits")

    # -- derived shapes ------------------------------------------------------------------------

    @property
    def mults_per_pe(self) -> int:
        """Multipliers in one PE (``G/2`` for both the sparse and the dense array)."""
        return self.group // 2

    @property
    def multipliers(self) -> int:
        """Multipliers in the whole array."""
        return self.rows * self.cols * self.mults_per_pe

    @property
    def row_span(self) -> int:
        """Reduction elements one PE row covers: ``G`` sparse, ``G/2`` dense."""
        return self.group if self.sparse else self.mults_per_pe

    @property
    def tile_reduction(self) -> int:
        """Reduction elements of one tile (``rows * row_span``): the length of a pixel vector."""
        return self.rows * self.row_span

    @property
    def index_width(self) -> int:
        """Bits of a weight index: ``log2(G)`` sparse, 0 dense."""
        return (self.group.bit_length() - 1) if self.sparse else 0

    @property
    def tag_width(self) -> int:
        """Bits of a pixel tag (the accumulator address)."""
        return max(1, (self.acc_depth - 1).bit_length())

    @property
    def pixel_check(self) -> bool:
        return self.abft in ("pixel", "both")

    @property
    def kernel_check(self) -> bool:
        return self.abft in ("kernel", "both")

    @property
    def corrects(self) -> bool:
        """With both checks, a located single error is corrected before the results leave."""
        return self.abft == "both"

    @property
    def check_digits(self) -> int:
        """Checksum digit vectors issued after each pass (0 without the pixel-side check)."""
        if not self.pixel_check:
            return 0
        return digit_count(self.ifm_width, self.acc_depth)

    @property
    def checksum_weight_width(self) -> int:
        """Bits of a kernel-checksum weight ``w_s`` (sum over a kernel tile's ``cols``)."""
        return kernel_checksum_width(self.weight_width, self.cols)

    @property
    def widest_fault_site(self) -> int:
        """Bits of the widest signal a fault-injection build instruments."""
        widths = [self.acc_width, self.row_span * self.ifm_width,
                  self.mults_per_pe * self.weight_width]
        if self.kernel_check:
            widths += [self.row_span * self.checksum_weight_width,
                       self.ifm_width + self.checksum_weight_width]
        if self.corrects:
            widths.append(2 + max(1, (self.cols - 1).bit_length()) + self.acc_width)
        # a stage of the engine's metadata pipeline: valid, first, last, tag, then check,
        # digit and last digit (pixel-side check), end, bank, issued and skipped (feeder)
        meta = 3 + self.tag_width
        if self.pixel_check:
            meta += 2 + (max(2, self.check_digits) - 1).bit_length()
        if self.feeder:
            meta += 2 + 2 * self.acc_depth.bit_length()
        return max(widths + [meta])

    @property
    def feeder_tile_width(self) -> int:
        """Bits of a reduction-tile number in the feeder's table and pass commands."""
        return max(1, (self.feeder_tiles - 1).bit_length())

    @property
    def lane_width(self) -> int:
        """Bits of a lane number (an element position within a pixel vector)."""
        return max(1, (self.tile_reduction - 1).bit_length())

    @property
    def pe_latency(self) -> int:
        """Cycles from a vector at a PE's ``x_in`` to its partial sum at ``psum_out``: the
        multiplier's input registers (after the bank select and index multiplexer), its output
        register, then the partial-sum register. In one cycle, that path set the clock of
        every array build (``make timing``)."""
        return 3

    @property
    def feeder_load_latency(self) -> int:
        """Cycles from an IFM beat's acceptance by the feeder until its zero flags are
        written: the table read and the crossbar, then the buffer and the flags."""
        return 2

    @property
    def check_latency(self) -> int:
        """Cycles the kernel-side check adds before a result beat leaves: its syndrome (a sum
        over the columns and the checksum column) is registered, and the beat waits beside it,
        so the syndrome, the correction and the output multiplexers are not one path."""
        return 1 if self.kernel_check else 0

    @property
    def latency(self) -> int:
        """Cycles from a pixel vector's acceptance to its result beat being valid: the first
        skew register, one cycle per further row, the last row's PE (``pe_latency``), one
        cycle per column to the right (forwarding, then deskew), the accumulator and the
        kernel check's stage (``check_latency``)."""
        return self.rows + self.cols + self.pe_latency + self.check_latency

    @property
    def name(self) -> str:
        """A stable name for the configuration: its build directory (``rtl_out/<name>/``) and
        its simulator builds; the top module is ``sense_core`` (or ``sense_top``) whatever
        the configuration."""
        kind = "sparse" if self.sparse else "dense"
        return (f"{kind}_r{self.rows}c{self.cols}g{self.group}"
                f"_i{self.ifm_width}w{self.weight_width}a{self.acc_width}d{self.acc_depth}"
                + ("" if self.abft == "none" else f"_abft-{self.abft}")
                + ("_faults" if self.faults else "")
                + (f"_feed{self.feeder_tiles}" if self.feeder else "")
                + ("" if self.bus_width == 128 else f"_bus{self.bus_width}"))

    # -- (de)serialisation ---------------------------------------------------------------------

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "ArrayConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown configuration keys {unknown}; known keys are {sorted(known)}")
        return cls(**values)

    @classmethod
    def from_json(cls, path, **overrides) -> "ArrayConfig":
        """The configuration in JSON file ``path`` (an object of configuration keys; absent
        keys keep their defaults), with ``overrides`` replacing its values.

        Every error names the file and what is wrong with it.
        """
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as error:
            raise ValueError(f"configuration file {path}: cannot read it "
                             f"({error.strerror or error})") from None
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"configuration file {path} is not JSON: {error}") from None
        if not isinstance(values, dict):
            kind = {list: "a list", str: "a string", bool: "a boolean", int: "a number",
                    float: "a number", type(None): "null"}[type(values)]
            raise ValueError(f"configuration file {path} holds {kind} ({text.strip()[:40]}), "
                             f"not a JSON object of configuration keys like "
                             f'{{"rows": 4, "cols": 4}}')
        try:
            return cls.from_dict({**values, **overrides})
        except (TypeError, ValueError) as error:
            given = " with " + ", ".join(f"{k}={v!r}" for k, v in overrides.items()) \
                if overrides else ""
            raise type(error)(f"configuration file {path}{given}: {error}") from None

    def dense_baseline(self) -> "ArrayConfig":
        """The dense array of the same multiplier count built by the same generator."""
        return dataclasses.replace(self, sparse=False)
