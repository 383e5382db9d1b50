# Multi-stage build of writeback_exporter. (No Docker engine runs on the development machines, so this file is
# checked by review, not by CI.)
FROM rust:1.95-bookworm AS build
# Kerberos binds (feature gssapi): MIT Kerberos headers, and libclang for the generated GSSAPI bindings.
RUN apt-get update && apt-get install -y --no-install-recommends libkrb5-dev libclang-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --features gssapi --bin writeback_exporter

FROM debian:bookworm-slim
# libgssapi-krb5-2: the GSSAPI library the binary links; mount a krb5.conf (KRB5_CONFIG) and a keytab
# (KRB5_CLIENT_KTNAME) to bind with Kerberos. The credential cache lives in memory unless KRB5CCNAME says otherwise.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libgssapi-krb5-2 \
    && rm -rf /var/lib/apt/lists/*
ENV KRB5CCNAME=MEMORY:writeback_exporter
COPY --from=build /src/target/release/writeback_exporter /usr/local/bin/writeback_exporter
USER 65534:65534
EXPOSE 9862
ENTRYPOINT ["/usr/local/bin/writeback_exporter"]
CMD ["--config.file=/etc/writeback_exporter/writeback_exporter.yml"]
