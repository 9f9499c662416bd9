"""The plugin examples people copy do what they read as: the README's, and the design's.

Each example is written to a file as it stands, loaded as a plugin and played against an app.
"""

from __future__ import annotations

import importlib
import re
import sys
import textwrap
from pathlib import Path

import pytest
from flask import Flask

from tests.pay_support import Merchant
from tests.support import HERMETIC_ENV, AppFactory, config_with
from wxserver import create_app
from wxserver.testing import WeChatTestClient

README = Path(__file__).parents[2] / "README.md"

# The example of the architecture notes (DESIGN.md, "What a plugin author writes"), verbatim.
DESIGN_EXAMPLE = textwrap.dedent(
    """
    from wxserver import HandlerSet, TextMessage, EventMessage

    handlers = HandlerSet("weather")

    @handlers.text(r"^weather (?P<city>\\w+)$")
    def forecast(message: TextMessage, city: str) -> str:
        return f"{city}: sunny"                    # a str becomes a text reply

    @handlers.event("CLICK", key="MENU_WEATHER")
    def menu(message: EventMessage) -> str:
        return "Send 'weather <city>'."
    """
)


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def _readme_section(title: str) -> str:
    text = README.read_text("utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def _plugin_app(
    make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, code: str
) -> Flask:
    top = module.split(".", maxsplit=1)[0]
    package = tmp_path / top
    package.mkdir()
    (package / "__init__.py").write_text("")
    (tmp_path / (module.replace(".", "/") + ".py")).write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [
        name for name in sys.modules if name.split(".")[0] == module.split(".", maxsplit=1)[0]
    ]:
        monkeypatch.delitem(sys.modules, name)
    return make_app(config_with(mode="secure") | {"plugins": [f"{module}:handlers"]})


def test_plugin_example_of_the_design_notes_works_as_written(
    make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _plugin_app(make_app, tmp_path, monkeypatch, "weatherplugin.handlers", DESIGN_EXAMPLE)
    wechat = WeChatTestClient(app)
    assert wechat.send_text("weather Paris").content == "Paris: sunny"
    assert wechat.send_event("CLICK", "MENU_WEATHER").content == "Send 'weather <city>'."
    assert wechat.send_text("weather").is_success  # no rule matches: success


def test_plugin_example_of_the_readme_works_as_written(
    make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = _python_blocks(_readme_section("Writing a handler plugin"))[0]
    app = _plugin_app(make_app, tmp_path, monkeypatch, "myapp.handlers", plugin)
    wechat = WeChatTestClient(app)
    assert wechat.send_text("help").content == "Send 'weather <city>'."
    assert wechat.send_text("weather Beijing").content == "Beijing: sunny"
    assert wechat.send_event("subscribe", "qrscene_promo").content == "Welcome, promo visitor!"
    assert wechat.send_event("SCAN", "promo").content == "Welcome, promo visitor!"
    item = wechat.send_event("click", "ITEM_7")
    assert (item.msg_type, item.fields["Image"]["MediaId"]) == ("image", "media-of-item-7")
    image = wechat.send("image", PicUrl="http://example.com/p.jpg", MediaId="m")
    assert image.content == "got your image, account default"
    assert [wechat.send_text("next").content for _ in range(2)] == ["step 1", "step 2"]
    assert wechat.send_text("anything else").is_success


def test_plugin_example_test_of_the_readme_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = _readme_section("Writing a handler plugin")
    plugin, test = _python_blocks(section)[:2]
    (tmp_path / "myapp").mkdir()
    (tmp_path / "myapp" / "__init__.py").write_text("")
    (tmp_path / "myapp" / "handlers.py").write_text(plugin)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [name for name in sys.modules if name.split(".", maxsplit=1)[0] == "myapp"]:
        monkeypatch.delitem(sys.modules, name)
    namespace: dict[str, object] = {}
    exec(compile(test, "README test", "exec"), namespace)  # noqa: S102 - the README's own code
    test_weather = namespace["test_weather"]
    assert callable(test_weather)
    test_weather()


ORDER_STORE = '''
"""An order store for the README's pay handler: one order of 1999 fen."""
from types import SimpleNamespace

paid = []


class _Order(SimpleNamespace):
    def mark_paid(self, transaction_id, success_time):
        paid.append((self.number, transaction_id, success_time))


class _Orders:
    def get(self, number):
        return _Order(number=number, total_fen=1999)


orders = _Orders()
'''


def test_plugin_example_of_the_pay_section_works_as_written(
    merchant: Merchant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = _python_blocks(_readme_section("WeChat Pay notifications"))[0]
    for package, code in (("myshop", ORDER_STORE), ("shop", "")):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(code)
    (tmp_path / "shop" / "handlers.py").write_text(plugin)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [name for name in sys.modules if name.split(".")[0] in ("myshop", "shop")]:
        monkeypatch.delitem(sys.modules, name)
    app = create_app(merchant.config(plugins=["shop.handlers:handlers"]), environ=HERMETIC_ENV)
    client = app.test_client()
    body, headers = merchant.notification(out_trade_no="order-1", total=1999)
    assert client.post("/wechat/pay/notify", data=body, headers=headers).status_code == 200
    (number, transaction_id, success_time), *_ = importlib.import_module("myshop").paid
    assert (number, transaction_id[:4]) == ("order-1", "4200")
    assert success_time.tzinfo is not None
    body, headers = merchant.notification(out_trade_no="order-2", total=1)
    refused = client.post("/wechat/pay/notify", data=body, headers=headers)
    assert refused.status_code == 500
    answer = refused.get_json()
    assert answer["code"] == "FAIL"
    assert "ValueError" in answer["message"]
