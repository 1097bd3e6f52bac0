"""Write the demo seeds: grouped regression data in the seed tutorial's shape, and a grouped
classification set from scikit-learn's bundled breast-cancer data (no download).

    python scripts/make_demo_data.py                       # the committed seeds (10 groups x 100 rows)
    python scripts/make_demo_data.py --groups 1000 --rows 100 --out bench/data/w1.csv   # benchmark sizes
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, make_regression

N_FEATURES = 8
SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"


def regression_groups(
    *,
    groups: int = 10,
    rows: int = 100,
    skew: dict[int, int] | None = None,
    seed: int = 0,
    scoring_rows: int = 0,
) -> pd.DataFrame:
    """One ``make_regression`` problem per group, each with its own fixed random state.

    Returns columns ``row_id, group_id, x0..x7, y``, plus ``split`` ('train' or 'score') when
    ``scoring_rows`` > 0: that many more rows per group drawn from the same problem, for batch
    prediction. ``skew`` maps a group index to its row count (for the skewed benchmark). Rows are
    interleaved in a fixed shuffled order, as a real table is.
    """
    frames = []
    width = max(2, len(str(groups - 1)))
    for g in range(groups):
        n = (skew or {}).get(g, rows)
        x, y = make_regression(
            n_samples=n + scoring_rows,
            n_features=N_FEATURES,
            n_informative=5,
            noise=10.0,
            random_state=seed + g,
        )
        frame = pd.DataFrame(x.round(6), columns=[f"x{i}" for i in range(N_FEATURES)])
        frame.insert(0, "group_id", f"g{g:0{width}d}")
        frame["y"] = y.round(6)
        if scoring_rows:
            frame["split"] = ["train"] * n + ["score"] * scoring_rows
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    data = data.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    data.insert(0, "row_id", np.arange(len(data), dtype="int64"))
    return data


def demo_regression_seeds(*, scoring_rows: int = 20) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demo's training seed and its scoring seed.

    Scoring rows come in two daily batches and carry no target; one batch also holds rows of a
    group that never trained (``g99``), which predictions must keep, with a reason.
    """
    data = regression_groups(scoring_rows=scoring_rows)
    train = data[data["split"] == "train"].drop(columns="split")
    score = data[data["split"] == "score"].drop(columns=["split", "y"]).reset_index(drop=True)
    stranger = score.head(3).assign(group_id="g99", row_id=lambda f: f["row_id"] + 100_000)
    score = pd.concat([score, stranger], ignore_index=True)
    score["batch_date"] = np.where(np.arange(len(score)) % 2 == 0, "2026-01-01", "2026-01-02")
    return train.reset_index(drop=True), score


def classification_groups(*, groups: int = 4, seed: int = 0) -> pd.DataFrame:
    """scikit-learn's breast-cancer data split into ``groups`` cohorts, plus one categorical column
    (``clinic``, drawn at random) so the demo exercises one-hot encoding."""
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.rename(columns=lambda c: c.replace(" ", "_"))
    rng = np.random.default_rng(seed)
    frame.insert(0, "cohort", [f"c{i % groups}" for i in range(len(frame))])
    frame.insert(1, "clinic", rng.choice(["north", "south", "east"], size=len(frame)))
    frame = frame.rename(columns={"target": "diagnosis"})
    frame.insert(0, "patient_id", np.arange(len(frame), dtype="int64"))
    return frame.round(6)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--groups", type=int, help="regression groups (omit to write the demo seeds)"
    )
    parser.add_argument("--rows", type=int, default=100, help="rows per regression group")
    parser.add_argument("--out", type=Path, help="output CSV for --groups")
    args = parser.parse_args()
    if args.groups is None:
        SEEDS_DIR.mkdir(exist_ok=True)
        train, score = demo_regression_seeds()
        train.to_csv(SEEDS_DIR / "demo_regression.csv", index=False)
        score.to_csv(SEEDS_DIR / "demo_regression_scoring.csv", index=False)
        classification_groups().to_csv(SEEDS_DIR / "demo_classification.csv", index=False)
        return
    out = args.out or Path(f"regression_{args.groups}x{args.rows}.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    regression_groups(groups=args.groups, rows=args.rows).to_csv(out, index=False)


if __name__ == "__main__":
    main()
