with

sales as (

    select * from {{ ref('sales') }}

),

features as (

    select
        ---------- keys
        store,
        row_id,

        ---------- features
        a,
        b,

        ---------- target
        t

    from sales

)

select * from features
