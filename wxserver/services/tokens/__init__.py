"""The one owner of each account's access_token and jsapi_ticket (see :mod:`.owner`)."""

from wxserver.services.tokens.owner import TokenOwner, connect
from wxserver.services.tokens.records import Failure, Record, TokenUnavailableError

__all__ = ["Failure", "Record", "TokenOwner", "TokenUnavailableError", "connect"]
