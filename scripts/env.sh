# Sourced by the scripts: make .venv (Python 3.10 to 3.12) with patcher and its extras, install the
# pinned TensorFlow.js packages with npm ci and Debian's chromium (as root), and activate .venv.
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $($python --version)" >&2
  "$python" -m venv .venv
fi
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
  echo "installing patcher with its [tf,web,test] extras into .venv" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[tf,web,test]' >&2
  .venv/bin/python -c "import tensorflowjs.converters.converter" >&2
  touch .venv/.installed
fi
if [ ! -f node_modules/.installed ] || [ package-lock.json -nt node_modules/.installed ]; then
  echo "installing TensorFlow.js with npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  touch node_modules/.installed
fi
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian's chromium for the browser tests" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
  else
    echo "note: /usr/bin/chromium is missing (apt-get install chromium); the browser tests will be skipped" >&2
  fi
fi
source .venv/bin/activate
