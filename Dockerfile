# Slotline's container image: the static binary on a distroless base, as a
# non-root user, the SQLite database in the volume /data. Built from this
# checkout only (the Go modules come from the module proxy):
#   docker build -t slotline .
#   docker run -p 8080:8080 -v slotline-data:/data slotline            # sandbox
#   docker run -p 8080:8080 -v slotline-data:/data -v $PWD/slotline.yaml:/etc/slotline/slotline.yaml:ro \
#     -e SLOTLINE_CONFIG=/etc/slotline/slotline.yaml --env-file slotline.env slotline
# Configuration: a file (SLOTLINE_CONFIG) and the environment (SLOTLINE_DB,
# SLOTLINE_ADDR and the secrets the file names with *_env). Stop with
# `docker stop -t 30`: SIGTERM drains requests and jobs (10 s each at most).

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -buildid= -X github.com/slotline/slotline/internal/app.version=${VERSION}" \
      -o /out/slotline ./cmd/slotline \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/slotline /slotline
COPY --from=build --chown=65532:65532 /out/data /data
COPY LICENSE NOTICE THIRD_PARTY.md /licenses/
USER 65532:65532
ENV SLOTLINE_ADDR=0.0.0.0:8080 \
    SLOTLINE_DB=sqlite:/data/slotline.db
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["/slotline", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/slotline"]
CMD ["serve"]
