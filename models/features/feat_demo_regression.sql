with

examples as (

    select * from {{ ref('stg_demo_regression') }}

)

select * from examples
