"""YAML mapping files → :class:`StageSpec` objects, collecting *every* problem at once.

Each problem names the file, the line and the field path (``file:line: a.b[2].c: message``)
so an engineer can go straight to it.  YAML syntax errors, duplicate keys, unknown keys and
type errors are found here; the checks that need the transform registry, the target model
or the live legacy database are in :mod:`migration.mapping.validate`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from migration.mapping.spec import StageSpec

Path_ = tuple[Any, ...]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


@dataclass
class LoadedYaml:
    """One YAML file of ours (a mapping or a check file): where each field path starts, and
    every problem found in it."""

    path: Path
    lines: dict[Path_, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, loc: Path_) -> int:
        """Line of the deepest known prefix of ``loc`` (1-based)."""
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), 1)

    def problem(self, loc: Path_, message: str) -> None:
        self.problems.append(Problem(str(self.path), self.line_of(loc), _fmt_path(loc), message))


@dataclass
class LoadedFile(LoadedYaml):
    spec: StageSpec | None = None


M = TypeVar("M", bound=BaseModel)


def parse_model(lf: LoadedYaml, model: type[M], not_a_mapping: str) -> M | None:
    """Read ``lf.path`` as YAML and type-check it as ``model``; every problem goes to
    ``lf.problems`` with its line (``None`` comes back then); ``not_a_mapping`` is the message
    for a file whose top level is not a mapping.  Never raises for bad content."""
    name = str(lf.path)
    try:
        text = lf.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        lf.problems.append(Problem(name, 1, "", f"cannot read the file: {exc}"))
        return None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        lf.problems.append(Problem(name, line, "", f"YAML syntax: {exc.problem or exc}"))
        return None
    except yaml.YAMLError as exc:
        lf.problems.append(Problem(name, 1, "", f"YAML syntax: {exc}"))
        return None
    finally:
        loader.dispose()
    if node is None:
        lf.problems.append(Problem(name, 1, "", "the file is empty"))
        return None
    raw_problems: list[tuple[Path_, int, str]] = []
    try:
        data = _to_python(yaml.SafeLoader(""), node, (), lf.lines, raw_problems)
    except yaml.YAMLError as exc:
        lf.problems.append(Problem(name, 1, "", f"YAML: {exc}"))
        return None
    for loc, line, msg in raw_problems:
        lf.problems.append(Problem(name, line, _fmt_path(loc), msg))
    if not isinstance(data, dict):
        lf.problems.append(Problem(name, 1, "", not_a_mapping))
        return None
    try:
        spec = model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            # pydantic reports a model_validator failure at the model; drop synthetic parts
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = f"unknown key '{loc[-1]}'"
            elif err["type"] == "missing":
                msg = f"missing required key '{loc[-1]}'"
            lf.problems.append(Problem(name, lf.line_of(loc), _fmt_path(loc), msg))
        return None
    return None if lf.problems else spec.model_copy(update={"file": name})


def yaml_files(directory: Path) -> list[Path]:
    """The ``*.yaml`` then ``*.yml`` files of a folder, each sorted by name."""
    return sorted(p for p in directory.glob("*.yaml") if p.is_file()) + sorted(
        p for p in directory.glob("*.yml") if p.is_file())


def _to_python(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, lines: dict[Path_, int],
               problems: list[tuple[Path_, int, str]]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                problems.append((path, key_node.start_mark.line + 1, f"mapping key {key!r} is not a scalar"))
                continue
            if key in out:
                problems.append((path + (key,), key_node.start_mark.line + 1, f"duplicate key '{key}'"))
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _to_python(loader, value_node, path + (key,), lines, problems)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(loader, item, path + (i,), lines, problems) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _fmt_path(loc: Path_) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "." in str(part):
            out += f'["{part}"]'
        else:
            out += ("." if out else "") + str(part)
    return out


def load_file(path: Path) -> LoadedFile:
    """Parse and type-check one mapping file; never raises for bad content."""
    lf = LoadedFile(path=path)
    lf.spec = parse_model(lf, StageSpec, "a mapping file is a YAML mapping (stage:, title:, tables: …)")
    return lf


def mapping_files(directory: Path) -> list[Path]:
    return yaml_files(directory)


def files_hash(paths: list[Path]) -> str:
    """SHA-256 over the mapping files (names and bytes), recorded with every run."""
    h = hashlib.sha256()
    for p in sorted(paths, key=lambda x: x.name):
        h.update(p.name.encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()
