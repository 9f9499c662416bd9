"""``wxserver doctor``'s checks of an Open Platform component: the alarms the console raises.

The Open Platform console alarms on a component_verify_ticket push that timed out or failed and
on a push to the message URL that timed out or failed; from this side those show as a ticket
older than 20 minutes, refused pushes, and failed authorizer messages. Each check reads what the
server's processes keep in the store (see :mod:`wxserver.services.component.alarms`), so doctor
sees what every worker and machine saw.
"""

from __future__ import annotations

import time

from wxserver.protocol.api_errors import ApiError, ApiUnavailableError
from wxserver.services.api.client import DEFAULT_BASE_URLS
from wxserver.services.component.alarms import MESSAGE_FAILURE, REFUSED_PUSH, TICKET_STALE
from wxserver.services.component.platform import ComponentServices
from wxserver.services.config import Settings
from wxserver.services.doctor import Checklist, when
from wxserver.services.store import Store
from wxserver.services.tokens import TokenUnavailableError

URL_FIX = (
    "fix: in the Open Platform console (第三方平台 > 开发资料), the authorization-event URL "
    "(授权事件接收URL) must be https://your.domain{path}, with this component's Token and "
    "EncodingAESKey (WX_COMPONENT_TOKEN, WX_COMPONENT_ENCODING_AES_KEY)."
)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"


def check_component(settings: Settings, store: Store, checks: Checklist, *, retry: bool) -> None:
    """The component's ticket, refused pushes, failed messages, token and authorizers."""
    component = settings.component
    if component is None:
        return
    checks.section(
        f"component {component.app_id} (events {component.path}, messages {component.message_path})"
    )
    services = ComponentServices(
        component, store, base_urls=settings.api_base_url or DEFAULT_BASE_URLS
    )
    try:
        _check_ticket(services, checks, component.path)
        _check_alarms(services, checks, component.path)
        _check_token(services, checks, retry=retry)
        count = len(services.authorizers.app_ids())
        checks.note(f"{count} authorizer{'s' if count != 1 else ''} in the store")
    finally:
        services.api.close()


def _check_ticket(services: ComponentServices, checks: Checklist, path: str) -> None:
    ticket = services.tickets.read()
    if ticket is None:
        checks.fail(
            "no component_verify_ticket held: the component cannot fetch its token",
            "WeChat pushes one every 10 minutes; none has arrived in the last 12 hours.",
            URL_FIX.format(path=path),
        )
        return
    age = time.time() - ticket.received_at
    if age > TICKET_STALE:
        checks.fail(
            f"last component_verify_ticket push {_minutes(age)} ago ({when(ticket.received_at)})",
            "WeChat pushes one every 10 minutes: the console raises 推送component_verify_ticket"
            "超时/失败 when pushes fail.",
            URL_FIX.format(path=path),
        )
        return
    checks.ok(f"component_verify_ticket pushed {_minutes(age)} ago")


def _check_alarms(services: ComponentServices, checks: Checklist, path: str) -> None:
    refused = services.alarms.tally(REFUSED_PUSH)
    if refused is None:
        checks.ok("no push to the authorization-event URL refused in the last day")
    else:
        checks.fail(
            f"{refused.count} push(es) to the authorization-event URL refused in the last day",
            f"the last at {when(refused.last_at)}: {refused.last_reason}",
            URL_FIX.format(path=path),
        )
    failed = services.alarms.tally(MESSAGE_FAILURE)
    if failed is None:
        checks.ok("no authorizer message refused or failed in the last day")
    else:
        checks.fail(
            f"{failed.count} authorizer message(s) refused or failed in the last day "
            "(推送第三方平台消息失败)",
            f"the last at {when(failed.last_at)}: {failed.last_reason}",
            "fix: refused ones: the message URL (消息与事件接收URL) must hold $APPID$ and use this "
            "component's Token and key; failed ones: see the handler errors in the server log.",
        )


def _check_token(services: ComponentServices, checks: Checklist, *, retry: bool) -> None:
    owner = services.owner
    if retry:
        owner.clear_failure()
    try:
        owner.current()
    except ApiError as exc:
        checks.fail(
            f"component_access_token: WeChat answered errcode {exc.errcode}",
            f"{exc.meaning} (errmsg: {exc.errmsg})",
            f"fix: {exc.action or 'check the AppSecret (WX_COMPONENT_APPSECRET).'}",
        )
    except (ApiUnavailableError, TokenUnavailableError) as exc:
        checks.fail(
            "component_access_token: no answer from the WeChat API",
            str(exc),
            "fix: allow outbound HTTPS to api.weixin.qq.com (firewall, proxy, DNS here).",
        )
    else:
        record = owner.record()
        left = (record.expires_at - time.time()) / 60 if record else 0.0
        checks.ok(f"component_access_token available (expires in {left:.0f} min)")
