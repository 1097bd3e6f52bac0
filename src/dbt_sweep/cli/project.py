"""The dbt project as the commands see it: parsed by dbt (no warehouse, no Spark), and its sweep tables.

``dbt parse`` gives every model's config (the ``sweep`` spec, ``scoring``), its SQL or Python code,
the macros it calls and its parents. From those :func:`sweep_tables` finds each table a sweep writes
and which kind it is (:data:`dbt_sweep.spec.contract.TABLE_KINDS`): a Python model calling
``dbt_sweep.models.sweep_manifest`` / ``sweep_runs`` / ``sweep_predictions``, a model calling the
``sweep_best_models`` / ``sweep_winner_history`` / ``sweep_trials`` macro, or a view selecting
``*`` from one of those (the contract models).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbt_sweep.spec import SweepSpec, parse_spec
from dbt_sweep.spec.contract import TableKind

__all__ = [
    "ProjectError",
    "SweepTable",
    "add_dbt_options",
    "dbt_args",
    "load_spec",
    "parse_project",
    "source_types",
    "sweep_tables",
]

_PYTHON_KINDS: dict[str, TableKind] = {
    "sweep_manifest": "manifest",
    "sweep_runs": "runs",
    "sweep_predictions": "predictions",
}
_PYTHON_CALL = re.compile(r"\b(sweep_manifest|sweep_runs|sweep_predictions)\s*\(")
_MACRO_KINDS: dict[str, TableKind] = {
    "sweep_best_models": "best_models",
    "sweep_winner_history": "history",
    "sweep_trials": "trials",
}
_SELECT_ALL = re.compile(r"\bselect\s+\*\s+from\b", re.IGNORECASE)


class ProjectError(RuntimeError):
    """The project or a model in it is not what a command needs; the message says what to do."""


@dataclass(frozen=True)
class SweepTable:
    """A model that holds one of a sweep's tables.

    ``node`` is the model's dbt node, ``kind`` the table it holds, ``sweep_node`` the model whose
    ``sweep`` config is the spec (the model itself, or the sweep_runs model a mart reads).
    """

    node: Any
    kind: TableKind
    sweep_node: Any

    @property
    def name(self) -> str:
        return str(self.node.name)

    def spec(self) -> SweepSpec:
        """The sweep's validated spec (raises :class:`~dbt_sweep.exceptions.SweepSpecError`)."""
        return parse_spec(self.sweep_node.config.get("sweep"), model=self.sweep_node.name)

    def yaml_path(self, project_dir: Path) -> Path:
        """The YAML file that declares the model (``columns:``, tests...)."""
        if not self.node.patch_path:
            raise ProjectError(
                f"Model '{self.name}' has no YAML entry, so there is no columns block to write. "
                f"Declare it in a models YAML file (models: [{{name: {self.name}}}]) and run again."
            )
        return project_dir / str(self.node.patch_path).split("://", 1)[-1]


def add_dbt_options(parser: argparse.ArgumentParser) -> None:
    """The options every command passes on to dbt."""
    parser.add_argument("--project-dir", default=".", help="the dbt project (default: .)")
    parser.add_argument(
        "--profiles-dir", default=None, help="where profiles.yml is (dbt's default)"
    )
    parser.add_argument("--target", default=None, help="dbt target (default: the profile's)")


def dbt_args(args: argparse.Namespace) -> list[str]:
    """dbt's command-line options from the parsed :func:`add_dbt_options`."""
    out = ["--project-dir", str(args.project_dir), "--quiet"]
    if args.profiles_dir:
        out += ["--profiles-dir", str(args.profiles_dir)]
    if args.target:
        out += ["--target", str(args.target)]
    return out


def parse_project(dbt_args: Sequence[str]) -> Any:
    """Run ``dbt parse`` in this process and return dbt's manifest (no connection, no Spark)."""
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(["parse", *dbt_args])
    if not result.success:
        raise ProjectError(f"dbt parse failed: {result.exception or 'see the dbt log above'}")
    return result.result


def load_spec(model: str, *, dbt_args: Sequence[str]) -> SweepSpec:
    """Parse the dbt project and return ``model``'s validated sweep spec."""
    manifest = parse_project(dbt_args)
    nodes = [n for n in _models(manifest) if n.name == model]
    if not nodes:
        names = sorted(n.name for n in _models(manifest) if n.config.get("sweep"))
        raise ProjectError(f"No model '{model}' in the project. Models with a sweep spec: {names}.")
    return parse_spec(nodes[0].config.get("sweep"), model=model)


def sweep_tables(manifest: Any) -> list[SweepTable]:
    """Every model of the root project that holds a sweep table, in name order."""
    root = manifest.metadata.project_name
    by_id = {n.unique_id: n for n in _models(manifest)}
    found: dict[str, SweepTable] = {}
    for node in sorted(by_id.values(), key=lambda n: n.name):
        if node.package_name == root:
            table = _table(node, by_id, found)
            if table is not None:
                found[node.unique_id] = table
    return list(found.values())


def source_types(manifest: Any, name: str) -> dict[str, str]:
    """The column types the project declares for model or seed ``name``: its columns'
    ``data_type`` in YAML, or a seed's ``column_types``."""
    for node in manifest.nodes.values():
        if node.name == name and node.resource_type in ("model", "seed", "snapshot"):
            declared = {c: info.data_type for c, info in node.columns.items() if info.data_type}
            return {**(node.config.get("column_types") or {}), **declared}
    return {}


def _models(manifest: Any) -> list[Any]:
    return [n for n in manifest.nodes.values() if n.resource_type == "model"]


def _table(node: Any, by_id: dict[str, Any], found: dict[str, SweepTable]) -> SweepTable | None:
    """The sweep table ``node`` holds, or None."""
    if node.language == "python":
        call = _PYTHON_CALL.search(node.raw_code or "")
        if call is None or not node.config.get("sweep"):
            return None
        return SweepTable(node, _PYTHON_KINDS[call.group(1)], node)
    parents = [by_id[p] for p in node.depends_on.nodes if p in by_id]
    macros = {m.rsplit(".", 1)[-1] for m in node.depends_on.macros}
    for macro, kind in _MACRO_KINDS.items():
        if macro in macros:
            runs = _runs_upstream(parents, by_id, found)
            return None if runs is None else SweepTable(node, kind, runs)
    if len(parents) == 1 and _SELECT_ALL.search(node.raw_code or ""):
        parent = found.get(parents[0].unique_id) or _table(parents[0], by_id, found)
        if parent is not None and parent.kind in ("manifest", "runs", "predictions"):
            return SweepTable(node, parent.kind, parent.sweep_node)
    return None


def _runs_upstream(parents: list[Any], by_id: dict[str, Any], found: dict[str, SweepTable]) -> Any:
    """The sweep_runs model a macro's model reads, directly or through best_models."""
    for parent in parents:
        table = found.get(parent.unique_id) or _table(parent, by_id, found)
        if table is not None and table.kind in ("runs", "best_models"):
            return table.sweep_node
    return None
