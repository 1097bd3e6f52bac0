-- The regression sweep's runs with an enforced contract (dbt cannot enforce one on Python models).
with

runs as (

    select * from {{ ref('sweep_runs') }}

)

select * from runs
