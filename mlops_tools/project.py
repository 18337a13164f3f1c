"""The user's Pulumi project: where its program, stack files, policy config and waivers are.

A project is a directory with a ``Pulumi.yaml``, found as the Pulumi CLI finds it (the working
directory or its nearest parent holding one) or named with ``mlops --project DIR``. From that file:
the name (the namespace of the stack config), the runtime (Python only), ``main`` (the program: a
file, or a directory holding ``__main__.py``; default the project directory) and ``stackConfigDir``
(where ``Pulumi.<stack>.yaml`` files live; default the project directory). By this library's
convention, the policy config is ``policies/config/`` and the waivers ``policies/waivers.yaml`` of
the project. Nothing here imports Pulumi: ``mlops validate`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlops_platform.stacks.yaml_source import Problem, SourceError, display_path, read_located_yaml

PROJECT_FILE = "Pulumi.yaml"
POLICY_CONFIG_DIR = Path("policies") / "config"
WAIVERS_FILE = Path("policies") / "waivers.yaml"


class ProjectError(SourceError):
    """No project, or a ``Pulumi.yaml`` this library cannot run; every problem located."""


@dataclass(frozen=True, slots=True)
class Project:
    """One Pulumi project on disk (see the module docstring)."""

    root: Path
    name: str
    runtime: str
    program: Path
    """The file the engine runs: ``main`` itself, or ``main/__main__.py`` (``check_program``)."""
    stack_config_dir: Path

    @property
    def project_file(self) -> Path:
        return self.root / PROJECT_FILE

    @property
    def policy_config_dir(self) -> Path:
        return self.root / POLICY_CONFIG_DIR

    @property
    def waivers_file(self) -> Path:
        return self.root / WAIVERS_FILE

    def check_program(self) -> None:
        """Raise ``ProjectError`` unless the program file exists (commands that run it call this)."""
        if not self.program.is_file():
            message = f"no program at {display_path(self.program)} (Pulumi.yaml main)"
            raise ProjectError([Problem(display_path(self.project_file), None, "main", message)])

    def stack_files(self) -> list[Path]:
        """Every ``Pulumi.<stack>.yaml`` in the stack config directory, sorted by name."""
        return sorted(self.stack_config_dir.glob("Pulumi.*.yaml"))

    def stack_file(self, stack: str) -> Path:
        """Where the engine keeps stack ``stack``'s config (the file may not exist yet)."""
        return self.stack_config_dir / f"Pulumi.{stack}.yaml"

    @classmethod
    def load(cls, root: Path) -> Project:
        """Read ``root/Pulumi.yaml``.

        Raises:
            ProjectError: no such file, or one that names no project, a runtime other than Python,
                or a ``main`` / ``stackConfigDir`` that is not there.
        """
        root = root.resolve()
        path = root / PROJECT_FILE
        if not path.is_file():
            shown = display_path(path)
            raise ProjectError([Problem(shown, None, "", "no Pulumi project here (no Pulumi.yaml)")])
        try:
            located = read_located_yaml(path)
        except ProjectError:
            raise
        except SourceError as exc:  # not YAML, not UTF-8, unreadable: located, as every spec error
            raise ProjectError(exc.problems) from None
        shown = located.file
        data = located.data if isinstance(located.data, dict) else {}
        problems = list(located.duplicates)

        def problem(key: str, message: str) -> None:
            problems.append(Problem(shown, located.lines.get((key,), 1), key, message))

        name = data.get("name")
        if not isinstance(name, str) or not name:
            problem("name", "a Pulumi project needs a name")
        runtime = data.get("runtime")
        runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
        if runtime_name != "python":
            problem("runtime", f"mlops runs Python programs only (got {runtime_name!r})")
        main = root / str(data.get("main") or ".")
        program = main / "__main__.py" if main.is_dir() else main
        stack_dir = root / str(data.get("stackConfigDir") or ".")
        if not stack_dir.is_dir():
            problem("stackConfigDir", f"no directory {display_path(stack_dir)}")
        if problems:
            raise ProjectError(problems)
        return cls(root, str(name), "python", program.resolve(), stack_dir.resolve())

    @classmethod
    def find(cls, start: Path | None = None) -> Project:
        """The project of ``start`` (default: the working directory) or of its nearest parent.

        Raises:
            ProjectError: no ``Pulumi.yaml`` there or above, or an invalid one.
        """
        here = (start or Path.cwd()).resolve()
        for directory in (here, *here.parents):
            if (directory / PROJECT_FILE).is_file():
                return cls.load(directory)
        message = "no Pulumi project (Pulumi.yaml) here or above: pass --project DIR, or run `mlops init DIR`"
        raise ProjectError([Problem(str(here), None, "", message)])


def project_or_cwd(project: Project | None) -> Project:
    """``project``, or the working directory's (``Project.find()``): library calls default to it."""
    return Project.find() if project is None else project
