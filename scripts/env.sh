# Sourced by the scripts: make .venv (Python 3.10 to 3.12) with patcher and its extras, and activate it.
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $($python --version)" >&2
  "$python" -m venv .venv
fi
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
  echo "installing patcher with its [tf,test] extras into .venv" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[tf,test]' >&2
  touch .venv/.installed
fi
source .venv/bin/activate
