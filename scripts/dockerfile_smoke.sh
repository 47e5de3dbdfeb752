#!/usr/bin/env bash
# CI check for the Dockerfile where no Docker engine runs: do what the image does, in a fresh venv.
#   1. build context: copy the repo minus .dockerignore (as `COPY . .` would)
#   2. dependencies: docker/install.sh, the same script the Dockerfile's RUN executes (CPU-only
#      torch check, packaged model check included)
#   3. environment: the Dockerfile's ENV lines
#   4. start: the Dockerfile's ENTRYPOINT + CMD (migrations, then streamlit), and poll
#      /_stcore/health until "ok", as its HEALTHCHECK does; then check the schema is at head.
# Takes 1-3 minutes. SMOKE_KEEP=1 keeps the temp dir. TORCH_INDEX_URL as in docker/install.sh
# (default here: empty, i.e. pip's configured indexes, which on CI provide the +cpu wheel).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
PYTHON="${PYTHON:-python3}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/classgpt-smoke.XXXXXX")"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  # deleting ~1.5 GB of venv can take a minute on a slow disk: do it in the background
  if [ "${SMOKE_KEEP:-0}" != 1 ]; then (rm -rf "$TMP" >/dev/null 2>&1 &); else echo "kept $TMP"; fi
  echo "[smoke +$(( $(date +%s) - started ))s] cleaned up"
}
trap cleanup EXIT
started=$(date +%s)
step() { echo "[smoke +$(( $(date +%s) - started ))s] $*"; }

step "build context in $TMP/app (repo minus .dockerignore)"
"$PYTHON" - "$REPO" "$TMP/app" <<'PY'
import fnmatch, shutil, sys
from pathlib import Path
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
patterns = [l.strip() for l in (src / ".dockerignore").read_text().splitlines() if l.strip() and not l.startswith("#")]
def ignored(rel: str) -> bool:
    parts = rel.split("/")
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(parts[-1], p.removeprefix("**/"))
               or any(fnmatch.fnmatch("/".join(parts[:i]), p) for i in range(1, len(parts)))
               for p in patterns)
for path in sorted(src.rglob("*")):
    rel = path.relative_to(src).as_posix()
    if path.is_file() and not ignored(rel):
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dst / rel)
for must in ("app.py", "core/__main__.py", "db/env.py", "docker/entrypoint.sh", "requirements.txt"):
    assert (dst / must).exists(), f"the build context lacks {must}: check .dockerignore"
PY

step "fresh venv + docker/install.sh (the Dockerfile's install step)"
"$PYTHON" -m venv "$TMP/venv"
export PATH="$TMP/venv/bin:$PATH" VIRTUAL_ENV="$TMP/venv"
python -m pip install --quiet --upgrade pip >/dev/null
(cd "$TMP/app" && TORCH_INDEX_URL="${TORCH_INDEX_URL-}" sh docker/install.sh requirements.txt) >"$TMP/install.log" 2>&1 \
  || { tail -40 "$TMP/install.log"; echo "FAIL: docker/install.sh"; exit 1; }
tail -1 "$TMP/install.log"

step "the Dockerfile's ENV, ENTRYPOINT and CMD"
eval "$("$PYTHON" - "$REPO/Dockerfile" "$TMP" <<'PY'
import json, re, shlex, sys
text = re.sub(r"\\\n", " ", open(sys.argv[1]).read())
tmp = sys.argv[2]
env, entry, cmd = {}, [], []
for line in text.splitlines():
    line = line.strip()
    if line.startswith("ENV "):
        env.update(dict(tok.split("=", 1) for tok in shlex.split(line[4:])))
    elif line.startswith("ENTRYPOINT "):
        entry = json.loads(line[11:])
    elif line.startswith("CMD "):
        cmd = json.loads(line[4:])
env.pop("PATH", None); env.pop("VIRTUAL_ENV", None)  # the fresh venv stands in for /opt/venv
env["DATA_DIR"] = f"{tmp}/data"  # /app/data in the image
for k, v in env.items():
    print(f"export {k}={shlex.quote(v)}")
entry = [e.replace("/app/", f"{tmp}/app/", 1) if e.startswith("/app/") else e for e in entry]
print("START=(" + " ".join(shlex.quote(x) for x in entry + cmd) + ")")
PY
)"
echo "  ${START[*]}"
PORT="$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

step "the image as built is production: with no safe settings its first step refuses, naming them"
if (cd "$TMP/app" && "${START[@]}") >"$TMP/refused.log" 2>&1; then
  cat "$TMP/refused.log"; echo "FAIL: the image started without AUTH_COOKIE_KEY, DATABASE_URL or storage settings"; exit 1
fi
if ! grep -q "Refusing to start in production" "$TMP/refused.log" || ! grep -q "AUTH_COOKIE_KEY" "$TMP/refused.log"; then
  cat "$TMP/refused.log"; echo "FAIL: the refusal does not name the unsafe settings"; exit 1
fi
step "  refused: $(grep -c '^- ' "$TMP/refused.log") unsafe settings named"

# this check runs on one machine: SQLite and local files, allowed explicitly, and a random cookie key
AUTH_COOKIE_KEY="$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(48))')"
export AUTH_COOKIE_KEY ALLOW_SQLITE_IN_PRODUCTION=true ALLOW_LOCAL_STORAGE_IN_PRODUCTION=true

step "start (migrations, then streamlit) on 127.0.0.1:$PORT"
# the CMD's own flags stay; later flags win, so the server binds to loopback on a free port here
(cd "$TMP/app" && exec "${START[@]}" --server.address=127.0.0.1 "--server.port=$PORT") >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
health=""
for _ in $(seq 240); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    tail -40 "$TMP/server.log"; echo "FAIL: the server exited"; exit 1
  fi
  health="$(python -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$PORT/_stcore/health', timeout=2).read().decode())" 2>/dev/null || true)"
  [ "$health" = "ok" ] && break
  sleep 0.5
done
if [ "$health" != "ok" ]; then tail -40 "$TMP/server.log"; echo "FAIL: /_stcore/health never answered ok"; exit 1; fi
step "/_stcore/health: ok"
python - "$PORT" <<'PY'
import sys, urllib.request
body = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=5).read()
assert b"<html" in body.lower(), "the app's page did not load"
PY
(cd "$TMP/app" && python - <<'PY'
from core.config import Settings
from core.database import current_revision, head_revision, make_engine
rev = current_revision(make_engine(Settings().sqlalchemy_url))
assert rev == head_revision(), f"schema at {rev}, expected {head_revision()}: the entrypoint did not migrate"
print(f"  schema at head ({rev})")
PY
)
step "PASS"
