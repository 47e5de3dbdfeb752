# ClassGPT: Streamlit app + CPU-only torch + the packaged all-MiniLM-L6-v2 model.
# Layers run from least to most often changed: base, user, dependencies, then the code,
# so an edit to the app rebuilds only the last layers. Needs BuildKit (RUN --mount): the
# default builder since Docker 23, and Fly.io's.

# Optional pip settings for the install step, for a builder that reaches PyPI only through its own
# CA, mirror or local wheels (CI: scripts/docker_image_check.sh passes an image holding /pip.conf,
# the CA bundle and the CPU torch wheel). A normal build leaves it `scratch`: an empty directory.
# It is mounted for that one step, so nothing of it lands in a layer of the image.
ARG PIP_EXTRA_IMAGE=scratch
FROM ${PIP_EXTRA_IMAGE} AS pip-extra

FROM python:3.11.7-slim-bookworm

# (DL3064 flags TOKENIZERS_PARALLELISM for the word TOKEN: it is a switch, not a secret)
# hadolint ignore=DL3064
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    DATA_DIR=/app/data \
    APP_ENV=production

# an unprivileged user owns only the writable data directory
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app \
    && python -m venv /opt/venv

WORKDIR /app

# dependencies: this layer is reused until requirements.txt or the install script changes
# TORCH_INDEX_URL: unset, torch comes from PyTorch's CPU index (docker/install.sh)
ARG TORCH_INDEX_URL
COPY requirements.txt docker/install.sh /tmp/build/
RUN --mount=type=bind,from=pip-extra,target=/tmp/pip-extra \
    PIP_EXTRA_DIR=/tmp/pip-extra sh /tmp/build/install.sh /tmp/build/requirements.txt && rm -rf /tmp/build

COPY . .
RUN mkdir -p /app/data && chown app:app /app/data

USER 10001:10001
EXPOSE 8501

# /_stcore/health answers "ok" once the server is up; migrations run before it starts
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read() != b'ok')"]

ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501"]
