"""Write the example notebooks (quickstart, workshop, legacy_assistants, plain_sdk) from the cells below.

Run ``python notebooks/build_notebooks.py`` after editing a cell here; commit the .ipynb files it writes.
Every notebook runs offline on the local emulator, whose "model" runs the fenced ```python blocks in the
prompt; with a real key the prose alone is enough, and the model writes its own code.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

OFFLINE_NOTE = """> **Runs offline.** `%openai local` starts a local emulator of the OpenAI API inside this kernel: no key,
> no network. Its "model" does not think: it runs the Python in each prompt's ```` ```python ```` block in a
> real sandbox and answers the way the real service does (links to `sandbox:/mnt/data/...`, container files,
> citations). To use the real API instead, delete the `%openai local` line and set `OPENAI_API_KEY`; the
> prose of each prompt is then enough and the model writes its own code."""

QUICKSTART = [
    new_markdown_cell(
        "# Quickstart: every file the code interpreter makes, saved, shown and downloadable\n\n"
        "When OpenAI's code interpreter makes a chart or a CSV, its reply links to `sandbox:/mnt/data/...`, "
        "which opens nothing. With this extension a `%%openai` cell streams the reply, shows the code it ran, "
        "saves every file beside this notebook in `quickstart_artifacts/`, shows each one inline with a "
        "download button, and rewrites the links to point at the saved files.\n\n" + OFFLINE_NOTE
    ),
    new_code_cell("%load_ext openai_artifacts_nb\n%openai local"),
    new_markdown_cell(
        "## A chart, a table and a file to download\n\n"
        "`--file` uploads `data/sales.csv` into the container, so the code can read it at "
        "`/mnt/data/sales.csv`."
    ),
    new_code_cell(
        "%%openai --file data/sales.csv\n"
        "Plot monthly revenue per region from the attached CSV as a PNG chart, save a table of revenue per\n"
        "month as CSV, and write a short Markdown report I can download.\n"
        "\n"
        "```python\n"
        "import matplotlib.pyplot as plt\n"
        "import pandas as pd\n"
        "\n"
        'sales = pd.read_csv("/mnt/data/sales.csv")\n'
        'monthly = sales.pivot_table(index="month", columns="region", values="revenue", aggfunc="sum")\n'
        'monthly["Total"] = monthly.sum(axis=1)\n'
        'ax = monthly[["North", "South"]].plot(figsize=(8, 4), marker="o", title="Monthly revenue")\n'
        'ax.set_ylabel("revenue")\n'
        "plt.tight_layout()\n"
        'plt.savefig("/mnt/data/revenue.png", dpi=110)\n'
        "plt.close()  # saved as a file; not shown a second time\n"
        'monthly.round(2).to_csv("/mnt/data/monthly_revenue.csv")\n'
        "best = monthly['Total'].idxmax()\n"
        'with open("/mnt/data/report.md", "w") as report:\n'
        '    report.write(f"# Revenue report\\n\\nBest month: {best} ({monthly.loc[best, \'Total\']:.2f}).\\n")\n'
        'print(monthly.tail(3).round(1))\n'
        "```"
    ),
    new_markdown_cell(
        "## A follow-up in the same container\n\n"
        "The next cell continues the conversation (`previous_response_id`) and runs in the same container, "
        "so the table made above is still there. `plt.show()` images come back without a file name; they "
        "are saved too."
    ),
    new_code_cell(
        "%%openai --out followup\n"
        "Add a three-month rolling average of the total to the chart you made, and show it.\n"
        "\n"
        "```python\n"
        "import matplotlib.pyplot as plt\n"
        "import pandas as pd\n"
        "\n"
        'monthly = pd.read_csv("/mnt/data/monthly_revenue.csv", index_col="month")\n'
        'rolling = monthly["Total"].rolling(3).mean()\n'
        "fig, ax = plt.subplots(figsize=(8, 4))\n"
        'monthly["Total"].plot(ax=ax, label="total")\n'
        'rolling.plot(ax=ax, label="3-month average", linewidth=3)\n'
        "ax.legend()\n"
        'rolling.dropna().round(2).to_csv("/mnt/data/rolling_total.csv")\n'
        "plt.show()\n"
        "```"
    ),
    new_markdown_cell(
        "## Use the result in Python\n\n`--out followup` stored the result: the text, the saved files, the "
        "response id and the token usage."
    ),
    new_code_cell(
        "for artifact in followup.artifacts:\n"
        "    print(artifact.relative_path, artifact.mime_type, artifact.size, 'bytes')\n"
        "print(followup.response_id, followup.usage)"
    ),
    new_code_cell("%openai status"),
]

WORKSHOP = [
    new_markdown_cell(
        "# Workshop: analyse a data set with the code interpreter, and keep every result\n\n"
        "A teaching flow for a class. Each step is one `%%openai` cell: you ask in plain words, the code "
        "interpreter runs Python in a sandbox (a *container*), and every file it makes is saved next to this "
        "notebook in `workshop_artifacts/`, shown inline and offered for download.\n\n" + OFFLINE_NOTE
    ),
    new_code_cell("%load_ext openai_artifacts_nb\n%openai local"),
    new_markdown_cell(
        "## 1. Upload the data set and get to know it\n\n"
        "`--file` copies a local file into the container. Follow-up cells do not need to upload it again: "
        "they run in the same container while it lives (about 20 idle minutes; if it expires, the magic "
        "says so, starts a new one and uploads your files again)."
    ),
    new_code_cell(
        "%%openai --file data/scores.csv\n"
        "Describe the attached exam scores: how many students, the average score per group, and save the\n"
        "summary as a table.\n"
        "\n"
        "```python\n"
        "import pandas as pd\n"
        "\n"
        'scores = pd.read_csv("/mnt/data/scores.csv")\n'
        'summary = scores.groupby("group").agg(students=("student", "count"),\n'
        '                                     mean_score=("exam_score", "mean"),\n'
        '                                     mean_hours=("hours_studied", "mean")).round(1)\n'
        'summary.to_csv("/mnt/data/summary_by_group.csv")\n'
        'print(len(scores), "students")\n'
        "print(summary)\n"
        "```"
    ),
    new_markdown_cell(
        "## 2. A chart\n\n"
        "Ask for a picture. The chart is saved as a PNG file and shown here; the full-size file is on disk "
        "even when a large image is shown smaller."
    ),
    new_code_cell(
        "%%openai\n"
        "Does studying longer go with better scores? Draw a scatter plot with a trend line.\n"
        "\n"
        "```python\n"
        "import matplotlib.pyplot as plt\n"
        "import numpy as np\n"
        "import pandas as pd\n"
        "\n"
        'scores = pd.read_csv("/mnt/data/scores.csv")\n'
        'slope, intercept = np.polyfit(scores["hours_studied"], scores["exam_score"], 1)\n'
        "fig, ax = plt.subplots(figsize=(6, 4))\n"
        'ax.scatter(scores["hours_studied"], scores["exam_score"], alpha=0.7)\n'
        'xs = np.linspace(scores["hours_studied"].min(), scores["hours_studied"].max(), 50)\n'
        'ax.plot(xs, slope * xs + intercept, color="crimson")\n'
        'ax.set_xlabel("hours studied")\n'
        'ax.set_ylabel("exam score")\n'
        "plt.tight_layout()\n"
        'plt.savefig("/mnt/data/hours_vs_score.png", dpi=110)\n'
        "plt.close(fig)\n"
        'print(f"each extra hour: {slope:+.1f} points")\n'
        "```"
    ),
    new_markdown_cell(
        "## 3. Results to take home\n\n"
        "Files the model makes for you to download (an Excel workbook, a JSON file) get a file card and a "
        "**Download** button. Without widgets (a saved notebook, nbviewer, an HTML export) the link under each "
        "file still opens the saved copy."
    ),
    new_code_cell(
        "%%openai --out results\n"
        "Give every student a grade (A from 85, B from 70, C from 55, else D) and export the grades as an\n"
        "Excel workbook and as JSON.\n"
        "\n"
        "```python\n"
        "import pandas as pd\n"
        "\n"
        'scores = pd.read_csv("/mnt/data/scores.csv")\n'
        'bins = [-1, 54, 69, 84, 100]\n'
        'scores["grade"] = pd.cut(scores["exam_score"], bins=bins, labels=["D", "C", "B", "A"])\n'
        'scores.to_excel("/mnt/data/grades.xlsx", index=False)\n'
        'scores.to_json("/mnt/data/grades.json", orient="records", indent=1)\n'
        'print(scores["grade"].value_counts().sort_index())\n'
        "```"
    ),
    new_markdown_cell(
        "## 4. Where everything is\n\n"
        "`--out results` kept the result object. Every file is listed in "
        "`workshop_artifacts/.openai-artifacts/manifest.json` with where it came from."
    ),
    new_code_cell(
        "for artifact in results.artifacts:\n"
        "    print(f'{artifact.relative_path:40} {artifact.size:>8} bytes  {artifact.mime_type}')"
    ),
    new_markdown_cell(
        "## Exercises\n\n"
        "1. Ask for a box plot of scores per group (write the code block yourself, or use a real key and ask in "
        "words).\n"
        "2. Use `{name}` in a prompt to pass a Python value, e.g. set `threshold = 80` in a cell and ask for "
        "\"students scoring above {threshold}\".\n"
        "3. Run `%openai reset` and ask again: a new conversation starts in a new container."
    ),
]

LEGACY = [
    new_markdown_cell(
        "# Legacy: files from an Assistants API thread\n\n"
        "Older code uses the Assistants API (threads and runs; deprecated in favour of the Responses API, "
        "which the `%%openai` magic uses). Its code-interpreter files come back as `image_file` blocks and "
        "`file_path` annotations pointing at the Files API. The same engine saves them: pass the thread id to "
        "`openai_artifacts_nb.fetch`.\n\n"
        "> **Runs offline.** This notebook starts the local emulator and points the SDK at it; its "
        "\"model\" runs the ```` ```python ```` block of the message. With a real key, drop the emulator and "
        "use `OpenAI()`."
    ),
    new_code_cell(
        "import warnings\n"
        "from pathlib import Path\n"
        "\n"
        "from IPython.display import display\n"
        "from openai import OpenAI\n"
        "\n"
        "from openai_artifacts_nb import fetch\n"
        "from openai_artifacts_nb.local import LocalServer\n"
        "from openai_artifacts_nb.file_views import ArtifactView\n"
        "from openai_artifacts_nb.widgets import ArtifactDownload\n"
        "\n"
        "server = LocalServer()\n"
        "client = OpenAI(base_url=server.start(), api_key='sk-local')\n"
        "# The SDK marks every Assistants call deprecated; this notebook is about exactly that API.\n"
        "warnings.filterwarnings('ignore', category=DeprecationWarning)"
    ),
    new_code_cell(
        "uploaded = client.files.create(file=Path('data/sales.csv').open('rb'), purpose='assistants')\n"
        "assistant = client.beta.assistants.create(model='gpt-4.1', tools=[{'type': 'code_interpreter'}])\n"
        "thread = client.beta.threads.create()\n"
        "# Attached files sit in the sandbox under their file id, as upstream names them.\n"
        "prompt = f'''Chart the revenue per region and give me the totals as CSV.\n"
        "\n"
        "```python\n"
        "import matplotlib.pyplot as plt\n"
        "import pandas as pd\n"
        "\n"
        "sales = pd.read_csv('/mnt/data/{uploaded.id}')\n"
        "totals = sales.groupby('region')['revenue'].sum().round(2)\n"
        "totals.plot.bar(title='Revenue per region')\n"
        "plt.tight_layout()\n"
        "plt.savefig('/mnt/data/revenue_by_region.png')\n"
        "plt.close()\n"
        "totals.to_csv('/mnt/data/region_totals.csv')\n"
        "print(totals)\n"
        "```'''\n"
        "client.beta.threads.messages.create(\n"
        "    thread.id, role='user', content=prompt,\n"
        "    attachments=[{'file_id': uploaded.id, 'tools': [{'type': 'code_interpreter'}]}],\n"
        ")\n"
        "run = client.beta.threads.runs.create_and_poll(\n"
        "    thread_id=thread.id, assistant_id=assistant.id, tools=[{'type': 'code_interpreter'}]\n"
        ")\n"
        "run.status"
    ),
    new_markdown_cell(
        "## Save every file of the thread, and show it\n\n"
        "`fetch` reads the thread's messages, downloads each `image_file` and `file_path` file into "
        "`legacy_assistants_artifacts/`, writes a manifest, and returns the text with the `sandbox:` links "
        "rewritten."
    ),
    new_code_cell(
        "result = fetch(thread.id, out_dir='legacy_assistants_artifacts', client=client, link_base='.')\n"
        "for artifact in result.artifacts:\n"
        "    display(*ArtifactView.from_saved(artifact).displays())\n"
        "    display(ArtifactDownload(artifact.path, filename=artifact.filename, mime_type=artifact.mime_type))\n"
        "print(result.text)"
    ),
    new_code_cell("server.stop()"),
]

PLAIN_SDK = [
    new_markdown_cell(
        "# Plain SDK cells: every file a reply makes, saved and shown\n\n"
        "No magic here: the cells call the official `openai` SDK as any script would. After "
        "`%load_ext openai_artifacts_nb`, a cell whose value is a reply (a `Response`, a finished stream, "
        "Assistants messages) is shown the way `%%openai` shows one: the text with working links, the code it "
        "ran (collapsed), every file saved in `plain_sdk_artifacts/` and shown inline with a download button, "
        "and the usage line. The code interpreter, the hosted shell and image generation all make files.\n\n"
        "> **Runs offline.** The first cell starts a local emulator of the OpenAI API and points the SDK at "
        'it through `OPENAI_BASE_URL` (the display hook downloads through the same variables). Its "model" '
        "runs the ```` ```python ````, ```` ```bash ```` and ```` ```image ```` blocks of each prompt. With a "
        "real key, delete the emulator lines and set `OPENAI_API_KEY`."
    ),
    new_code_cell(
        "import os\n"
        "\n"
        "from openai import OpenAI\n"
        "\n"
        "from openai_artifacts_nb.local import LocalServer\n"
        "\n"
        "server = LocalServer()\n"
        "os.environ['OPENAI_BASE_URL'] = server.start()\n"
        "os.environ.pop('OPENAI_ARTIFACTS_BACKEND', None)  # this notebook runs its own emulator\n"
        "client = OpenAI(api_key=os.environ.get('OPENAI_API_KEY', 'sk-local'))"
    ),
    new_code_cell("%load_ext openai_artifacts_nb"),
    new_markdown_cell(
        "## The code interpreter\n\n"
        "The cell's value is the `Response`: its chart and table are saved and shown, and the links in the "
        "text open the saved files."
    ),
    new_code_cell(
        'prompt = """Plot the squares and save them as a table.\n'
        "\n"
        "```python\n"
        "import matplotlib.pyplot as plt\n"
        "\n"
        "plt.plot([1, 2, 3, 4], [1, 4, 9, 16], marker='o')\n"
        "plt.title('Squares')\n"
        "plt.savefig('/mnt/data/squares.png')\n"
        "plt.close()\n"
        "with open('/mnt/data/squares.csv', 'w') as handle:\n"
        "    handle.write('x,y\\\\n1,1\\\\n2,4\\\\n3,9\\\\n4,16\\\\n')\n"
        "```\n"
        "```reply\n"
        "Here is [the chart](sandbox:/mnt/data/squares.png) and [the table](sandbox:/mnt/data/squares.csv).\n"
        '```"""\n'
        "response = client.responses.create(\n"
        "    model='gpt-4.1',\n"
        "    input=prompt,\n"
        "    tools=[{'type': 'code_interpreter', 'container': {'type': 'auto'}}],\n"
        "    include=['code_interpreter_call.outputs'],\n"
        ")\n"
        "response"
    ),
    new_markdown_cell(
        "## The hosted shell\n\n"
        "Files the shell's commands write into the container are found and saved like the code "
        "interpreter's; the commands and their output are shown like code runs."
    ),
    new_code_cell(
        'shell_prompt = """Count the words of a line.\n'
        "\n"
        "```bash\n"
        "echo 'the quick brown fox' | tr ' ' '\\\\n' | sort | uniq -c > words.txt && cat words.txt\n"
        '```"""\n'
        "client.responses.create(\n"
        "    model='gpt-5',\n"
        "    input=shell_prompt,\n"
        "    tools=[{'type': 'shell', 'environment': {'type': 'container_auto'}}],\n"
        ")"
    ),
    new_markdown_cell(
        "## Image generation\n\n"
        "The generated image (base64 in the reply) is saved as a PNG with a real name, and shown."
    ),
    new_code_cell(
        "client.responses.create(\n"
        "    model='gpt-4.1',\n"
        "    input='```image\\na lighthouse at dusk\\n```',\n"
        "    tools=[{'type': 'image_generation', 'size': '1024x1024'}],\n"
        ")"
    ),
    new_markdown_cell(
        "## A streamed reply\n\nA finished `responses.stream()` shows its final response, like the `Response`."
    ),
    new_code_cell(
        'cubes = """Write a CSV of cubes.\n'
        "\n"
        "```python\n"
        "with open('/mnt/data/cubes.csv', 'w') as handle:\n"
        "    handle.write('x,y\\\\n1,1\\\\n2,8\\\\n3,27\\\\n')\n"
        '```"""\n'
        "with client.responses.stream(\n"
        "    model='gpt-4.1',\n"
        "    input=cubes,\n"
        "    tools=[{'type': 'code_interpreter', 'container': {'type': 'auto'}}],\n"
        ") as stream:\n"
        "    for event in stream:\n"
        "        pass\n"
        "stream"
    ),
    new_code_cell("server.stop()"),
]


def write(name: str, cells: list[nbformat.NotebookNode]) -> Path:
    """Write one notebook with a Python 3 kernelspec and no outputs."""
    notebook = new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )
    path = HERE / f"{name}.ipynb"
    nbformat.validate(notebook)
    nbformat.write(notebook, path)
    return path


if __name__ == "__main__":
    for name, cells in (
        ("quickstart", QUICKSTART),
        ("workshop", WORKSHOP),
        ("legacy_assistants", LEGACY),
        ("plain_sdk", PLAIN_SDK),
    ):
        write(name, cells)
