"""The studio as an MCP server (Gradio's, on the app's own port): its tools are the three public image endpoints,
described so that a model can call them, and they answer as the Gradio API does, errors included.

Images go in as data: URLs, as an MCP client with a local file sends them: Gradio downloads an http(s) URL only from
a public address, never from this machine.
"""

import ast
import asyncio
import base64
import io
import json
import mimetypes

import httpx
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from PIL import Image

import bad_inputs
from conftest import REPO
from digit_studio.core import preprocess, synthetic
from digit_studio.local_server import start_app, stop_app

MCP_PATH = "gradio_api/mcp/"  # streamable HTTP; SSE at gradio_api/mcp/sse
TOOLS = {
    "classify": "/classify",
    "read_number": "/read_number",
    "explain_digit": "/explain",
    "correct_digit": "/correct",
}
EXAMPLES = REPO / "examples"


def data_url(image: bytes, name: str) -> str:
    return f"data:{mimetypes.guess_type(name)[0]};base64," + base64.b64encode(image).decode()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def with_session(app_url: str, action, sse: bool = False, headers: dict | None = None):
    """action(session), awaited in one MCP session with the app at app_url, over streamable HTTP (sending headers)
    or SSE."""

    async def run():
        if sse:
            transport = sse_client(app_url + MCP_PATH + "sse")
        else:
            transport = streamable_http_client(app_url + MCP_PATH, http_client=httpx.AsyncClient(headers=headers))
        async with transport as (read, write, *_), ClientSession(read, write) as session:
            await session.initialize()
            return await action(session)

    return asyncio.run(run())


def tools_of(app_url: str, sse: bool = False) -> dict:
    async def action(session):
        return {tool.name: tool for tool in (await session.list_tools()).tools}

    return with_session(app_url, action, sse)


def call(
    app_url: str, tool: str, image: bytes, name: str = "image.png", headers: dict | None = None, **more: str
) -> tuple[bool, str]:
    """Whether the call failed, and the text it returned; name gives the image's type; headers: the HTTP request's;
    more: other arguments (then the image is the argument "upload")."""

    async def action(session):
        arguments = {"upload": data_url(image, name), **more} if more else {"value": data_url(image, name)}
        return await session.call_tool(tool, arguments)

    result = with_session(app_url, action, headers=headers)
    (content,) = result.content
    return result.isError, content.text


def answer(app_url: str, tool: str, image: bytes, name: str = "image.png") -> list:
    """A tool's outputs, in the order the Gradio API returns them (the text is their Python literal)."""
    failed, text = call(app_url, tool, image, name)
    assert not failed, text
    return ast.literal_eval(text)


def test_the_tools_are_the_public_image_endpoints_described_with_their_limits(app_url):
    tools = tools_of(app_url)
    # None of the page's own events (api_visibility="private"), and not the sketch endpoints, whose Sketchpad values
    # Gradio's MCP server cannot take (gradio_fixes.offer_callable_mcp_tools).
    assert set(tools) == set(TOOLS)
    assert set(tools_of(app_url, sse=True)) == set(TOOLS)
    for tool in tools.values():
        description = tool.description
        for limit in ("PNG, JPEG, WebP, BMP, GIF or TIFF", "25 megapixels", "10 MB", "data: URL", "No digit found"):
            assert limit in description, (tool.name, limit)
        inputs = ["upload", "label"] if tool.name == "correct_digit" else ["value"]
        assert tool.inputSchema["required"] == inputs
        assert all(tool.inputSchema["properties"][name]["description"] for name in inputs)
    assert "up to 12 digits" in tools["read_number"].description
    assert "a person's label" in tools["correct_digit"].description


@pytest.mark.parametrize(("name", "digit"), [("2_paper_photo.jpg", "2"), ("7_mnist.png", "7")])
def test_classify_names_the_digit_for_both_models(app_url, name, digit):
    cnn, linear, view, summary = answer(app_url, "classify", (EXAMPLES / name).read_bytes(), name)
    assert cnn["label"] == linear["label"] == digit
    assert summary.startswith(f"Both models say **{digit}**.") and view.startswith("<img")


def test_read_number_and_explain_answer_as_the_api_does(app_url, client):
    number = EXAMPLES / "numbers" / "2026_drawn.png"
    reading, _, summary = answer(app_url, "read_number", number.read_bytes())
    assert reading == client.predict(handle_file(str(number)), api_name="/read_number")[0]
    assert reading["cnn"] == reading["linear"] == "2026" and summary.startswith("Both models read **2026**.")
    digit = EXAMPLES / "7_mnist.png"
    evidence, maps = answer(app_url, "explain_digit", digit.read_bytes())
    assert evidence == client.predict(handle_file(str(digit)), api_name="/explain")[0]
    assert evidence["cnn"]["label"] == evidence["linear"]["label"] == "7" and "evidence" in maps


BAD_IMAGES = {
    "blank": ("classify", lambda: png(Image.new("RGB", (200, 200), "white")), preprocess.NO_DIGIT_MESSAGE),
    "bomb": ("explain_digit", lambda: bad_inputs.png_declaring(30_000, 30_000), bad_inputs.TOO_LARGE),
    "13 digits": (
        "read_number",
        lambda: png(synthetic.drawn_number("1234567890123", size=(2600, 400), height=180)),
        "at most 12 digits",
    ),
}


@pytest.mark.parametrize(("tool", "image", "message"), BAD_IMAGES.values(), ids=BAD_IMAGES)
def test_a_bad_image_gets_the_apis_message(app_url, client, tmp_path, tool, image, message):
    path = tmp_path / "bad.png"
    path.write_bytes(image())
    with pytest.raises(AppError) as raised:
        client.predict(handle_file(str(path)), api_name=TOOLS[tool])
    failed, text = call(app_url, tool, path.read_bytes())
    assert failed and message in text and text == str(raised.value)


def test_an_mcp_request_over_4_mb_is_refused_unread(app_url):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"padding": "x" * 2**22}})
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    assert httpx.post(app_url + MCP_PATH, content=body, headers=headers, timeout=30).status_code == 413


@pytest.mark.server
def test_the_benchmarks_endpoint_is_no_tool():
    """/trivial, which only the benchmark adds, is undocumented: Gradio's MCP server lists public endpoints only."""
    process, url = start_app({"DIGIT_STUDIO_BENCH": "1"})
    try:
        config = httpx.get(url + "config", timeout=30).json()
        assert "trivial" in {dependency.get("api_name") for dependency in config["dependencies"]}
        assert set(tools_of(url)) == set(TOOLS)
    finally:
        stop_app(process)


def test_an_assistant_keeps_a_correction_with_the_apis_rules(app_url, feedback_dir):
    """correct_digit keeps a person's label as /correct does, and refuses a label that is no digit."""
    image = (EXAMPLES / "7_mnist.png").read_bytes()
    failed, text = call(app_url, "correct_digit", image, "7_mnist.png", label="1")
    assert not failed, text
    row = ast.literal_eval(text)
    assert row["label"] == "1" and row["cnn"]["label"] == "7" and (feedback_dir / row["file_name"]).is_file()
    failed, text = call(app_url, "correct_digit", image, "7_mnist.png", label="seven")
    assert failed and "a digit from 0 to 9" in text
