# Sourced by ./test and ./run: make .venv (Python 3.11+) and install the project into it.
# Re-installs only when pyproject.toml changed since the last install.

find_python() {
  for py in "${NEWSFLOW_PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$py" ] || continue
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 14)))'; then
      echo "$py"; return 0
    fi
  done
  echo "newsflow: need Python 3.11, 3.12 or 3.13 on PATH (or set NEWSFLOW_PYTHON)" >&2
  return 1
}

bootstrap() {
  local extras="${1:-airflow,dev}"
  local py stamp want
  py=$(find_python) || return 1
  if [ ! -x .venv/bin/python ]; then
    echo "newsflow: creating .venv with $py" >&2
    "$py" -m venv .venv
  fi
  stamp=.venv/.newsflow-installed
  want="$(sha256sum pyproject.toml | cut -d' ' -f1) $extras"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  echo "newsflow: installing the project and its dependencies into .venv ..." >&2
  # uv resolves and installs Airflow in seconds; plain pip works too, only slower.
  local uv=""
  if command -v uv >/dev/null 2>&1; then
    uv=uv
  else
    .venv/bin/python -m pip --version >/dev/null 2>&1 || .venv/bin/python -m ensurepip -q >/dev/null
    if .venv/bin/python -m pip install -q --disable-pip-version-check uv >/dev/null 2>&1 && [ -x .venv/bin/uv ]; then
      uv=.venv/bin/uv
    fi
  fi
  if [ -n "$uv" ]; then
    "$uv" pip install -q -p .venv/bin/python -e ".[$extras]"
  else
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]"
  fi
  echo "$want" > "$stamp"
}
