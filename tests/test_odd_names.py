"""Names that gave a 500 or a bare 404: a log file name too long for the filesystem, static
paths with backslashes, dots or nothing at all. Each is a 4xx in the error shape now."""

from __future__ import annotations

import pytest

from tests.admin_helpers import config_path
from tests.conftest import base_config
from tests.raw_http import raw_request


async def test_a_log_name_too_long_for_the_filesystem_is_a_400(make_client, fake):
    client = await make_client(base_config(fake))
    logs_dir = config_path(client).parent / "logs"
    logs_dir.mkdir(exist_ok=True)  # as a running server has it
    for name, status in (("a" * 300 + ".log", 400), ("d" * 300 + "/x.log", 403), ("/" + "b" * 5000 + ".log", 403),
                         (str(logs_dir / ("c" * 256 + ".log")), 400)):
        for method in ("GET", "DELETE"):
            response = await client.request(method, "/api/logs", params={"file": name})
            answer = await response.json()
            assert response.status == status and answer["type"] == "error", (name[:10], method, answer)


@pytest.mark.parametrize("target", ["/static/x%5cy", "/static/x\\y", "/static/nope.js", "/static/", "/static/.hidden",
                                    "/static/..%2fREADME.md", "/static/%2e%2e/README.md", "/static/" + "z" * 300])
async def test_static_misses_are_404_in_the_error_shape(make_client, fake, target):
    client = await make_client(base_config(fake))
    response = await raw_request(client.port, target)
    assert response.status == 404 and response.json()["error"]["type"] == "not_found_error", target


async def test_static_assets_still_serve_with_caching_headers(make_client, fake):
    client = await make_client(base_config(fake))
    response = await client.get("/static/app.js?v=1")
    assert response.status == 200 and "javascript" in response.content_type and response.headers.get("Last-Modified")
    again = await client.get("/static/app.js", headers={"If-Modified-Since": response.headers["Last-Modified"]})
    assert again.status == 304
    assert (await client.head("/static/ui.css")).status == 200
