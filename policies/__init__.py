"""CrossGuard policy packs for the MLOps platform.

Rules live in :mod:`mlops_platform.policies.rules`: each a pure function of a resource (or of the
stack) and, right below it, its one declaration (:mod:`mlops_platform.policies.declaration`: severity,
controls, evidence, levels per tier...). :mod:`mlops_platform.policies.catalogue` collects them and
generates the tier files and the docs; :mod:`mlops_platform.policies.packs` wires them into
``pulumi_policy`` policies. The pack directories (``mlops-security/`` ...) only construct the
``PolicyPack``, because its constructor starts a gRPC server and blocks.
"""
