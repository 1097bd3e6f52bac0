"""The Spark side of the entry points: group statistics for the manifest, work units dealt to task
slots, the grouped-map calls that train and score, and the progress lines in dbt's log.

Everything here runs on the driver; what the workers run comes from :mod:`dbt_sweep.training` and
:mod:`dbt_sweep.scoring`.
"""
