"""Run the fake OpenAI provider as its own process (for bench/ and manual tries).

    python -m tests.fakes.serve --port 9001 --chunks 200
"""

from __future__ import annotations

import argparse

from aiohttp import web

from tests.fakes.openai_upstream import FakeUpstream, Reply, completion, text_chunks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    parser.add_argument("--chunks", type=int, default=200, help="text chunks per streamed reply")
    args = parser.parse_args()
    fake = FakeUpstream(record=False)
    pieces = [f"word{i} " for i in range(args.chunks)]
    fake.default = Reply(chunks=text_chunks(pieces, usage=(1000, args.chunks)), json_body=completion("ok"))
    web.run_app(fake.app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
