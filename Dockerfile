# broker-lag-exporter image: `docker build -t broker-lag-exporter .`
# Stage 1 builds the project's wheel and a virtualenv holding it and its dependencies;
# the final stage is a slim Python with that virtualenv only: no compiler, no pip cache,
# no source tree. tests/integration/test_image.py builds the same wheel the same way, installs
# it in a clean venv and runs this ENTRYPOINT + CMD against a real Kafka cluster.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY broker_lag_exporter ./broker_lag_exporter
# The source revision the image is built from: broker_lag_exporter_build_info{revision} reads it.
ARG REVISION=unknown
RUN printf '%s\n' "${REVISION}" > broker_lag_exporter/REVISION \
 && python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/broker-lag-exporter \
 && /opt/broker-lag-exporter/bin/pip install /wheels/*.whl

FROM ${PYTHON_IMAGE}
# A fixed numeric user, so Kubernetes' runAsNonRoot can verify it (deploy/base uses 10001).
RUN groupadd --system --gid 10001 exporter \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin exporter
COPY --from=build /opt/broker-lag-exporter /opt/broker-lag-exporter
ENV PATH=/opt/broker-lag-exporter/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BROKER_LAG_LISTEN_HOST=0.0.0.0 \
    BROKER_LAG_LISTEN_PORT=9340
# OCI annotations; registries and scanners read the license, version and source revision here
# (`docker build --build-arg REVISION=$(git rev-parse HEAD) .`).
ARG REVISION=unknown
LABEL org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.title="broker-lag-exporter" \
      org.opencontainers.image.description="Kafka consumer lag, leadership and risk attributed to broker ids" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0"
USER 10001:10001
EXPOSE 9340
ENTRYPOINT ["broker-lag-exporter"]
CMD ["serve"]
