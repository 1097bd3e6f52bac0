{{ sweep_best_models(ref('diagnosis_sweep_runs'), group_by=['cohort']) }}
