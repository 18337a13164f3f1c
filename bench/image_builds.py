"""Benchmark: cold and warm builds of every image the platform runs (not a test).

Cold: an empty image cache (``--root``, default a fresh temporary directory), so the base layer, the
Go binaries, the apt and pip downloads and every image are built; the Go module and build caches
are the toolchain's unless ``--cold-go`` points them at an empty directory too (what a fresh CI
machine pays). Warm: the same builds again, now cache hits. One JSON line per image (seconds cold
and warm, the ratio, the image's own layer size), then one with the totals.

    .venv/bin/python bench/image_builds.py [--cold-go] [NAMES...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from mlops_platform.tools.images.builder import build_image
from mlops_platform.tools.images.gobuild import binary_name, ensure_binary
from mlops_platform.tools.images.recipes import RECIPES, recipe
from mlops_platform.tools.images.rootfs import ensure_base
from mlops_platform.tools.toolchain.cache import ROOT_ENV


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="images (default: all)")
    parser.add_argument("--root", type=Path, help="image cache to build into (default: a fresh one)")
    parser.add_argument("--cold-go", action="store_true", help="empty Go module and build caches as well")
    parser.add_argument("--keep", action="store_true", help="keep the fresh cache afterwards")
    options = parser.parse_args()
    images = [recipe(n) for n in options.names] if options.names else list(RECIPES)
    scratch = Path(tempfile.mkdtemp(prefix="mlops-image-bench-"))
    root = options.root or scratch / "images"
    if options.cold_go:
        os.environ[ROOT_ENV] = str(scratch / "toolchain")
    lines: list[str] = []

    def progress(line: str) -> None:
        lines.append(line)
        print(f"  {line}", flush=True)

    total_cold = total_warm = 0.0
    try:
        # The parts images share, each timed once: the base layer, then every Go binary.
        start = time.monotonic()
        ensure_base(root, progress)
        parts = {"base": time.monotonic() - start}
        for binary in (b for image in images for b in image.go_binaries):
            start = time.monotonic()
            ensure_binary(binary, root, progress)
            parts[f"go {binary_name(binary)}"] = time.monotonic() - start
        for part, seconds in parts.items():
            print(json.dumps({"part": part, "cold_s": round(seconds, 1)}), flush=True)
            total_cold += seconds
        for image in images:
            start = time.monotonic()
            built = build_image(image, root=root, progress=progress)
            cold = time.monotonic() - start
            start = time.monotonic()
            build_image(image, root=root, progress=lambda _line: None)
            warm = time.monotonic() - start
            total_cold, total_warm = total_cold + cold, total_warm + warm
            layers = built.manifest["layers"]
            row = {
                "image": image.name,  # cold: the image alone, its base layer and binaries already built
                "cold_s": round(cold, 1),
                "warm_s": round(warm, 3),
                "cold_over_warm": round(cold / warm) if warm > 0 else None,
                "built_now": built.built_now,
                "base_layer_mib": round(layers[0]["size"] / 2**20, 1),
                "own_layer_mib": round(sum(layer["size"] for layer in layers[1:]) / 2**20, 1),
                "digest": built.digest,
            }
            print(json.dumps(row), flush=True)
        print(json.dumps({"total_cold_s": round(total_cold, 1), "total_warm_s": round(total_warm, 3)}))
    finally:
        if not options.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
