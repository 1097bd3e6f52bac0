#!/usr/bin/env bash
# A local Spark Connect server for the `connect` target, bound to 127.0.0.1, run from pyspark's pip
# package. It keeps its tables in a Hive catalog (Derby metastore + warehouse under .local/connect), so
# they outlive a restart.
#
#   scripts/connect.sh start|stop|status
#
# Environment (all optional):
#   SPARK_CONNECT_PORT     gRPC port (15002); the profile reads SPARK_REMOTE=sc://127.0.0.1:<port>
#   SPARK_CONNECT_MASTER   where the server runs its jobs (local[2]; or spark://127.0.0.1:7077)
#   SPARK_CONNECT_MEMORY   the server's driver memory (2g)
#   PYSPARK_PYTHON         the Python the server's Python workers run (default: the Python with pyspark)
#   SWEEP_LOCAL_DIR        logs, pid file, warehouse, metastore (<repo>/.local); the server's are in connect/
#   SWEEP_READY_TIMEOUT    seconds to wait for the server (60)
#   PYTHON, SPARK_HOME     the Python with pyspark / a Spark installation to use instead
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/spark_services.sh"

PORT="${SPARK_CONNECT_PORT:-15002}"
MASTER="${SPARK_CONNECT_MASTER:-local[2]}"
MEMORY="${SPARK_CONNECT_MEMORY:-2g}"
DIR="$SWEEP_LOCAL_DIR/connect"

start() {
    local home python
    home="$(sweep_spark_home)"
    python="$(sweep_python)"
    require_free_port "the Spark Connect server" "$PORT"
    mkdir -p "$DIR"
    SPARK_CONNECT_MODE=0 PYSPARK_PYTHON="${PYSPARK_PYTHON:-$python}" \
        start_daemon "the Spark Connect server" "$DIR/server.pid" "$DIR/logs/server.log" \
        "$home/bin/spark-submit" --class org.apache.spark.sql.connect.service.SparkConnectServer \
        --name sweep-connect --master "$MASTER" --driver-memory "$MEMORY" \
        --conf spark.connect.grpc.binding.address=127.0.0.1 \
        --conf spark.connect.grpc.binding.port="$PORT" \
        --conf spark.driver.host=127.0.0.1 --conf spark.driver.bindAddress=127.0.0.1 \
        --conf spark.ui.enabled=false \
        --conf spark.sql.catalogImplementation=hive \
        --conf spark.sql.warehouse.dir="$DIR/warehouse" \
        --conf "spark.hadoop.javax.jdo.option.ConnectionURL=jdbc:derby:;databaseName=$DIR/metastore_db;create=true" \
        --conf "spark.driver.extraJavaOptions=-Dderby.system.home=$DIR" \
        --conf spark.sql.session.timeZone=UTC \
        --conf spark.sql.execution.arrow.pyspark.enabled=true \
        --conf spark.sql.shuffle.partitions=8
    wait_for "the Spark Connect server" "$DIR/server.pid" "$DIR/logs/server.log" port_open "$PORT"
    echo "Spark Connect server ready: sc://127.0.0.1:$PORT (jobs on $MASTER)"
    echo "  export SPARK_REMOTE=sc://127.0.0.1:$PORT; dbt build --target connect"
}

stop() { stop_daemon "the Spark Connect server" "$DIR/server.pid"; }

status() {
    if pid_alive "$DIR/server.pid"; then
        echo "connect server: running (pid $(cat "$DIR/server.pid")), sc://127.0.0.1:$PORT"
    else
        echo "connect server: not running"; return 3
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
