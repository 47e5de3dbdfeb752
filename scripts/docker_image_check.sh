#!/usr/bin/env bash
# Build the real image from a clean checkout, run it, probe it (issue 12 item 2; docs/deploy.md).
#
#   1. engine: Debian's docker.io (and debootstrap) installed with apt if missing; dockerd started
#      if none answers, and stopped again at the end.
#   2. base: the Dockerfile's FROM image. Docker Hub is not reachable from CI, so unless the real
#      image is already here or can be pulled, a STAND-IN is built with debootstrap and tagged
#      with its name: Debian bookworm + Debian's python3 (3.11), python3-venv and python3-pip,
#      with `python` on PATH, i.e. what the Dockerfile uses of the official slim image. It is not
#      the official image (Debian's 3.11.2 in /usr/bin, not 3.11.7 built in /usr/local); it is
#      labelled as a stand-in and reused by later runs.
#   3. build: the Dockerfile, on the tracked and new files of the working tree (no .venv, no data).
#      This host reaches PyPI only through its own CA bundle, and its CPU torch wheel lies on disk:
#      both go into a small image passed as the Dockerfile's optional pip-extra stage, mounted for
#      the install step only (nothing of it lands in the image). Prints build time and size.
#   4. run: SQLite and local files in the container, a random cookie key; wait for the image's
#      HEALTHCHECK (/_stcore/health); then, inside it, `python -m core`: a user, a class, a
#      two-page PDF ingested, a question whose cited source must be that PDF's page 2.
#   5. refuse: the same image with a short AUTH_COOKIE_KEY must exit non-zero, naming it.
#
# Exit 0: passed. 1: failed. 77: skipped, this machine cannot run Docker (last line: "SKIP: why").
# IMAGE_CHECK_TAG (default classgpt:check) names the image; it is kept for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
TAG="${IMAGE_CHECK_TAG:-classgpt:check}"
EXTRA_TAG="classgpt-pip-extra:check"
STANDIN_LABEL="org.classgpt.standin"
started=$(date +%s)
step() { echo "[image-check +$(( $(date +%s) - started ))s] $*"; }
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/classgpt-image.XXXXXX")"
DOCKERD_PID=""
CONTAINER=""
cleanup() {
  if [ -n "$CONTAINER" ]; then "$DOCKER" rm -f "$CONTAINER" >/dev/null 2>&1 || true; fi
  if [ -n "$DOCKERD_PID" ]; then  # only the engine this script started
    kill "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 40); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -rf "$WORK"
}
DOCKER=docker
trap cleanup EXIT
trap 'exit 143' TERM INT  # so that a killed check still stops its container and engine

# ---------------------------------------------------------------------------------------------
step "1. a Docker engine"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
can_root=0
{ [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; } && can_root=1
apt_install() {  # the package lists may be missing on a fresh machine: update once, then retry
  command -v apt-get >/dev/null || return 1
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -qq --no-install-recommends "$@" >"$WORK/apt.log" 2>&1 \
    || { as_root apt-get update -qq >>"$WORK/apt.log" 2>&1 \
         && as_root apt-get install -y -qq --no-install-recommends "$@" >>"$WORK/apt.log" 2>&1; }
}
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
# docker-compose validates the compose files (step 6); the check goes on without it
if [ "$can_root" = 1 ] && ! command -v docker-compose >/dev/null && command -v apt-get >/dev/null; then
  missing+=(docker-compose)
fi
if [ ${#missing[@]} -gt 0 ]; then
  [ "$can_root" = 1 ] || skip "needs root (or sudo -n) to install ${missing[*]}"
  command -v apt-get >/dev/null || skip "no apt-get to install ${missing[*]}"
  apt_install "${missing[@]}" || { tail -20 "$WORK/apt.log"; skip "apt-get could not install ${missing[*]}"; }
  step "  installed ${missing[*]}"
fi
# The Dockerfile needs BuildKit (RUN --mount). Debian's client (20.10) has it built in; a newer
# client without the buildx plugin (like /usr/local/bin/docker on CI) would use the legacy builder.
if docker buildx version >/dev/null 2>&1; then DOCKER=docker
elif [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker
else skip "no Docker client with BuildKit (install docker.io or the buildx plugin)"; fi
export DOCKER_BUILDKIT=1

if ! "$DOCKER" info >/dev/null 2>&1; then
  [ "$can_root" = 1 ] || skip "no Docker engine answers and starting one needs root"
  # Defaults work on CI (overlay2 storage, iptables NAT for the build's network); vfs is the
  # fallback for kernels or containers without overlayfs.
  sudo=(); [ "$(id -u)" = 0 ] || sudo=(sudo -n)  # (sudo passes our kill on to dockerd)
  for flags in "" "--storage-driver=vfs"; do
    # shellcheck disable=SC2086  # flags is empty or one word
    "${sudo[@]}" dockerd $flags >"$WORK/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 60); do
      "$DOCKER" info >/dev/null 2>&1 && break
      kill -0 "$DOCKERD_PID" 2>/dev/null || break
      sleep 0.5
    done
    "$DOCKER" info >/dev/null 2>&1 && break
    kill "$DOCKERD_PID" 2>/dev/null || true; wait "$DOCKERD_PID" 2>/dev/null || true; DOCKERD_PID=""
  done
  if [ -z "$DOCKERD_PID" ]; then
    tail -15 "$WORK/dockerd.log"
    skip "dockerd does not start here (no privileges for namespaces, cgroups or mounts?)"
  fi
  step "  started dockerd ${flags:-(default flags)}: $("$DOCKER" info -f '{{.Driver}} storage, server {{.ServerVersion}}')"
fi

# ---------------------------------------------------------------------------------------------
BASE="$(awk 'toupper($1) == "FROM" { base = $2 } END { print base }' Dockerfile)"  # the last stage's
step "2. base image $BASE"
if "$DOCKER" image inspect "$BASE" >/dev/null 2>&1; then
  kind="$("$DOCKER" image inspect -f "{{index .Config.Labels \"$STANDIN_LABEL\"}}" "$BASE")"
  step "  present already: ${kind:-the real image}"
elif timeout 60 "$DOCKER" pull -q "$BASE" >/dev/null 2>&1; then
  step "  pulled the real image"
else
  [ "$can_root" = 1 ] || skip "$BASE cannot be pulled and the stand-in (debootstrap) needs root"
  step "  not pullable (Docker Hub is unreachable from CI): building the debootstrap STAND-IN"
  ROOTFS="$WORK/rootfs"
  # minbase: no recommends; python-is-python3 gives the `python` the Dockerfile calls
  as_root debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates,netbase \
    bookworm "$ROOTFS" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; fail "debootstrap"; }
  as_root rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* \
    "$ROOTFS"/usr/share/doc "$ROOTFS"/usr/share/man
  # the official image's PATH (an image without it would leave the Dockerfile's
  # PATH=/opt/venv/bin:$PATH with nothing else), locale and command
  as_root tar -C "$ROOTFS" -c . | "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL $STANDIN_LABEL=\"debootstrap bookworm + Debian python3; not the official $BASE\"" \
    --change 'CMD ["python3"]' \
    --message "stand-in for $BASE (scripts/docker_image_check.sh)" - "$BASE" >/dev/null
  as_root rm -rf "$ROOTFS"
  step "  stand-in tagged $BASE: $("$DOCKER" run --rm "$BASE" sh -c 'python --version && python -m pip --version' | tr '\n' ' ')"
fi

# ---------------------------------------------------------------------------------------------
step "3. build $TAG from a clean checkout"
CTX="$WORK/context"
mkdir -p "$CTX"
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
  # tracked and new files, as a checkout with this work committed would hold (no .venv, data, caches)
  git -C "$ROOT" ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done \
    | tar -C "$ROOT" --null -T - -cf - | tar -C "$CTX" -xf -
else
  tar -C "$ROOT" --exclude=.venv --exclude=data -cf - . | tar -C "$CTX" -xf -
fi

# The host's pip settings for the install step: its CA bundle (PyPI is reached through a proxy
# with its own CA) and local wheels (the CPU torch build; download.pytorch.org is unreachable).
pip_setting() { python3 -m pip config list 2>/dev/null | sed -n "s/^[^=]*\.$1='\(.*\)'$/\1/p" | head -1; }
ca="$(pip_setting cert)"; ca="${ca:-${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}}"
links="$(pip_setting find-links)"; links="${links:-${PIP_FIND_LINKS:-}}"
mount="$(sed -n 's/.*from=pip-extra,target=\([^ ]*\).*/\1/p' Dockerfile)"
[ -n "$mount" ] || fail "the Dockerfile does not mount the pip-extra stage"
EXTRA="$WORK/pip-extra"
mkdir -p "$EXTRA/wheels"
cp "$ca" "$EXTRA/ca.crt"
for dir in $links; do
  dir="${dir#file://}"
  [ -d "$dir" ] && find "$dir" -maxdepth 1 -name '*.whl' -exec cp {} "$EXTRA/wheels/" \;
done
# retries = 1: requirements.txt may name PyTorch's page as find-links, unreachable here; pip would
# retry it five times, with back-off, for every package
printf '[global]\ncert = %s/ca.crt\nfind-links = %s/wheels\ntimeout = 60\nretries = 1\n' "$mount" "$mount" \
  >"$EXTRA/pip.conf"
build_args=(--build-arg "PIP_EXTRA_IMAGE=$EXTRA_TAG")
if compgen -G "$EXTRA/wheels/torch-*.whl" >/dev/null; then
  build_args+=(--build-arg TORCH_INDEX_URL=)  # the local wheel, found through find-links
fi
tar -C "$EXTRA" -cf - . | "$DOCKER" import --message "build-time pip settings" - "$EXTRA_TAG" >/dev/null
step "  pip-extra: CA bundle $ca, wheels: $(find "$EXTRA/wheels" -name '*.whl' -printf '%f ')"

build_start=$(date +%s)
if ! "$DOCKER" build --progress=plain "${build_args[@]}" -t "$TAG" "$CTX" >"$WORK/build.log" 2>&1; then
  tail -60 "$WORK/build.log"; fail "docker build"
fi
build_s=$(( $(date +%s) - build_start ))
grep -E '^#[0-9]+ [0-9.]+ ok: torch' "$WORK/build.log" | sed 's/^#[0-9]* [0-9.]* /  /' || true
size=$("$DOCKER" image inspect -f '{{.Size}}' "$TAG")
echo "IMAGE $TAG: size $(( size / 1000000 )) MB, build time ${build_s} s"
"$DOCKER" image prune -f >/dev/null 2>&1 || true  # earlier builds' untagged images

# ---------------------------------------------------------------------------------------------
step "4. run it: health check, then python -m core inside"
KEY="$(head -c 36 /dev/urandom | base64 | tr -d '\n')"
PASSWORD="Check-$(head -c 18 /dev/urandom | base64 | tr -d '\n/+=')"
CONTAINER="classgpt-check-$$"
# the image's own HEALTHCHECK command, polled every 2 s instead of 30 s
"$DOCKER" run -d --name "$CONTAINER" --health-interval=2s --health-start-period=180s \
  -e AUTH_COOKIE_KEY="$KEY" -e ALLOW_SQLITE_IN_PRODUCTION=true -e ALLOW_LOCAL_STORAGE_IN_PRODUCTION=true \
  "$TAG" >/dev/null
health=""
for _ in $(seq 180); do
  health="$("$DOCKER" inspect -f '{{if .State.Running}}{{.State.Health.Status}}{{else}}exited{{end}}' "$CONTAINER")"
  [ "$health" = healthy ] || [ "$health" = exited ] || [ "$health" = unhealthy ] && break
  sleep 1
done
if [ "$health" != healthy ]; then "$DOCKER" logs --tail 40 "$CONTAINER" 2>&1; fail "container health: $health"; fi
step "  HEALTHCHECK: healthy"

core() { "$DOCKER" exec -i "$CONTAINER" python -m core "$@"; }
printf '%s\n' "$PASSWORD" | core create-user --email prof@example.edu --password-stdin
class_id="$(core create-class --name "Image check" --owner prof@example.edu --json \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
# a two-page PDF, written by the image's own Python (no tool needed on the host)
"$DOCKER" exec -i "$CONTAINER" python - /tmp/check.pdf <<'PY'
import sys
pages = ["Week 1. Course organisation, office hours and grading.",
         "Week 2. Photosynthesis is the process by which green plants turn light, water and "
         "carbon dioxide into glucose and oxygen. It takes place in the chloroplasts."]
objs = ["<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages))), len(pages)),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
for i, text in enumerate(pages):
    lines = [text[j:j + 70] for j in range(0, len(text), 70)]
    body = "BT /F1 11 Tf 14 TL 60 760 Td " + " ".join(f"({l}) Tj T*" for l in lines) + " ET"
    objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                f"/Contents {5 + 2 * i} 0 R >>")
    objs.append(f"<< /Length {len(body)} >>\nstream\n{body}\nendstream")
out, offsets = b"%PDF-1.4\n", []
for n, obj in enumerate(objs, 1):
    offsets.append(len(out))
    out += f"{n} 0 obj\n{obj}\nendobj\n".encode()
xref = len(out)
out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
open(sys.argv[1], "wb").write(out)
PY
core ingest --class "$class_id" --as prof@example.edu /tmp/check.pdf || fail "ingest"
core ask --class "$class_id" --as prof@example.edu --json "What is photosynthesis?" >"$WORK/answer.json" \
  || fail "ask"
python3 - "$WORK/answer.json" <<'PY' || fail "the answer does not cite the PDF's page 2"
import json, sys
answer = json.load(open(sys.argv[1]))
cited = [(c["document"], str(c["page"])) for c in answer["citations"]]
print(f"  answer: {answer['answer'][:100]!r}")
print(f"  cited: {cited}")
assert cited and cited[0] == ("check.pdf", "2"), cited
assert "glucose" in answer["answer"], "the answer does not hold the definition"
PY
step "  a class, an ingested PDF and an answer citing check.pdf page 2"
# the worker process group's command is in the image (it needs PostgreSQL to take jobs: item 1)
core worker --help >/dev/null || fail "python -m core worker --help"
step "  python -m core worker --help: ok"
"$DOCKER" rm -f "$CONTAINER" >/dev/null
CONTAINER=""

# ---------------------------------------------------------------------------------------------
step "5. the same image with unsafe production settings"
# the settings that ran above, but for the cookie key: the refusal can only be about that
refused=0
"$DOCKER" run --rm -e AUTH_COOKIE_KEY=too-short -e ALLOW_SQLITE_IN_PRODUCTION=true \
  -e ALLOW_LOCAL_STORAGE_IN_PRODUCTION=true "$TAG" >"$WORK/refused.log" 2>&1 || refused=$?
if [ "$refused" = 0 ]; then
  cat "$WORK/refused.log"; fail "the image started with AUTH_COOKIE_KEY=too-short"
fi
if ! grep -q "Refusing to start in production" "$WORK/refused.log" || ! grep -q "AUTH_COOKIE_KEY" "$WORK/refused.log"; then
  cat "$WORK/refused.log"; fail "the refusal does not name AUTH_COOKIE_KEY"
fi
sed -n '/Refusing/,$p' "$WORK/refused.log" | head -6 | sed 's/^/  /'
step "  refused: exit $refused, reason named"

# ---------------------------------------------------------------------------------------------
# Debian's docker-compose is v1.29 (bookworm has no compose plugin): it validates the services,
# anchors, depends_on conditions and interpolation, but predates the top-level `name:` of the
# Compose Specification, so that one line is left out of the copy it reads.
step "6. the compose files: docker-compose config"
if ! command -v docker-compose >/dev/null; then
  step "  not validated: no docker-compose here (tests/test_docker_image.py reads them as YAML)"
fi
for file in docker-compose.yml docker-compose.prod.yml; do
  command -v docker-compose >/dev/null || break
  sed '/^name: /d' "$file" >"$WORK/$file"
  AUTH_COOKIE_KEY=k DATABASE_URL=postgresql+psycopg2://u@h/d S3_BUCKET=b AWS_ACCESS_KEY_ID=a AWS_SECRET_ACCESS_KEY=s \
    docker-compose --project-directory "$ROOT" -f "$WORK/$file" config -q || fail "docker-compose config: $file"
  step "  $file: valid"
done
step "PASS (image $TAG: $(( size / 1000000 )) MB, built in ${build_s} s)"
