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
#
# Kerberos binds (cargo feature gssapi, on here): mount a krb5.conf (KRB5_CONFIG, default /etc/krb5.conf) and the
# account's keytab, and set KRB5_CLIENT_KTNAME to it. Tickets live in memory (KRB5CCNAME below): the root file
# system may be read-only.
FROM docker.io/library/rust:1.95-bookworm AS build
# The gssapi feature: MIT Kerberos headers, and libclang for the generated GSSAPI bindings.
RUN apt-get update && apt-get install -y --no-install-recommends libkrb5-dev libclang-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so that source changes do not refetch them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches && echo 'fn main() {}' > src/main.rs && touch src/lib.rs benches/access_check.rs \
    && cargo fetch --locked
COPY . .
# The git revision for writeback_exporter_build_info (.git is not in the build context).
ARG WRITEBACK_EXPORTER_REVISION=unknown
ENV WRITEBACK_EXPORTER_REVISION=${WRITEBACK_EXPORTER_REVISION}
RUN cargo build --release --locked --features gssapi --bin writeback_exporter \
    && install -D -m 0755 target/release/writeback_exporter /out/writeback_exporter \
    && mkdir -p /out/lib \
    && ldd target/release/writeback_exporter | awk '/=> \// {print $3}' \
       | grep -E 'lib(gssapi_krb5|krb5|k5crypto|com_err|krb5support|keyutils)\.so' \
       | xargs -r -I{} cp -L {} /out/lib/

FROM gcr.io/distroless/cc-debian12:nonroot
# The MIT Kerberos libraries the binary links (distroless has glibc, not these); /usr/lib is on the loader's path.
COPY --from=build /out/lib/ /usr/lib/
COPY --from=build /out/writeback_exporter /usr/local/bin/writeback_exporter
ENV KRB5CCNAME=MEMORY:writeback_exporter
# nobody:nogroup, as in packaging/kubernetes/deployment.yaml.
USER 65534:65534
EXPOSE 9862
ENTRYPOINT ["/usr/local/bin/writeback_exporter"]
CMD ["--config.file=/etc/writeback_exporter/writeback_exporter.yml"]
LABEL org.opencontainers.image.title="writeback_exporter" \
      org.opencontainers.image.description="Prometheus exporter: can Microsoft Entra password writeback work against on-premises AD?" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/writeback-exporter/writeback_exporter"
