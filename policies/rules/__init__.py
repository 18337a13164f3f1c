"""Rules: each check, ``(Res, Config) -> list[str]`` for a resource or ``(list[Res], Config) ->
list[(urn, str)]`` for the stack, with its declaration right below it
(:mod:`mlops_platform.policies.declaration`). No Pulumi types reach a check;
:mod:`mlops_platform.policies.packs` adapts the SDK's arguments."""
