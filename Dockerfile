# mock_k8: multi-stage build. The builder compiles the release binary; the runtime image carries only
# the binary (glibc from the same Debian release as the builder).
#   docker build -t mock-k8:latest .
#   docker run -p 8080:8080 -v /path/to/data:/app/data mock-k8:latest

FROM rust:1.95 AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin mock_k8 \
 && cp target/release/mock_k8 /usr/local/bin/mock_k8

FROM debian:trixie-slim
COPY --from=builder /usr/local/bin/mock_k8 /usr/local/bin/mock_k8
RUN mkdir -p /app/data
WORKDIR /app
ENV MOCK_K8_API_ADDR=0.0.0.0:8080 MOCK_K8_DATA_DIR=/app/data
EXPOSE 8080
VOLUME ["/app/data"]
ENTRYPOINT ["mock_k8"]
CMD ["run"]
