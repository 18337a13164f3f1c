"""The AI bill of materials: a CycloneDX 1.6 ML-BOM of each audited environment, by cyclonedx-python-lib.

One BOM per report. Its root component names the audited environments (and the project's commit);
each environment is a ``platform`` component holding, as its spec declares them (image references as
deployed, through ``environment.images``):

- every served model as a ``machine-learning-model`` component: the registry name, the exact version
  when the spec pins one (an alias is recorded as such: the spec does not say which version it
  resolves to), its model card (an external reference of type ``model-card``), risk tier, data
  classification, owner, approval reference and serving image as ``mlops-platform:*`` properties,
  and a dependency on the image(s) that serve it (the stable track's and the canary's);
- every image the environment runs (model servers and the platform's own: registry, database,
  monitoring, drift) as a ``container`` component, with its SHA-256 digest as a hash and an
  ``pkg:oci`` package URL when the reference pins one.

The spec declares no data sets (a drift job reads a bucket, not a named data set): the BOM lists none,
and says so. cyclonedx-python-lib 11.12.0 has no model for CycloneDX's ``modelCard`` object, so the
model card's fields are component properties. The BOM records what the configuration declares, like
the audit's scope statement (its metadata carries it): no image is pulled, no digest is resolved.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

PROPERTY_PREFIX = "mlops-platform"
DIGEST_PREFIX = "sha256:"


def _prop(name: str, value: object) -> Property:
    text = str(value).lower() if isinstance(value, bool) else str(value)  # JSON's true/false
    return Property(name=f"{PROPERTY_PREFIX}:{name}", value=text)


def split_image(reference: str) -> tuple[str, str | None, str | None]:
    """``registry/path:tag@sha256:hex`` -> (``registry/path``, tag or None, hex digest or None)."""
    name, _, digest = reference.partition("@")
    repository, tag = name, None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:  # a colon before the last slash is a registry port, not a tag
        repository, tag = name[:colon], name[colon + 1 :]
    hex_digest = digest.removeprefix(DIGEST_PREFIX) if digest.startswith(DIGEST_PREFIX) else None
    return repository, tag, hex_digest


def _image_component(environment: str, reference: str, roles: list[str]) -> Component:
    repository, tag, digest = split_image(reference)
    purl = None
    if digest is not None:  # the purl-spec's oci type: the digest is the version
        qualifiers = {"repository_url": repository} | ({"tag": tag} if tag else {})
        purl = PackageURL(
            type="oci",
            name=repository.rsplit("/", 1)[-1].lower(),
            version=f"{DIGEST_PREFIX}{digest}",
            qualifiers=qualifiers,
        )
    return Component(
        type=ComponentType.CONTAINER,
        name=repository,
        version=tag,
        bom_ref=f"{environment}/image/{reference}",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=digest)] if digest else None,
        purl=purl,
        properties=[
            _prop("image.reference", reference),
            _prop("image.pinned-by-digest", digest is not None),
            *(_prop("image.role", role) for role in roles),
        ],
    )


def _model_component(environment: str, model: dict[str, Any]) -> Component:
    ref = model["model"]
    properties = [
        _prop("model.endpoint", model["name"]),
        _prop("model.risk-tier", model["risk_tier"]),
        _prop("model.data-classification", model["data_classification"]),
        _prop("model.owner", model["owner"]),
    ]
    if model.get("approval_ref"):
        properties.append(_prop("model.approval-ref", model["approval_ref"]))
    if ref["alias"]:
        properties.append(_prop("model.alias", ref["alias"]))
    if ref["uri"]:
        properties.append(_prop("model.uri", ref["uri"]))
    properties.append(_prop("model.source", "registry" if ref["name"] else "uri"))
    properties.append(_prop("model.served-by", model["image"]))
    if model.get("canary"):
        canary = model["canary"]
        properties.append(_prop("model.canary", canary["version"] or canary["alias"]))
        properties.append(_prop("model.canary-served-by", canary["image"]))
    card = model.get("model_card_url")
    return Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=ref["name"] or model["name"],
        version=str(ref["version"]) if ref["version"] is not None else None,
        bom_ref=f"{environment}/model/{model['name']}",
        external_references=(
            [ExternalReference(type=ExternalReferenceType.MODEL_CARD, url=XsUri(card))] if card else None
        ),
        properties=properties,
    )


def environment_bom_parts(view: dict[str, Any]) -> tuple[Component, list[tuple[Component, list[Component]]]]:
    """An environment's ``platform`` component and each component's dependencies within it."""
    environment = view["environment"]
    roles: dict[str, list[str]] = {}
    for image in view.get("images", []):
        roles.setdefault(image["reference"], []).append(image["role"])
    images = {ref: _image_component(environment, ref, sorted(r)) for ref, r in sorted(roles.items())}
    models = []
    for model in view["models"]:
        component = _model_component(environment, model)
        canary = model.get("canary") or {}
        served_by = [images[i] for i in dict.fromkeys([model["image"], canary.get("image")]) if i in images]
        models.append((component, served_by))
    platform = Component(
        type=ComponentType.PLATFORM,
        name=environment,
        bom_ref=f"environment/{environment}",
        components=[*(m for m, _ in models), *images.values()],
        properties=[
            _prop("environment.tier", view["tier"]),
            _prop("environment.target", view["target"]),
            _prop("environment.stack-file", view["stack_file"]),
            _prop("datasets", "none declared (the spec names no data set)"),
        ],
    )
    return platform, [(platform, [m for m, _ in models] + list(images.values())), *models]


def build_bom(report: dict[str, Any]) -> Bom:
    """The report's environments as one CycloneDX BOM (see the module's docstring)."""
    provenance = report["provenance"]
    versions = provenance.get("versions", {})
    scope = report["scope"]
    envs = [v["environment"] for v in report["environments"]]
    root = Component(  # what was audited: the environments, at the project's commit
        type=ComponentType.APPLICATION,
        name=f"environments {', '.join(envs)}",
        bom_ref="environments",
        version=provenance.get("commit") or None,
    )
    tool = Component(
        type=ComponentType.APPLICATION,
        name="mlops-platform",
        version=versions.get("mlops-platform"),
        bom_ref="tool/mlops-platform",
    )
    generated_at = datetime.fromisoformat(provenance["generated_at"].replace("Z", "+00:00"))
    bom = Bom(
        # the same report gives the same serial number: one BOM per audited moment and environment set
        serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"mlops-platform:bom:{generated_at}:{','.join(envs)}"),
        metadata=BomMetaData(
            component=root,
            timestamp=generated_at,
            properties=[
                _prop("scope.basis", scope["basis"]),
                *(_prop("scope.not-verified", item) for item in scope["not_verified"]),
            ],
        ),
    )
    bom.metadata.tools.components.add(tool)
    for view in report["environments"]:
        platform, dependencies = environment_bom_parts(view)
        bom.components.add(platform)
        bom.register_dependency(root, [platform])
        for component, depends_on in dependencies:
            bom.register_dependency(component, depends_on)
    return bom


def render_cyclonedx(report: dict[str, Any]) -> str:
    """The report's BOM as CycloneDX 1.6 JSON."""
    return JsonV1Dot6(build_bom(report)).output_as_string(indent=2) + "\n"
