{{ sweep_best_models(ref('sweep_runs'), group_by=['group_id']) }}
