-- The demo regression sweep's predictions with an enforced contract.
with

predictions as (

    select * from {{ ref('sweep_predictions') }}

)

select * from predictions
