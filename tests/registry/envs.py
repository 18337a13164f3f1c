"""Bundled stack files pointed at a test registry, edited as text so their comments and layout stay."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CEILING = "    data_classification_ceiling: confidential\n"
FRAUD_APPROVAL = "          approval_ref: MRM-2026-014\n"


PINNED_NOTE = ""  # the bundled files pin the high-risk model without a comment: line numbers stay
ALIASED: dict[str, list[tuple[str, str]]] = {
    "dev": [],
    "staging": [
        (
            PINNED_NOTE + "        model: {name: fraud-scorer, version: 41}\n",
            "        model: {name: fraud-scorer, alias: challenger}\n",
        ),
        ("          version: 42\n          weight: 50", "          version: 41\n          weight: 50"),
    ],
    "prod": [
        (
            PINNED_NOTE + "        model: {name: fraud-scorer, version: 40}\n",
            "        model: {name: fraud-scorer, alias: champion}\n",
        ),
        ("          version: 41\n          weight: 10", "          alias: challenger\n          weight: 10"),
    ],
}


def _insert_after(text: str, anchor: str, addition: str, count: int = 1) -> str:
    assert text.count(anchor) >= count, f"anchor {anchor!r} not in the bundled file"
    return text.replace(anchor, anchor + addition, count)


def aliased_env(root: Path, env: str) -> Path:
    """The bundled ``stacks/Pulumi.<env>.yaml`` with fraud-scorer served by its aliases, no registry."""
    text = (REPO / "stacks" / f"Pulumi.{env}.yaml").read_text(encoding="utf-8")
    for pinned, alias in ALIASED[env]:
        assert pinned in text, f"{pinned!r} not in the bundled {env} file"
        text = text.replace(pinned, alias)
    path = root / f"Pulumi.{env}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def registry_env(root: Path, env: str, uri: str, *, timeout_s: float = 10, auth: str = "") -> Path:
    """``stacks/Pulumi.<env>.yaml`` with ``registry_source`` and per-model thresholds, in ``root``.

    prod's churn-predictor pins version 2 (not 12), and every prod model gets an approval reference.
    The high-risk fraud-scorer, pinned to a version in the bundled files (no registry there), is served
    by its aliases again: with a registry to resolve them, as the registry tests need.
    """
    text = (REPO / "stacks" / f"Pulumi.{env}.yaml").read_text(encoding="utf-8")
    for pinned, alias in ALIASED[env]:
        assert pinned in text, f"{pinned!r} not in the bundled {env} file"
        text = text.replace(pinned, alias)
    source = f"    registry_source:\n      tracking_uri: {uri}\n      timeout_s: {timeout_s}\n{auth}"
    text = _insert_after(text, CEILING, source)
    text = _insert_after(text, FRAUD_APPROVAL, '          metric_thresholds: {auc: ">= 0.92"}\n')
    if env == "prod":
        text = text.replace(
            "model: {name: churn-predictor, version: 12}", "model: {name: churn-predictor, version: 2}"
        )
        text = _insert_after(
            text,
            "          risk_tier: limited\n          data_classification: internal\n",
            '          approval_ref: MRM-2026-021\n          metric_thresholds: {auc: ">= 0.80"}\n',
        )
        text = _insert_after(
            text,
            "          risk_tier: minimal\n          data_classification: internal\n",
            "          approval_ref: MRM-2026-030\n",
        )
    path = root / f"Pulumi.{env}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def approved(ref: str, *, card: bool = True, status: str = "passed") -> dict[str, str]:
    """Version tags of a version approved under ``ref`` that passed validation."""
    tags = {"approval_ref": ref, "validation_status": status}
    if card:
        tags["model_card_url"] = "https://models.acme.example/cards/v"
    return tags
