# syntax=docker/dockerfile:1.7
# One image for every service and process of the loyalty platform. What a container runs is
# chosen at run time: SERVICE (auth_service | rewards_service | redeem_service |
# notification_service) and PROCESS (web | worker | grpc | migrate | seed), or a role argument.
#
#   docker build -t loyalty .
#   docker run -e SERVICE=auth_service -e PROCESS=web -e PORT=8001 loyalty
#   docker run -e SERVICE=auth_service loyalty migrate

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------
# builder: compilers and headers for any dependency without a wheel; generates the gRPC code and
# builds every wheel the runtime needs.
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# Debian's security updates move these versions; the base image digest pins the distribution.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libpq-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# grpcio-tools only generates code here; it never reaches the runtime image.
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install "grpcio-tools>=1.68" \
    && ./scripts/gen-protos \
    && pip wheel --wheel-dir /wheels .

# ---------------------------------------------------------------------------------------------
# base: slim runtime without compilers; a virtualenv owned by root, run by an unprivileged user.
FROM ${PYTHON_IMAGE} AS base

ARG APP_VERSION=dev
LABEL org.opencontainers.image.title="casino-loyalty" \
      org.opencontainers.image.description="Casino resort loyalty platform: auth, rewards, wallet and notifications" \
      org.opencontainers.image.version="${APP_VERSION}"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LOYALTY_PROFILE=prod \
    APP_VERSION=${APP_VERSION} \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus

RUN groupadd --system --gid 10001 loyalty \
    && useradd --system --uid 10001 --gid loyalty --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin loyalty

# The wheels are bind-mounted from the builder, so they add no layer to the image.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links=/wheels casino-loyalty

# CA bundle of the RDS and DocumentDB server certificates (verify-full TLS to the databases).
ADD --chmod=0644 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /etc/ssl/certs/rds-global-bundle.pem

COPY --chmod=0755 infra/docker/entrypoint.sh /usr/local/bin/loyalty
COPY --chmod=0755 infra/docker/healthcheck.py /usr/local/bin/loyalty-healthcheck

# Scratch space for the unprivileged user on a read-only root file system (gunicorn's heartbeat
# files, PROMETHEUS_MULTIPROC_DIR). Declared a volume so that ECS fills the task's empty scratch
# volume mounted here with this content and mode (otherwise root's, 0755); compose mounts a tmpfs.
RUN mkdir -p /tmp/prometheus && chmod 1777 /tmp /tmp/prometheus
VOLUME ["/tmp"]

WORKDIR /tmp
USER 10001:10001

# gunicorn, the gRPC server and the workers all drain in-flight work on SIGTERM.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "/usr/local/bin/loyalty-healthcheck"]
ENTRYPOINT ["loyalty"]

# ---------------------------------------------------------------------------------------------
# debug: the runtime plus debugpy, for docker-compose.debug.yml only.
FROM base AS debug
USER 0
RUN pip install --no-cache-dir debugpy==1.8.14
USER 10001:10001

# ---------------------------------------------------------------------------------------------
# runtime: the production image (the default target, so a plain build never ships debugpy).
FROM base AS runtime
