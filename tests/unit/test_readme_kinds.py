"""The README's table of who may send which event type is the vocabulary's, not a copy."""

from __future__ import annotations

import re
from pathlib import Path

from schemas.vocabulary import kinds_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_table_matches_the_vocabulary() -> None:
    text = README.read_text()
    block = re.search(r"<!-- kinds-table.*?-->\n(.*?)<!-- /kinds-table -->", text, re.S)
    assert block is not None, "README lost its kinds table"
    rows = [line for line in block.group(1).splitlines() if line.startswith("| ") and "`" in line]
    documented = {
        row.split("|")[1].strip(): [t.strip(" `") for t in row.split("|")[2].split(",")]
        for row in rows
    }
    assert documented == dict(kinds_table())
