# Multi-stage build: compile in the Rust image, run in a small Debian image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin scimd

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/scimd --create-home scimd
COPY --from=build /src/target/release/scimd /usr/local/bin/scimd
USER scimd
WORKDIR /var/lib/scimd
ENV SCIMD_LISTEN=0.0.0.0:8080
# The SQLite default keeps its data in ./data under the working directory.
VOLUME ["/var/lib/scimd/data"]
EXPOSE 8080
# The image has no curl: the binary asks /readyz itself.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/scimd", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/scimd"]
CMD ["serve"]
