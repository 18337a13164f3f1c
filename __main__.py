"""Pulumi program: load and validate this stack's spec, build the four platform layers, export endpoints."""

import pulumi

from stacks.composition import build_platform, exports
from stacks.loader import SpecError, spec_from_pulumi_config
from stacks.schema import SECTIONS

config = pulumi.Config()
sections = {section: config.get_object(section) for section in SECTIONS}
try:
    spec = spec_from_pulumi_config(sections, pulumi.get_stack())
except SpecError as exc:
    raise pulumi.RunError(f"invalid stack configuration:\n{exc}") from None

for key, value in exports(build_platform(spec)).items():
    pulumi.export(key, value)
