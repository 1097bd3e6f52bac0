"""Spark's own log in a dbt build: the package's log4j2 configuration, with no file in the project.

The profile used to say ``-Dlog4j2.configurationFile=conf/log4j2.properties``, a path relative to
the dbt project that only this repository has: in a user's project Log4j printed "Reconfiguration
failed" on every run and Spark fell back to its defaults. The configuration now ships inside the
package, and the plugin names it to the JVM through Log4j's environment variable before dbt's first
SQL statement starts the JVM (pyspark's ``spark-submit`` inherits this process's environment).
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

__all__ = ["LOG4J2_PROPERTIES", "LOG4J_ENVIRONMENT_VARIABLE", "use_package_log4j2"]

#: Warnings and errors on stderr, minus the session method's by-design noise (see the file).
LOG4J2_PROPERTIES = Path(__file__).with_name("log4j2.properties")
#: Log4j 2 reads ``log4j2.configurationFile`` from this variable too (Log4j's
#: EnvironmentPropertySource); a ``-Dlog4j2.configurationFile`` system property wins over it.
LOG4J_ENVIRONMENT_VARIABLE = "LOG4J_CONFIGURATION_FILE"


def use_package_log4j2(environ: MutableMapping[str, str] | None = None) -> str:
    """Point a JVM this process starts at the package's log4j2 configuration, unless one is chosen.

    A configuration the user chose keeps precedence: ``LOG4J_CONFIGURATION_FILE`` already set is
    left alone, and a profile's ``-Dlog4j2.configurationFile=...`` in
    ``spark.driver.extraJavaOptions`` wins over the variable inside the JVM. Only the driver's JVM
    (the dbt process's) reads it; a cluster's executors log as the cluster is configured.

    Parameters
    ----------
    environ : mutable mapping of str to str, default=None
        The environment to change; ``os.environ`` when None.

    Returns
    -------
    str
        The configuration the JVM will read (the variable's value).

    Examples
    --------
    >>> env = {}
    >>> use_package_log4j2(env) == str(LOG4J2_PROPERTIES)
    True
    >>> use_package_log4j2({LOG4J_ENVIRONMENT_VARIABLE: "/etc/my-log4j2.xml"})
    '/etc/my-log4j2.xml'
    """
    environ = os.environ if environ is None else environ
    return environ.setdefault(LOG4J_ENVIRONMENT_VARIABLE, str(LOG4J2_PROPERTIES))
