"""Entry point the Pulumi engine runs (`python -m pulumi.policy <engine> .` in this directory).

Only constructs the PolicyPack: its constructor starts the gRPC server and blocks forever. Before
that, `install_shared_analysis` lets the pack convert each resource once per request, not per policy,
and `settle_gc` keeps the start-up heap out of the collector's way.
"""

from pulumi_policy import PolicyPack

from mlops_platform.policies.packs import install_shared_analysis, pack_arguments, settle_gc

install_shared_analysis()
settle_gc()

PolicyPack(**pack_arguments("mlops-governance"))
