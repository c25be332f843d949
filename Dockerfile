# Multi-stage build: compile in the Rust image, run from a slim Debian image as a non-root user.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY api api
COPY entities entities
COPY migration migration
COPY tests tests
RUN cargo build --release --locked -p interlib-api --bin interlib

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/interlib --create-home interlib
COPY --from=build /src/target/release/interlib /usr/local/bin/interlib
USER interlib
WORKDIR /var/lib/interlib
ENV INTERLIB_BIND_ADDRESS=0.0.0.0:8080 \
    INTERLIB_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["interlib"]
CMD ["serve"]
