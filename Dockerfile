# One image for every Trellis service; the command picks the service. The base is pinned to an
# exact version (pin its @sha256 digest where a registry is reachable); the dependencies are
# installed from requirements.lock with hashes, so an image built later has the same packages.
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY trellis ./trellis
COPY console ./console
COPY services ./services
COPY schemas ./schemas
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11.11-slim-bookworm
RUN useradd --create-home --uid 10001 trellis
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock && rm /tmp/requirements.lock
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-deps /wheels/*.whl && rm -rf /wheels
USER trellis
WORKDIR /home/trellis
ENV TRELLIS_ENV=prod TRELLIS_LOG_JSON=true
EXPOSE 8000
CMD ["trellis", "--help"]
