#!/usr/bin/env bash
# CI check for Streamlit Community Cloud (docs/streamlit-cloud.md): do with this repository what
# Cloud does, on this machine, and fail where Cloud would.
#   1. the repository as Cloud clones it: tracked files and new ones git does not ignore, copied to
#      a temp dir (no secrets.toml, data/ or .venv of this checkout comes along)
#   2. a fresh venv (python -m venv) and `pip install -r requirements.txt`, the file Cloud finds
#      beside app.py: nothing installed before it (no pip upgrade, no torch first), nothing after
#   3. CPU only: no nvidia-*/triton/cuda distributions, torch.version.cuda is None, a +cpu torch;
#      the packaged model embeds a sentence (what the first upload or question does on Cloud)
#   4. secrets: the demo block of .streamlit/secrets.toml.example (the embedded default) with a
#      random key, plus DATA_DIR in a temp dir, as .streamlit/secrets.toml; `streamlit run app.py`
#      from the copy's root, as Cloud starts it; /_stcore/health answers ok and / serves the page
#   5. a session over Streamlit's websocket, as a browser opens one: the login form renders with
#      no error, and the database was made and migrated in the DATA_DIR the secrets named (the
#      secrets reached core.config through the environment)
#   6. the same secrets without the cookie key: the page refuses to start, naming AUTH_COOKIE_KEY
# Cloud installs with uv and falls back to pip; uv is not in the project, so this check runs pip
# (docs/streamlit-cloud.md says how the file suits both). ~2 minutes here.
# PYTHON: the interpreter (Cloud: pick 3.11). CLOUD_CHECK_KEEP=1 keeps the temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
PYTHON="${PYTHON:-python3}"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/classgpt-cloud.XXXXXX")"
SERVER_PID=""
started=$(date +%s)
step() { echo "[cloud +$(( $(date +%s) - started ))s] $*"; }
fail() { echo "FAIL: $*"; exit 1; }

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  if [ -n "$SERVER_PID" ]; then wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=""
}
cleanup() {
  stop_server
  # ~1.5 GB of venv: deleted in the background so the check's result is not kept waiting
  if [ "${CLOUD_CHECK_KEEP:-0}" = 1 ]; then echo "kept $TMP"; else (rm -rf "$TMP" >/dev/null 2>&1 &); fi
}
trap cleanup EXIT

step "1. the repository as Cloud clones it, in $TMP/app"
mkdir "$TMP/app"
# tracked and new files, minus the ignored ones; a tracked file deleted in the work tree is skipped
git -C "$REPO" ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do if [ -f "$f" ]; then printf '%s\0' "$f"; fi; done \
  | tar --null -T - -cf - | tar -xf - -C "$TMP/app"
for must in app.py requirements.txt .streamlit/config.toml .streamlit/secrets.toml.example; do
  [ -f "$TMP/app/$must" ] || fail "the copy lacks $must"
done
[ ! -e "$TMP/app/.streamlit/secrets.toml" ] || fail "a secrets.toml would be pushed: it must be git-ignored"

step "2. fresh venv ($("$PYTHON" --version)) + pip install -r requirements.txt"
"$PYTHON" -m venv "$TMP/venv"
VPY="$TMP/venv/bin/python"
# Cloud reaches PyTorch's CPU page; a machine that cannot (CI) gets the +cpu wheel from pip's own
# find-links, and pip only warns. One retry instead of pip's five: it fetches the page per package.
if ! "$VPY" -c "import urllib.request; urllib.request.urlopen('https://download.pytorch.org/whl/cpu/torch/', timeout=5)" \
    2>/dev/null; then
  export PIP_RETRIES=1
  step "  download.pytorch.org is unreachable here: pip will warn and use its configured find-links"
fi
(cd "$TMP/app" && "$VPY" -m pip install -r requirements.txt) >"$TMP/install.log" 2>&1 \
  || { tail -40 "$TMP/install.log"; fail "pip install -r requirements.txt"; }
step "  installed; pip warned $(grep -c 'whl/cpu/torch/' "$TMP/install.log" || true) times about PyTorch's page"

step "3. CPU-only wheels, and the packaged model runs"
(cd "$TMP/app" && "$VPY" - <<'PY'
import importlib.metadata as md
import resource

import torch

gpu = sorted(d.metadata["Name"] for d in md.distributions()
             if d.metadata["Name"].lower().startswith(("nvidia-", "triton", "cuda")))
assert not gpu, f"GPU packages installed: {gpu}"
assert torch.version.cuda is None, f"torch {torch.__version__} is a CUDA build"
assert torch.__version__.endswith("+cpu"), f"torch {torch.__version__}: expected the +cpu build"

from core.search.embeddings import make_embedder

embedder = make_embedder("minilm", precision="auto")
vector = embedder.embed_query("What is a tuple in Python?")
assert vector.shape == (384,) and abs(float((vector ** 2).sum()) - 1) < 1e-3, vector.shape
print(f"  torch {torch.__version__}, no GPU packages; model embeds on {embedder.precision}; "
      f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
PY
) || fail "the venv is not CPU-only, or the model does not run"

# The demo block of the example (between "# demo-begin" and "# demo-end", commented out there),
# uncommented, with a random key unless told otherwise; DATA_DIR keeps the database in $TMP/data.
write_secrets() {  # $1: the cookie key ("" keeps the example's placeholder)
  local demo
  demo="$(sed -n '/^# demo-begin/,/^# demo-end/{/^# demo-/d;s/^# //;p}' "$TMP/app/.streamlit/secrets.toml.example")"
  [ -n "$demo" ] || fail "no demo block in .streamlit/secrets.toml.example"
  if [ -n "$1" ]; then demo="${demo//\"REPLACE_ME\"/\"$1\"}"; fi
  printf '%s\nDATA_DIR = "%s"\n' "$demo" "$TMP/data" >"$TMP/app/.streamlit/secrets.toml"
}

PORT="$("$VPY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
start_server() {  # as Cloud: `streamlit run app.py` from the repository's root, the venv's streamlit
  (cd "$TMP/app" && exec "$TMP/venv/bin/streamlit" run app.py --server.headless=true \
      --server.address=127.0.0.1 "--server.port=$PORT") >"$TMP/server.log" 2>&1 &
  SERVER_PID=$!
  local health=""
  for _ in $(seq 240); do
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -40 "$TMP/server.log"; fail "the server exited"; }
    health="$("$VPY" -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$PORT/_stcore/health', timeout=2).read().decode())" 2>/dev/null || true)"
    [ "$health" = "ok" ] && return 0
    sleep 0.5
  done
  tail -40 "$TMP/server.log"; fail "/_stcore/health never answered ok"
}

# One browser session's first run over /_stcore/stream (protobuf, as Streamlit's frontend speaks
# it): prints the text inputs and the errors the page rendered.
session() {
  "$VPY" - "$PORT" <<'PY'
import asyncio, json, sys

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

async def first_run(port: str) -> dict:
    async with websockets.connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"],
                                  max_size=None, open_timeout=30) as ws:
        rerun = BackMsg()
        rerun.rerun_script.query_string = ""
        await ws.send(rerun.SerializeToString())
        page = {"inputs": [], "errors": []}
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await asyncio.wait_for(ws.recv(), 120))
            kind = msg.WhichOneof("type")
            if kind == "new_session":  # a (re)run starts: its page replaces the last one
                page = {"inputs": [], "errors": []}
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                if element.WhichOneof("type") == "text_input":
                    page["inputs"].append(element.text_input.label)
                elif element.WhichOneof("type") == "alert" and element.alert.format == element.alert.ERROR:
                    page["errors"].append(element.alert.body)
                elif element.WhichOneof("type") == "exception":
                    page["errors"].append(f"{element.exception.type}: {element.exception.message}")
            elif kind == "script_finished" and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return page

print(json.dumps(asyncio.run(first_run(sys.argv[1]))))
PY
}

step "4. demo secrets, streamlit run app.py on 127.0.0.1:$PORT"
write_secrets "$("$VPY" -c 'import secrets; print(secrets.token_urlsafe(48))')"
start_server
step "  /_stcore/health: ok"
"$VPY" -c "import urllib.request; body = urllib.request.urlopen('http://127.0.0.1:$PORT/', timeout=5).read(); assert b'<div id=\"root\">' in body, body[:200]" \
  || fail "/ did not serve the app's page"

step "5. a browser's session: the login page, and the database where the secrets put it"
page="$(session)" || { tail -30 "$TMP/server.log"; fail "no session over the websocket"; }
echo "  $page"
"$VPY" -c "import json, sys; p = json.loads(sys.argv[1]); assert p['inputs'] == ['Email', 'Password'] and not p['errors'], p" \
  "$page" || fail "the login page did not render cleanly"
[ -f "$TMP/data/classgpt.db" ] || fail "no database in the secrets' DATA_DIR: the secrets did not reach core.config"
(cd "$TMP/app" && DATA_DIR="$TMP/data" "$VPY" -c "
from core.config import Settings
from core.database import current_revision, head_revision, make_engine
rev = current_revision(make_engine(Settings().sqlalchemy_url))
assert rev == head_revision(), f'schema at {rev}, expected {head_revision()}'
print(f'  {Settings().sqlalchemy_url}: schema at head ({rev})')
") || fail "the app did not migrate its database"
stop_server

step "6. the same secrets with the example's placeholder key: production refuses, naming it"
write_secrets ""
start_server
page="$(session)" || { tail -30 "$TMP/server.log"; fail "no session over the websocket"; }
"$VPY" -c "import json, sys; p = json.loads(sys.argv[1]); assert not p['inputs'] and any('AUTH_COOKIE_KEY' in e for e in p['errors']), p" \
  "$page" || fail "the app started with a placeholder cookie key: $page"
step "  refused: $(cut -c1-160 <<<"$page")"
stop_server
step "PASS"
