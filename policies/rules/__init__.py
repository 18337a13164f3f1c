"""Rule functions: ``(Res, Config) -> list[str]`` for resources, ``(list[Res], Config) -> list[(urn, str)]``
for stacks. No Pulumi types cross this boundary; :mod:`mlops_platform.policies.packs` adapts the SDK's
arguments."""
