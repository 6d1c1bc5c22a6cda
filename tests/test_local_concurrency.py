"""Many SDK clients at once: each runs code in its own container and downloads its own file."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import openai

from openai_artifacts_nb.local import LocalServer

CLIENTS = 20


def one_client(base_url: str, token: str) -> tuple[str, str, bytes, list[str]]:
    """Run a prompt that writes ``token`` to a file, then download it; return what came back."""
    client = openai.OpenAI(base_url=base_url, api_key=f"sk-{token}", max_retries=0)
    prompt = f"```python\nmine = {token!r}\nopen('/mnt/data/{token}.txt', 'w').write(mine * 3)\n```"
    with client.responses.stream(
        model="gpt-4.1", input=prompt, tools=[{"type": "code_interpreter", "container": {"type": "auto"}}]
    ) as stream:
        final = stream.get_final_response()
    container_id = final.output[0].container_id
    (annotation,) = final.output[-1].content[0].annotations
    data = client.containers.files.content.retrieve(annotation.file_id, container_id=container_id).read()
    listing = [f.path for f in client.containers.files.list(container_id)]
    follow_up = client.responses.create(
        model="gpt-4.1",
        input="```python\nprint(mine)\n```",
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
        include=["code_interpreter_call.outputs"],
        previous_response_id=final.id,
    )
    assert follow_up.output[0].container_id == container_id
    (logs,) = follow_up.output[0].outputs or []
    assert logs.type == "logs" and logs.logs == f"{token}\n"
    return token, container_id, data, listing


def test_twenty_concurrent_clients_never_see_each_others_files(emulator: LocalServer) -> None:
    tokens = [secrets.token_hex(6) for _ in range(CLIENTS)]
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = list(pool.map(lambda token: one_client(emulator.base_url, token), tokens))
    assert len({container_id for _, container_id, _, _ in results}) == CLIENTS
    for token, _container_id, data, listing in results:
        assert data == (token * 3).encode()
        assert listing == [f"/mnt/data/{token}.txt"]
