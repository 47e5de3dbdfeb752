#!/usr/bin/env bash
# Deploy ClassGPT to Fly.io (docs/deploy.md).
#
#   ./deploy.sh                 check secrets, build, migrate (release_command), deploy
#   ./deploy.sh --check         only check that the required secrets are set
#   ./deploy.sh --image REF     redeploy an existing image (rollback), same checks
#
# FLY_APP overrides the app name in fly.toml. Extra arguments go to `fly deploy`.
set -euo pipefail
cd "$(dirname "$0")"

REQUIRED_SECRETS=(AUTH_COOKIE_KEY DATABASE_URL S3_BUCKET AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY)

FLY="$(command -v fly || command -v flyctl || true)"
if [ -z "$FLY" ]; then
  echo "error: flyctl is not installed (https://fly.io/docs/flyctl/install/)" >&2
  exit 2
fi
APP="${FLY_APP:-$(sed -n 's/^app = "\(.*\)"/\1/p' fly.toml)}"

check_only=0
deploy_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check_only=1 ;;
    --image) deploy_args+=(--image "$2"); shift ;;
    *) deploy_args+=("$1") ;;
  esac
  shift
done

# 1. every required secret is set (values are never shown: fly lists names and digests only)
set_names="$("$FLY" secrets list --app "$APP" --json | python3 -c '
import json, sys
print("\n".join(str(s.get("Name") or s.get("name")) for s in json.load(sys.stdin)))')"
missing=()
for name in "${REQUIRED_SECRETS[@]}"; do
  grep -qx "$name" <<<"$set_names" || missing+=("$name")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "error: Fly secrets not set for $APP: ${missing[*]}" >&2
  echo "       fly secrets set --app $APP NAME=value ...   (see docs/deploy.md)" >&2
  exit 2
fi
echo "secrets: all of ${REQUIRED_SECRETS[*]} are set"
[ "$check_only" = 1 ] && exit 0

# 2. remember what runs now, for a rollback (docs/operations.md)
previous="$("$FLY" releases --app "$APP" --image --json 2>/dev/null | python3 -c '
import json, sys
try:
    rel = json.load(sys.stdin)
    print(next((r.get("ImageRef") or r.get("image_ref") or "") for r in rel if r))
except Exception:
    print("")' || true)"
[ -n "$previous" ] && echo "currently deployed image: $previous  (rollback: ./deploy.sh --image $previous)"

# 3. build and deploy; fly runs release_command (python -m core migrate, with a backup first)
#    on the new image before replacing any machine, and aborts the deploy if it fails
"$FLY" deploy --app "$APP" --remote-only "${deploy_args[@]}"

# 4. the new machines report healthy on the app's own checks
if "$FLY" ssh console --app "$APP" --command "python -m core health" >/dev/null; then
  echo "health: database and storage ok"
else
  echo "error: python -m core health reported a problem: fly ssh console -C 'python -m core health'" >&2
  exit 1
fi
