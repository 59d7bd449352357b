# One image for every Trellis service; the command picks the service.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY trellis ./trellis
COPY services ./services
COPY schemas ./schemas
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 trellis
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER trellis
WORKDIR /home/trellis
ENV TRELLIS_ENV=prod TRELLIS_LOG_JSON=true
EXPOSE 8000
CMD ["trellis", "--help"]
