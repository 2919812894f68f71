"""MkDocs hooks for the site (mkdocs.yml, ``hooks:``).

* The JSON Schemas in ``gradcli/schemas/`` become files of the site, so the reference links
  them where the package keeps them (one copy: the package's).
* A generated block (``<!-- generated: NAME -->``, see tools/docs_examples.py) that differs
  from what the package generates now fails the build: the reference cannot go stale.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent


def _load_docs_examples():
    """tools/docs_examples.py (tools/ is not a package, so it is loaded from its file)."""
    spec = importlib.util.spec_from_file_location("docs_examples", ROOT / "tools" / "docs_examples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_examples"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


docs_examples = _load_docs_examples()


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
