# Build: the Swift toolchain image; run: a slim Debian with librdkafka (bookworm ships 2.0.2).
FROM swift:6.3-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends librdkafka-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product streamrec --static-swift-stdlib \
    && cp "$(swift build -c release --show-bin-path)/streamrec" /usr/local/bin/streamrec

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends librdkafka1 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/streamrec streamrec \
    && mkdir -p /var/lib/streamrec && chown streamrec /var/lib/streamrec
COPY --from=build /usr/local/bin/streamrec /usr/local/bin/streamrec
COPY config/streamrec.yaml /etc/streamrec/streamrec.yaml
USER streamrec
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/streamrec"]
CMD ["serve", "--config", "/etc/streamrec/streamrec.yaml"]
