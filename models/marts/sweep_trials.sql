-- One row per trial of the regression sweep's search runs: see macros/sweep_trials.sql.
{{ sweep_trials(ref('sweep_runs'), group_by=['group_id']) }}
