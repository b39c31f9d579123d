"""Writing a benchmark's table into bench/README.md between its markers (shared by every bench script)."""

from __future__ import annotations

from pathlib import Path


def write_section(readme: Path, key: str, title: str, text: str) -> None:
    """Replace the text between ``<!-- key:start -->`` and ``<!-- key:end -->`` in ``readme``; if the markers are
    absent, append a ``## title`` section holding them."""
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    body = readme.read_text(encoding="utf-8") if readme.exists() else "# Benchmarks\n"
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in body and end in body:
        body = body[: body.index(start)] + block + body[body.index(end) + len(end) :]
    else:
        body = body.rstrip() + f"\n\n## {title}\n\n{block}\n"
    readme.write_text(body, encoding="utf-8")
