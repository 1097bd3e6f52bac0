with

rows_to_score as (

    select * from {{ ref('stg_demo_regression_scoring') }}

)

select * from rows_to_score
