"""One tree of defaulted settings, read from LSP initializationOptions or CLI flags.

Keys follow docs/contracts.md (`memory.uri`, `abstain.targetPrecision`, ...): camelCase on the
wire, snake_case here. Reading never fails: a bad value is reported and its default kept.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cattrs


@dataclass
class MemoryConfig:
    # LanceDB URI (a folder, or s3://bucket/prefix, gs://, az://); empty means a folder per
    # workspace under the user's cache directory.
    uri: str = ""
    # Object storage options as LanceDB names them (endpoint, region, allow_http, ...). Credentials
    # come from the usual environment variables (AWS_ACCESS_KEY_ID, ...); they are never logged.
    storage_options: dict[str, str] = field(default_factory=dict)


@dataclass
class TeamConfig:
    # LanceDB URI of the team memory: learned state (exemplars, principles, drill outcomes, the
    # confidence model and its training rows) shared by everyone who sets it. Empty: off.
    uri: str = ""
    storage_options: dict[str, str] = field(default_factory=dict)
    # Who the team sees as the author of what this Rusta learns; empty: git's user.email.
    author: str = ""


@dataclass
class ModelConfig:
    # Embedding model: Hugging Face id or local path; empty means the packaged all-MiniLM-L6-v2.
    embedding: str = ""
    # Optional causal language model for prose and patch candidates; empty means none.
    generator: str = ""


@dataclass
class AbstainConfig:
    # Offer a patch only when the calibrated model expects this precision at its confidence.
    target_precision: float = 0.95


@dataclass
class HeartbeatConfig:
    # Run reflection, drills and training between edits.
    enabled: bool = True
    # Seconds without edits before the heartbeat may start a job.
    idle_seconds: float = 20.0
    # CPU seconds the heartbeat may spend per wall-clock hour.
    cpu_seconds_per_hour: float = 300.0


@dataclass
class CargoConfig:
    # Arguments after `cargo`; --message-format=json is always added.
    check_args: list[str] = field(
        default_factory=lambda: ["check", "--workspace", "--all-targets"]
    )
    # Shadow target directory; empty means one under the memory folder, never the user's target/.
    target_dir: str = ""
    # Run cargo at all (verification, drills). cargo runs the crate's build.rs and procedural
    # macros: off for a folder you do not trust; explanations and the memory work without it.
    enable: bool = True
    # Disk the shadow slots of a workspace may take; beyond it the least recently used slots that
    # no engine holds are removed. 0: no cap.
    shadow_max_gigabytes: float = 10.0


@dataclass
class RustaConfig:
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    team: TeamConfig = field(default_factory=TeamConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    # Torch device for models: auto picks cuda, then mps, then cpu.
    device: str = "auto"
    abstain: AbstainConfig = field(default_factory=AbstainConfig)
    heartbeat: HeartbeatConfig = field(default_factory=HeartbeatConfig)
    cargo: CargoConfig = field(default_factory=CargoConfig)


DEVICES = ("auto", "cuda", "mps", "cpu")

_converter = cattrs.Converter(forbid_extra_keys=False)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _validate(config: RustaConfig) -> list[str]:
    """Semantic checks cattrs cannot express; returns messages for values that were reset."""
    problems = []
    if config.device not in DEVICES:
        problems.append(f"device: {config.device!r} is not one of {', '.join(DEVICES)}")
        config.device = "auto"
    if not 0.0 < config.abstain.target_precision < 1.0:
        problems.append(
            f"abstain.targetPrecision: {config.abstain.target_precision} is not between 0 and 1"
        )
        config.abstain.target_precision = AbstainConfig.target_precision
    if config.heartbeat.idle_seconds < 0:
        problems.append("heartbeat.idleSeconds: must not be negative")
        config.heartbeat.idle_seconds = HeartbeatConfig.idle_seconds
    if config.heartbeat.cpu_seconds_per_hour < 0:
        problems.append("heartbeat.cpuSecondsPerHour: must not be negative")
        config.heartbeat.cpu_seconds_per_hour = HeartbeatConfig.cpu_seconds_per_hour
    if config.cargo.shadow_max_gigabytes < 0:
        problems.append("cargo.shadowMaxGigabytes: must not be negative")
        config.cargo.shadow_max_gigabytes = CargoConfig.shadow_max_gigabytes
    return problems


def _read_section(cls: type, raw: Any, prefix: str, problems: list[str]) -> Any:
    """Structure one dataclass field by field, so one bad value keeps its siblings."""
    instance = cls()
    if raw is None:
        return instance
    if not isinstance(raw, dict):
        problems.append(f"{prefix or 'initializationOptions'}: expected an object, got {type(raw).__name__}")
        return instance
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in raw.items():
        name = _snake(key)
        dotted = f"{prefix}.{key}" if prefix else key
        if name not in known:
            problems.append(f"{dotted}: unknown setting, ignored")
            continue
        ftype = known[name].type
        default = getattr(instance, name)
        if dataclasses.is_dataclass(default):
            setattr(instance, name, _read_section(type(default), value, dotted, problems))
            continue
        try:
            setattr(instance, name, _structure(value, ftype, default))
        except (cattrs.BaseValidationError, TypeError, ValueError) as err:
            # An object of options may hold credentials: never echo it.
            shown = "the value" if isinstance(default, dict) else repr(value)
            problems.append(f"{dotted}: {shown} is not valid ({_reason(err)}); using {default!r}")
    return instance


def _structure(value: Any, ftype: Any, default: Any) -> Any:
    # cattrs happily turns "yes" into a bool and 3 into "3"; settings must match the type they claim.
    if isinstance(default, bool) and not isinstance(value, bool):
        raise TypeError("expected true or false")
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("expected a number")
    if isinstance(default, str) and not isinstance(value, str):
        raise TypeError("expected a string")
    if isinstance(default, list) and not (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    ):
        raise TypeError("expected a list of strings")
    if isinstance(default, dict):
        if not isinstance(value, dict) or not all(isinstance(v, (str, bool, int, float)) for v in value.values()):
            raise TypeError("expected an object of strings")
        # `true` and 3 as the object store reads them: "true", "3".
        return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}
    return _converter.structure(value, type(default))


def _reason(err: Exception) -> str:
    if isinstance(err, cattrs.BaseValidationError):
        return "; ".join(str(e) for e in err.exceptions) or str(err)
    return str(err)


def read_config(raw: Any) -> tuple[RustaConfig, list[str]]:
    """Read settings from a JSON-like tree. Returns the config and one message per bad option.

    Accepts both nested objects (`{"memory": {"uri": ...}}`) and dotted keys (`{"memory.uri": ...}`).
    """
    problems: list[str] = []
    if isinstance(raw, dict):
        raw = _nest_dotted(raw)
    config = _read_section(RustaConfig, raw, "", problems)
    problems.extend(_validate(config))
    return config, problems


def _nest_dotted(raw: dict) -> dict:
    nested: dict = {}
    for key, value in raw.items():
        parts = str(key).split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            if isinstance(value, dict) and isinstance(node.get(parts[-1]), dict):
                node[parts[-1]].update(value)
            else:
                node[parts[-1]] = value
    return nested


def to_options(config: RustaConfig) -> dict:
    """The config as initializationOptions (camelCase keys), for clients and tests."""

    def convert(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj):
            return {_camel(f.name): convert(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return obj

    return convert(config)


def refuse_inside_workspace(config: RustaConfig, root: Path) -> list[str]:
    """`memory.uri` and `cargo.targetDir` never point into the workspace: Rusta would write its
    tables, mirrors and build output among the user's sources (and watch and mirror them). Such
    a value is reset to its default; returns one message per reset. Relative paths are taken
    from the current folder."""
    problems = []
    workspace = Path(root).resolve()
    for dotted, section, name in (("memory.uri", config.memory, "uri"),
                                  ("cargo.targetDir", config.cargo, "target_dir")):
        value = getattr(section, name)
        local = value.removeprefix("file://")
        if not local or "://" in local:
            continue
        if Path(local).expanduser().resolve().is_relative_to(workspace):
            problems.append(f"{dotted}: {value} is inside the workspace {workspace}; Rusta does not write "
                            "there, using the default")
            setattr(section, name, "")
    return problems


def cache_home() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rusta"


def memory_uri(config: RustaConfig, workspace_root: Path) -> str:
    """The LanceDB URI for a workspace: the setting, or one folder per workspace in the cache."""
    if config.memory.uri:
        return config.memory.uri
    root = workspace_root.resolve()
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    return str(cache_home() / "memory" / f"{root.name}-{digest}")


def root_memory_uri(uri: str, root: Path) -> str:
    """Where another workspace of the same window keeps its memory when `memory.uri` names one:
    a folder (or prefix) of its own inside it, named after the workspace."""
    root = root.resolve()
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    return f"{uri.rstrip('/')}/roots/{root.name}-{digest}"
