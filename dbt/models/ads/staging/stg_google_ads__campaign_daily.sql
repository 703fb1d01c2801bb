{#- Google Ads's campaign rows of the day (macros/ad_staging.sql). -#}
{{ ad_platform_staging('google_ads') }}
