"""CrossGuard policy packs for the MLOps platform.

Rules live in :mod:`policies.rules` as pure functions of a resource; :mod:`policies.catalogue` holds
their metadata (severity, controls, levels per environment) and :mod:`policies.packs` wires both into
``pulumi_policy`` policies. The pack directories (``mlops-security/`` ...) only construct the
``PolicyPack``, because its constructor starts a gRPC server and blocks.
"""
