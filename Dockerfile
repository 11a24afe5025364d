# s3 signing proxy: one static-ish binary on a minimal, non-root base image.
#
#   docker build -t s3-signing-proxy .
#   docker run --rm -p 8080:8080 -e AWS_ACCESS_KEY_ID=... -e AWS_SECRET_ACCESS_KEY=... \
#     -e AWS_DEFAULT_REGION=eu-west-1 s3-signing-proxy
#
# Stage 1 compiles src/ (zero runtime dependencies) into one executable with Bun. --bytecode
# starts it about a third faster (bench/README.md); tests/docker_test.ts builds and runs exactly
# this command.
FROM oven/bun:1.4.5 AS build
WORKDIR /src
COPY src/ ./src/
RUN bun build --compile --minify --bytecode src/main.ts --outfile /out/s3-signing-proxy

# Stage 2: glibc and CA certificates only, running as the distroless "nonroot" user, by number
# (65532) so that Kubernetes' runAsNonRoot can verify it. The binary writes nothing to disk and
# runs under any UID, with a read-only root filesystem.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/s3-signing-proxy /usr/local/bin/s3-signing-proxy
USER 65532:65532
ENV HOST=0.0.0.0 PORT=8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/s3-signing-proxy"]
