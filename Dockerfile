# Multi-stage build of writeback_exporter: the release binary built in the Rust image, run in a distroless image
# (glibc, libgcc, CA certificates; no shell, no package manager) as an unprivileged user.
#
#   podman build -t writeback_exporter .        (or docker build / buildah bud)
#   podman run --rm --read-only -p 9862:9862 \
#     -v ./writeback_exporter.yml:/etc/writeback_exporter/writeback_exporter.yml:ro \
#     -v ./secrets:/run/secrets/writeback_exporter:ro writeback_exporter
#
# Configuration and secrets come in by mount (point password_file / client_secret_file at the mounted files);
# nothing secret is baked into the image. Base images are fully qualified: podman and buildah refuse short names
# without a configured search registry.
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so that source changes do not refetch them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches && echo 'fn main() {}' > src/main.rs && touch src/lib.rs benches/access_check.rs \
    && cargo fetch --locked
COPY . .
# The git revision for writeback_exporter_build_info (.git is not in the build context).
ARG WRITEBACK_EXPORTER_REVISION=unknown
ENV WRITEBACK_EXPORTER_REVISION=${WRITEBACK_EXPORTER_REVISION}
RUN cargo build --release --locked --bin writeback_exporter \
    && install -D -m 0755 target/release/writeback_exporter /out/writeback_exporter

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/writeback_exporter /usr/local/bin/writeback_exporter
# nobody:nogroup, as in packaging/kubernetes/deployment.yaml.
USER 65534:65534
EXPOSE 9862
ENTRYPOINT ["/usr/local/bin/writeback_exporter"]
CMD ["--config.file=/etc/writeback_exporter/writeback_exporter.yml"]
LABEL org.opencontainers.image.title="writeback_exporter" \
      org.opencontainers.image.description="Prometheus exporter: can Microsoft Entra password writeback work against on-premises AD?" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/writeback-exporter/writeback_exporter"
