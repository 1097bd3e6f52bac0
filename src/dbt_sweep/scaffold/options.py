"""What ``python -m dbt_sweep new`` was asked for, checked before anything is written.

:func:`sweep_options` turns the command's arguments into a :class:`SweepOptions` or raises one
:class:`ScaffoldError` naming every problem: what was given, what was expected, what to do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["TASKS", "ScaffoldError", "SweepOptions", "sweep_options"]

#: The tasks a sweep spec accepts (``dbt_sweep.spec.SweepSpec.task``).
TASKS = ("regression", "classification")

# A name dbt, Spark SQL and Python all accept unquoted: the generated files use it as a model name,
# a file name, a YAML anchor and a column name in SQL.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ScaffoldError(ValueError):
    """The scaffolding cannot go ahead: bad arguments, no dbt project, or files in the way.

    Parameters
    ----------
    problems : sequence of str
        One complete sentence per problem, most important first. Must not be empty.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        if not problems:
            raise ValueError("ScaffoldError needs at least one problem.")
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class SweepOptions:
    """One sweep to scaffold: its name and the columns of its feature model.

    Parameters
    ----------
    name : str
        The sweep's name, the prefix of every model it gets (``<name>_runs``...).
    source : str
        The feature model: one row per example.
    group_by : tuple of str
        The columns whose values make a group; one set of models is trained per group.
    key : str
        The column identifying a row within the source.
    target : str
        The column the models predict.
    task : {'regression', 'classification'}
    """

    name: str
    source: str
    group_by: tuple[str, ...]
    key: str
    target: str
    task: str


def _split_columns(values: Sequence[str]) -> list[str]:
    """``--group-by a,b --group-by c`` -> ``[a, b, c]`` (blanks dropped, order and repeats kept)."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _suggest(value: str) -> str:
    """A valid identifier close to ``value``: other characters become underscores."""
    fixed = re.sub(r"\W", "_", value.strip())
    return f"_{fixed}" if fixed[:1].isdigit() else fixed


def _identifier_problem(option: str, value: str, what: str) -> str | None:
    if _IDENTIFIER.fullmatch(value):
        return None
    hint = _suggest(value)
    remedy = f"; try '{hint}'" if hint and _IDENTIFIER.fullmatch(hint) else ""
    return (
        f"The {option} argument must be {what}: letters, digits and underscores, not starting "
        f"with a digit. Got {value!r} instead{remedy}."
    )


def sweep_options(
    name: str,
    *,
    source: str,
    group_by: Sequence[str],
    key: str,
    target: str,
    task: str,
) -> SweepOptions:
    """Check the arguments of ``new`` and return them as :class:`SweepOptions`.

    Parameters
    ----------
    name, source, key, target : str
        See :class:`SweepOptions`.
    group_by : sequence of str
        One or more column names, each item possibly comma-separated (``["region,store"]``).
    task : str
        ``'regression'`` or ``'classification'``.

    Returns
    -------
    SweepOptions

    Raises
    ------
    ScaffoldError
        Naming every bad argument, what it should be and what was given.

    Examples
    --------
    >>> sweep_options("sales", source="feat_sales", group_by=["region,store"], key="row_id",
    ...               target="amount", task="regression").group_by
    ('region', 'store')
    >>> sweep_options("sales-2", source="feat_sales", group_by=["store"], key="row_id",
    ...               target="amount", task="regress")
    Traceback (most recent call last):
    ...
    dbt_sweep.scaffold.options.ScaffoldError: The NAME argument must be a dbt model name: letters, digits and underscores, not starting with a digit. Got 'sales-2' instead; try 'sales_2'.
    The --task option must be one of ['regression', 'classification']. Got 'regress' instead.
    """
    columns = _split_columns(group_by)
    checks = [
        _identifier_problem("NAME", name, "a dbt model name"),
        _identifier_problem("--source", source, "the name of a dbt model or seed"),
        *(_identifier_problem("--group-by", column, "a column name") for column in columns),
        _identifier_problem("--key", key, "a column name"),
        _identifier_problem("--target", target, "a column name"),
    ]
    problems = [problem for problem in checks if problem]
    if not columns:
        problems.append(
            "The --group-by option must name at least one column (repeat it or separate columns "
            f"with commas, e.g. --group-by region,store). Got {list(group_by)!r} instead."
        )
    if task not in TASKS:
        problems.append(f"The --task option must be one of {list(TASKS)}. Got {task!r} instead.")
    repeated = sorted({column for column in columns if columns.count(column) > 1})
    if repeated:
        problems.append(f"The --group-by option names {repeated} more than once; name each once.")
    for option, column in (("--key", key), ("--target", target)):
        if column in columns:
            problems.append(
                f"The {option} column {column!r} is also a --group-by column; a group column is "
                "the same for every row of a group, so it cannot be the row key or the target."
            )
    if key == target:
        problems.append(
            f"The --key and --target options both name {key!r}; the key identifies a row and "
            "is never a feature or the target: name two different columns."
        )
    if problems:
        raise ScaffoldError(problems)
    return SweepOptions(
        name=name, source=source, group_by=tuple(columns), key=key, target=target, task=task
    )
