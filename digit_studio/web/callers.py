"""Who is calling: the address a caller's corrections are counted by (corrections.RateLimits), the same for the page,
/correct and the MCP tool correct_digit.

    callers.address(request)   # "203.0.113.7": used to count, never written down

Behind a proxy (a Hugging Face Space, which sets SPACE_ID; any other deployment says so with BEHIND_PROXY=1) every
connection comes from the proxy, and the proxy appends the address it saw to X-Forwarded-For: the LAST entry is the
caller's, and anything before it is whatever the caller wrote. A request without the header (none came through the
proxy) counts by its connection's address. Without a proxy, the connection's address as uvicorn reports it (which
takes X-Forwarded-For only from 127.0.0.1, a local proxy: FORWARDED_ALLOW_IPS). A server behind a proxy that does not
say so counts every visitor as one address: safe, only strict.

Gradio's MCP server (6.31) calls the app through a client of its own, from 127.0.0.1, with each MCP request's
headers (and so its X-Forwarded-For) and x-gradio-user: mcp. Behind a proxy its calls count by the proxy's entry as
any other; without one, uvicorn would take the MCP caller's own X-Forwarded-For from that local client, so all MCP
calls share one count instead.
"""

import os

import gradio as gr

FORWARDED_FOR = "x-forwarded-for"
MCP_LOOPBACK = "mcp"  # the x-gradio-user header of Gradio's MCP client


def behind_proxy() -> bool:
    """Whether the server sits behind a proxy that appends the caller's address to X-Forwarded-For."""
    return bool(os.environ.get("SPACE_ID")) or os.environ.get("BEHIND_PROXY", "0") not in ("", "0")


def address_of(forwarded_for: list[str], connection: str | None, gradio_user: str | None, proxy: bool) -> str:
    """The caller's address: forwarded_for, the X-Forwarded-For header's values in order; connection, the socket's
    address as uvicorn reports it; gradio_user, the x-gradio-user header."""
    if proxy:
        entries = [entry.strip() for value in forwarded_for for entry in value.split(",")]
        if entries and entries[-1]:
            return entries[-1]
    elif gradio_user == MCP_LOOPBACK:
        return MCP_LOOPBACK
    return connection or "unknown"


def address(request: gr.Request) -> str:
    """The address of the caller of a page event or endpoint; see the module's docstring."""
    headers = request.headers  # starlette's Headers, or a plain dict where Gradio has copied the request
    forwarded = headers.getlist(FORWARDED_FOR) if hasattr(headers, "getlist") else [headers.get(FORWARDED_FOR, "")]
    client = getattr(request, "client", None)
    return address_of(forwarded, client and client.host, headers.get("x-gradio-user"), behind_proxy())
