"""Bundled stack files pointed at a test registry, edited as text so their comments and layout stay."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CEILING = "    data_classification_ceiling: confidential\n"
FRAUD_APPROVAL = "          approval_ref: MRM-2026-014\n"


def _insert_after(text: str, anchor: str, addition: str, count: int = 1) -> str:
    assert text.count(anchor) >= count, f"anchor {anchor!r} not in the bundled file"
    return text.replace(anchor, anchor + addition, count)


def registry_env(root: Path, env: str, uri: str, *, timeout_s: float = 10, auth: str = "") -> Path:
    """``stacks/Pulumi.<env>.yaml`` with ``registry_source`` and per-model thresholds, in ``root``.

    prod's churn-predictor pins version 2 (not 12), and every prod model gets an approval reference.
    """
    text = (REPO / "stacks" / f"Pulumi.{env}.yaml").read_text(encoding="utf-8")
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
