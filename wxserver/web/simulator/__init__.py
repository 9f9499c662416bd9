"""A WeChat chat in the browser, for local development: ``wxserver simulate --web``.

The page plays a WeChat user against a running server: messages, events and the account's custom
menu, signed and encrypted as WeChat does; the replies drawn as WeChat draws them; the late ones
delivered through the account's simulated WeChat API. Development settings on 127.0.0.1 only.
"""

from wxserver.web.simulator.app import create_simulator
from wxserver.web.simulator.guard import ProductionSettingsError

__all__ = ["ProductionSettingsError", "create_simulator"]
