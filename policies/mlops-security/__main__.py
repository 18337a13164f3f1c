"""Entry point the Pulumi engine runs (`python -m pulumi.policy <engine> .` in this directory).

Only constructs the PolicyPack: its constructor starts the gRPC server and blocks forever. Before
that, `install_shared_analysis` lets the pack convert each resource once per request, not per policy
(pulumi-policy's private servicer, on the pinned version only: another one stops the pack with a
message saying so), and `settle_gc` keeps the start-up heap out of the collector's way.
"""

from pulumi_policy import PolicyPack

from mlops_platform.policies.packs import pack_arguments, settle_gc
from mlops_platform.policies.sdk_adapter import SdkVersionError, install_shared_analysis

try:
    install_shared_analysis()
except SdkVersionError as exc:
    raise SystemExit(f"mlops-security: {exc}") from None
settle_gc()

PolicyPack(**pack_arguments("mlops-security"))
