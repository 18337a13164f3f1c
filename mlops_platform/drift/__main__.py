"""``python -m mlops_platform.drift``: one drift run for one model (the drift CronJob's command).

Every option has an environment variable, which is how the CronJob passes them; the object store's
credentials are read from the environment only (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``), never
from the command line, where ``ps`` would show them. Exit codes: 0 figures pushed; 1 the object store
or the Pushgateway failed; 2 missing or bad data or settings; 70 a bug of ours.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from mlops_platform.drift import analysis, report, samples
from mlops_platform.drift.errors import DataError, ServiceError
from mlops_platform.drift.psi import drifted_share

LOG = logging.getLogger("mlops_platform.drift")
EXIT_SERVICE, EXIT_INPUT, EXIT_BUG = 1, 2, 70


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 exclusive (got {text})")
    return value


def _parser(settings: dict[str, str]) -> argparse.ArgumentParser:
    """The options, each defaulting to its environment variable; ``settings`` gets dest -> how to set it."""
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m mlops_platform.drift", description=__doc__.splitlines()[0]
    )

    def option(flag: str, var: str, help_text: str, default: str | None = None) -> None:
        parser.add_argument(flag, default=env(var, default), help=f"{help_text} (${var})")
        settings[flag.removeprefix("--").replace("-", "_")] = f"{flag} (${var})"

    option("--model", "MODEL_NAME", "model (endpoint) name")
    option("--bucket", "DRIFT_BUCKET", "bucket holding drift/<model>/...")
    option("--prefix", "DRIFT_PREFIX", "key prefix above <model>/", "drift")
    option("--endpoint", "AWS_ENDPOINT_URL", "object store endpoint, http(s)://host:port")
    option("--region", "AWS_REGION", "S3 region", "us-east-1")
    option("--pushgateway", "PUSHGATEWAY_URL", "Pushgateway URL, http://host:9091")
    option("--psi-threshold", "PSI_THRESHOLD", "PSI above which a feature counts as drifted", "0.2")
    option(
        "--feature-share-threshold",
        "FEATURE_SHARE_THRESHOLD",
        "drifted share above which the model counts as drifted (logged; the alert judges)",
        "0.3",
    )
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Parse settings, compute, push; the exit code (see the module docstring)."""
    settings: dict[str, str] = {}
    args = _parser(settings).parse_args(argv)
    unset = [how for dest, how in settings.items() if getattr(args, dest) in (None, "")]
    if unset:
        LOG.error("missing setting(s): %s", ", ".join(unset))
        return EXIT_INPUT
    try:
        psi_threshold = _fraction(args.psi_threshold)
        share_threshold = _fraction(args.feature_share_threshold)
    except argparse.ArgumentTypeError as exc:
        LOG.error("bad threshold: %s", exc)
        return EXIT_INPUT
    keys = {name: os.environ.get(name, "") for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    if not all(keys.values()):
        LOG.error("the object store credentials AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
        return EXIT_INPUT
    location = samples.Location(bucket=args.bucket, prefix=args.prefix, model=args.model)
    try:
        store = samples.client(
            args.endpoint, keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"], args.region
        )
        reference = samples.reference(store, location)
        recent, files = samples.recent(store, location)
        results = analysis.feature_drift(reference, recent)
        share = drifted_share(results, psi_threshold)
        report.push(args.pushgateway, args.model, report.registry(share, results))
    except (DataError, ValueError) as exc:
        LOG.error("drift of %s not computed: %s", args.model, exc)
        return EXIT_INPUT
    except ServiceError as exc:
        LOG.error("drift of %s not computed: %s", args.model, exc)
        return EXIT_SERVICE
    for r in results:
        LOG.info(
            "%s: feature %s PSI %.4f%s",
            args.model,
            r.feature,
            r.psi,
            " (drifted)" if r.psi > psi_threshold else "",
        )
    verdict = "drifted" if share > share_threshold else "stable"
    LOG.info(
        "%s: %d of %d feature(s) above PSI %s (share %.3f, threshold %s: %s); "
        "%d reference and %d recent rows "
        "from %d file(s); pushed to %s",
        args.model,
        sum(r.psi > psi_threshold for r in results),
        len(results),
        psi_threshold,
        share,
        share_threshold,
        verdict,
        len(reference),
        len(recent),
        files,
        args.pushgateway,
    )
    return 0


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s drift %(levelname)s %(message)s", stream=sys.stderr
    )
    try:
        code = run()
    except Exception as exc:  # a bug of ours: one line, no traceback, the code that says so
        LOG.error("internal error (please report): %s: %s", type(exc).__name__, exc)
        code = EXIT_BUG
    sys.exit(code)


if __name__ == "__main__":
    main()
