# s3 signing proxy: one static-ish binary on a minimal, non-root base image.
#
#   docker build -t s3-signing-proxy .
#   docker run --rm -p 8080:8080 -e AWS_ACCESS_KEY_ID=... -e AWS_SECRET_ACCESS_KEY=... \
#     -e AWS_DEFAULT_REGION=eu-west-1 s3-signing-proxy
#
# Stage 1 compiles src/ (zero runtime dependencies) into one executable with Bun.
FROM oven/bun:1.4 AS build
WORKDIR /src
COPY src/ ./src/
RUN bun build --compile --minify src/main.ts --outfile /out/s3-signing-proxy

# Stage 2: glibc and CA certificates only, running as the distroless "nonroot" user (65532).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/s3-signing-proxy /usr/local/bin/s3-signing-proxy
USER nonroot:nonroot
ENV HOST=0.0.0.0 PORT=8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/s3-signing-proxy"]
