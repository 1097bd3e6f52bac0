import pandas as pd


def summarise(pdf: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"group_id": [pdf["group_id"].iloc[0]], "n": [len(pdf)]})


def model(dbt, session):
    features = dbt.ref("feat_demo_regression")
    return features.groupBy("group_id").applyInPandas(summarise, "group_id string, n long")
