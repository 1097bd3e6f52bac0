#!/usr/bin/env bash
# A local Spark standalone cluster for the `cluster` target: one master and N workers (1 core each),
# all bound to 127.0.0.1, run from pyspark's pip package (no Spark download needed).
#
#   scripts/cluster.sh start|stop|status
#
# Environment (all optional):
#   SPARK_MASTER_PORT        master RPC port (7077); the profile reads SPARK_MASTER_URL=spark://127.0.0.1:<port>
#   SPARK_MASTER_WEBUI_PORT  master web UI port (8080; on 127.0.0.1 only)
#   SWEEP_WORKERS            number of workers (2)
#   SWEEP_WORKER_CORES       cores per worker (1)
#   SWEEP_WORKER_MEMORY      memory per worker (2g)
#   SWEEP_LOCAL_DIR          logs, pid files, work dirs (<repo>/.local); the cluster's are in cluster/
#   SWEEP_READY_TIMEOUT      seconds to wait for the master and each worker (60)
#   PYTHON, SPARK_HOME       the Python with pyspark / a Spark installation to use instead
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/spark_services.sh"

PORT="${SPARK_MASTER_PORT:-7077}"
UI_PORT="${SPARK_MASTER_WEBUI_PORT:-8080}"
WORKERS="${SWEEP_WORKERS:-2}"
CORES="${SWEEP_WORKER_CORES:-1}"
MEMORY="${SWEEP_WORKER_MEMORY:-2g}"
DIR="$SWEEP_LOCAL_DIR/cluster"
URL="spark://127.0.0.1:$PORT"

start() {
    local home
    home="$(sweep_spark_home)"
    require_free_port "the Spark master" "$PORT"
    require_free_port "the Spark master's web UI" "$UI_PORT"
    mkdir -p "$DIR"
    # No REST submission server (it would listen on 6066); the master only talks to our workers/drivers.
    SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false ${SPARK_MASTER_OPTS:-}" \
        start_daemon "the Spark master" "$DIR/master.pid" "$DIR/logs/master.log" \
        "$home/bin/spark-class" org.apache.spark.deploy.master.Master \
        --host 127.0.0.1 --port "$PORT" --webui-port "$UI_PORT"
    wait_for "the Spark master" "$DIR/master.pid" "$DIR/logs/master.log" \
        grep -q "I have been elected leader" "$DIR/logs/master.log"
    for i in $(seq 1 "$WORKERS"); do
        mkdir -p "$DIR/worker$i"
        # Worker web UIs on free ports (0), work dirs (executor logs, shipped files) in .local.
        start_daemon "Spark worker $i" "$DIR/worker$i.pid" "$DIR/logs/worker$i.log" \
            "$home/bin/spark-class" org.apache.spark.deploy.worker.Worker \
            --host 127.0.0.1 --cores "$CORES" --memory "$MEMORY" --webui-port 0 \
            --work-dir "$DIR/worker$i" "$URL"
    done
    for i in $(seq 1 "$WORKERS"); do
        wait_for "Spark worker $i" "$DIR/worker$i.pid" "$DIR/logs/worker$i.log" \
            grep -q "Successfully registered with master" "$DIR/logs/worker$i.log"
    done
    echo "Spark standalone cluster ready: $URL ($WORKERS workers x $CORES core), UI http://127.0.0.1:$UI_PORT"
    echo "  export SPARK_MASTER_URL=$URL; dbt build --target cluster"
}

stop() {
    for pidfile in "$DIR"/worker*.pid; do
        [ -e "$pidfile" ] || continue
        stop_daemon "Spark $(basename "$pidfile" .pid)" "$pidfile"
    done
    stop_daemon "the Spark master" "$DIR/master.pid"
}

status() {
    local rc=0
    if pid_alive "$DIR/master.pid"; then
        echo "master: running (pid $(cat "$DIR/master.pid")), $URL"
    else
        echo "master: not running"; rc=3
    fi
    for pidfile in "$DIR"/worker*.pid; do
        [ -e "$pidfile" ] || continue
        if pid_alive "$pidfile"; then
            echo "$(basename "$pidfile" .pid): running (pid $(cat "$pidfile"))"
        else
            echo "$(basename "$pidfile" .pid): not running"; rc=3
        fi
    done
    return "$rc"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
