"""MkDocs hooks for the site (mkdocs.yml, ``hooks:``).

* The JSON Schemas in ``gradcli/schemas/`` become files of the site, so the reference links
  them where the package keeps them (one copy: the package's).
* A generated block (``<!-- generated: NAME -->``, see tools/docs_examples.py) that differs
  from what the package generates now fails the build: the reference cannot go stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import docs_examples  # noqa: E402  (tools/ is not a package)


def on_files(files, config):
    for schema in sorted((ROOT / "gradcli" / "schemas").glob("*.schema.json")):
        files.append(File(f"schemas/{schema.name}", str(ROOT / "gradcli"), config["site_dir"],
                          config["use_directory_urls"]))
    return files


def on_page_markdown(markdown, page, config, files):
    for match in docs_examples.GENERATED.finditer(markdown):
        if match.group(3) != docs_examples.generate(match.group(2)):
            raise PluginError(f"{page.file.src_path}: the generated block {match.group(2)!r} is stale; "
                              "run `python tools/docs_examples.py --update`")
    return markdown
