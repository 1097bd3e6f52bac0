with

source as (

    select * from {{ ref('demo_classification') }}

),

renamed as (

    select

        ---------- keys
        cast(patient_id as bigint) as patient_id,
        cast(cohort as string) as cohort,

        ---------- features
        cast(clinic as string) as clinic,
        cast(mean_radius as double) as mean_radius,
        cast(mean_texture as double) as mean_texture,
        cast(mean_perimeter as double) as mean_perimeter,
        cast(mean_area as double) as mean_area,
        cast(mean_smoothness as double) as mean_smoothness,
        cast(mean_compactness as double) as mean_compactness,
        cast(mean_concavity as double) as mean_concavity,
        cast(mean_concave_points as double) as mean_concave_points,
        cast(mean_symmetry as double) as mean_symmetry,
        cast(mean_fractal_dimension as double) as mean_fractal_dimension,
        cast(radius_error as double) as radius_error,
        cast(texture_error as double) as texture_error,
        cast(perimeter_error as double) as perimeter_error,
        cast(area_error as double) as area_error,
        cast(smoothness_error as double) as smoothness_error,
        cast(compactness_error as double) as compactness_error,
        cast(concavity_error as double) as concavity_error,
        cast(concave_points_error as double) as concave_points_error,
        cast(symmetry_error as double) as symmetry_error,
        cast(fractal_dimension_error as double) as fractal_dimension_error,
        cast(worst_radius as double) as worst_radius,
        cast(worst_texture as double) as worst_texture,
        cast(worst_perimeter as double) as worst_perimeter,
        cast(worst_area as double) as worst_area,
        cast(worst_smoothness as double) as worst_smoothness,
        cast(worst_compactness as double) as worst_compactness,
        cast(worst_concavity as double) as worst_concavity,
        cast(worst_concave_points as double) as worst_concave_points,
        cast(worst_symmetry as double) as worst_symmetry,
        cast(worst_fractal_dimension as double) as worst_fractal_dimension,

        ---------- target
        cast(diagnosis as int) as diagnosis

    from source

)

select * from renamed
