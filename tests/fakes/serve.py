"""Run the fake OpenAI provider as its own process (for bench/ and manual tries).

    python -m tests.fakes.serve --port 9001 --chunks 200
    python -m tests.fakes.serve --port 9002 --fail-every 2 --fail-status 429 --retry-after 0
"""

from __future__ import annotations

import argparse
import itertools

from aiohttp import web

from tests.fakes.openai_upstream import FakeUpstream, Recorded, Reply, completion, error_reply, text_chunks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    parser.add_argument("--chunks", type=int, default=200, help="text chunks per streamed reply")
    parser.add_argument("--fail-every", type=int, default=0, help="fail every Nth call (0: never)")
    parser.add_argument("--fail-status", type=int, default=429, help="the status of a failed call")
    parser.add_argument("--retry-after", help="the retry-after header a failed call sends")
    args = parser.parse_args()
    fake = FakeUpstream(record=False)
    pieces = [f"word{i} " for i in range(args.chunks)]
    fake.default = Reply(chunks=text_chunks(pieces, usage=(1000, args.chunks)), json_body=completion("ok"))
    if args.fail_every:
        headers = {"retry-after": args.retry_after} if args.retry_after is not None else {}
        failure = error_reply(args.fail_status, "fake provider: failing on purpose", headers)
        calls = itertools.count(1)

        def choose(_: Recorded) -> Reply | None:
            return failure if next(calls) % args.fail_every == 0 else None

        fake.choose = choose
    web.run_app(fake.app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
