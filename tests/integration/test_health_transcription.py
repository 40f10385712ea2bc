"""The ``groq_api`` health component against the fake transcription provider (127.0.0.1):
not configured without a key, ok with it, error for a refused key, warning for a provider
that fails, rate-limits or does not answer in time, and never the key in what it says."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from kickflow.api import health
from kickflow.api.health import GROQ_TIMEOUT_S, groq_api, service_checks
from kickflow.config import Settings
from tests.fakes.transcription_server import KEY, FakeProvider, running_provider


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with running_provider() as running:
        yield running


def test_not_configured_without_a_key() -> None:
    assert groq_api("", "http://127.0.0.1:9/openai/v1") == {
        "status": "not_configured",
        "message": "KICKFLOW_TRANSCRIPTION_API_KEY is not set",
    }


def test_ok_with_the_key_and_the_model_listed(provider: FakeProvider) -> None:
    result = groq_api(KEY, provider.url, "whisper-large-v3-turbo")
    assert result["status"] == "ok", result
    assert result["details"] == {"models": 2, "model": "whisper-large-v3-turbo"}
    assert provider.statuses("models") == [200]


def test_a_model_the_provider_does_not_offer_is_a_warning(provider: FakeProvider) -> None:
    result = groq_api(KEY, provider.url, "whisper-tiny")
    assert result["status"] == "warning"
    assert result["message"] == "the provider does not list the model whisper-tiny"


def test_a_refused_key_is_an_error_naming_the_setting(provider: FakeProvider) -> None:
    result = groq_api("gsk_wrong_key_987", provider.url)
    assert result["status"] == "error"
    assert result["message"] == (
        "the provider refused the API key (HTTP 401): check KICKFLOW_TRANSCRIPTION_API_KEY"
    )
    assert "gsk_wrong_key_987" not in json.dumps(result)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_failing_provider_is_a_warning(provider: FakeProvider, status: int) -> None:
    provider.fail_next(status, route="models")
    result = groq_api(KEY, provider.url)
    assert result == {
        "status": "warning",
        "message": f"transcription provider answered HTTP {status}",
    }


def test_a_wrong_base_url_is_an_error(provider: FakeProvider) -> None:
    result = groq_api(KEY, provider.url.removesuffix("/openai/v1") + "/v2")
    assert result["status"] == "error"
    assert (
        "HTTP 404" in result["message"] and "KICKFLOW_TRANSCRIPTION_BASE_URL" in result["message"]
    )


def test_a_provider_that_does_not_answer_in_time_is_a_warning(provider: FakeProvider) -> None:
    provider.hang_next()
    result = health.timed(lambda: groq_api(KEY, provider.url))
    provider.release()
    assert result["status"] == "warning"
    assert result["message"] == "transcription provider unreachable: ReadTimeout"
    assert GROQ_TIMEOUT_S * 1000 <= result["latency_ms"] < GROQ_TIMEOUT_S * 1000 + 5000


def test_the_service_probes_with_the_new_settings_or_the_old_groq_names(
    provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {"GROQ_API_KEY": KEY, "GROQ_BASE_URL": provider.url}.items():
        monkeypatch.setenv(f"KICKFLOW_{name}", value)
    old = _probe(Settings())
    monkeypatch.delenv("KICKFLOW_GROQ_API_KEY")
    monkeypatch.delenv("KICKFLOW_GROQ_BASE_URL")
    monkeypatch.setenv("KICKFLOW_TRANSCRIPTION_API_KEY", KEY)
    monkeypatch.setenv("KICKFLOW_TRANSCRIPTION_BASE_URL", provider.url)
    new = _probe(Settings())
    assert old["status"] == new["status"] == "ok"
    assert provider.statuses("models") == [200, 200]


def _probe(settings: Settings) -> health.Component:
    _, probes = service_checks(settings, None, None, None, lambda: None)  # type: ignore[arg-type]
    return probes["groq_api"]()
