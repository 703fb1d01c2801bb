{#- Meta Ads's campaign rows of the day (macros/ad_staging.sql). -#}
{{ ad_platform_staging('facebook_ads') }}
