"""Just enough of Docker's own rules to check docker/Dockerfile and .dockerignore without an
engine: the Dockerfile's line continuations and comments, its stages, COPY and the
.dockerignore pattern language (moby/patternmatcher: `*`, `?`, `**`, `!` exceptions, the last
matching line wins, and a file is excluded when one of its parent folders is)."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of CMD/ENTRYPOINT/RUN/HEALTHCHECK CMD, or None for the shell form."""
        text = self.args
        if self.keyword == "HEALTHCHECK":
            match = re.search(r"(?:^|\s)CMD\s+(.*)$", text, re.DOTALL)
            if match is None:
                return None
            text = match.group(1)
        text = text.strip()
        if not text.startswith("["):
            return None
        value = json.loads(text)
        assert isinstance(value, list), f"line {self.line}: not a JSON array"
        return [str(item) for item in value]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for ins in self.all("ENV"):
            for word in shlex.split(ins.args):
                name, sep, value = word.partition("=")
                assert sep, f"line {ins.line}: ENV {word!r} is not NAME=value"
                values[name] = value
        return values

    def workdir(self) -> PurePosixPath:
        current = PurePosixPath("/")
        for ins in self.all("WORKDIR"):
            current = current / ins.args.strip()
        return current


@dataclass(frozen=True)
class Copy:
    sources: list[str]
    dest: str
    from_stage: str | None
    workdir: PurePosixPath
    line: int


def instructions(text: str) -> list[Instruction]:
    """Logical instructions: `\\` continues a line; comment lines vanish, even inside one."""
    result: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        joined = " ".join(part for part in pending if part)
        pending = []
        keyword, _, args = joined.partition(" ")
        result.append(Instruction(keyword.upper(), args.strip(), start))
    assert not pending, "the Dockerfile ends inside a continued line"
    return result


def parse(path: Path = DOCKERFILE) -> list[Stage]:
    stages: list[Stage] = []
    for ins in instructions(path.read_text(encoding="utf-8")):
        if ins.keyword == "FROM":
            words = ins.args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif ins.keyword == "ARG" and not stages:
            continue  # an ARG before the first FROM only parameterises the FROM lines
        else:
            assert stages, f"line {ins.line}: {ins.keyword} before any FROM"
            stages[-1].instructions.append(ins)
    return stages


def copies(stage: Stage) -> list[Copy]:
    found = []
    workdir = PurePosixPath("/")
    for ins in stage.instructions:
        if ins.keyword == "WORKDIR":
            workdir = workdir / ins.args.strip()
        if ins.keyword not in {"COPY", "ADD"}:
            continue
        words = shlex.split(ins.args)
        flags = [w for w in words if w.startswith("--")]
        paths = [w for w in words if not w.startswith("--")]
        from_stage = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
        found.append(Copy(paths[:-1], paths[-1], from_stage, workdir, ins.line))
    return found


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 1
                if pattern[i + 1 : i + 2] == "/":
                    i += 1
                out += ".*" if i + 1 >= len(pattern) else "(.*/)?"
            else:
                out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(f"^{out}$")


class DockerIgnore:
    def __init__(self, text: str) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            line = line.removeprefix("!").strip()
            cleaned = str(PurePosixPath(line.lstrip("/")))
            self.rules.append((negate, _pattern_regex(cleaned)))

    @classmethod
    def load(cls, path: Path = DOCKERIGNORE) -> DockerIgnore:
        return cls(path.read_text(encoding="utf-8"))

    def excluded(self, relpath: str) -> bool:
        """Whether a path (relative to the context, `/`-separated) stays out of the context."""
        parts = PurePosixPath(relpath).parts
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        verdict = False
        for negate, regex in self.rules:
            if any(regex.match(c) for c in candidates):
                verdict = not negate
        return verdict


def context_files(source: Path, ignore: DockerIgnore) -> list[str]:
    """Files under ``source`` (a file or a folder of the repo) that reach the build context."""
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    rel = [p.relative_to(REPO).as_posix() for p in files]
    return [r for r in rel if not ignore.excluded(r)]
