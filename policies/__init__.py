"""CrossGuard policy packs for the MLOps platform.

Rules live in :mod:`mlops_platform.policies.rules` as pure functions of a resource;
:mod:`mlops_platform.policies.catalogue` holds
their metadata (severity, controls, levels per environment) and :mod:`mlops_platform.policies.packs` wires
both into
``pulumi_policy`` policies. The pack directories (``mlops-security/`` ...) only construct the
``PolicyPack``, because its constructor starts a gRPC server and blocks.
"""
