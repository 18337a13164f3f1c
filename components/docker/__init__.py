"""Docker target builders (pulumi-docker 5.x): one module per layer, each exposing ``build``."""
