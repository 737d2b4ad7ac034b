"""The base of every block: a ``wiring.Component`` built from one :class:`ArrayConfig`."""

from amaranth.lib import wiring

from sense_models.config import ArrayConfig

__all__ = ["ConfigComponent"]


class ConfigComponent(wiring.Component):
    """A component whose ports are derived from ``config`` by :meth:`members`.

    Parameters
    ----------
    config : ArrayConfig
        Keyword-only; anything else raises ``TypeError``.
    """

    def __init__(self, *, config):
        if not isinstance(config, ArrayConfig):
            raise TypeError(f"config must be an ArrayConfig, not {config!r}")
        self._config = config
        super().__init__(self.members(config))

    def members(self, config):
        """The signature members (``name -> In/Out``) for ``config``."""
        raise NotImplementedError

    @property
    def config(self):
        return self._config
