"""`stackguide serve`: the HTTP API, the OpenAI-compatible surface and the web page."""

from __future__ import annotations

import click

from assistant.cli.context import assistant_of, fail
from assistant.errors import StackGuideError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, type=int, show_default=True)
@click.option(
    "--workers",
    default=1,
    type=int,
    show_default=True,
    help="Worker processes. Each sees an ingest that commits (through the documents API, "
    "or from anywhere with STACKGUIDE_CHROMA_URL) within a second or two.",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve the HTTP API, the OpenAI-compatible surface and the web chat page."""
    import os

    import uvicorn

    from assistant.server.logging import configure_json_logging

    assistant = assistant_of(ctx)
    try:
        assistant.ready()  # ingest (if needed) once, before any worker starts
    except StackGuideError as exc:
        raise fail(exc) from exc
    configure_json_logging()
    settings = assistant.settings
    server = {
        "host": host,
        "port": port,
        "log_config": None,
        "http": "assistant.server.protocol:GuardedHttpToolsProtocol",
        # X-Forwarded-* is believed only from the proxies named: uvicorn's own default
        # trusts 127.0.0.1, which lets any local client pick its address (and rate bucket).
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies or None,
    }
    from ingest.locks import serving

    with serving(settings):  # a CLI write on this embedded index is refused meanwhile
        if workers == 1:
            from assistant.server.app import create_app
            from assistant.server.protocol import GuardedHttpToolsProtocol as Protocol

            Protocol.read_timeout_s = settings.http_read_timeout_s
            Protocol.max_header_bytes = settings.max_header_bytes
            uvicorn.run(create_app(assistant=assistant), **server)
            return
        # Workers build their own app from the environment: pass --data-dir on through it.
        os.environ["STACKGUIDE_DATA_DIR"] = str(settings.data_dir.absolute())
        uvicorn.run("assistant.server.app:app_from_env", factory=True, workers=workers, **server)
