"""dbt-sweep: train many scikit-learn models per data group on Spark, declared in YAML, run by dbt.

Importing this package inside a dbt process registers the ``session`` Python submission method with
dbt-spark (dbt imports every top-level ``dbt_*`` module at start-up, see dbt/plugins/manager.py).
Elsewhere (Spark's Python workers, a notebook) importing it does nothing but define the library.
"""

from __future__ import annotations

import sys

__version__ = "0.1.0"

if "dbt.plugins.manager" in sys.modules:  # we are being discovered by dbt, not imported by a worker
    from dbt_sweep.plugin.registration import register_session_method

    register_session_method()

__all__ = ["__version__"]
