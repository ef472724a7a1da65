# Gatehouse: multi-stage build (cargo-leptos release build) into a slim, non-root image.
# Untested here: the machines this was written on have no Docker engine (see README).

FROM rust:1.95-bookworm AS build
RUN rustup target add wasm32-unknown-unknown \
 && apt-get update && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
# The same tool versions as scripts/setup; wasm-bindgen-cli must equal Cargo.lock's wasm-bindgen.
RUN cargo install cargo-leptos --locked --features no_downloads --version 0.3.10 \
 && cargo install wasm-bindgen-cli --version =0.2.130 \
 && npm install --global binaryen@132
WORKDIR /src
COPY . .
RUN cargo leptos build --release --precompress

FROM debian:bookworm-slim
# Nothing links OpenSSL (webauthn-rs uses RustCrypto; MongoDB and SMTP use rustls).
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/gatehouse --create-home gatehouse
COPY --from=build /src/target/release/gatehouse /src/target/release/hash.txt /usr/local/bin/
COPY --from=build /src/target/site /srv/gatehouse/site
ENV GATEHOUSE_LISTEN=0.0.0.0:3000 \
    GATEHOUSE_DATA_DIR=/var/lib/gatehouse \
    LEPTOS_SITE_ROOT=/srv/gatehouse/site \
    LEPTOS_OUTPUT_NAME=gatehouse \
    GATEHOUSE_LOG_FORMAT=json
USER gatehouse
VOLUME /var/lib/gatehouse
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s \
  CMD curl -fsS http://127.0.0.1:3000/readyz || exit 1
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve"]
