# Multi-stage build of writeback_exporter. (No Docker engine runs on the development machines, so this file is
# checked by review, not by CI.)
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin writeback_exporter

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/writeback_exporter /usr/local/bin/writeback_exporter
USER 65534:65534
EXPOSE 9862
ENTRYPOINT ["/usr/local/bin/writeback_exporter"]
CMD ["--config.file=/etc/writeback_exporter/writeback_exporter.yml"]
