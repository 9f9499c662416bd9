"""An Open Platform component (第三方平台): its ticket, tokens, authorizers and their clients."""

from wxserver.services.component.platform import ComponentServices

__all__ = ["ComponentServices"]
