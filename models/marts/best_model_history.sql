{{ config(materialized='incremental', incremental_strategy='append') }}

{{ sweep_winner_history(ref('best_models'), group_by=['group_id']) }}
