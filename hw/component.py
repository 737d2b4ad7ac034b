"""The base of every block: a ``wiring.Component`` built from one :class:`ArrayConfig`."""

from amaranth.lib import wiring

from sense_models.config import ArrayConfig

from .faults import NO_FAULTS

__all__ = ["ConfigComponent"]


class ConfigComponent(wiring.Component):
    """A component whose ports are derived from ``config`` by :meth:`members`.

    Parameters
    ----------
    config : ArrayConfig
        Keyword-only; anything else raises ``TypeError``.
    faults : FaultSites, optional
        The fault-site registry of a fault-injection build (see :mod:`sense_hw.faults`).
    name : str, optional
        The block's instance name, to label its fault sites.
    """

    def __init__(self, *, config, faults=None, name=None):
        if not isinstance(config, ArrayConfig):
            self._MustUse__silence = True  # never built: no "unused elaboratable" warning
            raise TypeError(f"config must be an ArrayConfig, not {config!r}")
        self._config = config
        self._faults = faults if faults is not None else NO_FAULTS
        self._name = name or type(self).__name__
        super().__init__(self.members(config))

    def members(self, config):
        """The signature members (``name -> In/Out``) for ``config``."""
        raise NotImplementedError

    @property
    def config(self):
        return self._config
