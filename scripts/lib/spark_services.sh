# Shared helpers of scripts/cluster.sh and scripts/connect.sh (sourced, not run).
# Every service binds to 127.0.0.1; logs, pid files and work dirs live under $SWEEP_LOCAL_DIR
# (default: the repository's git-ignored .local/ folder).

SWEEP_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SWEEP_LOCAL_DIR="${SWEEP_LOCAL_DIR:-$SWEEP_REPO/.local}"
SWEEP_READY_TIMEOUT="${SWEEP_READY_TIMEOUT:-60}"   # seconds to wait for a service to be ready
export SPARK_LOCAL_IP=127.0.0.1                    # web UIs and RPC bind to loopback only

# The Python with pyspark: $PYTHON, else the project's .venv, else python3 on PATH.
sweep_python() {
    if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"
    elif [ -x "$SWEEP_REPO/.venv/bin/python" ]; then echo "$SWEEP_REPO/.venv/bin/python"
    else command -v python3
    fi
}

# SPARK_HOME: the pip package of pyspark ships bin/spark-class and bin/spark-submit.
sweep_spark_home() {
    if [ -n "${SPARK_HOME:-}" ]; then echo "$SPARK_HOME"; return; fi
    "$(sweep_python)" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))'
}

port_open() {  # port_open PORT: is something listening on 127.0.0.1:PORT?
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pid_alive() {  # pid_alive PIDFILE
    [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

# start_daemon NAME PIDFILE LOG COMMAND...: run COMMAND in the background (its own session), record its pid.
start_daemon() {
    local name="$1" pidfile="$2" log="$3"; shift 3
    if pid_alive "$pidfile"; then
        echo "$name is already running (pid $(cat "$pidfile"))." >&2
        return 1
    fi
    mkdir -p "$(dirname "$log")" "$(dirname "$pidfile")"
    # Spark daemons log at their defaults: the readiness checks read their INFO lines, and a
    # LOG4J_CONFIGURATION_FILE inherited from a dbt process (dbt-sweep sets it for its driver) is quiet.
    setsid env -u LOG4J_CONFIGURATION_FILE "$@" >"$log" 2>&1 </dev/null &
    echo $! >"$pidfile"
}

# wait_for NAME PIDFILE LOG CHECK...: wait until CHECK succeeds; fail if the process dies or time runs out.
wait_for() {
    local name="$1" pidfile="$2" log="$3"; shift 3
    local deadline=$((SECONDS + SWEEP_READY_TIMEOUT))
    until "$@"; do
        if ! pid_alive "$pidfile"; then
            echo "$name exited before it was ready; the end of its log ($log):" >&2
            tail -n 30 "$log" >&2
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "$name was not ready after ${SWEEP_READY_TIMEOUT} s; the end of its log ($log):" >&2
            tail -n 30 "$log" >&2
            return 1
        fi
        sleep 0.5
    done
}

# stop_daemon NAME PIDFILE: TERM the recorded pid, KILL it after 15 s; remove the pid file.
stop_daemon() {
    local name="$1" pidfile="$2"
    if ! pid_alive "$pidfile"; then
        rm -f "$pidfile"
        return 0
    fi
    local pid
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "$name (pid $pid) did not stop in 15 s; killing it." >&2
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    echo "stopped $name (pid $pid)"
}

require_free_port() {  # require_free_port NAME PORT
    if port_open "$2"; then
        echo "Cannot start $1: port 127.0.0.1:$2 is already in use. Pick another port (see the script's header)." >&2
        return 1
    fi
}
