"""What a web page in the user's browser can do to the server, over real sockets: DNS
rebinding (Host), cross-origin requests (Origin, also the simple ones that skip the CORS
preflight), Sec-Fetch-Site, `no-cors` loads of the UI's files; in every mode, first run
included. Plus the auth edge cases a browser or a scanner can send."""

from __future__ import annotations

import hmac
import json
from typing import Any

import pytest
from multidict import CIMultiDict

from ccr_aio import browser_guard, client_keys
from ccr_aio.config.hosts import host_name, is_loopback_address, is_loopback_name
from ccr_aio.config_mask import mask_value
from tests.admin_helpers import config_path
from tests.conftest import base_config, provider_config
from tests.raw_http import raw_request

KEY = "admin-key-0123456789"
PROVIDER_KEY = "sk-fake-provider"
MODES = ["no-key", "first-run", "key"]
EVIL = "http://evil.example"


def mode_config(fake: Any, mode: str, **extra: Any) -> dict[str, Any]:
    if mode == "first-run":
        return {"Providers": [], "Router": {}, **extra}
    return base_config(fake, **({"APIKEY": KEY} if mode == "key" else {}), **extra)


def key_headers(mode: str) -> list[tuple[str, str]]:
    return [("x-api-key", KEY)] if mode == "key" else []


def is_error(response: Any, status: int, error_type: str | None = None) -> bool:
    body = response.json()
    return (response.status == status and body["type"] == "error"
            and (error_type is None or body["error"]["type"] == error_type))


# ---------------------------------------------------------------- Host: DNS rebinding


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("target", ["/api/config", "/api/logs/files", "/api/logs", "/v1/models", "/ui/",
                                    "/static/app.js"])
async def test_a_rebinding_page_is_refused_whatever_it_asks(make_client, fake, mode, target):
    client = await make_client(mode_config(fake, mode))
    for host in (f"evil.com:{client.port}", "evil.com", "localhost.evil.com", "127.0.0.1.nip.io"):
        response = await raw_request(client.port, target, key_headers(mode), host=host)
        assert is_error(response, 403, "permission_error"), (host, response.status)
        assert "does not name this server" in response.json()["error"]["message"]
        assert PROVIDER_KEY.encode() not in response.body


async def test_a_rebinding_page_cannot_post_messages_either(make_client, fake):
    client = await make_client(base_config(fake))
    body = json.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}).encode()
    response = await raw_request(client.port, "/v1/messages", [("Content-Type", "application/json")],
                                 method="POST", body=body, host=f"evil.com:{client.port}")
    assert is_error(response, 403)
    assert fake.requests == []  # nothing reached the provider


@pytest.mark.parametrize("host", [
    "127.0.0.1", "127.0.0.1:{port}", "127.0.0.1:1", "localhost", "LOCALHOST:{port}", "localhost.:{port}",
    "app.localhost:{port}", "[::1]", "[::1]:{port}", "127.0.0.2:{port}", "192.168.1.7:{port}",
    "[::ffff:127.0.0.1]:{port}",
])
async def test_loopback_names_and_addresses_pass_at_any_port(make_client, fake, host):
    client = await make_client(base_config(fake))
    response = await raw_request(client.port, "/api/config", host=host.format(port=client.port))
    assert response.status == 200 and response.json()["Providers"][0]["api_key"] == mask_value(PROVIDER_KEY)


async def test_the_configured_host_and_allowed_hosts_pass(make_client, fake):
    client = await make_client(base_config(fake, APIKEY=KEY, HOST="box.lan", ALLOWED_HOSTS=["ccr.example.com"]))
    for host in ("box.lan:3456", "ccr.example.com", "CCR.example.com:443"):
        response = await raw_request(client.port, "/api/config", key_headers("key"), host=host)
        assert response.status == 200, host
    response = await raw_request(client.port, "/api/config", key_headers("key"), host="other.example.com")
    assert response.status == 403


@pytest.mark.parametrize("host", ["", "local host", "[::1", "localhost:abc", "localhost:1:2", "evil.com@127.0.0.1",
                                  "127.0.0.1/x", "\xff.com"])
async def test_malformed_hosts_are_refused(make_client, fake, host):
    client = await make_client(base_config(fake))
    response = await raw_request(client.port, "/api/config", host=host)
    assert response.status in (400, 403) and PROVIDER_KEY.encode() not in response.body


async def test_a_second_host_header_is_refused(make_client, fake):
    client = await make_client(base_config(fake))
    response = await raw_request(client.port, "/api/config", [("Host", "evil.com")])
    assert response.status in (400, 403) and PROVIDER_KEY.encode() not in response.body


async def test_no_host_header_at_all_is_an_old_client_never_a_browser(make_client, fake):
    client = await make_client(base_config(fake))
    assert (await raw_request(client.port, "/api/config", host=None, version="1.0")).status == 200
    assert (await raw_request(client.port, "/api/config", host=None)).status == 400  # HTTP/1.1 must have one


def test_host_parsing():
    assert host_name("LocalHost.:80") == "localhost" and host_name("[::1]:3456") == "::1"
    assert host_name("evil.com:99999") is None and host_name("a b") is None and host_name("[::1]x") is None
    assert is_loopback_name("x.localhost") and is_loopback_name("127.8.9.10") and is_loopback_name("::1")
    assert not is_loopback_name("localhost.evil.com") and not is_loopback_name("10.0.0.1")
    assert is_loopback_address("::ffff:127.0.0.1") and not is_loopback_address("192.168.1.7")
    assert not is_loopback_address(None)


# ---------------------------------------------------------------- Origin, Sec-Fetch-Site


@pytest.mark.parametrize("mode", MODES)
async def test_first_run_takeover_and_other_cross_origin_saves_are_refused(make_client, fake, mode, tmp_path):
    client = await make_client(mode_config(fake, mode))
    path = config_path(client)
    before = path.read_text()
    takeover = json.dumps(base_config(fake, Router={"default": "fake,fake-model"}, Marker="evil")).encode()
    attempts = [
        [("Origin", EVIL), ("Content-Type", "text/plain")],  # the simple request: no preflight
        [("Origin", EVIL), ("Content-Type", "application/json")],
        [("Origin", "null"), ("Content-Type", "application/json")],  # sandboxed frame, file:
        [("Origin", f"http://localhost:{client.port + 1}"), ("Content-Type", "application/json")],  # another local app
        [("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "no-cors"), ("Content-Type", "text/plain")],
        [("Sec-Fetch-Site", "same-site"), ("Sec-Fetch-Mode", "cors"), ("Content-Type", "application/json")],
        [("Content-Type", "text/plain")],  # a browser that sent neither header: the type alone refuses it
        [("Content-Type", "application/x-www-form-urlencoded")],
        [("Content-Type", "multipart/form-data; boundary=x")],
    ]
    for headers in attempts:
        response = await raw_request(client.port, "/api/config", headers + key_headers(mode), method="POST",
                                     body=takeover)
        assert response.status in (403, 415) and response.json()["type"] == "error", (headers, response.status)
    assert path.read_text() == before  # nothing was saved
    for method, target in (("POST", "/api/restart"), ("POST", "/api/reload"), ("DELETE", "/api/logs")):
        response = await raw_request(client.port, target, [("Origin", EVIL), ("Content-Type", "text/plain")]
                                     + key_headers(mode), method=method)
        assert is_error(response, 403), target


@pytest.mark.parametrize("mode", MODES)
async def test_cors_preflight_from_another_origin_is_refused(make_client, fake, mode):
    client = await make_client(mode_config(fake, mode))
    for target in ("/api/config", "/v1/messages"):
        response = await raw_request(client.port, target, [
            ("Origin", EVIL), ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type,x-api-key")], method="OPTIONS")
        assert is_error(response, 403)
        assert not any(name.startswith("access-control-") for name in response.headers)


async def test_the_servers_own_origin_passes(make_client, fake):
    client = await make_client(base_config(fake, ALLOWED_HOSTS=["ccr.example.com"]))
    port = client.port
    for host, origin in ((f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"), (f"localhost:{port}", f"http://localhost:{port}"),
                         ("ccr.example.com", "https://ccr.example.com"),  # a TLS proxy that keeps Host
                         (f"127.0.0.1:{port}", "https://ccr.example.com")):  # one that rewrites it
        response = await raw_request(port, "/api/config", [("Origin", origin), ("Sec-Fetch-Site", "same-origin")],
                                     host=host)
        assert response.status == 200, (host, origin)
    response = await raw_request(port, "/api/config", [("Origin", f"http://localhost:{port}")], host=f"127.0.0.1:{port}")
    assert response.status == 403  # localhost and 127.0.0.1 are different origins


@pytest.mark.parametrize("mode", MODES)
async def test_other_sites_get_nothing_but_a_top_level_navigation_to_the_ui(make_client, fake, mode):
    client = await make_client(mode_config(fake, mode))
    for site in ("cross-site", "same-site"):
        for target, fetch_mode, allowed in (
            ("/ui/", "navigate", True),  # a link to the UI from elsewhere opens it
            ("/health", "navigate", True),
            ("/api/config", "navigate", False),
            ("/api/logs", "cors", False),
            ("/v1/models", "navigate", False),
            ("/static/app.js", "no-cors", False),  # <script src>: would tell the page ccr-aio runs here
            ("/static/favicon.svg", "no-cors", False),  # <img src>
            ("/ui/", "no-cors", False),  # <iframe>/<object> loads are not navigations of the top
            ("/", "cors", False),
        ):
            headers = [("Sec-Fetch-Site", site), ("Sec-Fetch-Mode", fetch_mode)] + key_headers(mode)
            response = await raw_request(client.port, target, headers)
            assert (response.status == 200) is allowed, (site, target, fetch_mode, response.status)
            if not allowed:
                assert is_error(response, 403)
    for site in ("same-origin", "none"):
        headers = [("Sec-Fetch-Site", site), ("Sec-Fetch-Mode", "cors")] + key_headers(mode)
        assert (await raw_request(client.port, "/api/config", headers)).status == 200


async def test_every_answer_tells_browsers_to_keep_it_same_origin(make_client, fake):
    client = await make_client(base_config(fake))
    for target in ("/health", "/api/config", "/static/app.js", "/ui/", "/nowhere"):
        response = await client.get(target)
        assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin", target
        assert response.headers["X-Content-Type-Options"] == "nosniff", target


def test_without_apikey_only_this_machine_is_answered():
    # A peer elsewhere cannot be made over 127.0.0.1, so the rule itself: (sockets: test_first_run.py)
    from ccr_aio.settings import build_settings
    from pathlib import Path

    settings = build_settings({"Providers": [provider_config(type("F", (), {"url": "http://127.0.0.1:1/x"})())]},
                              Path("/nowhere/config.json"), {})
    headers = CIMultiDict(Host="127.0.0.1:3456")
    assert browser_guard.refusal("GET", "/api/config", headers, "127.0.0.1", settings) is None
    assert "only answers requests from this machine" in browser_guard.refusal("GET", "/api/config", headers,
                                                                                "192.168.1.7", settings)
    first_run = build_settings({"Providers": []}, Path("/nowhere/config.json"), {})
    assert browser_guard.refusal("GET", "/api/config", headers, "192.168.1.7", first_run) is None  # set-up
    keyed = build_settings({"Providers": [], "APIKEY": KEY}, Path("/nowhere/config.json"), {})
    assert browser_guard.refusal("GET", "/api/config", headers, "192.168.1.7", keyed) is None


# ---------------------------------------------------------------- auth edge cases


@pytest.mark.parametrize("header", [("x-api-key", b"\xff\xfe\x80"), ("Authorization", b"Bearer \xff\xfe\x80"),
                                    ("x-api-key", "admin-key-01234567\u00e9".encode()), ("x-api-key", b"\xc3")])
async def test_a_key_that_is_not_utf8_is_a_401_not_a_500(make_client, fake, header):
    client = await make_client(base_config(fake, APIKEY=KEY))
    response = await raw_request(client.port, "/api/config", [header])
    assert is_error(response, 401, "authentication_error")
    assert response.json()["error"]["message"] == "Invalid API key"


async def test_a_non_ascii_apikey_still_works(make_client, fake):
    client = await make_client(base_config(fake, APIKEY="clé-secrète"))
    response = await raw_request(client.port, "/api/config", [("x-api-key", "clé-secrète".encode())])
    assert response.status == 200


@pytest.mark.in_process  # records the app's key comparisons
async def test_the_key_is_compared_in_constant_time(make_client, fake, monkeypatch):
    client = await make_client(base_config(fake, APIKEY=KEY))
    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(client_keys.hmac, "compare_digest", recording)
    assert (await client.get("/api/config", headers={"x-api-key": "wrong"})).status == 401
    assert (await client.get("/api/config", headers={"Authorization": f"Bearer {KEY}"})).status == 200
    assert compared == [(b"wrong", KEY.encode()), (KEY.encode(), KEY.encode())]


BYPASS_TARGETS = [
    "/API/config", "/Api/Config", "/api/config/", "/api//config", "//api/config", "/./api/config", "/api/./config",
    "/ui/../api/config", "/ui/%2e%2e/api/config", "/ui/%2E%2E/api/config", "/ui/..%2fapi/config",
    "/ui%2f..%2fapi%2fconfig", "/static/../api/config", "/static/..%2fapi/config", "/static/%2e%2e%2fapi%2fconfig",
    "/static/..%5capi%5cconfig", "/static/..\\api\\config", "/health/../api/config", "/health%2f..%2fapi/config",
    "/%2e/api/config", "/%61pi/config", "/api/%63onfig", "/api%2fconfig", "/%2fapi/config", "/api/config%00",
    "/api/config%20", "/api/config;", "/api;/config", "/api/config?x=/ui", "/api/config#/ui",
    "/ui/%252e%252e/api/config", "/ui/../../api/config", "/static/app.js/../../api/config",
    "/api/logs/../config", "http://127.0.0.1/api/config", "/ui/..;/api/config",
]


async def test_no_path_spelling_gets_past_the_key(make_client, fake):
    assert len(BYPASS_TARGETS) == 36
    client = await make_client(base_config(fake, APIKEY=KEY))
    for target in BYPASS_TARGETS:
        response = await raw_request(client.port, target)
        assert response.status in (400, 401, 403, 404), (target, response.status)
        assert PROVIDER_KEY.encode() not in response.body and b"Providers" not in response.body, target


def test_allowed_hosts_takes_names_only():
    from ccr_aio.config import parse_config

    parsed = parse_config({"ALLOWED_HOSTS": ["CCR.Example.com", "ccr.example.com.", "10.0.0.1", "[::1]"]})
    assert parsed.value is not None and parsed.value.allowed_hosts == ("ccr.example.com", "ccr.example.com")
    parsed = parse_config({"ALLOWED_HOSTS": ["*", "*.example.com", "http://x.com", "x.com:443", "x.com/", 3, ""]})
    assert parsed.value is None
    assert [p.path for p in parsed.problems] == [f"ALLOWED_HOSTS[{i}]" for i in range(7)]
    assert "without scheme, port or wildcard" in parsed.problems[0].message
    assert [p.path for p in parse_config({"ALLOWED_HOSTS": "x.com"}).problems] == ["ALLOWED_HOSTS"]
