# skein node image: Debian bookworm, two stages (build with the -dev
# packages, run with only the shared libraries), a non-root user, a
# HEALTHCHECK on /healthz, deploy/docker/entrypoint.sh as the entrypoint.
#
#   docker build -t skein .
#   docker run -p 8080:8080 -v skein-data:/var/lib/skein skein
#
# The image runs skein-demo (the example kinds); for your own application,
# replace the build target and binary name (APP below) with yours.
# Checked offline by tests/packaging (deploy.dockerfile).

FROM debian:bookworm AS build
ARG APP=skein-demo
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libcaf-dev libcaf-openssl0.17 libboost-dev librocksdb-dev libmsgpack-cxx-dev libxxhash-dev \
      nlohmann-json3-dev libspdlog-dev libcli11-dev libprometheus-cpp-dev \
      libjwt-dev libssl-dev libjemalloc-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DSKEIN_BUILD_TESTS=OFF -DSKEIN_BUILD_BENCH=OFF -DSKEIN_BUILD_EXAMPLES=ON \
 && cmake --build /build --target ${APP} \
 && install -D -m 0755 /build/bin/${APP} /out/skein-demo

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcaf-core0.17 libcaf-io0.17 libcaf-openssl0.17 librocksdb7.8 libspdlog1.10 libfmt9 libxxhash0 \
      libprometheus-cpp-core1.0 libjwt0 libssl3 libjemalloc2 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 skein \
 && useradd --system --uid 10001 --gid skein --home-dir /var/lib/skein --shell /usr/sbin/nologin skein \
 && install -d -o skein -g skein -m 0750 /var/lib/skein
COPY --from=build /out/skein-demo /usr/local/bin/skein-demo
COPY deploy/docker/entrypoint.sh /usr/local/bin/skein-entrypoint
USER skein:skein
WORKDIR /var/lib/skein
ENV SKEIN_LISTEN=0.0.0.0:8080 SKEIN_CLUSTER_PORT=7070 SKEIN_DATA=/var/lib/skein
# 7070/udp: heartbeats beside BASP (--heartbeat-udp, docs/operations.md)
EXPOSE 8080 7070/tcp 7070/udp
VOLUME ["/var/lib/skein"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/skein-entrypoint"]
