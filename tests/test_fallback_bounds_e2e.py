"""The provider bounds and cut-answer rules inside the fallback loop, over real HTTP: an answer
that ends before its first byte was never used, so the next target is tried; a cut or an
endless line after it ends the answer with an error and no fallback; a huge error page from
every target is cut to the configured size in the final error."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from tests.fakes.openai_upstream import Reply, chunk, stream_reply
from tests.fallback_helpers import ask, route_of, text_of, two_providers
from tests.stream_grammar import check_stream
from tests.test_fallback_e2e import pair  # noqa: F401  (the fixture)

CUT = "ended the stream before the answer was finished"
MIB = 1024 * 1024


@pytest.mark.in_process  # reads the app's log events
async def test_an_answer_that_ends_before_its_first_byte_falls_back(make_client, pair):  # noqa: F811
    primary, backup = pair
    primary.default = stream_reply([], done=False)  # a 200 stream with nothing in it
    client = await make_client(two_providers(primary, backup))
    with capture_logs() as logs:
        response, events = await ask(client, stream=True)
    assert response.status == 200 and text_of(events) == "from the backup"
    assert route_of(response) == ("backup,b-model", 2)
    check_stream(events)
    reasons = [entry["reason"] for entry in logs if entry["event"] == "upstream_attempt"]
    assert reasons == ["empty_answer", "ok"]
    response, message = await ask(client)  # a JSON client too
    assert response.status == 200 and text_of(message) == "from the backup"


async def test_an_empty_answer_from_every_target_is_a_502_that_says_so(make_client, pair):  # noqa: F811
    primary, backup = pair
    primary.default = backup.default = stream_reply([], done=False)
    client = await make_client(two_providers(primary, backup, keys="sk-single-primary-key"))
    response, body = await ask(client, stream=True)
    assert response.status == 502 and route_of(response) == ("backup,b-model", 2)
    assert body["error"]["message"].startswith(f"Provider backup,b-model {CUT}")


async def test_a_cut_after_the_first_byte_is_an_error_event_not_a_fallback(make_client, pair):  # noqa: F811
    primary, backup = pair
    primary.queue(stream_reply([chunk({"role": "assistant", "content": "Half an"})], done=False))
    client = await make_client(two_providers(primary, backup))
    response, events = await ask(client, stream=True)
    assert response.status == 200 and route_of(response) == ("primary,p-model", 1)
    check_stream(events, complete=False)
    assert events[-1]["type"] == "error" and CUT in events[-1]["error"]["message"]
    assert "primary,p-model" in events[-1]["error"]["message"]
    assert not any(event["type"] == "message_stop" for event in events)
    assert backup.requests == []


async def test_an_endless_line_from_the_answering_target_is_bounded(make_client, pair):  # noqa: F811
    primary, backup = pair
    line = b'data: {"choices":[{"delta":{"content":"' + b"x" * (2 * MIB)
    primary.queue(Reply(chunks=[chunk({"role": "assistant", "content": "Hi"}), line], done=False))
    client = await make_client(two_providers(primary, backup, UPSTREAM_LINE_MAX_MB=1))
    response, events = await ask(client, stream=True)
    assert response.status == 200 and route_of(response) == ("primary,p-model", 1)
    check_stream(events, complete=False)
    assert events[-1]["type"] == "error"
    assert f"Provider primary,p-model sent more than {MIB} bytes" in events[-1]["error"]["message"]
    assert backup.requests == []


async def test_every_targets_error_page_is_cut_to_the_bound(make_client, pair):  # noqa: F811
    primary, backup = pair
    primary.default = Reply(status=500, text_body="primary broke " * 500)
    backup.default = Reply(status=503, text_body="backup down " * 500)
    client = await make_client(two_providers(primary, backup, keys="sk-single-primary-key",
                                             UPSTREAM_ERROR_MAX_KB=1))
    response, body = await ask(client)
    assert response.status == 503 and route_of(response) == ("backup,b-model", 2)
    message = body["error"]["message"]
    assert message.startswith("Error from provider(backup,b-model: 503): backup down")
    assert "…(truncated)" in message and len(message.encode()) < 1024 + 300
    assert message.endswith("[tried: primary,p-model; backup,b-model]")
