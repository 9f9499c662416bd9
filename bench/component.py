"""An Open Platform component at scale: store bytes, refreshes per minute, cost of a message.

``python -m bench.component`` prints three figures:

1. Store bytes per authorizer: 10,000 authorizers written to a fresh LMDB store as the server
   writes them (the authorizer record with its refresh token, its token record, its share of the
   64 bucket lists), as payload (keys and values) and as LMDB pages in use.
2. Token refreshes per minute at 10,000 authorizers, from the refresh schedule itself
   (``spread_refresh_time``): every token fetched at the same moment (the worst case), then
   refreshed at each authorizer's phase for 24 hours. The two-process run against the fake API is
   ``tests/services/component/test_refresher_processes.py`` (``pytest -s`` prints its figures).
3. With ``--callgrind``: instructions for one authorizer message through the whole app
   in-process (``/wechat/component/<AppID>``, the echo handler after the release-check set),
   beside one message of an account in secure and in plaintext mode, under ``bench.callgrind``.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import shutil
from dataclasses import replace
from pathlib import Path

import lmdb

from bench import records
from bench.callgrind import measure
from bench.catalog import TARGETS, WORK
from bench.corpus import MSG_ID_BASE, content_of
from bench.records import Record
from bench.targets import credentials
from wxserver.services.api.client import Grant
from wxserver.services.component import ComponentServices
from wxserver.services.component.tokens import spread_refresh_time
from wxserver.services.config import Component, load_settings
from wxserver.services.store import open_store
from wxserver.testing import build_message, sign_request

AUTHORIZERS = 10_000
LIFETIME = 7200
COMPONENT_APP_ID = "wx0000000benchcomponent"
COMPONENT_TOKEN = "wxservercomponent"  # noqa: S105  # a public test value
COMPONENT_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
AUTHORIZER = "wx1234567890abcdef"
AUTHORIZER_USER = "gh_2b2c3d4e5f60"
# The lengths WeChat's own credentials have.
REFRESH_TOKEN = "refreshtoken@@@" + "r" * 43
ACCESS_TOKEN = "a" * 136


def component() -> Component:
    """The benchmark's component, as wxserver reads it."""
    table = {
        "app_id": COMPONENT_APP_ID,
        "app_secret": "benchsecret",
        "token": COMPONENT_TOKEN,
        "encoding_aes_key": COMPONENT_KEY,
    }
    found = load_settings({"WX_ENV": "bench"}, {"component": table}).component
    assert found is not None
    return found


def _write_authorizers(folder: Path) -> None:
    store = open_store(f"lmdb:///{folder / 'store.lmdb'}")
    services = ComponentServices(component(), store, base_urls="http://127.0.0.1:9")
    for n in range(AUTHORIZERS):
        app_id = f"wx{n:016x}"
        services.authorizers.add(app_id, REFRESH_TOKEN)
        services.token_owner(app_id).adopt(Grant(ACCESS_TOKEN, LIFETIME))


def _keep_ticket(store_url: str) -> None:
    services = ComponentServices(component(), open_store(store_url), base_urls="http://127.0.0.1:9")
    services.tickets.keep("ticket@@@bench")


def store_bytes(folder: Path) -> tuple[float, float]:
    """Payload bytes and LMDB bytes in use per authorizer, for AUTHORIZERS authorizers."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # Written by a child process: the store keeps its environment open for the process's life.
    writer = multiprocessing.get_context("fork").Process(target=_write_authorizers, args=(folder,))
    writer.start()
    writer.join()
    env = lmdb.open(str(folder / "store.lmdb"), readonly=True, lock=False, subdir=True)
    payload = 0
    with env.begin() as txn:
        for key, value in txn.cursor():
            if key.startswith(f"component:{COMPONENT_APP_ID}:".encode()):
                payload += len(key) + len(value)
    stat = env.stat()
    pages = stat["branch_pages"] + stat["leaf_pages"] + stat["overflow_pages"]
    env.close()
    return payload / AUTHORIZERS, pages * stat["psize"] / AUTHORIZERS


def refreshes_per_minute(hours: int = 24) -> tuple[int, float, int, float]:
    """(busiest minute, mean per minute) in the first 2 hours, then over ``hours``."""
    start = 1_700_000_000.0
    first: collections.Counter[int] = collections.Counter()
    every: collections.Counter[int] = collections.Counter()
    for n in range(AUTHORIZERS):
        app_id = f"wx{n:016x}"
        fetched = start
        while True:
            due = spread_refresh_time(app_id, fetched, LIFETIME)
            if due >= start + hours * 3600:
                break
            minute = int((due - start) // 60)
            every[minute] += 1
            if due < start + 2 * 3600:
                first[minute] += 1
            fetched = due
    return (
        max(first.values()),
        sum(first.values()) / 120,
        max(every.values()),
        sum(every.values()) / (hours * 60),
    )


def authorizer_corpus(path: Path, count: int) -> Path:
    """``count`` authorizer messages signed and sealed as the Open Platform sends them."""
    settings = component()
    prefix = settings.message_path.replace("$APPID$", AUTHORIZER)
    made = []
    for index in range(count):
        text = content_of(index)
        body = build_message(
            "text",
            to_user=AUTHORIZER_USER,
            from_user=credentials.FROM_USER,
            Content=text,
            MsgId=MSG_ID_BASE + index,
        )
        signed = sign_request(settings, body, "secure")
        made.append(Record(f"{prefix}?{signed.query_string}", signed.body, text))
    path.parent.mkdir(parents=True, exist_ok=True)
    records.write(path, made)
    return path


def callgrind(warmup: int, count: int) -> list[tuple[str, float]]:
    """Instructions per request: an authorizer message, and an account's (secure, plain)."""
    from bench import corpus  # noqa: PLC0415 - signs in parallel processes

    wxserver = TARGETS["wxserver"]
    # A store that holds a ticket, as a running component's does: with none, the app would ask
    # WeChat for one on a thread at start-up, whose work (an HTTP client, its TLS context) would
    # land in the measured requests.
    seeded = WORK / "state" / "component-seeded"
    shutil.rmtree(seeded, ignore_errors=True)
    seeded.mkdir(parents=True)
    store_url = f"lmdb:///{seeded / 'store.lmdb'}"
    seeder = multiprocessing.get_context("fork").Process(target=_keep_ticket, args=(store_url,))
    seeder.start()
    seeder.join()
    target = replace(
        wxserver,
        name="wxserver-component",
        env={
            **wxserver.env,
            "WX_COMPONENT_APPID": COMPONENT_APP_ID,
            "WX_COMPONENT_APPSECRET": "benchsecret",
            "WX_COMPONENT_TOKEN": COMPONENT_TOKEN,
            "WX_COMPONENT_ENCODING_AES_KEY": COMPONENT_KEY,
            "WX_COMPONENT_PLUGINS": "bench.targets.echo:handlers",
            "WX_STORE_URL": store_url,
            # Nothing listens here: the start-up's request for a ticket fails at once.
            "WX_API_BASE_URL": "http://127.0.0.1:9",
        },
    )
    needed = warmup + count
    rows = [
        (
            "authorizer message (secure, component)",
            measure(
                target,
                "secure",
                authorizer_corpus(WORK / "callgrind-component.rec", needed),
                warmup=warmup,
                count=count,
            ).per_request,
        )
    ]
    for mode in ("secure", "plain"):
        requests = corpus.generate(WORK / f"callgrind-{mode}.rec", mode, needed)
        result = measure(wxserver, mode, requests, warmup=warmup, count=count)
        rows.append((f"account message ({mode})", result.per_request))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callgrind", action="store_true", help="also count instructions")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args(argv)
    payload, pages = store_bytes(WORK / "state" / "component-store")
    print(
        f"store per authorizer ({AUTHORIZERS}): {payload:.0f} B payload, "
        f"{pages:.0f} B of LMDB pages"
    )
    first_max, first_mean, max_all, mean_all = refreshes_per_minute()
    print(
        f"refreshes per minute at {AUTHORIZERS} authorizers, all fetched at once: first 2 h "
        f"busiest {first_max} ({first_max / AUTHORIZERS:.2%}), mean {first_mean:.0f}; over 24 h "
        f"busiest {max_all} ({max_all / AUTHORIZERS:.2%}), mean {mean_all:.0f}"
    )
    if args.callgrind:
        os.environ.setdefault("PYTHONHASHSEED", "0")
        for label, per_request in callgrind(args.warmup, args.count):
            print(f"{label:40} {per_request / 1e6:.3f} M instructions per request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
