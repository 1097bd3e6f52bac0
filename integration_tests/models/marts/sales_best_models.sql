{{ sweep.sweep_best_models(ref('sales_runs'), group_by=['store']) }}
