#!/bin/sh
# Container start: optionally create the S3 bucket, apply migrations, then exec the command
# (by default the Dockerfile's `streamlit run ...`) as PID 1 so it receives SIGTERM directly.
#
#   SKIP_MIGRATIONS=1   do not migrate here (Fly.io migrates once per deploy in release_command)
#   S3_CREATE_BUCKET=1  create S3_BUCKET if it does not exist (local MinIO stack only)
set -eu

if [ "${S3_CREATE_BUCKET:-0}" = "1" ]; then
  python - <<'PY'
import os, time
import boto3
from botocore.config import Config

s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or None,
                  config=Config(s3={"addressing_style": "path"}, connect_timeout=3, retries={"max_attempts": 2}))
bucket = os.environ["S3_BUCKET"]
for attempt in range(30):  # the object store may still be starting
    try:
        names = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
        break
    except Exception as exc:  # noqa: BLE001
        if attempt == 29:
            raise SystemExit(f"object store not reachable: {exc}")
        time.sleep(1)
if bucket not in names:
    s3.create_bucket(Bucket=bucket)
    print(f"created bucket {bucket}", flush=True)
PY
fi

if [ "${SKIP_MIGRATIONS:-0}" != "1" ]; then
  # takes a backup first when the schema is about to change (see docs/operations.md)
  python -m core migrate
fi

exec "$@"
