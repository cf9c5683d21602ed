# The spacetime-watch container image, in the Prometheus projects' style: the
# static binary that `make build` produced (CGO_ENABLED=0) on a minimal base,
# a non-root user, the CA bundle for Slack and Alertmanager over TLS.
#
# `make image` builds it with podman from a context it stages in dist/image
# (the binary, the build host's CA bundle and an empty directory).
# The default base, scratch, needs no registry; a site that has one may use a
# distroless base instead, e.g.
#   make image BASE=gcr.io/distroless/static-debian12:nonroot
# deploy/disttest builds it and checks what is below.
ARG BASE=scratch
FROM ${BASE}

ARG VERSION
ARG REVISION
ARG CREATED
LABEL org.opencontainers.image.title="spacetime-watch" \
      org.opencontainers.image.description="Watches SpaceTime VR deployments and alerts before users notice" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/spacetime-vr/spacetime-watch" \
      org.opencontainers.image.url="https://github.com/spacetime-vr/spacetime-watch" \
      org.opencontainers.image.documentation="https://github.com/spacetime-vr/spacetime-watch/blob/main/deploy/README.md" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY spacetime-watch /bin/spacetime-watch
# The state directory, writable by the daemon's user alone (its parents
# stay root's); Kubernetes mounts a volume here (deploy/k8s).
COPY empty/ /var/lib/
COPY --chown=65532:65532 empty/ /var/lib/spacetime-watch/

# 65532, "nonroot" in the distroless images; the Kubernetes manifests run
# as this user too.
USER 65532:65532
EXPOSE 9850
WORKDIR /var/lib/spacetime-watch
ENTRYPOINT ["/bin/spacetime-watch"]
CMD ["run", "--config.file=/etc/spacetime-watch/config.yaml", "--state.dir=/var/lib/spacetime-watch"]
