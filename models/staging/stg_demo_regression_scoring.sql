with

source as (

    select * from {{ ref('demo_regression_scoring') }}

),

renamed as (

    select

        ---------- keys
        cast(row_id as bigint) as row_id,
        cast(group_id as string) as group_id,

        ---------- features
        cast(x0 as double) as x0,
        cast(x1 as double) as x1,
        cast(x2 as double) as x2,
        cast(x3 as double) as x3,
        cast(x4 as double) as x4,
        cast(x5 as double) as x5,
        cast(x6 as double) as x6,
        cast(x7 as double) as x7,

        ---------- partition
        cast(batch_date as date) as batch_date

    from source

)

select * from renamed
