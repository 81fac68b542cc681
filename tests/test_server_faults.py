"""A fault of ours reaches the visitor as one plain sentence, and the server's log gets the details."""

import logging

import gradio as gr
import pytest

import bad_inputs
from digit_studio import answers
from digit_studio.web import events, json_api


def test_an_unexpected_error_gets_a_generic_message_and_is_logged(caplog):
    event = events.guarded(events.digit_from_upload)  # as every event and endpoint is wrapped
    with caplog.at_level(logging.ERROR, logger="digit_studio"), pytest.raises(gr.Error) as error:
        event(["not a file payload"])  # Gradio's schema refuses this before the server gets here
    assert error.value.message == "Something went wrong on our side; please try again."
    assert "AttributeError" in caplog.text and "Traceback" in caplog.text


def test_a_fault_behind_the_json_route_gets_a_generic_message_and_is_logged(caplog, monkeypatch):
    from fastapi.testclient import TestClient

    def broken_model(model_name, batch):
        raise RuntimeError("the model fell over")

    monkeypatch.setattr(answers, "BATCHER", answers.Batcher(broken_model))  # every surface's model calls
    image = bad_inputs.encoded(bad_inputs.on_paper(), "PNG")
    with caplog.at_level(logging.ERROR, logger="digit_studio"), TestClient(json_api.api) as client:
        response = client.post("/api/classify", files={"image": ("7.png", image)})
    assert response.status_code == 500
    assert response.json() == {"error": "Something went wrong on our side; please try again."}
    assert "the model fell over" in caplog.text and "Traceback" in caplog.text
