"""A recipe becomes an OCI image layout: the shared base layer, one layer of its own, its config.

Each image is a cache entry ``image-<name>-<key>`` (``build_cache.ensure``) whose key covers the
recipe, the base layer's key, its Go binaries' keys, the files it ships and, for the platform's own
image, the project's source. Its directory holds ``oci/`` (an OCI image layout tagged with the
recipe's tag) and a manifest recording the image's digest. Before publishing, every check of the
recipe runs in the image's root filesystem as the image's user.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shlex
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mlops_platform.tools import build_cache
from mlops_platform.tools.images import gobuild, rootfs, wheel
from mlops_platform.tools.images.recipes import RECIPES, VENV, ImageRecipe, recipe
from mlops_platform.tools.toolchain.commands import Progress, ToolchainError, step

ROOT_ENV = "MLOPS_IMAGES_CACHE"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
FILES = "files"
PROJECT_DISTRIBUTION = "mlops-platform"  # pyproject's [project].name, uninstalled from the lower layer
LOCK_PATH = "/tmp/requirements.lock"  # removed with the rest of /tmp at the end of the install


def images_root() -> Path:
    """``$MLOPS_IMAGES_CACHE``, else ``${XDG_CACHE_HOME:-~/.cache}/mlops-platform/images``."""
    explicit = os.environ.get(ROOT_ENV)
    return Path(explicit).expanduser().resolve() if explicit else build_cache.cache_home() / "images"


@dataclass(frozen=True, slots=True)
class BuiltImage:
    """A published image layout."""

    recipe: ImageRecipe
    layout: Path
    """The OCI image layout (``<entry>/oci``), tagged ``recipe.tag``."""
    digest: str
    """The image manifest's digest (``sha256:...``)."""
    manifest: dict[str, Any]
    built_now: bool

    @property
    def oci_ref(self) -> str:
        """``oci:<layout>:<tag>``: the image as skopeo names it."""
        return f"oci:{self.layout}:{self.recipe.tag}"


def package_file(name: str) -> bytes:
    """A file shipped in ``mlops_platform/tools/images/files``."""
    return resources.files("mlops_platform.tools.images").joinpath(FILES, name).read_bytes()


def image_env(image: ImageRecipe) -> dict[str, str]:
    """The image's environment (``PATH`` always set, as container runtimes expect)."""
    env = dict(image.env)
    env.setdefault("PATH", DEFAULT_PATH)
    return env


def image_key(image: ImageRecipe, *, source_digest: str | None) -> str:
    """Everything that determines the image (Debian's and PyPI's current answers aside)."""
    fields = dataclasses.asdict(image)
    fields.pop("closeness")  # README's words change no byte of the image
    fields.pop("software")
    return build_cache.cache_key(
        {
            "recipe": fields,
            "base": rootfs.base_key(),
            "binaries": [gobuild.binary_key(b) for b in image.go_binaries],
            "files": {
                name: hashlib.sha256(package_file(name)).hexdigest()
                for name in [*(f.source for f in image.files), *([image.pip_lock] if image.pip_lock else [])]
            },
            "source": source_digest,
        }
    )


def build_image(image: ImageRecipe, *, root: Path, progress: Progress) -> BuiltImage:
    """The image's layout, built first (with its base layer and binaries) when missing.

    An image of the project's own code (``project_extra``) is two cache entries: its dependencies'
    layer (``image-<name>-deps``, keyed by the project's dependency lists) and the project's wheel as a
    layer above it (keyed by the code), so a code change rebuilds only the small top layer.

    Raises:
        build_cache.BuildCacheError: a step or a check failed; nothing was published.
        ToolchainError: a build tool is missing.
    """
    start = time.monotonic()
    if image.project_extra:
        entry = _project_image(image, root=root, progress=progress)
    else:
        key = image_key(image, source_digest=None)
        found = build_cache.lookup(root, f"image-{image.name}", key)
        if found is not None:
            took = time.monotonic() - start
            progress(f"image {image.name}: cached ({found.manifest['digest']}) ... {took:.1f} s")
            return _built(image, found)
        rootfs.require_tools()
        entry = build_cache.ensure(
            root,
            f"image-{image.name}",
            key,
            lambda work: _assemble(image, root, work, progress, source_root=None),
            verify=lambda work: verify_layout(work / "oci", image.tag),
            progress=progress,
        )
    progress(f"image {image.name}: {entry.manifest['digest']} ... {time.monotonic() - start:.1f} s")
    return _built(image, entry)


def _project_image(image: ImageRecipe, *, root: Path, progress: Progress) -> build_cache.Entry:
    """The dependencies' entry (built when missing), then the project's layer above it."""
    assert image.project_extra is not None
    source_root = wheel.project_root()
    deps_key = image_key(image, source_digest=wheel.dependency_digest(source_root, image.project_extra))
    key = build_cache.cache_key({"deps": deps_key, "source": wheel.source_digest(source_root)})
    found = build_cache.lookup(root, f"image-{image.name}", key)
    if found is not None:
        progress(f"image {image.name}: cached ({found.manifest['digest']})")
        return found
    rootfs.require_tools()
    deps = build_cache.lookup(root, f"image-{image.name}-deps", deps_key) or build_cache.ensure(
        root,
        f"image-{image.name}-deps",
        deps_key,
        lambda work: _assemble(image, root, work, progress, source_root=source_root, dependencies_only=True),
        verify=lambda work: verify_layout(work / "oci", image.tag),
        progress=progress,
    )
    return build_cache.ensure(
        root,
        f"image-{image.name}",
        key,
        lambda work: _project_layer(image, root, work, deps, source_root, progress),
        verify=lambda work: verify_layout(work / "oci", image.tag),
        progress=progress,
    )


def _assemble(
    image: ImageRecipe,
    root: Path,
    work: Path,
    progress: Progress,
    *,
    source_root: Path | None,
    dependencies_only: bool = False,
) -> dict[str, Any]:
    """Build ``image`` into ``work/oci`` from the base layer: its one layer and its config.

    With ``dependencies_only`` (a project image's lower layer) the project's wheel is installed for
    its dependencies and removed again, and the checks (which import the project) are left to the
    layer above.
    """
    start_layout, start_tag = rootfs.ensure_base(root, progress).path / "oci", rootfs.BASE_TAG
    binaries = [gobuild.ensure_binary(b, root, progress) for b in image.go_binaries]
    label = f"image {image.name}" + (" (dependencies)" if dependencies_only else "")
    layout = work / "oci"
    rootfs.copy_layout(start_layout, layout)
    bundle = work / ".bundle"
    with step(progress, f"{label}: unpack the base"):
        rootfs.umoci(["unpack", "--image", f"{layout}:{start_tag}", str(bundle)])
    tree = bundle / "rootfs"
    script = _script(image)
    if script:
        if source_root is not None:
            with step(progress, f"{label}: build the project's wheel"):
                wheel_path = wheel.build_wheel(source_root, work / ".wheel")
            wheels = tree / "tmp" / "wheels"
            wheels.mkdir(parents=True)
            shutil.copy2(wheel_path, wheels / wheel_path.name)
            script = script.replace("@WHEEL@", f"/tmp/wheels/{wheel_path.name}")
            if dependencies_only:
                script += f"\n{VENV}/bin/pip uninstall -q -y --root-user-action=ignore {PROJECT_DISTRIBUTION}"
        if image.pip_lock:
            _place(tree, LOCK_PATH, package_file(image.pip_lock), 0o644)
        with step(progress, f"{label}: install {_what(image)}"):
            rootfs.run_in_rootfs(tree, script, log=work / ".logs" / "install.log", binds=_caches(root))
    for binary, built in zip(image.go_binaries, binaries, strict=True):
        _place(tree, binary.path, built.read_bytes(), 0o755)
    for file in image.files:
        _place(tree, file.path, package_file(file.source), file.mode)
    for directory, uid in image.directories:
        path = tree / directory.lstrip("/")
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, uid, uid)
        path.chmod(0o755 if uid == 0 else 0o700 if directory.startswith("/var/lib/postgresql") else 0o775)
    outputs = {} if dependencies_only else _checks(image, tree, progress, label)
    with step(progress, f"{label}: OCI layer and config"):
        target = f"{layout}:{image.tag}"
        created_by = f"mlops-platform image recipe {image.name}: {_what(image)}"
        rootfs.umoci(["repack", "--image", target, "--history.created_by", created_by, str(bundle)])
        rootfs.umoci(["config", "--image", target, *_config_flags(image)])
        rootfs.umoci(["rm", "--image", f"{layout}:{start_tag}"])
        rootfs.umoci(["gc", "--layout", str(layout)])
    shutil.rmtree(bundle)
    shutil.rmtree(work / ".wheel", ignore_errors=True)
    shutil.rmtree(work / ".logs", ignore_errors=True)
    return {**describe_layout(layout, image.tag), "checks": outputs, "upstream": image.upstream}


def _project_layer(
    image: ImageRecipe,
    root: Path,
    work: Path,
    deps: build_cache.Entry,
    source_root: Path,
    progress: Progress,
) -> dict[str, Any]:
    """The dependencies' image plus one layer: the project's wheel, installed without dependencies."""
    label = f"image {image.name}"
    layout = work / "oci"
    rootfs.copy_layout(deps.path / "oci", layout)
    bundle = work / ".bundle"
    target = f"{layout}:{image.tag}"
    with step(progress, f"{label}: unpack the dependencies' image"):
        rootfs.umoci(["unpack", "--image", target, str(bundle)])
    tree = bundle / "rootfs"
    with step(progress, f"{label}: build the project's wheel"):
        wheel_path = wheel.build_wheel(source_root, work / ".wheel")
    wheels = tree / "tmp" / "wheels"
    wheels.mkdir(parents=True)
    shutil.copy2(wheel_path, wheels / wheel_path.name)
    install = (
        f"{VENV}/bin/pip install -q --no-deps --disable-pip-version-check --root-user-action=ignore "
        f"/tmp/wheels/{wheel_path.name}\nrm -rf /tmp/wheels"
    )
    with step(progress, f"{label}: install the project's wheel"):
        rootfs.run_in_rootfs(tree, install, log=work / ".logs" / "install.log", binds=_caches(root))
    outputs = _checks(image, tree, progress, label)
    with step(progress, f"{label}: OCI layer"):
        created_by = f"mlops-platform image recipe {image.name}: the project's wheel"
        rootfs.umoci(["repack", "--image", target, "--history.created_by", created_by, str(bundle)])
        rootfs.umoci(["gc", "--layout", str(layout)])
    shutil.rmtree(bundle)
    shutil.rmtree(work / ".wheel", ignore_errors=True)
    shutil.rmtree(work / ".logs", ignore_errors=True)
    return {**describe_layout(layout, image.tag), "checks": outputs, "upstream": image.upstream}


def _checks(image: ImageRecipe, tree: Path, progress: Progress, label: str) -> dict[str, str]:
    """Run the recipe's checks in ``tree`` as the image's user; each one's last line of output."""
    outputs = {}
    with step(progress, f"{label}: run its checks as uid {image.user}"):
        for check in image.checks:
            output = rootfs.run_as(tree, image.user, check.argv, image_env(image))
            if check.expect not in output:
                raise ToolchainError(
                    f"{shlex.join(check.argv)} printed {output!r}; expected {check.expect!r}"
                )
            outputs[shlex.join(check.argv)] = output.splitlines()[-1]
    return outputs


def build_images(
    names: Sequence[str] = (), *, root: Path | None = None, progress: Progress
) -> list[BuiltImage]:
    """Build (or find) the named images, every recipe when ``names`` is empty, in the table's order."""
    chosen = [recipe(name) for name in names] if names else list(RECIPES)
    target = root if root is not None else images_root()
    return [build_image(image, root=target, progress=progress) for image in chosen]


def _built(image: ImageRecipe, entry: build_cache.Entry) -> BuiltImage:
    return BuiltImage(image, entry.path / "oci", entry.manifest["digest"], entry.manifest, entry.built_now)


def _what(image: ImageRecipe) -> str:
    parts = [*image.apt_packages, *image.pip_requirements, *(Path(b.path).name for b in image.go_binaries)]
    if image.project_extra:
        parts.append(f"mlops-platform[{image.project_extra}]")
    return " ".join(parts) or "files"


def _caches(root: Path) -> dict[str, Path]:
    """Debian's download caches, shared by every image build (mounted for the build only, never in a layer).

    No pip cache: pip 23 in the image's virtualenv left a mounted ``/root/.cache/pip`` empty.
    """
    return {
        "/var/cache/apt/archives": root / "downloads" / "apt-archives",
        "/var/lib/apt/lists": root / "downloads" / "apt-lists",
    }


def _script(image: ImageRecipe) -> str:
    """The shell lines run as root in the image; empty when it only receives files."""
    lines: list[str] = []
    for account in image.accounts:
        lines += [
            f"groupadd --system --gid {account.uid} {account.name}",
            f"useradd --system --uid {account.uid} --gid {account.uid} --home-dir {account.home} "
            f"--no-create-home --shell /usr/sbin/nologin {account.name}",
        ]
    lines += image.setup
    if image.apt_packages:
        lines += [
            # No service may start inside a build (invoke-rc.d asks policy-rc.d; 101: action forbidden).
            "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d",
            "apt-get update -qq",
            "apt-get install -y -qq --no-install-recommends " + " ".join(image.apt_packages),
            "rm -f /usr/sbin/policy-rc.d",
        ]
    if image.pip_requirements or image.project_extra:
        pip = f"{VENV}/bin/pip install -q --disable-pip-version-check --root-user-action=ignore"
        lines.append(f"python3 -m venv {VENV}")
        if image.pip_lock:
            lines.append(f"{pip} --require-hashes --no-deps -r {LOCK_PATH}")
        elif image.pip_requirements:
            lines.append(f"{pip} " + " ".join(shlex.quote(r) for r in image.pip_requirements))
        if image.project_extra:
            lines += [f"{pip} '@WHEEL@[{image.project_extra}]'", "rm -rf /tmp/wheels"]
    if not lines:
        return ""
    # What a build leaves that no image needs (the apt caches are mounts, never written here).
    lines.append(
        "rm -rf /var/log/apt /var/log/dpkg.log /var/log/alternatives.log /var/cache/debconf/*-old /tmp/*"
    )
    return "\n".join(lines)


def _place(tree: Path, path: str, content: bytes, mode: int) -> None:
    target = tree / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    target.chmod(mode)


def _config_flags(image: ImageRecipe) -> list[str]:
    flags = [
        "--clear=config.entrypoint",
        "--clear=config.cmd",
        "--clear=config.env",
        "--clear=config.exposedports",
    ]
    flags += [f"--config.entrypoint={arg}" for arg in image.entrypoint]
    flags += [f"--config.cmd={arg}" for arg in image.cmd]
    flags += [f"--config.env={name}={value}" for name, value in image_env(image).items()]
    flags += [f"--config.exposedports={port}/tcp" for port in image.ports]
    flags += [f"--config.user={image.user}", f"--config.workingdir={image.workdir}"]
    labels = {
        "org.opencontainers.image.title": image.name,
        "org.opencontainers.image.version": image.tag,
        "org.opencontainers.image.description": image.software,
    }
    if image.upstream:
        labels["io.mlops-platform.stands-for"] = image.upstream
    flags += [f"--config.label={name}={value}" for name, value in labels.items()]
    return flags


def read_blob(layout: Path, digest: str) -> bytes:
    """A blob of the layout, checked against its digest."""
    algorithm, _, hexdigest = digest.partition(":")
    data = (layout / "blobs" / algorithm / hexdigest).read_bytes()
    if hashlib.new(algorithm, data).hexdigest() != hexdigest:
        raise ToolchainError(f"blob {digest} in {layout} does not match its digest")
    return data


def tagged_manifest(layout: Path, tag: str) -> dict[str, Any]:
    """The index entry (descriptor) of ``tag`` in the layout."""
    index = json.loads((layout / "index.json").read_text(encoding="utf-8"))
    for descriptor in index.get("manifests", []):
        if descriptor.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return dict(descriptor)
    raise ToolchainError(f"{layout} has no image tagged {tag}")


def image_config(layout: Path, tag: str) -> dict[str, Any]:
    """The image configuration (``config`` holds Entrypoint, Cmd, User, Env, ExposedPorts, WorkingDir)."""
    manifest = json.loads(read_blob(layout, tagged_manifest(layout, tag)["digest"]))
    return dict(json.loads(read_blob(layout, manifest["config"]["digest"])))


def describe_layout(layout: Path, tag: str) -> dict[str, Any]:
    """Manifest fields of a built image: its digest and its layers."""
    descriptor = tagged_manifest(layout, tag)
    manifest = json.loads(read_blob(layout, descriptor["digest"]))
    return {
        "tag": tag,
        "digest": descriptor["digest"],
        "config_digest": manifest["config"]["digest"],
        "layers": [{"digest": layer["digest"], "size": layer["size"]} for layer in manifest["layers"]],
    }


def verify_layout(layout: Path, tag: str) -> None:
    """Every blob the tagged image references is present and matches its digest."""
    descriptor = tagged_manifest(layout, tag)
    manifest = json.loads(read_blob(layout, descriptor["digest"]))
    for blob in [manifest["config"], *manifest["layers"]]:
        read_blob(layout, blob["digest"])
