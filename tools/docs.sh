#!/usr/bin/env bash
# Builds the documentation site (docs/, mkdocs.yml) into build/site with
# warnings as errors (broken links and anchors included). Its venv,
# build/docsenv, is made once, with the versions below.
#
#   tools/docs.sh          # build (tools/test.sh runs it)
#   tools/docs.sh serve    # preview on http://127.0.0.1:8000
set -euo pipefail
cd "$(dirname "$0")/.."
DOCS_PACKAGES=(mkdocs==1.6.1 mkdocs-material==9.8.2)
venv=build/docsenv
if ! "$venv/bin/python" -c 'import mkdocs, material' 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "${DOCS_PACKAGES[@]}"
fi
export NO_MKDOCS_2_WARNING=1
if [ "${1:-}" = serve ]; then
  exec "$venv/bin/mkdocs" serve
fi
"$venv/bin/mkdocs" build --strict --quiet
echo "docs: build/site ($(find build/site -name '*.html' | wc -l) pages)"
