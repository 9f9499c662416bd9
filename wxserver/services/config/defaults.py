"""The embedded defaults (the first configuration layer) and the environment variables users set.

The ``WX_*`` names are the MP console's own terms and configure the account called ``default``.
"""

from __future__ import annotations

from typing import Any

DEFAULT_ACCOUNT = "default"

DEFAULTS: dict[str, Any] = {
    "env": "production",
    "bind": "127.0.0.1:8000",
    "max_body_size": 64 * 1024,
    "timestamp_tolerance": 300,
    # Seconds a passive reply may take; WeChat gives up at 5 s, so leave room for the network.
    "reply_budget": 4.5,
    # How long WeChat waits for an answer before it sends the message again (tests shorten it).
    "wechat_timeout": 5.0,
    # How long the copies of a message are recognised as one (WeChat retries within ~10 s).
    "dedup_ttl": 300,
    "plugins": [],
    "load_entry_points": True,
    "log_format": "text",
    # Shared by every gunicorn worker on this machine; redis://... for several machines.
    "store_url": "lmdb:///instance/wxserver.lmdb",
    # Where a shared (Redis) store's operations go while it cannot be reached: this machine's.
    "store_fallback_url": "lmdb:///instance/wxserver-fallback.lmdb",
    # Empty: api.weixin.qq.com, then its disaster-recovery and regional domains.
    "api_base_url": "",
    # Bearer secret of the internal token endpoints for business servers; empty turns them off.
    "internal_secret": "",
    # Refuse callers outside WeChat's callback IP list (getcallbackip, fetched daily). Off: the
    # signature check is what authenticates a callback; this is defence in depth on top of it.
    "callback_ip_allowlist": False,
    # Peers whose X-Forwarded-For is believed: nginx on this machine. gunicorn reads it too.
    "trusted_proxies": ["127.0.0.1", "::1"],
    # Folders searched for plugin modules before the installed packages (like PYTHONPATH).
    "plugin_path": [],
    # The job worker runs on another host or container, so a local store cannot be its queue.
    # On by default where DYNO is set (Heroku, Dokku: a container per Procfile process).
    "worker_elsewhere": False,
    "accounts": {DEFAULT_ACCOUNT: {"path": "/wechat"}},
    # The WeChat Pay merchant whose notifications this server receives; off without mch_id.
    "pay": {},
    # An Open Platform component (第三方平台); none unless its AppID and secrets are set.
    "component": {},
}

# Environment variable -> path in the settings tree, and how to read its text.
ENVIRONMENT: dict[str, tuple[tuple[str, ...], str]] = {
    "WX_ENV": (("env",), "str"),
    "WX_BIND": (("bind",), "str"),
    "WX_MAX_BODY_SIZE": (("max_body_size",), "int"),
    "WX_TIMESTAMP_TOLERANCE": (("timestamp_tolerance",), "int"),
    "WX_REPLY_BUDGET": (("reply_budget",), "float"),
    "WX_WECHAT_TIMEOUT": (("wechat_timeout",), "float"),
    "WX_DEDUP_TTL": (("dedup_ttl",), "int"),
    "WX_CONTINUATION": (("accounts", DEFAULT_ACCOUNT, "continuation"), "str"),
    "WX_PLACEHOLDER": (("accounts", DEFAULT_ACCOUNT, "placeholder"), "str"),
    "WX_PLUGINS": (("plugins",), "list"),
    "WX_LOAD_ENTRY_POINTS": (("load_entry_points",), "bool"),
    "WX_LOG_FORMAT": (("log_format",), "str"),
    "WX_STORE_URL": (("store_url",), "str"),
    "WX_STORE_FALLBACK_URL": (("store_fallback_url",), "str"),
    "WX_API_BASE_URL": (("api_base_url",), "str"),
    "WX_INTERNAL_SECRET": (("internal_secret",), "str"),
    "WX_CALLBACK_IP_ALLOWLIST": (("callback_ip_allowlist",), "bool"),
    "WX_TRUSTED_PROXIES": (("trusted_proxies",), "list"),
    "WX_TOKEN_MODE": (("accounts", DEFAULT_ACCOUNT, "token_mode"), "str"),
    "WX_JSSDK_DOMAINS": (("accounts", DEFAULT_ACCOUNT, "jssdk_domains"), "list"),
    "WX_CORS_ORIGINS": (("accounts", DEFAULT_ACCOUNT, "cors_origins"), "list"),
    "WX_OAUTH_NEXT": (("accounts", DEFAULT_ACCOUNT, "oauth_next"), "str"),
    "WX_MENU_FILE": (("accounts", DEFAULT_ACCOUNT, "menu_file"), "str"),
    "WX_PATH": (("accounts", DEFAULT_ACCOUNT, "path"), "str"),
    "WX_TOKEN": (("accounts", DEFAULT_ACCOUNT, "token"), "str"),
    "WX_APPID": (("accounts", DEFAULT_ACCOUNT, "app_id"), "str"),
    "WX_APPSECRET": (("accounts", DEFAULT_ACCOUNT, "app_secret"), "str"),
    "WX_ENCODING_AES_KEY": (("accounts", DEFAULT_ACCOUNT, "encoding_aes_key"), "str"),
    "WX_PREVIOUS_ENCODING_AES_KEY": (
        ("accounts", DEFAULT_ACCOUNT, "previous_encoding_aes_key"),
        "str",
    ),
    "WX_MODE": (("accounts", DEFAULT_ACCOUNT, "mode"), "str"),
    "WX_KIND": (("accounts", DEFAULT_ACCOUNT, "kind"), "str"),
    # WeChat Pay (商户平台): the merchant, its APIv3 key and the keys that verify WeChat Pay.
    "WX_PAY_MCH_ID": (("pay", "mch_id"), "str"),
    "WX_PAY_APIV3_KEY": (("pay", "apiv3_key"), "str"),
    "WX_PAY_PUBLIC_KEY_ID": (("pay", "public_key_id"), "str"),
    "WX_PAY_PUBLIC_KEY_FILE": (("pay", "public_key_file"), "str"),
    "WX_PAY_PLATFORM_CERT_FILES": (("pay", "platform_cert_files"), "list"),
    "WX_PAY_PRIVATE_KEY_FILE": (("pay", "private_key_file"), "str"),
    "WX_PAY_CERT_SERIAL": (("pay", "cert_serial"), "str"),
    "WX_PAY_PATH": (("pay", "path"), "str"),
    "WX_PAY_API_BASE_URL": (("pay", "api_base_url"), "str"),
    "WX_PLUGIN_PATH": (("plugin_path",), "paths"),
    "WX_WORKER_ELSEWHERE": (("worker_elsewhere",), "bool"),
    "WX_FORMAT": (("accounts", DEFAULT_ACCOUNT, "format"), "str"),
    "WX_COMPONENT_APPID": (("component", "app_id"), "str"),
    "WX_COMPONENT_APPSECRET": (("component", "app_secret"), "str"),
    "WX_COMPONENT_TOKEN": (("component", "token"), "str"),
    "WX_COMPONENT_ENCODING_AES_KEY": (("component", "encoding_aes_key"), "str"),
    "WX_COMPONENT_PREVIOUS_ENCODING_AES_KEY": (("component", "previous_encoding_aes_key"), "str"),
    "WX_COMPONENT_PATH": (("component", "path"), "str"),
    "WX_COMPONENT_MESSAGE_PATH": (("component", "message_path"), "str"),
    "WX_COMPONENT_FORMAT": (("component", "format"), "str"),
    "WX_COMPONENT_PLUGINS": (("component", "plugins"), "list"),
    "WX_COMPONENT_RELEASE_CHECK": (("component", "release_check"), "bool"),
}
