with

patients as (

    select * from {{ ref('stg_demo_classification') }}

)

select * from patients
