"""The ``release-check`` handler set: the Open Platform's 全网发布接入检测, passed automatically.

Before a component is released to every account, the Open Platform checks it with its own test
account (AppID ``wx570bc396a51b8ff8``, user name ``gh_3c884a361561``), through the component's
message URL:

- any event gets the text reply ``<Event>from_callback``;
- the text ``TESTCOMPONENT_MSG_TYPE_TEXT`` gets ``TESTCOMPONENT_MSG_TYPE_TEXT_callback``;
- the text ``QUERY_AUTH_CODE:<code>`` gets an empty passive reply (``success``), then, within
  10 seconds, the customer-service text ``<code>_from_api``, sent with the authorizer token that
  ``api_query_auth`` returns for ``<code>``.

These handlers answer the test account only and return None (let the next handler try) for
every other account, so a component turns the set on by default (``release_check``) and runs it
before its own handler sets. The ``_from_api`` message is sent from a thread of the process that
received the code, not from a job: the check waits 10 seconds, and no job worker is needed.
"""

from __future__ import annotations

import logging

from wxserver.protocol.handlers import HandlerSet
from wxserver.protocol.messages import EventMessage, Message, TextMessage
from wxserver.protocol.replies import NO_REPLY, NoReply
from wxserver.services.component import ComponentServices
from wxserver.services.context import current_context

log = logging.getLogger("wxserver.component")

TEST_APP_ID = "wx570bc396a51b8ff8"
TEST_USER_NAME = "gh_3c884a361561"
TEST_TEXT = "TESTCOMPONENT_MSG_TYPE_TEXT"

handlers = HandlerSet("release-check")


def is_test_account(message: Message) -> bool:
    """Whether ``message`` came from the Open Platform's release-check test account."""
    return message.authorizer_app_id == TEST_APP_ID or message.to_user_name == TEST_USER_NAME


@handlers.event
def answer_event(message: EventMessage) -> str | None:
    """Any event of the test account: ``<Event>from_callback``."""
    return f"{message.event}from_callback" if is_test_account(message) else None


@handlers.text(TEST_TEXT)
def answer_text(message: TextMessage) -> str | None:
    """The test text: ``TESTCOMPONENT_MSG_TYPE_TEXT_callback``."""
    return f"{TEST_TEXT}_callback" if is_test_account(message) else None


@handlers.text(r"^QUERY_AUTH_CODE:(?P<code>.+)$")
def answer_query_auth_code(message: TextMessage, code: str) -> NoReply | None:
    """``QUERY_AUTH_CODE:<code>``: answer empty now, send ``<code>_from_api`` right after."""
    if not is_test_account(message):
        return None
    component = current_context().component
    if component is None:
        log.warning("QUERY_AUTH_CODE reached an account that is not a component's; ignored")
        return None
    component.background.submit(reply_from_api, component, code, message.from_user_name)
    return NO_REPLY


def reply_from_api(component: ComponentServices, code: str, openid: str) -> None:
    """Exchange ``code`` and send ``<code>_from_api`` with the token it gives."""
    authorization = component.authorize(code)
    api = component.client(authorization.app_id)
    body = {"touser": openid, "msgtype": "text", "text": {"content": f"{code}_from_api"}}
    # Sent with the very token api_query_auth returned, as the check requires.
    api.call(
        "POST",
        "/cgi-bin/message/custom/send",
        params={"access_token": authorization.grant.value},
        body=body,
        token=False,
        idempotent=False,
    )
    log.info("release check: sent %s_from_api with the token of authorizer %s", code, api.app_id)
