"""The WeChat Pay notify URL: HTTP in, one pipeline call, HTTP out, one log line.

WeChat Pay POSTs each notification as JSON with its ``Wechatpay-*`` headers to the merchant's
``notify_url``; :class:`~wxserver.services.pay.pipeline.PayPipeline` answers it. Refusals carry
WeChat Pay's failure JSON, ``{"code": "FAIL", "message": ...}``, with the status the error class
names; a bug of ours is logged by :func:`wxserver.web.errors.problem` and answered 500 the same way.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from wxserver.protocol.errors import BodyTooLargeError, ProtocolError
from wxserver.protocol.pay.notify import fail_body
from wxserver.services.pay.pipeline import JSON, PayPipeline, PayResult, log_safe
from wxserver.web.errors import problem

__all__ = ["blueprint"]


def blueprint(pipeline: PayPipeline, path: str, max_body: int) -> Blueprint:
    """The blueprint of the notify URL at ``path``, POST only."""
    pay = Blueprint("pay", __name__)

    def notify() -> Response:
        started = time.perf_counter()
        try:
            try:
                body = request.get_data(cache=False)
            except RequestEntityTooLarge:
                raise BodyTooLargeError(
                    f"the body is larger than {max_body} bytes (WX_MAX_BODY_SIZE)"
                ) from None
            result = pipeline.answer(request.headers.get, body)
        except ProtocolError as exc:
            result = pipeline.refused(exc, log_safe(request.headers.get("Wechatpay-Serial")))
        except Exception as exc:  # a bug of ours: logged by problem(), still one line
            found = problem(exc)
            result = PayResult(found.status, fail_body(found.sentence), "internal-error")
        pipeline.record(result, time.perf_counter() - started)
        response = Response(result.body, status=result.status)
        if result.body:
            response.content_type = JSON
        return response

    pay.add_url_rule(path, endpoint="notify", view_func=notify, methods=["POST"])
    return pay
