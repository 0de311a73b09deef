# Multi-stage build: compile in the Rust image, run in a small Debian image.
#
# Dependencies are built in a layer of their own (cargo-chef): the recipe lists the workspace's
# manifests and lock file only, so a change to scimd's source rebuilds scimd's crates and
# reuses every dependency from the cache; only a change of Cargo.toml/Cargo.lock rebuilds them.
# (No Docker engine on the build machine: this file is not exercised by CI.)
FROM rust:1.95-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json --bin scimd
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
