-- The classification sweep's runs with an enforced contract.
with

runs as (

    select * from {{ ref('diagnosis_sweep_runs') }}

)

select * from runs
