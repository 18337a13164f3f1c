"""Kubernetes target: raw pulumi-kubernetes objects (no Helm), so every object is visible to policies."""
