"""The sandbox: real Python in a kernel per container, with /mnt/data mapped to the container's folder."""

from __future__ import annotations

import io
import zipfile

import openai
import pytest

from openai_artifacts_nb.local import LocalServer

TOOLS = [{"type": "code_interpreter", "container": {"type": "auto"}}]
INCLUDE = ["code_interpreter_call.outputs"]


def run(client: openai.OpenAI, *blocks: str, previous: str | None = None) -> openai.types.responses.Response:
    """Run each block as one code call and return the response."""
    prompt = "".join(f"```python\n{block}\n```\n" for block in blocks)
    extra = {"previous_response_id": previous} if previous else {}
    return client.responses.create(model="m", input=prompt, tools=TOOLS, include=INCLUDE, **extra)


def logs_of(response: openai.types.responses.Response) -> list[str]:
    """Return the logs of each code call, in order."""
    found = []
    for item in response.output:
        if item.type == "code_interpreter_call":
            found.append("".join(o.logs for o in item.outputs or [] if o.type == "logs"))
    return found


def test_each_block_is_a_call_and_state_persists_between_them(client: openai.OpenAI) -> None:
    response = run(client, "x = 20", "x += 1\nx * 2")
    assert [item.type for item in response.output] == ["code_interpreter_call"] * 2 + ["message"]
    assert logs_of(response) == ["", "42"]
    assert response.output[0].outputs == []


def test_errors_come_back_as_logs_with_a_plain_traceback(client: openai.OpenAI) -> None:
    response = run(client, "print('before')\n1 / 0")
    (logs,) = logs_of(response)
    assert logs.startswith("before\n")
    assert "ZeroDivisionError" in logs and "Traceback" in logs
    assert "\x1b[" not in logs
    assert response.output[0].status == "completed"


def test_mnt_data_is_the_container_folder_in_code_and_logs(client: openai.OpenAI) -> None:
    response = run(
        client,
        "import os, pathlib\nos.makedirs('/mnt/data/out', exist_ok=True)\n"
        "pathlib.Path('/mnt/data/out/deep.txt').write_text('deep')\n"
        "print(pathlib.Path('/mnt/data/out/deep.txt').resolve())\nprint(os.listdir('.'))",
    )
    (logs,) = logs_of(response)
    assert logs == "/mnt/data/out/deep.txt\n['out']\n"
    container_id = response.output[0].container_id
    (record,) = client.containers.files.list(container_id)
    assert record.path == "/mnt/data/out/deep.txt" and record.source == "assistant"
    assert client.containers.files.content.retrieve(record.id, container_id=container_id).read() == b"deep"


def test_changed_files_become_new_container_files(client: openai.OpenAI) -> None:
    first = run(client, "open('/mnt/data/n.txt', 'w').write('one');")
    second = run(client, "open('/mnt/data/n.txt', 'w').write('two!');", previous=first.id)
    container_id = first.output[0].container_id
    (record,) = client.containers.files.list(container_id)
    cited = second.output[-1].content[0].annotations[0]
    assert cited.file_id == record.id and record.bytes == 4
    assert client.containers.files.content.retrieve(record.id, container_id=container_id).read() == b"two!"


def test_displayed_images_are_outputs_files_and_zero_width_citations(client: openai.OpenAI) -> None:
    response = run(client, "from PIL import Image\ndisplay(Image.new('RGB', (4, 3), 'red'))")
    call, message = response.output
    (image,) = call.outputs
    assert image.type == "image" and image.url.startswith("data:image/png;base64,")
    (annotation,) = message.content[0].annotations
    assert (annotation.start_index, annotation.end_index) == (0, 0)
    assert annotation.filename == f"{annotation.file_id}.png"
    record = client.containers.files.retrieve(annotation.file_id, container_id=call.container_id)
    assert record.path == f"/mnt/data/{annotation.file_id}.png"
    data = client.containers.files.content.retrieve(annotation.file_id, container_id=call.container_id).read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert "[" not in message.content[0].text


def test_uploaded_files_are_readable_by_name(client: openai.OpenAI) -> None:
    container = client.containers.create(name="uploads")
    client.containers.files.create(container.id, file=("données.csv", b"a,b\n1,2\n", "text/csv"))
    response = client.responses.create(
        model="m",
        input="```python\nprint(open('/mnt/data/données.csv').read().splitlines()[1])\n```",
        tools=[{"type": "code_interpreter", "container": container.id}],
        include=INCLUDE,
    )
    assert logs_of(response) == ["1,2\n"]


def test_the_kernel_never_sees_api_keys(client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    response = run(
        client, "import os\nprint(sorted(k for k in os.environ if 'OPENAI' in k or 'API_KEY' in k))"
    )
    assert logs_of(response) == ["[]\n"]


def test_a_call_over_the_time_limit_is_interrupted(
    client: openai.OpenAI, emulator: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emulator.service, "exec_timeout", 1.5)
    response = run(client, "import time\nprint('start', flush=True)\ntime.sleep(30)", "print('still alive')")
    first, second = logs_of(response)
    assert first.startswith("start\n")
    assert "KeyboardInterrupt" in first
    assert first.endswith("Execution timed out after 1.5 seconds and was interrupted.")
    assert second == "still alive\n"


def test_office_documents_and_a_pdf_are_made_offline(client: openai.OpenAI) -> None:
    code = (
        "from pptx import Presentation\n"
        "deck = Presentation()\nslide = deck.slides.add_slide(deck.slide_layouts[0])\n"
        "slide.shapes.title.text = 'Results'\ndeck.save('/mnt/data/deck.pptx')\n"
        "from docx import Document\n"
        "report = Document()\nreport.add_heading('Report', 0)\nreport.add_paragraph('All good.')\n"
        "report.save('/mnt/data/report.docx')\n"
        "from reportlab.pdfgen import canvas\n"
        "page = canvas.Canvas('/mnt/data/summary.pdf')\npage.drawString(72, 720, 'Summary')\npage.save()\n"
        "import seaborn, scipy, sklearn\nprint('libraries ok')"
    )
    response = client.responses.create(
        model="m",
        input=f"```python\n{code}\n```",
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
        include=INCLUDE,
    )
    call = response.output[0]
    assert call.type == "code_interpreter_call"
    assert "".join(o.logs for o in call.outputs or [] if o.type == "logs") == "libraries ok\n"
    files = {f.path: f for f in client.containers.files.list(call.container_id)}
    assert sorted(files) == ["/mnt/data/deck.pptx", "/mnt/data/report.docx", "/mnt/data/summary.pdf"]

    def content(path: str) -> bytes:
        return client.containers.files.content.retrieve(files[path].id, container_id=call.container_id).read()

    deck, report, pdf = (content(p) for p in sorted(files))
    assert zipfile.ZipFile(io.BytesIO(deck)).read("ppt/presentation.xml").startswith(b"<?xml")
    assert b"Report" in zipfile.ZipFile(io.BytesIO(report)).read("word/document.xml")
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    cited = {a.filename for a in response.output[-1].content[0].annotations}
    assert cited == {"deck.pptx", "report.docx", "summary.pdf"}
