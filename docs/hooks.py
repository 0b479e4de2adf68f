"""MkDocs hooks (mkdocs.yml): the README's walkthrough, the very blocks CI runs, shown in the site's walkthrough page.

The page holds the line `<!-- README walkthrough -->`; it becomes the README's text between its walkthrough markers,
with the blocks' fence `bash walkthrough` (the mark .ci/readme-walkthrough finds them by) shown as plain `bash`.
"""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
PLACEHOLDER = "<!-- README walkthrough -->"
SECTION = re.compile(r"<!-- walkthrough: start -->\n(.*?)<!-- walkthrough: end -->", re.S)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if PLACEHOLDER not in markdown:
        return markdown
    found = SECTION.search(README.read_text())
    if found is None:
        raise ValueError("README.md has no walkthrough markers")
    walkthrough = found.group(1).replace("```bash walkthrough\n", "```bash\n")
    walkthrough = re.sub(r"^## Walkthrough\n", "", walkthrough, flags=re.M)  # the page has its own title
    return markdown.replace(PLACEHOLDER, walkthrough)
