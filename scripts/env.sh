# Sourced by the scripts: make .venv (Python 3.10 to 3.12) with patcher and its extras, install the
# pinned TensorFlow.js packages with npm ci and, where NEED_CHROMIUM is set, Debian's chromium (as root),
# and activate .venv.
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $($python --version)" >&2
  "$python" -m venv .venv
fi
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
  echo "installing patcher with its [tf,web,test,lint] extras into .venv (pip's log: .venv/pip.log)" >&2
  # pip's and TensorFlow's own lines (the converter's import check starts TensorFlow) go to the log
  if ! { .venv/bin/python -m pip install --disable-pip-version-check -e '.[tf,web,test,lint]' &&
         .venv/bin/python -c "import tensorflowjs.converters.converter"; } > .venv/pip.log 2>&1; then
    tail -n 5 .venv/pip.log >&2
    echo "could not install patcher into .venv (see .venv/pip.log)" >&2
    exit 1
  fi
  touch .venv/.installed
fi
if [ ! -f node_modules/.installed ] || [ package-lock.json -nt node_modules/.installed ]; then
  echo "installing TensorFlow.js with npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error > /dev/null
  touch node_modules/.installed
fi
# Chromium only for what runs a browser: the tests and build --litert (NEED_CHROMIUM=1 before sourcing)
if [ -n "${NEED_CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian's chromium (apt-get; its log: .venv/apt.log)" >&2
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium; } > .venv/apt.log 2>&1; then
      tail -n 5 .venv/apt.log >&2
      echo "apt-get could not install chromium (see .venv/apt.log)" >&2
      exit 1
    fi
  else
    echo "note: /usr/bin/chromium is missing (apt-get install chromium); the browser steps will be skipped" >&2
  fi
fi
source .venv/bin/activate
