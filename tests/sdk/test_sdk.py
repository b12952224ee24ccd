"""Real-client suite: the official `openai` and `anthropic` SDKs against any compatible
base URL (jevons mock, or the gateway). Configure with env vars:
JEVONS_OPENAI_BASE_URL, JEVONS_ANTHROPIC_BASE_URL, JEVONS_OPENAI_KEY, JEVONS_ANTHROPIC_KEY,
JEVONS_OPENAI_MODEL, JEVONS_ANTHROPIC_MODEL, JEVONS_EMBED_MODEL."""
import os

import anthropic
import openai
import pytest

OA_URL = os.environ.get("JEVONS_OPENAI_BASE_URL")
AN_URL = os.environ.get("JEVONS_ANTHROPIC_BASE_URL")
OA_MODEL = os.environ.get("JEVONS_OPENAI_MODEL", "gpt-4o-mini")
AN_MODEL = os.environ.get("JEVONS_ANTHROPIC_MODEL", "claude-haiku-4-5-20251001")
EMBED = os.environ.get("JEVONS_EMBED_MODEL", "text-embedding-3-small")


@pytest.fixture(scope="module")
def oa():
    if not OA_URL:
        pytest.skip("JEVONS_OPENAI_BASE_URL not set")
    return openai.OpenAI(base_url=OA_URL, api_key=os.environ.get("JEVONS_OPENAI_KEY", "sk-test"), max_retries=0)


@pytest.fixture(scope="module")
def an():
    if not AN_URL:
        pytest.skip("JEVONS_ANTHROPIC_BASE_URL not set")
    return anthropic.Anthropic(base_url=AN_URL, api_key=os.environ.get("JEVONS_ANTHROPIC_KEY", "sk-ant-test"), max_retries=0)


def test_chat_non_streaming_with_usage(oa):
    r = oa.chat.completions.create(model=OA_MODEL, messages=[{"role": "user", "content": "Say hi"}], max_tokens=50)
    assert r.choices[0].message.content
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.usage.prompt_tokens_details.cached_tokens is not None


def test_chat_streaming_with_usage(oa):
    stream = oa.chat.completions.create(model=OA_MODEL, messages=[{"role": "user", "content": "Count"}],
                                        stream=True, stream_options={"include_usage": True}, max_tokens=30)
    text, usage, finish = "", None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for c in chunk.choices:
            text += c.delta.content or ""
            finish = c.finish_reason or finish
    assert text and finish in ("stop", "length")
    assert usage is not None and usage.completion_tokens > 0


def test_embeddings(oa):
    r = oa.embeddings.create(model=EMBED, input=["hello world", "bye"])
    assert len(r.data) == 2 and len(r.data[0].embedding) > 0
    assert r.usage.prompt_tokens > 0


def test_models(oa):
    ids = [m.id for m in oa.models.list()]
    assert OA_MODEL in ids


def test_messages_non_streaming(an):
    r = an.messages.create(model=AN_MODEL, max_tokens=40, messages=[{"role": "user", "content": "Hello"}])
    assert r.content[0].type == "text" and r.content[0].text
    assert r.stop_reason in ("end_turn", "max_tokens")
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0


def test_messages_streaming(an):
    with an.messages.stream(model=AN_MODEL, max_tokens=40, messages=[{"role": "user", "content": "Hello"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text and final.usage.output_tokens > 0
    assert final.usage.input_tokens > 0
